package server

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/readonce/readonce/auth"
)

// The create page's sign-in (auth.Login does the OpenID Connect part):
//
//	GET  /auth/login     302 to the issuer, with a signed flow cookie
//	GET  /auth/callback  the issuer's code → a signed session cookie
//	GET  /auth/session   {"signed_in", "name"} for the page
//	POST /auth/logout    the session cookie cleared
//
// The session cookie is HttpOnly, SameSite=Strict, Secure outside a
// development run, and lives SessionTTL; a create that carries it (and no
// bearer token) is its person's, with a JSON body only. Only on the
// creators' face.

// LoginFlow is the sign-in (auth.Login).
type LoginFlow interface {
	Start(ctx context.Context) (authURL, flowCookie string, err error)
	Finish(ctx context.Context, code, state, flowCookie string) (sessionCookie, sub string, err error)
	Session(cookie string) (sub string, ok bool)
}

const (
	sessionCookie = "readonce_session"
	flowCookie    = "readonce_login"
	flowTTL       = 10 * time.Minute
)

func (s *Server) login(ctx *fasthttp.RequestCtx) error {
	authURL, flow, err := s.cfg.Login.Start(context.Background())
	if err != nil {
		return &storeFailed{"sign-in", err}
	}
	// Lax, not Strict: the browser must send it on the issuer's redirect
	// back, a navigation from another site.
	s.setCookie(ctx, flowCookie, flow, "/auth", flowTTL, fasthttp.CookieSameSiteLaxMode)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Redirect(authURL, fasthttp.StatusFound)
	return nil
}

func (s *Server) loginCallback(ctx *fasthttp.RequestCtx) error {
	args := ctx.QueryArgs()
	sess, _, err := s.cfg.Login.Finish(context.Background(), string(args.Peek("code")), string(args.Peek("state")),
		string(ctx.Request.Header.Cookie(flowCookie)))
	s.setCookie(ctx, flowCookie, "", "/auth", -1, fasthttp.CookieSameSiteLaxMode) // used once, either way
	switch {
	case errors.Is(err, auth.ErrInvalid):
		ctx.Redirect("/?signin=failed", fasthttp.StatusFound)
		return nil
	case err != nil:
		return &storeFailed{"sign-in", err}
	}
	s.setCookie(ctx, sessionCookie, sess, "/", s.cfg.SessionTTL, fasthttp.CookieSameSiteStrictMode)
	// A page of our own moves on to the create page: a navigation that
	// starts here is same-site, so the Strict cookie goes with it (the
	// issuer's redirect chain would not carry it).
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBodyString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">` +
		`<title>readonce — signed in</title></head><body><p>Signed in. <a href="/">Continue to the create page</a>.</p></body></html>`)
	return nil
}

func (s *Server) loginSession(ctx *fasthttp.RequestCtx) error {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	sub, ok := s.cfg.Login.Session(string(ctx.Request.Header.Cookie(sessionCookie)))
	if !ok {
		writeJSON(ctx, fasthttp.StatusOK, []byte(`{"signed_in":false,"name":null}`))
		return nil
	}
	writeJSON(ctx, fasthttp.StatusOK, append(appendQuote([]byte(`{"signed_in":true,"name":`), sub), '}'))
	return nil
}

func (s *Server) logout(ctx *fasthttp.RequestCtx) error {
	s.setCookie(ctx, sessionCookie, "", "/", -1, fasthttp.CookieSameSiteStrictMode)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// sessionCreator is who a create's session cookie names, if it has a
// valid one and a JSON body (a cross-site form cannot send JSON without
// the preflight this server never answers).
func (s *Server) sessionCreator(ctx *fasthttp.RequestCtx) (auth.Creator, bool) {
	if s.cfg.Login == nil || !isJSON(ctx.Request.Header.ContentType()) {
		return auth.Creator{}, false
	}
	sub, ok := s.cfg.Login.Session(string(ctx.Request.Header.Cookie(sessionCookie)))
	return auth.Creator{Name: sub, Method: auth.MethodOIDC}, ok
}

// setCookie sets (or, with a negative ttl, clears) an HttpOnly cookie.
func (s *Server) setCookie(ctx *fasthttp.RequestCtx, name, value, path string, ttl time.Duration, sameSite fasthttp.CookieSameSite) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetValue(value)
	c.SetPath(path)
	c.SetHTTPOnly(true)
	c.SetSecure(s.cfg.CookieSecure)
	c.SetSameSite(sameSite)
	if ttl < 0 {
		c.SetMaxAge(-1)
	} else {
		c.SetMaxAge(int(ttl / time.Second))
	}
	ctx.Response.Header.SetCookie(c)
}
