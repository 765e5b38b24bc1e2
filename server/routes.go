package server

import (
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
)

// routes is the whole API on one screen.
func (s *Server) routes() fasthttp.RequestHandler {
	r := router.New()
	// Redirects would send a secret's key to a second URL and let a GET
	// answer 301 instead of revealing; API paths answer exactly or 404.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// OPTIONS and HEAD must never consume a secret: they get a JSON 405.
	r.HandleOPTIONS = false
	r.HandleMethodNotAllowed = true
	r.SaveMatchedRoutePath = true // the access log records the template, never the path

	r.POST("/api/v1/secrets/", s.createSecret) // also without the slash: see below
	r.GET("/api/v1/secrets/{access_key}", s.revealSecret)
	r.GET("/health", s.health)
	r.GET("/ready", s.ready)
	r.GET("/openapi.json", s.openAPI)
	r.GET("/docs", s.swaggerUI)
	r.GET("/docs/{file}", s.docsAsset)
	r.GET("/redoc", s.redocUI)
	r.GET("/", s.createPage)
	r.GET("/s", s.revealPage)
	r.GET("/static/{file}", s.webAsset)
	if s.cfg.Metrics != nil && s.cfg.ServeMetrics {
		r.GET("/metrics", metricsHandler(s.cfg.Metrics))
	}

	r.NotFound = s.notFound
	r.MethodNotAllowed = s.methodNotAllowed
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
