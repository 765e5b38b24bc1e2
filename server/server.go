// Package server is readonce's HTTP API on fasthttp.
//
// A newcomer's map: routes.go lists every route; handlers.go has one handler
// per route, which decodes (decode.go), checks (guards.go), calls the
// read-once protocol (protocol.go: plain Go, no HTTP) and writes — or returns
// an error, which errors.go turns into the answer through one table.
// store.go declares the two small interfaces the server needs, a Store and a
// Sealer; the server knows nothing of Redis or ciphers. pages.go serves the
// embedded pages and assets, middleware.go the headers and the access log.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/readonce/readonce/client/e2e"
	"github.com/readonce/readonce/seal"
)

// Config holds what the server needs from the process configuration.
type Config struct {
	PublicURL        string // secret_url prefix; never taken from request headers
	MaxContentBytes  int
	MaxFileBytes     int // a file's decoded size (content_base64); 0: 1 MiB
	DefaultTTLHours  int
	MaxTTLHours      int
	ReceiptRetention time.Duration // how long a receipt outlives its secret's expiry
	// Passphrases: wrong guesses a protected secret survives (0: 5); the
	// share of the cores Argon2 may use on average (0: a tenth), how many
	// runs at once (0: that share of the cores, at least one) and how long
	// one waits for a slot before a 503 (0: 2 s).
	PassphraseMaxAttempts int
	PassphraseCPUShare    float64
	PassphraseConcurrency int
	PassphraseQueueWait   time.Duration
	ReadTimeout           time.Duration
	WriteTimeout          time.Duration
	IdleTimeout           time.Duration
	Concurrency           int    // most connections served at once
	MaxConnsPerIP         int    // most from one client address (IPv6: /64); 0: no cap; trusted proxies exempt
	RedocJSURL            string // where /redoc loads ReDoc from; empty: the vendored bundle
	RedocJSIntegrity      string // its SRI hash (sha384-…), for an absolute RedocJSURL

	// Auth, when set, makes creating a secret require a bearer token.
	Auth Authenticator
	// Login, when set (with Auth), lets people sign in on the create page
	// (login.go); its session cookie then stands for a bearer token.
	Login LoginFlow
	// SessionTTL is the session cookie's lifetime; CookieSecure marks the
	// cookies Secure (everywhere but a development run on http).
	SessionTTL   time.Duration
	CookieSecure bool
	// Limiter enforces CreateLimit and NotFoundLimit per client address;
	// TrustedProxies may speak for clients through X-Forwarded-For.
	Limiter       Limiter
	CreateLimit   RateLimit
	NotFoundLimit RateLimit
	// PassphraseLimit is each client's budget of Argon2 runs: reveals with
	// a passphrase and creates with one.
	PassphraseLimit RateLimit
	TrustedProxies  []netip.Prefix

	// Metrics receives the server's series; nil counts into nothing.
	// ServeMetrics also serves them at /metrics on the API listener.
	Metrics      *prometheus.Registry
	ServeMetrics bool
	Logger       *slog.Logger
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
}

// Server serves the readonce API.
type Server struct {
	cfg     Config
	store   Store
	secrets *secrets
	log     *slog.Logger
	// The JSON strings of PublicURL + "/api/v1/secrets/" and + "/s#", less
	// their closing quote: a create appends its access key (base64url,
	// nothing to escape) and the quote.
	secretURLJSON  []byte
	shareURLJSON   []byte
	receiptURLJSON []byte // PublicURL + "/api/v1/receipts/", likewise
	ids            *requestIDs
	files          *staticFiles
	openAPIDoc     []byte
	metrics        *metrics
	http           *fasthttp.Server // the whole API
	public         *fasthttp.Server // the reveal-only face
}

// New builds a Server; call Serve to accept connections.
func New(cfg Config, store Store, sealer Sealer) (*Server, error) {
	if cfg.MaxFileBytes <= 0 { // before the pages: they state and enforce it
		cfg.MaxFileBytes = 1 << 20
	}
	files, err := newStaticFiles(cfg)
	if err != nil {
		return nil, err
	}
	spec, err := renderOpenAPI(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = fasthttp.DefaultConcurrency
	}

	if cfg.PassphraseMaxAttempts <= 0 {
		cfg.PassphraseMaxAttempts = 5
	}
	if cfg.PassphraseCPUShare <= 0 || cfg.PassphraseCPUShare > 1 {
		// A tenth: Argon2 is memory-hard, and even at the lowest CPU
		// priority it slows whatever shares its core's caches and memory
		// bus; at a tenth a flood of guesses leaves plain p99 within 2× of
		// idle, at a quarter it did not (bench/README.md, passphrase-flood).
		cfg.PassphraseCPUShare = 0.1
	}
	if cfg.PassphraseConcurrency <= 0 {
		cfg.PassphraseConcurrency = max(1, int(float64(runtime.GOMAXPROCS(0))*cfg.PassphraseCPUShare))
	}
	if cfg.PassphraseQueueWait <= 0 {
		cfg.PassphraseQueueWait = 2 * time.Second
	}
	public := strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{
		cfg:   cfg,
		store: store,
		secrets: &secrets{
			store: store, sealer: sealer, now: cfg.Now,
			defaultTTL:  time.Duration(cfg.DefaultTTLHours) * time.Hour,
			retention:   cfg.ReceiptRetention,
			maxAttempts: cfg.PassphraseMaxAttempts,
			kdf:         newKDFGate(cfg.PassphraseConcurrency, cfg.PassphraseCPUShare, runtime.GOMAXPROCS(0), cfg.PassphraseQueueWait),
			burnable:    burnable(sealer),
		},
		log:            cfg.Logger,
		secretURLJSON:  openJSONString(public + "/api/v1/secrets/"),
		shareURLJSON:   openJSONString(public + "/s#"),
		receiptURLJSON: openJSONString(public + "/api/v1/receipts/"),
		ids:            newRequestIDs(),
		files:          files,
		openAPIDoc:     spec,
		metrics:        newMetrics(nilIfNoRegistry(cfg.Metrics)),
	}
	s.http = s.newHTTP(s.routes(everything))
	s.public = s.newHTTP(s.routes(revealOnly))
	return s, nil
}

