// Command readonce is a one-time secret API: post a secret, get a key; the
// first GET of that key returns the secret and destroys it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

// Compile-time checks that the concrete types fit the server's interfaces.
var (
	_ server.Store  = (*cache.Store)(nil)
	_ server.Sealer = (*seal.Sealer)(nil)
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], environ(os.Environ()), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "readonce:", err)
		os.Exit(1)
	}
}

const usage = `usage: readonce [serve]

  serve   run the HTTP API (the default)

Configuration comes from the environment; see README.md.`

// run is the whole program: tests call it as main would.
func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg, stderr))
}

// serve runs the API until ctx ends, then drains and closes Redis.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.ephemeralKey {
		log.Warn("SECRET_KEY is not set: using a random key for this process only; secrets will not open after a restart")
	} else if weakSecret(cfg.SecretKey) {
		log.Warn("SECRET_KEY looks weak; production would refuse it")
	}
	previous := make([][]byte, len(cfg.SecretKeyPrevious))
	for i, k := range cfg.SecretKeyPrevious {
		previous[i] = []byte(k)
	}
	sealer, err := seal.New([]byte(cfg.SecretKey), previous...)
	if err != nil {
		return err
	}
	store, err := cache.Open(cache.Options{URL: cfg.RedisURL, Timeout: cfg.RedisTimeout, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()

	srv, err := server.New(server.Config{
		PublicURL:       cfg.PublicURL,
		MaxContentBytes: cfg.MaxContentBytes,
		DefaultTTLHours: cfg.DefaultTTLHours,
		MaxTTLHours:     cfg.MaxTTLHours,
		ReadTimeout:     cfg.ReadTimeout,
		WriteTimeout:    cfg.WriteTimeout,
		IdleTimeout:     cfg.IdleTimeout,
		Concurrency:     cfg.MaxConnections,
		RedocJSURL:      cfg.RedocJSURL,
		Logger:          log,
	}, store, sealer)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("readonce listening", "addr", ln.Addr().String(), "config", cfg)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	} else if err != nil {
		log.Warn("drain timed out; closing remaining connections")
	}
	if err := <-served; err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel)) // validated in loadConfig
	opts := &slog.HandlerOptions{Level: lvl}
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
