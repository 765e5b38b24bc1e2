package cache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Limiter is a GCRA rate limiter kept in the same Redis as the secrets
// (go-redis's own redis_rate), so every replica of readonce shares it.
type Limiter struct {
	rl      *redis_rate.Limiter
	timeout time.Duration
	keyMAC  []byte
}

// Limiter returns a rate limiter on this store's Redis. Its bucket names
// are HMAC-SHA256 under macKey (derived from SECRET_KEY): the IPv4 space is
// small enough to enumerate, so a plain hash would give the addresses
// away to whoever reads Redis.
func (s *Store) Limiter(macKey []byte) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(s.rdb), timeout: s.timeout, keyMAC: macKey}
}

// Allow spends cost from key's budget of rate events per period with bursts
// up to burst. With cost 0 it only looks: allowed then says whether one more
// event would be. retryAfter says when the next one will be, once refused.
// Keys are MACed: client addresses are not stored in Redis, nor anything
// that can be checked against a guess without macKey.
func (l *Limiter) Allow(ctx context.Context, key string, rate, burst int, period time.Duration, cost int) (allowed bool, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	mac := hmac.New(sha256.New, l.keyMAC)
	mac.Write([]byte(key))
	res, err := l.rl.AllowN(ctx, "readonce:"+base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18]), redis_rate.Limit{Rate: rate, Burst: burst, Period: period}, cost)
	if err != nil {
		return false, 0, classify("rate limit", err)
	}
	emission := period / time.Duration(rate)
	switch {
	case cost > 0 && res.Allowed == 0:
		return false, res.RetryAfter, nil
	case cost == 0 && res.Remaining < 1:
		return false, emission, nil
	}
	return true, 0, nil
}