// newHTTP is one fasthttp server for a face of the API: every listener
// gets the same limits, timeouts and error answers.
func (s *Server) newHTTP(routes fasthttp.RequestHandler) *fasthttp.Server {
	cfg := s.cfg
	return &fasthttp.Server{
		Handler:      s.middleware(routes),
		ErrorHandler: s.transportError,
		Name:         "readonce",
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout,
		IdleTimeout:  cfg.IdleTimeout,
		// admission (admission.go) caps connections, with JSON refusals;
		// fasthttp's own cap, text/plain, stays out of the way.
		Concurrency:           cfg.Concurrency + 64,
		MaxRequestBodySize:    MaxBodyBytes(cfg.MaxContentBytes, cfg.MaxFileBytes),
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{s.log},
		// A client that asks first (Expect: 100-continue: curl past 1 MiB,
		// package client past 64 KiB) hears of a body too large before it
		// sends it. Without asking it learns from a 413 and a close while
		// still writing, and often sees only the broken pipe.
		ExpectHandler: s.expectBody,
	}
}

// expectBody answers Expect: 100-continue: go on, or 413 (which fasthttp
// sends without a body: the handler never runs).
func (s *Server) expectBody(ctx *fasthttp.RequestCtx) int {
	if ctx.Request.Header.ContentLength() > s.http.MaxRequestBodySize {
		s.log.Info("request", "route", "", "status", fasthttp.StatusRequestEntityTooLarge, "error", "body too large, refused before it was sent")
		return fasthttp.StatusRequestEntityTooLarge
	}
	return fasthttp.StatusContinue
}

// nilIfNoRegistry avoids the typed-nil trap of a nil *Registry in an
// interface.
func nilIfNoRegistry(r *prometheus.Registry) prometheus.Registerer {
	if r == nil {
		return nil
	}
	return r
}

// MaxBodyBytes is the request body limit for the content and file limits:
// room for text fully escaped as \u00XX (6 bytes per byte), or for the
// base64 (4 bytes per 3) of a file or of its end-to-end ciphertext (a few
// hundred bytes and at most 12 % larger), with a name and type fully
// escaped, plus the JSON around either. A body under it but over a limit
// gets a precise 422 (or the file's 413 naming the field); past it, the
// plain 413.
func MaxBodyBytes(maxContent, maxFile int) int {
	text := 6 * maxContent
	maxFile = e2e.MaxLen(maxFile) // an end-to-end ciphertext of the largest file, padding included
	file := 4*((maxFile+2)/3) + 6*(seal.MaxFilenameBytes+1024)
	return max(text, file) + 2048
}

// Serve accepts connections on ln until Shutdown, for the whole API.
func (s *Server) Serve(ln net.Listener) error { return s.http.Serve(s.admit(ln)) }

// ServeRevealOnly accepts connections on ln until Shutdown, for what a
// recipient needs only: reveal, burn unread, the share page, health and
// docs (PUBLIC_LISTEN_REVEAL_ONLY). Everything else is a JSON 404 there.
func (s *Server) ServeRevealOnly(ln net.Listener) error { return s.public.Serve(s.admit(ln)) }

// Shutdown stops accepting, lets in-flight requests finish, and closes idle
// connections, on every listener; it gives up when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.http.ShutdownWithContext(ctx), s.public.ShutdownWithContext(ctx))
}

// fasthttpLogger sends fasthttp's own messages to slog. Some of fasthttp's
// errors quote raw request bytes ("contents: \"GET /api/v1/secrets/…"), which
// can hold an access key: those bytes never reach the log.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	if strings.HasPrefix(format, "error when serving connection") && len(args) == 3 {
		f.l.Warn("error when serving connection", "component", "fasthttp", "error", redactRequestBytes(fmt.Sprint(args[2])))
		return
	}
	f.l.Warn(redactRequestBytes(fmt.Sprintf(format, args...)), "component", "fasthttp")
}

// redactRequestBytes cuts a fasthttp message at the first quoted or
// buffer-dump part.
func redactRequestBytes(msg string) string {
	for _, marker := range []string{"buffer size=", "contents:", `"`, "'"} {
		if i := strings.Index(msg, marker); i >= 0 {
			msg = msg[:i] + "[request bytes not logged]"
		}
	}
	return msg
}
