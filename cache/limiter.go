package cache

import (
	"context"
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
}

// Limiter returns a rate limiter on this store's Redis.
func (s *Store) Limiter() *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(s.rdb), timeout: s.timeout}
}

// Allow spends cost from key's budget of rate events per period with bursts
// up to burst. With cost 0 it only looks: allowed then says whether one more
// event would be. retryAfter says when the next one will be, once refused.
// Keys are hashed: client addresses are not stored in Redis as they are.
func (l *Limiter) Allow(ctx context.Context, key string, rate, burst int, period time.Duration, cost int) (allowed bool, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	sum := sha256.Sum256([]byte(key))
	res, err := l.rl.AllowN(ctx, "readonce:"+base64.RawURLEncoding.EncodeToString(sum[:18]), redis_rate.Limit{Rate: rate, Burst: burst, Period: period}, cost)
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
