package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/readonce/readonce/auth"
	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

// Compile-time checks that the concrete types fit the server's interfaces.
var (
	_ server.Store          = (*cache.Store)(nil)
	_ server.StoreError     = (*cache.Error)(nil)
	_ server.ReadinessError = (*cache.PolicyError)(nil)
	_ server.Sealer         = (*seal.Sealer)(nil)
	_ server.Limiter        = (*cache.Limiter)(nil)
)

// daemon is `readonce serve`, built and listening: open builds everything
// and fails fast; serve runs until the context ends and drains; close
// releases what open took.
type daemon struct {
	cfg       config
	log       *slog.Logger
	store     *cache.Store
	srv       *server.Server
	ln        net.Listener // PORT: the whole API, or only its reveal face
	createLn  net.Listener // CREATE_LISTEN_ADDR, with PUBLIC_LISTEN_REVEAL_ONLY: the whole API
	operators []*operator
}

// open builds the sealer, the store and the server, and takes the
// listeners. Whatever it took is released if a later step fails.
func open(ctx context.Context, cfg config, log *slog.Logger) (_ *daemon, err error) {
	if cfg.ephemeralKey {
		log.Warn("SECRET_KEY is not set: using a random key for this process only; secrets will not open after a restart")
	} else if weakSecret(cfg.SecretKey) {
		log.Warn("SECRET_KEY looks weak; production would refuse it")
	}
	if cfg.production() && strings.HasPrefix(cfg.PublicURL, "http://") {
		log.Warn("PUBLIC_URL is http:// in production: every link handed out sends its key in clear text; use https://", "public_url", cfg.PublicURL)
	}
	if len(cfg.rawKeys) > 0 {
		log.Warn("SECRET_KEY or SECRET_KEY_PREVIOUS has surrounding whitespace (a trailing newline?): it is trimmed; secrets sealed under the untrimmed value still open", "untrimmed_keys", len(cfg.rawKeys))
	}
	current, previous := cfg.sealerKeys()
	sealer, err := seal.New(current, previous...)
	if err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.store, err = cache.Open(cfg.cacheOptions(log)); err != nil {
		return nil, err
	}
	// Say now what /ready will say: a wrong eviction policy, or no Redis yet
	// (readonce still starts, and becomes ready when Redis does).
	if err := d.store.Ready(ctx); err != nil {
		log.Error("the store is not ready", "error", err)
	}

	reg := newRegistry(d.store)
	limiterKey, err := cfg.limiterKey()
	if err != nil {
		return nil, fmt.Errorf("rate limiter key: %w", err)
	}
	var creators server.Authenticator
	var login *auth.Login
	if cfg.RequireAuth {
		// Every configured method: API tokens in this store (looked up on
		// every create, so a revocation holds at once), the v1 JWT, and
		// OIDC ID tokens when AUTH_OIDC_ISSUER is set.
		jwt, err := cfg.tokens()
		if err != nil {
			return nil, err
		}
		oidc, err := cfg.oidc()
		if err != nil {
			return nil, err
		}
		creators = &auth.Creators{JWT: jwt, APITokens: d.store, OIDC: oidc}
		if login, err = cfg.login(); err != nil {
			return nil, err
		}
	}
	scfg := cfg.serverConfig(log, d.store.Limiter(limiterKey), reg, creators)
	if login != nil { // not a typed nil in the interface
		scfg.Login = login
	}
	if d.srv, err = server.New(scfg, d.store, sealer); err != nil {
		return nil, err
	}
	if d.ln, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if cfg.RevealOnly {
		if d.createLn, err = net.Listen("tcp", cfg.CreateListenAddr); err != nil {
			return nil, fmt.Errorf("listen CREATE_LISTEN_ADDR: %w", err)
		}
	}
	if cfg.MetricsAddr != "" {
		if err := d.startOperator("METRICS_ADDR", cfg.MetricsAddr, metricsMux(reg)); err != nil {
			return nil, err
		}
		log.Info("metrics listening", "metrics_addr", d.operators[len(d.operators)-1].addr)
	}
	if cfg.PprofAddr != "" {
		if err := d.startOperator("PPROF_ADDR", cfg.PprofAddr, pprofMux()); err != nil {
			return nil, err
		}
		log.Warn("pprof listening: do not expose it", "pprof_addr", d.operators[len(d.operators)-1].addr)
	}
	return d, nil
}

// serve answers requests until ctx ends, then drains in-flight requests
// for at most SHUTDOWN_TIMEOUT.
func (d *daemon) serve(ctx context.Context) error {
	served := make(chan error, 2)
	listeners := 1
	if d.createLn == nil {
		go func() { served <- d.srv.Serve(d.ln) }()
		d.log.Info("readonce listening", "addr", d.ln.Addr().String(), "version", version, "config", d.cfg)
	} else {
		listeners = 2
		go func() { served <- d.srv.ServeRevealOnly(d.ln) }()
		go func() { served <- d.srv.Serve(d.createLn) }()
		d.log.Info("readonce listening", "addr", d.ln.Addr().String(), "create_addr", d.createLn.Addr().String(),
			"reveal_only", true, "version", version, "config", d.cfg)
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	d.log.Info("shutting down: draining in-flight requests", "timeout", d.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	if err := d.srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	} else if err != nil {
		d.log.Warn("drain timed out; closing remaining connections")
	}
	for range listeners {
		if err := <-served; err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	d.log.Info("stopped")
	return nil
}

func (d *daemon) startOperator(name, addr string, h http.Handler) error {
	o, err := startOperator(name, addr, h, d.log)
	if err != nil {
		return err
	}
	d.operators = append(d.operators, o)
	return nil
}

// close stops the operator listeners and closes Redis.
func (d *daemon) close() {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	for _, o := range d.operators {
		o.close(ctx)
	}
	for _, ln := range []net.Listener{d.ln, d.createLn} {
		if ln != nil {
			_ = ln.Close() // already closed once served; not if a later step of open failed
		}
	}
	if d.store != nil {
		d.store.Close()
	}
}
