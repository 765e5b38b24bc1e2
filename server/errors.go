package server

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fasthttp"
)

// Client-facing messages are fixed strings: an error body never carries a
// key, content or internal error text. Details of 5xx go to the log.
const (
	msgSecretNotFound   = "Secret not found, expired, or already read"
	msgNotFound         = "Not Found"
	msgMethodNotAllowed = "Method Not Allowed"
	msgUnsupportedType  = "Content-Type must be application/json"
	msgTooLarge         = "Request body too large"
	msgUnavailable      = "Service temporarily unavailable, try again"
	msgStorageFull      = "storage full"
	msgInternal         = "Internal Server Error"
	msgBadRequest       = "Invalid HTTP request"
	msgTimeout          = "Request timeout"
	msgNotAuthenticated = "Not authenticated"
	msgInvalidToken     = "Could not validate credentials"
	msgRateLimited      = "Too many requests, slow down"
)

// retryAfterSeconds is what 503 answers suggest; Redis blips are short.
const retryAfterSeconds = "1"

// writeJSON sends body (already JSON) with status.
func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// writeError sends {"detail": msg}.
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	b := append([]byte(`{"detail":`), quote(msg)...)
	writeJSON(ctx, status, append(b, '}'))
}

// unavailable answers 503 for a store that failed or whose outcome is
// unknown. A full Redis says so: creates fail, reveals keep working.
func unavailable(ctx *fasthttp.RequestCtx, err error) {
	ctx.Response.Header.Set("Retry-After", retryAfterSeconds)
	var full interface{ StorageFull() bool }
	if errors.As(err, &full) && full.StorageFull() {
		writeError(ctx, fasthttp.StatusServiceUnavailable, msgStorageFull)
		return
	}
	writeError(ctx, fasthttp.StatusServiceUnavailable, msgUnavailable)
}

// validationFailed sends 422 with FastAPI's list of {loc, msg, type}.
func validationFailed(ctx *fasthttp.RequestCtx, errs []fieldError) {
	b := []byte(`{"detail":[`)
	for i, e := range errs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"loc":[`...)
		for j, l := range e.Loc {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, quote(l)...)
		}
		b = append(b, `],"msg":`...)
		b = append(b, quote(e.Msg)...)
		b = append(b, `,"type":`...)
		b = append(b, quote(e.Type)...)
		b = append(b, '}')
	}
	writeJSON(ctx, fasthttp.StatusUnprocessableEntity, append(b, "]}"...))
}

func quote(s string) []byte { return appendQuote(nil, s) }

// appendQuote appends s as a JSON string. Content was checked to be valid
// UTF-8 on the way in; anything else here would be a bug, answered with the
// replacement character rather than invalid JSON.
func appendQuote[T ~string | ~[]byte](dst []byte, s T) []byte {
	b, err := jsontext.AppendQuote(dst, s)
	if err != nil {
		b, _ = jsontext.AppendQuote(dst, "\uFFFD")
	}
	return b
}

func (s *Server) notFound(ctx *fasthttp.RequestCtx) {
	writeError(ctx, fasthttp.StatusNotFound, msgNotFound)
}

func (s *Server) methodNotAllowed(ctx *fasthttp.RequestCtx) {
	// The router lists OPTIONS as allowed even with HandleOPTIONS off; it
	// is not, so the header says only what is.
	var allow []string
	for m := range strings.SplitSeq(string(ctx.Response.Header.Peek("Allow")), ",") {
		if m = strings.TrimSpace(m); m != "" && m != fasthttp.MethodOptions {
			allow = append(allow, m)
		}
	}
	ctx.Response.Header.Set("Allow", strings.Join(allow, ", "))
	writeError(ctx, fasthttp.StatusMethodNotAllowed, msgMethodNotAllowed)
}

// panicked answers 500 with a fixed message and logs the stack. The panic
// value itself is not logged: it could quote request data.
func (s *Server) panicked(ctx *fasthttp.RequestCtx, v any) {
	id := requestID(ctx)
	s.log.Error("panic in handler", "request_id", id, "panic_type", typeName(v), "stack", string(debug.Stack()))
	ctx.Response.Reset()
	securityHeaders(ctx)
	ctx.Response.Header.Set(headerRequestID, id)
	writeError(ctx, fasthttp.StatusInternalServerError, msgInternal)
}

// transportError is fasthttp's ErrorHandler: the request could not be read
// at all. Its default would answer 400 text/plain even for a large body.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	securityHeaders(ctx)
	var status int
	var msg string
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, msg = fasthttp.StatusRequestEntityTooLarge, msgTooLarge
	case isTimeout(err):
		status, msg = fasthttp.StatusRequestTimeout, msgTimeout
	default:
		status, msg = fasthttp.StatusBadRequest, msgBadRequest
	}
	writeError(ctx, status, msg)
	s.log.Info("request", "route", "", "status", status, "error", "unreadable request")
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
