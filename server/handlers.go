package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/readonce/readonce/internal/receipt"
	"github.com/readonce/readonce/seal"
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
	creator, err := s.authorized(ctx)
	if err != nil {
		return err
	}
	if err := s.createAllowed(ctx); err != nil {
		return err
	}
	if ct := ctx.Request.Header.ContentType(); len(ct) > 0 && !isJSON(ct) {
		return errUnsupportedType
	}
	req, err := decodeCreate(ctx.PostBody(), s.cfg.MaxContentBytes, s.cfg.MaxFileBytes, s.cfg.MaxTTLHours)
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
	sec := seal.Secret{Content: req.Content, File: req.File, Filename: req.Filename, MediaType: req.MediaType}
	c, err := s.secrets.create(context.Background(), sec, req.Passphrase, req.TTL, req.Receipt, creator.Name)
	if err != nil {
		return err
	}
	s.metrics.created.Inc()
	s.metrics.createdBy(creator.Method) // how, never who

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

// writeRevealed answers a reveal, and clears the content once written
// (the response holds its one copy):
//   - with Accept: application/octet-stream, the raw bytes as a download,
//     never anything a browser would render (see writeDownload);
//   - a file: 200 {content_base64, filename, media_type, created_at};
//   - a text: 200 {content, created_at}.
func (s *Server) writeRevealed(ctx *fasthttp.RequestCtx, secret revealed) {
	s.metrics.revealed.Inc()
	defer clear(secret.Content)
	if wantsOctetStream(ctx.Request.Header.Peek("Accept")) {
		writeDownload(ctx, secret.Secret)
		return
	}
	b := bodyBuffer(ctx)
	if secret.File {
		b = append(b, `{"content_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, secret.Content)
		b = append(b, `","filename":`...)
		if secret.Filename == "" {
			b = append(b, "null"...)
		} else {
			b = appendQuote(b, secret.Filename)
		}
		b = appendQuote(append(b, `,"media_type":`...), secret.MediaType)
		b = append(b, `,"created_at":"`...)
	} else {
		b = append(b, `{"content":`...)
		b = appendQuote(b, secret.Content) // no string copy of the plaintext
		b = append(b, `,"created_at":"`...)
	}
	b = secret.created.AppendFormat(b, timeLayout)
	ctx.Response.SwapBody(append(b, `"}`...))
	writeJSONStatus(ctx, fasthttp.StatusOK)
}

// writeDownload sends a secret's bytes (a text's UTF-8) as an attachment:
// Content-Type application/octet-stream whatever the sealed media type, so
// no browser renders or sniffs it (nosniff is on every response), a CSP
// that forbids everything and sandboxes the document if one is ever
// opened, and the file name only in Content-Disposition's RFC 8187 form.
func writeDownload(ctx *fasthttp.RequestCtx, sec seal.Secret) {
	ctx.Response.SwapBody(append(bodyBuffer(ctx), sec.Content...))
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Disposition", contentDisposition(sec))
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/octet-stream")
}

// contentDisposition is RFC 6266's attachment with the name as RFC 8187's
// filename*=UTF-8”…, every byte outside attr-char percent-encoded (quotes,
// ';', spaces and non-ASCII included), and an ASCII fallback filename= for
// old clients in which anything but letters, digits, '.', '-' and '_' is
// '_'. A text is "secret.txt"; a file without a name gets no name at all.
func contentDisposition(sec seal.Secret) string {
	name := sec.Filename
	switch {
	case !sec.File:
		name = "secret.txt"
	case name == "":
		return "attachment"
	}
	var fallback, ext strings.Builder
	for _, r := range name { // one '_' per character, not per byte
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_':
			fallback.WriteRune(r)
		default:
			fallback.WriteByte('_')
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			ext.WriteByte(c)
		} else {
			fmt.Fprintf(&ext, "%%%02X", c)
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + ext.String()
}

// isAttrChar is RFC 8187's attr-char: ALPHA / DIGIT / "!" / "#" / "$" /
// "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~".
func isAttrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// wantsOctetStream reports whether an Accept header asks for
// application/octet-stream (with a non-zero q): then a reveal sends the
// raw bytes.
func wantsOctetStream(accept []byte) bool {
	if !bytes.Contains(accept, []byte("octet-stream")) {
		return false // every other reveal (curl's */*, a browser's list): no parsing, no allocation
	}
	for part := range strings.SplitSeq(string(accept), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/octet-stream" {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		return true
	}
	return false
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

// writeReceipt answers with a receipt: state, times, and who created the
// secret when that was known; nothing else.
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
	b = append(b, `,"created_by":`...)
	if rec.CreatedBy == "" { // anonymous: REQUIRE_AUTH was off
		b = append(b, "null"...)
	} else {
		b = appendQuote(b, rec.CreatedBy)
	}
	ctx.Response.SwapBody(append(b, '}'))
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
