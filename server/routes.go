package server

import (
	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// routeLabel is the user value that holds a request's route template.
const routeLabel = "readonce.route"

// face is which routes a listener serves.
type face int

const (
	everything face = iota
	// revealOnly is the public face of PUBLIC_LISTEN_REVEAL_ONLY: what a
	// recipient needs (reveal, burn unread, the share page), health and
	// docs. Creating, receipts and the create page answer only on the
	// internal listener; here they are the usual JSON 404.
	revealOnly
)

// routes is the whole API on one screen; a reveal-only face leaves out
// what is marked creators-only.
func (s *Server) routes(f face) fasthttp.RequestHandler {
	r := router.New()
	// Redirects would send a secret's key to a second URL and let a GET
	// answer 301 instead of revealing; API paths answer exactly or 404.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// OPTIONS and HEAD must never consume a secret: they get a JSON 405.
	r.HandleOPTIONS = false
	r.HandleMethodNotAllowed = true
	// The access log and metrics record the route template, never the path
	// (which holds the access key).
	at := func(method, path string, h fasthttp.RequestHandler) {
		label := any(path) // boxed once: labelling a request allocates nothing
		r.Handle(method, path, func(ctx *fasthttp.RequestCtx) {
			ctx.SetUserValue(routeLabel, label)
			h(ctx)
		})
	}

	creators := func(method, path string, h fasthttp.RequestHandler) {
		if f == everything {
			at(method, path, h)
		}
	}

	creators("POST", "/api/v1/secrets/", s.handle(s.createSecret)) // also without the slash: see below
	at("GET", "/api/v1/secrets/{access_key}", s.handle(s.revealSecret))
	at("DELETE", "/api/v1/secrets/{access_key}", s.handle(s.burnSecret))
	at("POST", "/api/v1/secrets/{access_key}/reveal", s.handle(s.revealWithPassphrase))
	creators("GET", "/api/v1/receipts/{receipt_token}", s.handle(s.receiptStatus))
	creators("DELETE", "/api/v1/receipts/{receipt_token}", s.handle(s.burnByReceipt))
	at("GET", "/health", s.handle(s.health))
	at("GET", "/ready", s.handle(s.ready))
	at("GET", "/openapi.json", s.handle(s.openAPI))
	// Pages and their assets; /s and /r never touch the store: the key or
	// receipt token is in the fragment, which the browser keeps to itself.
	static := s.static
	if f == revealOnly {
		static = s.staticPublic
	}
	for _, path := range []string{"/s", "/docs", "/redoc", "/docs/{file}", "/static/{file}"} {
		at("GET", path, s.handle(static))
	}
	creators("GET", "/", s.handle(s.static))
	creators("GET", "/r", s.handle(s.static))
	if s.cfg.Login != nil && s.cfg.Auth != nil {
		creators("GET", "/auth/login", s.handle(s.login))
		creators("GET", "/auth/callback", s.handle(s.loginCallback))
		creators("GET", "/auth/session", s.handle(s.loginSession))
		creators("POST", "/auth/logout", s.handle(s.logout))
	}
	if s.cfg.Metrics != nil && s.cfg.ServeMetrics {
		creators("GET", "/metrics", fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{})))
	}

	r.NotFound = s.handle(s.routeNotFound)
	r.MethodNotAllowed = s.handle(s.methodNotAllowed)
	r.PanicHandler = s.panicked

	return func(ctx *fasthttp.RequestCtx) {
		// fasthttp/router keeps a path's slash/no-slash twin for its
		// redirects and refuses a second route there, so the slashless
		// create is mapped onto the canonical path here.
		if ctx.IsPost() && string(ctx.Request.URI().PathOriginal()) == "/api/v1/secrets" {
			ctx.Request.SetRequestURI("/api/v1/secrets/")
		}
		r.Handler(ctx)
	}
}
