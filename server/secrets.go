package server

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// timeLayout is RFC 3339 in UTC with microseconds, as the original service.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// createSecret: POST /api/v1/secrets/ → 201 {access_key, expires_at, secret_url}.
func (s *Server) createSecret(ctx *fasthttp.RequestCtx) {
	if !s.authorized(ctx) || !s.createAllowed(ctx) {
		return
	}
	if ct := ctx.Request.Header.ContentType(); len(ct) > 0 && !isJSON(ct) {
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, msgUnsupportedType)
		return
	}
	req, invalid, err := decodeCreate(ctx.PostBody(), s.cfg.MaxContentBytes, s.cfg.MaxTTLHours)
	var bad badBody
	switch {
	case errors.As(err, &bad):
		writeError(ctx, fasthttp.StatusBadRequest, bad.msg)
		return
	case len(invalid) > 0:
		validationFailed(ctx, invalid)
		return
	}
	ttl := time.Duration(s.cfg.DefaultTTLHours) * time.Hour
	if req.TTLHours != 0 {
		ttl = time.Duration(req.TTLHours) * time.Hour
	}
	created := s.now().UTC().Truncate(time.Microsecond) // the envelope keeps microseconds
	expires := created.Add(ttl)

	accessKey, err := s.sealer.NewAccessKey()
	if err != nil {
		s.internalError(ctx, "new access key", err)
		return
	}
	lookupKey, _ := s.sealer.LookupKey(accessKey)
	blob, err := s.sealer.Seal(accessKey, lookupKey, req.Content, created, expires)
	clear(req.Content) // the plaintext copy is not needed past sealing
	if err != nil {
		s.internalError(ctx, "seal", err)
		return
	}
	// Not the request's context: it is cancelled at shutdown, and a drain
	// should let this write finish. The store bounds the call itself.
	if err := s.store.Put(context.Background(), lookupKey, blob, ttl); err != nil {
		s.storeFailed(ctx, "create", err)
		return
	}
	s.metrics.created.Inc()

	b := make([]byte, 0, 200+len(s.secretURL)+len(s.shareURL))
	b = append(b, `{"access_key":"`...)
	b = append(b, accessKey...) // base64url: nothing to escape
	b = append(b, `","expires_at":"`...)
	b = expires.AppendFormat(b, timeLayout)
	b = append(b, `","secret_url":`...)
	b = appendQuote(b, s.secretURL+accessKey)
	// share_url puts the key in the fragment, which browsers never send:
	// chat previews and link scanners fetch the page and burn nothing.
	b = append(b, `,"share_url":`...)
	b = appendQuote(b, s.shareURL+accessKey)
	writeJSON(ctx, fasthttp.StatusCreated, append(b, '}'))
}

// revealSecret: GET /api/v1/secrets/{access_key} → 200 {content, created_at}
// exactly once; 404, with one body, for unknown, expired, read or malformed.
func (s *Server) revealSecret(ctx *fasthttp.RequestCtx) {
	if !s.revealAllowed(ctx) {
		return
	}
	accessKey, _ := ctx.UserValue("access_key").(string)
	lookupKey, ok := s.sealer.LookupKey(accessKey)
	if !ok { // malformed: it cannot exist, so no store round trip
		s.secretNotFound(ctx)
		return
	}
	blob, found, err := s.store.Take(context.Background(), lookupKey)
	if err != nil { // outcome unknown: never claim "not found"
		s.storeFailed(ctx, "reveal", err)
		return
	}
	if !found {
		s.secretNotFound(ctx)
		return
	}
	content, created, expires, err := s.sealer.Open(accessKey, lookupKey, blob)
	if err != nil {
		s.putBack(ctx, lookupKey, blob)
		return
	}
	if !s.now().Before(expires) { // the store has not evicted it yet; we do not serve it
		s.secretNotFound(ctx)
		return
	}
	s.metrics.revealed.Inc()
	b := make([]byte, 0, len(content)+len(content)/8+64)
	b = append(b, `{"content":`...)
	b = appendQuote(b, content) // no string copy of the plaintext
	clear(content)
	b = append(b, `,"created_at":"`...)
	b = created.AppendFormat(b, timeLayout)
	writeJSON(ctx, fasthttp.StatusOK, append(b, `"}`...))
}

// putBack handles a blob that was taken but cannot be opened — most likely a
// server started with the wrong SECRET_KEY. Burning it would turn a bad
// deploy into lost secrets, so it goes back with its original expiry and
// the client is told to retry.
func (s *Server) putBack(ctx *fasthttp.RequestCtx, lookupKey string, blob []byte) {
	s.log.Error("a stored secret could not be opened; putting it back (is SECRET_KEY right?)",
		"request_id", requestID(ctx))
	if expires, ok := s.sealer.Expiry(blob); ok {
		if err := s.store.Restore(context.Background(), lookupKey, blob, expires); err != nil {
			s.log.Error("could not put back a secret that failed to open", "request_id", requestID(ctx), "error", err)
		}
	}
	ctx.Response.Header.Set("Retry-After", retryAfterSeconds)
	writeError(ctx, fasthttp.StatusServiceUnavailable, msgUnavailable)
}

func (s *Server) storeFailed(ctx *fasthttp.RequestCtx, op string, err error) {
	s.log.Warn("store unavailable", "op", op, "request_id", requestID(ctx), "error", err)
	s.metrics.storeError(op, err)
	unavailable(ctx, err)
}

func (s *Server) internalError(ctx *fasthttp.RequestCtx, op string, err error) {
	s.log.Error("internal error", "op", op, "request_id", requestID(ctx), "error", err)
	writeError(ctx, fasthttp.StatusInternalServerError, msgInternal)
}

// isJSON accepts application/json and application/*+json, with parameters.
func isJSON(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.ToLower(bytes.TrimSpace(ct))
	return bytes.Equal(ct, []byte("application/json")) ||
		bytes.HasPrefix(ct, []byte("application/")) && bytes.HasSuffix(ct, []byte("+json"))
}

// health is liveness: it never touches the store.
func (s *Server) health(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, []byte(`{"status":"healthy"}`))
}

// ready is readiness: the store must answer.
func (s *Server) ready(ctx *fasthttp.RequestCtx) {
	if err := s.store.Ready(context.Background()); err != nil {
		s.log.Warn("not ready", "request_id", requestID(ctx), "error", err)
		ctx.Response.Header.Set("Retry-After", retryAfterSeconds)
		detail := "Store unavailable"
		var why interface{ ReadinessDetail() string }
		if errors.As(err, &why) {
			detail = why.ReadinessDetail() // e.g. the eviction policy to fix
		}
		writeError(ctx, fasthttp.StatusServiceUnavailable, detail)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, []byte(`{"status":"ready"}`))
}
