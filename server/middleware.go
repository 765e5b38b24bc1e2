package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

const headerRequestID = "X-Request-ID"

// middleware wraps every routed request: security headers, a request id, and
// one access-log line with the route template (never the path, which holds
// the access key), status, duration and request id.
func (s *Server) middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		id := s.ids.from(ctx.Request.Header.Peek(headerRequestID))
		securityHeaders(ctx)
		ctx.Response.Header.Set(headerRequestID, id)

		next(ctx)

		route, _ := ctx.UserValue(routeLabel).(string)
		method, status, took := methodLabel(ctx.Method()), ctx.Response.StatusCode(), time.Since(start)
		s.metrics.observe(route, method, status, took)
		s.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", took),
			slog.String("request_id", id),
		)
	}
}

// securityHeaderList goes on every response, errors and refused
// connections included. JSON needs no capabilities at all; the pages set a
// CSP of their own.
var securityHeaderList = [...][2]string{
	{"Cache-Control", "no-store"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
}

func securityHeaders(ctx *fasthttp.RequestCtx) {
	for _, h := range securityHeaderList {
		ctx.Response.Header.Set(h[0], h[1])
	}
}

func requestID(ctx *fasthttp.RequestCtx) string {
	return string(ctx.Response.Header.Peek(headerRequestID))
}

// requestIDs hands out ids: a random per-process prefix and a counter, so
// ids are unique without a crypto/rand call per request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

// from keeps a client's id when it is short and plain (so it is safe to log
// and echo), and otherwise makes one.
func (r *requestIDs) from(given []byte) string {
	if validRequestID(given) {
		return string(given)
	}
	var buf [40]byte // prefix (13) and a uint64 (at most 20): one allocation, the string
	return string(strconv.AppendUint(append(buf[:0], r.prefix...), r.n.Add(1), 10))
}

func validRequestID(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
