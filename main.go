// Command readonce is a one-time secret API: post a secret, get a key; the
// first GET of that key returns the secret and destroys it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/readonce/readonce/auth"
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

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `usage: readonce [command]

  serve                   run the HTTP API (the default)
  token --subject NAME    print a creator token (JWT) valid for ACCESS_TOKEN_EXPIRE_MINUTES
  healthcheck             probe /health of the server on PORT; exit 0 if healthy (for HEALTHCHECK)
  version                 print the version

Configuration comes from the environment; see README.md.`

// run is the whole program: tests call it as main would.
func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "serve", "token":
	case "healthcheck":
		return healthcheck(ctx, env, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "readonce", version)
		return nil
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
	if cmd == "token" {
		return printToken(cfg, args[1:], stdout, stderr)
	}
	sink := newLogSink(stderr, 100*time.Millisecond)
	defer sink.Close()
	return serve(ctx, cfg, newLogger(cfg, sink))
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
	tokens, err := newTokens(cfg)
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

func newTokens(cfg config) (*auth.Tokens, error) {
	return auth.New([]byte(cfg.SecretKey), cfg.Algorithm, time.Duration(cfg.AccessTokenExpireMinutes)*time.Minute)
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
	store, err := cache.Open(cache.Options{
		URL: cfg.RedisURL, Mode: cfg.RedisMode, SentinelPassword: cfg.RedisSentinelPassword, TLSCAFile: cfg.RedisTLSCAFile,
		Timeout: cfg.RedisTimeout, Logger: log, AutoPipeline: cfg.AutoPipeline,
		MinReplicasAck: cfg.MinReplicasAck, SkipPolicyCheck: cfg.SkipPolicyCheck,
	})
	if err != nil {
		return err
	}
	defer store.Close()
	// Say now what /ready will say: a wrong eviction policy, or no Redis yet
	// (readonce still starts, and becomes ready when Redis does).
	if err := store.Ready(ctx); err != nil {
		log.Error("the store is not ready", "error", err)
	}

	reg := newRegistry(store)
	scfg := server.Config{
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
		Limiter:         store.Limiter(),
		CreateLimit:     server.RateLimit{PerMinute: cfg.CreateRatePerMinute, Burst: cfg.CreateRateBurst},
		NotFoundLimit:   server.RateLimit{PerMinute: cfg.NotFoundRatePerMinute, Burst: cfg.NotFoundRateBurst},
		TrustedProxies:  cfg.trustedProxies,
		Metrics:         reg,
		ServeMetrics:    cfg.MetricsAddr == "",
	}
	if cfg.RequireAuth {
		if scfg.Auth, err = newTokens(cfg); err != nil {
			return err
		}
	}
	srv, err := server.New(scfg, store, sealer)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var metricsSrv *server.MetricsServer
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen METRICS_ADDR: %w", err)
		}
		metricsSrv = server.NewMetricsServer(reg)
		go func() {
			if err := metricsSrv.Serve(mln); err != nil {
				log.Error("metrics listener stopped", "error", err)
			}
		}()
		log.Info("metrics listening", "metrics_addr", mln.Addr().String())
	}
	if cfg.PprofAddr != "" {
		if err := servePprof(ctx, cfg.PprofAddr, log); err != nil {
			ln.Close()
			return err
		}
	}
	log.Info("readonce listening", "addr", ln.Addr().String(), "version", version, "config", cfg)

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
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(sctx)
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
