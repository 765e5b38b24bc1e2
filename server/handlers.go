package server

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/readonce/readonce/internal/receipt"
)

// One handler per route: decode, call, write — or return the error, which
// fail (errors.go) turns into the answer.

// timeLayout is RFC 3339 in UTC with microseconds, as the original service.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// handle adapts a handler that returns an error to the router.
func (s *Server) handle(h func(*fasthttp.RequestCtx) error) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if err := h(ctx); err != nil {
			s.fail(ctx, err)
		}
	}
}

// createSecret: POST /api/v1/secrets/ → 201 {access_key, expires_at,
// secret_url, share_url}.
func (s *Server) createSecret(ctx *fasthttp.RequestCtx) error {
	if err := s.authorized(ctx); err != nil {
		return err
	}
	if err := s.createAllowed(ctx); err != nil {
		return err
	}
	if ct := ctx.Request.Header.ContentType(); len(ct) > 0 && !isJSON(ct) {
		return errUnsupportedType
	}
	req, err := decodeCreate(ctx.PostBody(), s.cfg.MaxContentBytes, s.cfg.MaxTTLHours)
	clear(ctx.PostBody()) // decoded: the request's copy of content and passphrase goes
	if err != nil {
		return err
	}
	protected := len(req.Passphrase) > 0
	if protected {
		if err := s.passphraseAllowed(ctx); err != nil {
			clear(req.Content)
			clear(req.Passphrase)
			return err
		}
	}
	// Not the request's context: it is cancelled at shutdown, and a drain
	// should let this write finish. The store bounds the call itself.
	c, err := s.secrets.create(context.Background(), req.Content, req.Passphrase, req.TTL, req.Receipt)
	if err != nil {
		return err
	}
	s.metrics.created.Inc()

	b := append(bodyBuffer(ctx), `{"access_key":"`...)
	b = append(b, c.accessKey...) // base64url: nothing to escape
	b = append(b, `","expires_at":"`...)
	b = c.expires.AppendFormat(b, timeLayout)
	b = append(b, `","secret_url":`...)
	b = append(append(b, s.secretURLJSON...), c.accessKey...)
	// share_url puts the key in the fragment, which browsers never send:
	// chat previews and link scanners fetch the page and burn nothing.
	b = append(b, `","share_url":`...)
	b = append(append(b, s.shareURLJSON...), c.accessKey...)
	if c.receiptToken != "" { // base64url too
		b = append(append(b, `","receipt_token":"`...), c.receiptToken...)
		b = append(append(append(b, `","receipt_url":`...), s.receiptURLJSON...), c.receiptToken...)
	}
	b = append(b, '"')
	if protected {
		b = append(b, `,"passphrase_required":true`...)
	}
	ctx.Response.SwapBody(append(b, '}'))
	writeJSONStatus(ctx, fasthttp.StatusCreated)
	return nil
}

// revealSecret: GET /api/v1/secrets/{access_key} → 200 {content, created_at}
// exactly once; 404, with one body, for unknown, expired, read or malformed.
func (s *Server) revealSecret(ctx *fasthttp.RequestCtx) error {
	if err := s.revealAllowed(ctx); err != nil {
		return err
	}
	accessKey, _ := ctx.UserValue("access_key").(string)
	secret, err := s.secrets.reveal(context.Background(), accessKey)
	if err != nil {
		return s.chargeNotFound(ctx, err)
	}
	s.writeRevealed(ctx, secret)
	return nil
}

// revealWithPassphrase: POST /api/v1/secrets/{access_key}/reveal with
// {"passphrase": "…"} (or {} for an unprotected secret) → the reveal's 200
// once; 403 with attempts_left for a missing or wrong passphrase; the
// reveal's 404 otherwise, also once the last attempt is spent. The
// passphrase travels in the body, never in a URL.
func (s *Server) revealWithPassphrase(ctx *fasthttp.RequestCtx) error {
	if ct := ctx.Request.Header.ContentType(); len(ct) > 0 && !isJSON(ct) {
		return errUnsupportedType
	}
	if err := s.revealAllowed(ctx); err != nil {
		return err
	}
	passphrase, err := decodeReveal(ctx.PostBody())
	clear(ctx.PostBody()) // decoded: the request's copy of the passphrase goes
	if err != nil {
		return err
	}
	if len(passphrase) > 0 { // Argon2 may run: charged before, whatever the outcome
		if err := s.passphraseAllowed(ctx); err != nil {
			clear(passphrase)
			return err
		}
	}
	accessKey, _ := ctx.UserValue("access_key").(string)
	secret, err := s.secrets.revealWithPassphrase(context.Background(), accessKey, passphrase)
	if err != nil {
		return s.chargeNotFound(ctx, err)
	}
	s.writeRevealed(ctx, secret)
	return nil
}

// writeRevealed answers a reveal: 200 {content, created_at}, and clears
// the content once written.
func (s *Server) writeRevealed(ctx *fasthttp.RequestCtx, secret revealed) {
	s.metrics.revealed.Inc()
	b := append(bodyBuffer(ctx), `{"content":`...) // the plaintext's one copy

	b = appendQuote(b, secret.content) // no string copy of the plaintext
	clear(secret.content)
	b = append(b, `,"created_at":"`...)
	b = secret.created.AppendFormat(b, timeLayout)
	ctx.Response.SwapBody(append(b, `"}`...))
	writeJSONStatus(ctx, fasthttp.StatusOK)
}

