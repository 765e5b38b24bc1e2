package server

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/readonce/readonce/auth"
)

// Authenticator verifies a creator's bearer token and says who it names.
// An error wrapping auth.ErrInvalid is a 401; any other means the token
// could not be checked now (a 503). Nothing is stored either way.
type Authenticator interface {
	Verify(ctx context.Context, token string) (auth.Creator, error)
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

// authorized enforces REQUIRE_AUTH on creates: a Bearer token that a
// configured method accepts, or 401 (503 when it cannot be checked now).
// Without REQUIRE_AUTH every creator is anonymous.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) (auth.Creator, error) {
	if s.cfg.Auth == nil {
		return auth.Creator{Method: "none"}, nil
	}
	h := string(ctx.Request.Header.Peek("Authorization"))
	if h == "" {
		if who, ok := s.sessionCreator(ctx); ok { // a person signed in on the create page
			return who, nil
		}
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return auth.Creator{}, errNotAuthenticated
	}
	who, err := s.cfg.Auth.Verify(context.Background(), strings.TrimSpace(token))
	switch {
	case errors.Is(err, auth.ErrInvalid):
		return auth.Creator{}, errInvalidToken
	case err != nil:
		return auth.Creator{}, &storeFailed{"verify token", err}
	}
	return who, nil
}

// Two limits per client address: creates, and 404s at reveal (a scanner
// or a broken client). Both are GCRA budgets in Redis, shared by replicas.
const (
	limitCreate     = "create"
	limitNotFound   = "not_found"
	limitPassphrase = "passphrase"
)

// createAllowed spends one create from the client's budget, or fails 429.
func (s *Server) createAllowed(ctx *fasthttp.RequestCtx) error {
	return s.allow(ctx, limitCreate, s.cfg.CreateLimit, 1)
}

// passphraseAllowed spends one Argon2 run from the client's budget, or
// fails 429: a client cannot keep the passphrase gate busy on its own.
func (s *Server) passphraseAllowed(ctx *fasthttp.RequestCtx) error {
	return s.allow(ctx, limitPassphrase, s.cfg.PassphraseLimit, 1)
}

// chargeNotFound returns err, after charging the client's not-found budget
// when err is a "not found" (a guess): past the budget, the answer is 429.
func (s *Server) chargeNotFound(ctx *fasthttp.RequestCtx, err error) error {
	if err == errSecretNotFound || err == errReceiptNotFound {
		if limited := s.spendNotFound(ctx); limited != nil {
			return limited
		}
	}
	return err
}

// revealAllowed fails 429, before any store work, for a client whose budget
// of 404s is spent.
func (s *Server) revealAllowed(ctx *fasthttp.RequestCtx) error {
	return s.allow(ctx, limitNotFound, s.cfg.NotFoundLimit, 0)
}

// spendNotFound pays for one 404 from the client's budget, in one atomic
// step, before the 404 is told: a miss the budget cannot pay for answers
// 429 instead. (Looking first and paying after let 100 concurrent misses
// against a budget of 5 learn 14 × "not found".)
func (s *Server) spendNotFound(ctx *fasthttp.RequestCtx) error {
	return s.allow(ctx, limitNotFound, s.cfg.NotFoundLimit, 1)
}

// allow asks the limiter. Limits off, or a limiter that cannot reach Redis,
// let the request through: the store call that follows fails on its own.
func (s *Server) allow(ctx *fasthttp.RequestCtx, name string, l RateLimit, cost int) error {
	if !l.on() || s.cfg.Limiter == nil {
		return nil
	}
	ok, retry, err := s.cfg.Limiter.Allow(context.Background(), name+":"+clientBucket(s.clientIP(ctx)), l.PerMinute, l.burst(), time.Minute, cost)
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
// get to speak for the client. Every X-Forwarded-For line counts, as one
// list in order (RFC 9110 §5.3): a proxy that appends its own line after
// the client's must not let the client's line decide. A hop that is not an
// address makes the whole header worthless: the peer is used.
func (s *Server) clientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer, _ := netip.AddrFromSlice(ctx.RemoteIP())
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	lines := ctx.Request.Header.PeekAll("X-Forwarded-For")
	client := peer
	for i := len(lines) - 1; i >= 0; i-- {
		xff := string(lines[i])
		for xff != "" {
			var hop string
			if j := strings.LastIndexByte(xff, ','); j >= 0 {
				hop, xff = xff[j+1:], xff[:j]
			} else {
				hop, xff = xff, ""
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return peer // garbage: nothing in this header is to be believed
			}
			client = addr.Unmap().WithZone("")
			if !s.trusted(client) {
				return client
			}
		}
	}
	return client
}

// clientBucket is what a client's rate limits are counted under: its IPv4
// address, or its IPv6 /64 (one subscriber usually holds a whole /64, and
// could otherwise rotate through 2^64 addresses).
func clientBucket(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
