package server

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Authenticator verifies a creator's bearer token and returns its subject.
type Authenticator interface {
	Verify(token string) (subject string, err error)
}

// Limiter is a shared rate limiter: Allow spends cost from key's budget of
// rate events per period with bursts up to burst; cost 0 only looks.
type Limiter interface {
	Allow(ctx context.Context, key string, rate, burst int, period time.Duration, cost int) (allowed bool, retryAfter time.Duration, err error)
}

// RateLimit is one limit; a zero PerMinute turns it off.
type RateLimit struct {
	PerMinute int
	Burst     int // 0: PerMinute
}

func (l RateLimit) on() bool { return l.PerMinute > 0 }

func (l RateLimit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.PerMinute
}

// authorized enforces REQUIRE_AUTH on creates: a Bearer JWT, or 401.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) error {
	if s.cfg.Auth == nil {
		return nil
	}
	h := string(ctx.Request.Header.Peek("Authorization"))
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errNotAuthenticated
	}
	if _, err := s.cfg.Auth.Verify(strings.TrimSpace(token)); err != nil {
		return errInvalidToken
	}
	return nil
}

// Two limits per client address: creates, and 404s at reveal (a scanner
// or a broken client). Both are GCRA budgets in Redis, shared by replicas.
const (
	limitCreate   = "create"
	limitNotFound = "not_found"
)

// createAllowed spends one create from the client's budget, or fails 429.
func (s *Server) createAllowed(ctx *fasthttp.RequestCtx) error {
	return s.allow(ctx, limitCreate, s.cfg.CreateLimit, 1)
}

// revealAllowed fails 429, before any store work, for a client whose budget
// of 404s is spent.
func (s *Server) revealAllowed(ctx *fasthttp.RequestCtx) error {
	return s.allow(ctx, limitNotFound, s.cfg.NotFoundLimit, 0)
}

// chargeNotFound spends one 404 of the client's budget.
func (s *Server) chargeNotFound(ctx *fasthttp.RequestCtx) {
	_ = s.allow(ctx, limitNotFound, s.cfg.NotFoundLimit, 1)
}

// allow asks the limiter. Limits off, or a limiter that cannot reach Redis,
// let the request through: the store call that follows fails on its own.
func (s *Server) allow(ctx *fasthttp.RequestCtx, name string, l RateLimit, cost int) error {
	if !l.on() || s.cfg.Limiter == nil {
		return nil
	}
	ok, retry, err := s.cfg.Limiter.Allow(context.Background(), name+":"+s.clientIP(ctx).String(), l.PerMinute, l.burst(), time.Minute, cost)
	if err != nil {
		s.log.Warn("rate limiter unavailable", "limit", name, "request_id", requestID(ctx), "error", err)
		return nil
	}
	if !ok {
		return &apiError{kind: kindRateLimited, retry: retry, limit: name}
	}
	return nil
}

// clientIP is the peer's address, or — only when the peer is a trusted
// proxy — the right-most address in X-Forwarded-For that is not itself a
// trusted proxy. Anyone can write X-Forwarded-For; only proxies we trust
// get to speak for the client.
func (s *Server) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	xff := string(ctx.Request.Header.Peek("X-Forwarded-For"))
	for xff != "" {
		var hop string
		if i := strings.LastIndexByte(xff, ','); i >= 0 {
			hop, xff = xff[i+1:], xff[:i]
		} else {
			hop, xff = xff, ""
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(hop))
		if err != nil {
			return peer // a mangled header: fall back to the proxy itself
		}
		addr = addr.Unmap()
		if !s.trusted(addr) {
			return addr
		}
		peer = addr
	}
	return peer
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