// burnSecret: DELETE /api/v1/secrets/{access_key} → 204 when it destroyed a
// live secret, else the reveal's 404. It never returns content.
func (s *Server) burnSecret(ctx *fasthttp.RequestCtx) error {
	if len(ctx.Request.Body()) > 0 {
		return errBodyOnDelete
	}
	if err := s.revealAllowed(ctx); err != nil {
		return err
	}
	accessKey, _ := ctx.UserValue("access_key").(string)
	if err := s.secrets.burn(context.Background(), accessKey); err != nil {
		return s.chargeNotFound(ctx, err)
	}
	s.metrics.burned.WithLabelValues("access_key").Inc()
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// receiptStatus: GET /api/v1/receipts/{receipt_token} → 200 with the
// receipt; 404 for unknown, malformed or retired tokens. Never consumes.
func (s *Server) receiptStatus(ctx *fasthttp.RequestCtx) error {
	if err := s.revealAllowed(ctx); err != nil {
		return err
	}
	token, _ := ctx.UserValue("receipt_token").(string)
	rec, err := s.secrets.readReceipt(context.Background(), token)
	if err != nil {
		return s.chargeNotFound(ctx, err)
	}
	s.metrics.receiptReads.Inc()
	writeReceipt(ctx, fasthttp.StatusOK, rec)
	return nil
}

// burnByReceipt: DELETE /api/v1/receipts/{receipt_token} → 200 with the
// receipt, burned (again 200 when repeated); 409 with it once the secret
// was revealed or expired.
func (s *Server) burnByReceipt(ctx *fasthttp.RequestCtx) error {
	if len(ctx.Request.Body()) > 0 {
		return errBodyOnDelete
	}
	if err := s.revealAllowed(ctx); err != nil {
		return err
	}
	token, _ := ctx.UserValue("receipt_token").(string)
	rec, burned, err := s.secrets.burnReceipt(context.Background(), token)
	if err != nil {
		return s.chargeNotFound(ctx, err)
	}
	if !burned {
		writeReceipt(ctx, fasthttp.StatusConflict, rec)
		return nil
	}
	s.metrics.burned.WithLabelValues("receipt").Inc()
	writeReceipt(ctx, fasthttp.StatusOK, rec)
	return nil
}

// writeReceipt answers with a receipt: state and times, nothing else.
func writeReceipt(ctx *fasthttp.RequestCtx, status int, rec receipt.Record) {
	at := func(b []byte, t time.Time) []byte {
		if t.IsZero() {
			return append(b, "null"...)
		}
		return append(t.AppendFormat(append(b, '"'), timeLayout), '"')
	}
	b := append(bodyBuffer(ctx), `{"state":"`...)
	b = append(b, rec.State...) // one of four fixed words
	b = at(append(b, `","created_at":`...), rec.CreatedAt)
	b = at(append(b, `,"expires_at":`...), rec.ExpiresAt)
	b = at(append(b, `,"revealed_at":`...), rec.RevealedAt)
	b = at(append(b, `,"burned_at":`...), rec.BurnedAt)
	ctx.Response.SwapBody(append(b, `,"created_by":null}`...))
	writeJSONStatus(ctx, status)
}

// errBodyOnDelete: a DELETE names its target in the path alone.
var errBodyOnDelete = &apiError{kind: kindBadBody, detail: "A DELETE takes no request body"}

// health is liveness: it never touches the store.
func (s *Server) health(ctx *fasthttp.RequestCtx) error {
	writeJSON(ctx, fasthttp.StatusOK, []byte(`{"status":"healthy"}`))
	return nil
}

// ready is readiness: the store must answer, and say it will not evict.
func (s *Server) ready(ctx *fasthttp.RequestCtx) error {
	if err := s.store.Ready(context.Background()); err != nil {
		notReady := &apiError{kind: kindNotReady, cause: err}
		if why, ok := err.(ReadinessError); ok {
			notReady.detail = why.ReadinessDetail() // e.g. the eviction policy to fix
		}
		return notReady
	}
	writeJSON(ctx, fasthttp.StatusOK, []byte(`{"status":"ready"}`))
	return nil
}

// routeNotFound answers paths no route matches.
func (s *Server) routeNotFound(*fasthttp.RequestCtx) error { return errRouteNotFound }

// methodNotAllowed answers a known path with a method it does not take.
// The router lists OPTIONS as allowed even with HandleOPTIONS off; it is
// not, so the header says only what is.
func (s *Server) methodNotAllowed(ctx *fasthttp.RequestCtx) error {
	var allow []string
	for m := range strings.SplitSeq(string(ctx.Response.Header.Peek("Allow")), ",") {
		if m = strings.TrimSpace(m); m != "" && m != fasthttp.MethodOptions {
			allow = append(allow, m)
		}
	}
	ctx.Response.Header.Set("Allow", strings.Join(allow, ", "))
	return errMethodNotAllowed
}

// writeJSON sends body (already JSON) with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetBody(body)
	writeJSONStatus(ctx, status)
}

// bodyBuffer hands a handler the response's pooled body buffer, emptied, to
// append its answer to and give back with SwapBody: no allocation, no copy.
func bodyBuffer(ctx *fasthttp.RequestCtx) []byte { return ctx.Response.SwapBody(nil)[:0] }

// writeJSONStatus labels a body already written as JSON, with its status.
func writeJSONStatus(ctx *fasthttp.RequestCtx, status int) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
}

// openJSONString is s as a JSON string without its closing quote.
func openJSONString(s string) []byte {
	b := appendQuote(nil, s)
	return b[:len(b)-1]
}

// isJSON accepts application/json and application/*+json, with parameters.
func isJSON(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct) // media types are case-insensitive (RFC 9110 §8.3.1)
	const app, suffix = "application/", "+json"
	return bytes.EqualFold(ct, []byte("application/json")) ||
		len(ct) > len(app)+len(suffix) && bytes.EqualFold(ct[:len(app)], []byte(app)) &&
			bytes.EqualFold(ct[len(ct)-len(suffix):], []byte(suffix))
}
