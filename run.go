package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/internal/cli"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `usage: readonce [command]

The server:
  serve                   run the HTTP API (the default)
  token --subject NAME    print a creator token (JWT) valid for ACCESS_TOKEN_EXPIRE_MINUTES
  tokens create --name NAME [--expires 90d] | list | revoke NAME
                          named API tokens for creators, kept (hashed) in REDIS_URL's Redis
  healthcheck             probe /health of the server on PORT; exit 0 if healthy (for HEALTHCHECK)
  version                 print the version

A client of a readonce server (READONCE_URL, READONCE_TOKEN):
  send [--file F] [--ttl 15m] [--passphrase-file F] [--receipt] [--json] [--server-sealed]
                          share stdin or a file; print its one-time link (end-to-end: the server
                          never sees the secret, the key is only in the link)
  get URL|KEY [-o FILE [--force]] [--passphrase-file F] [--json]
                          reveal (and so destroy) a secret; -o writes it 0600, never over a file
  status RECEIPT [--json] whether a secret was opened, by its receipt link or token
  burn URL|RECEIPT [--json]
                          destroy a secret unread, by its share link or its receipt
  (each also takes --server URL; exit codes: 0 ok, 1 failed, 2 usage, 3 not found — it may
  have been intercepted —, 4 unavailable, try again, 5 not authorized, 6 passphrase)

Server configuration comes from the environment; see README.md.`

// run is the whole program: tests call it as main would.
func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve", "token", "tokens":
	case "healthcheck":
		return healthcheck(ctx, env, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "readonce", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "send", "get", "status", "burn":
		return cli.Run(ctx, cmd, rest, env, cli.IO{
			Stdin: os.Stdin, Stdout: stdout, Stderr: stderr,
			IsTerminal:   func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
			ReadPassword: func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) },
		})
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	if cmd == "token" {
		return printToken(cfg, rest, stdout, stderr)
	}
	if cmd == "tokens" {
		return tokens(ctx, cfg, rest, stdout, stderr)
	}

	sink := newLogSink(stderr, 100*time.Millisecond)
	defer sink.Close()
	log := newLogger(cfg, sink)
	// The one piece of process-wide state: go-redis has a single logger.
	cache.SetLogger(log)
	d, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	return d.serve(ctx)
}

// printToken is `readonce token --subject NAME`.
func printToken(cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subject := fs.String("subject", "", "who the token is for (its sub claim)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *subject == "" {
		return errors.New("token: --subject is required")
	}
	if cfg.ephemeralKey {
		return errors.New("token: SECRET_KEY is not set, so no server would accept the token")
	}
	tokens, err := cfg.tokens()
	if err != nil {
		return err
	}
	tok, _, err := tokens.Issue(*subject)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// newLogger is JSON in production and text locally, at LOG_LEVEL.
func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// environ turns os.Environ's list into the map caarlos0/env reads.
func environ(list []string) map[string]string {
	m := make(map[string]string, len(list))
	for _, kv := range list {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
