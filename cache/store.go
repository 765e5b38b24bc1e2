// Package cache keeps sealed secrets in Redis: SET with a TTL to create; to
// reveal, GET, then (once the caller has opened the blob) one atomic claim
// script, so that under any concurrency exactly one reader wins and a late
// or re-sent claim can neither lose a secret nor let a second reader in
// (claim.go). It knows nothing of HTTP or of what the blobs hold.
package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Store is a one-time key-value store on Redis.
type Store struct {
	rdb redis.UniversalClient
	ap  *redis.AutoPipeliner // nil unless Options.AutoPipeline
	// inflight counts commands under way through exec; with fewer than
	// pipelineFrom, the autopipeliner is bypassed.
	inflight     atomic.Int64
	pipelineFrom int64
	minAcks      int // WAIT for this many replicas after each write
	skipPolicy   bool
	timeout      time.Duration
	embedded     *miniredis.Miniredis // nil unless REDIS_URL was empty

	// evicting is the last eviction policy seen that would evict live
	// secrets (nil: none): creates are refused while it holds. Ready and a
	// check every policyRefresh keep it current.
	evicting atomic.Pointer[PolicyError]
	stop     chan struct{}
	closing  sync.Once
}

// policyRefresh is how often the eviction policy is read again.
const policyRefresh = 5 * time.Second

func newStore(rdb redis.UniversalClient, timeout time.Duration, embedded *miniredis.Miniredis) *Store {
	return &Store{rdb: rdb, timeout: timeout, embedded: embedded, stop: make(chan struct{})}
}

// watchPolicy reads the eviction policy every policyRefresh until Close,
// so that a Redis switched to an evicting policy stops taking secrets
// within seconds, whoever calls Ready.
func (s *Store) watchPolicy() {
	t := time.NewTicker(policyRefresh)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.Ready(context.Background())
		}
	}
}

// Put stores blob under key for ttl. A single SET … PX: idempotent, so a
// client that retries after an error cannot create a second copy.
func (s *Store) Put(ctx context.Context, key string, blob []byte, ttl time.Duration) error {
	if err := s.refuseWhileEvicting("put"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := redis.NewStatusCmd(ctx, "set", key, blob, "px", ttl.Milliseconds())
	return classifyOnce("put", s.write(ctx, "put", key, cmd))
}

// refuseWhileEvicting: no create while Redis would evict live secrets.
func (s *Store) refuseWhileEvicting(op string) error {
	if p := s.evicting.Load(); p != nil {
		return &Error{Op: op, Kind: "policy", Err: p}
	}
	return nil
}

// write runs a command that writes: followed by WAIT with
// REDIS_MIN_REPLICAS_ACK, on its own otherwise.
func (s *Store) write(ctx context.Context, op, key string, cmd redis.Cmder) error {
	if s.minAcks > 0 {
		return s.replicated(ctx, op, key, cmd)
	}
	return s.exec(ctx, cmd)
}

// classifyOnce classifies err unless it already is one of ours.
func classifyOnce(op string, err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return classify(op, err)
}

// replicated runs cmd and then WAIT on the same connection (a pipeline to
// the key's master: one round trip), and fails unless minAcks replicas
// acknowledged it.
func (s *Store) replicated(ctx context.Context, op, key string, cmd redis.Cmder) error {
	var target redis.Cmdable = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		master, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return classify(op, err)
		}
		target = master
	}
	var wait *redis.IntCmd
	_, _ = target.Pipelined(ctx, func(p redis.Pipeliner) error {
		_ = p.Process(ctx, cmd)
		// Leave a quarter of the budget for the replies to come back.
		wait = redis.NewIntCmd(ctx, "wait", s.minAcks, (s.timeout * 3 / 4).Milliseconds())
		_ = p.Process(ctx, wait)
		return nil
	})
	if err := cmd.Err(); errors.Is(err, redis.Nil) {
		return err
	} else if err != nil {
		return classify(op, err)
	}
	if err := wait.Err(); err != nil {
		return classify(op, err)
	}
	if n := wait.Val(); n < int64(s.minAcks) {
		return &Error{Op: op, Kind: "replication", Err: fmt.Errorf("%d of %d replicas acknowledged", n, s.minAcks)}
	}
	return nil
}

// exec runs one command, through the autopipeliner when it is on, and
// never waits past ctx: the autopipeliner does not honour a command's
// context once it is queued, so the wait is bounded here. A command
// abandoned at the deadline may still run; its outcome is unknown, which is
// what the error says.
func (s *Store) exec(ctx context.Context, cmd redis.Cmder) error {
	if s.ap == nil {
		return s.rdb.Process(ctx, cmd)
	}
	// Batching pays only when commands queue up: below pipelineFrom in
	// flight, a command goes straight to a pooled connection instead of
	// waiting for a batch to fill (two such waits per reveal at one client).
	if n := s.inflight.Add(1); n < s.pipelineFrom {
		defer s.inflight.Add(-1)
		return s.rdb.Process(ctx, cmd)
	}
	defer s.inflight.Add(-1)
	return s.ap.Submit(ctx, cmd).WaitContext(ctx)
}

// Ready reports whether Redis answers and runs maxmemory-policy noeviction
// (on every master): every secret has a TTL, so a volatile-* policy evicts
// live secrets under memory pressure, and so does allkeys-*.
func (s *Store) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return classify("ping", err)
	}
	if s.skipPolicy || s.embedded != nil {
		return nil
	}
	check := func(ctx context.Context, c *redis.Client) error {
		policy, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			return &PolicyError{Err: err}
		}
		if p := policy["maxmemory-policy"]; p != "noeviction" {
			return &PolicyError{Policy: p}
		}
		return nil
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.Client:
		err = check(ctx, c)
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	}
	// Only a policy seen to evict stops creates; one that could not be
	// read (CONFIG refused, Redis away) fails readiness alone.
	var p *PolicyError
	switch {
	case err == nil:
		s.evicting.Store(nil)
	case errors.As(err, &p) && p.Policy != "":
		s.evicting.Store(p)
	}
	return err
}

// PolicyError says Redis would evict secrets, or could not be asked.
type PolicyError struct {
	Policy string // the policy found; empty when CONFIG GET failed
	Err    error
}

func (e *PolicyError) Error() string { return "cache: ready: " + e.ReadinessDetail() }
func (e *PolicyError) Unwrap() error { return e.Err }

// ReadinessDetail is the message /ready shows: safe (no secret), and what
// an operator needs to act.
func (e *PolicyError) ReadinessDetail() string {
	if e.Policy == "" {
		return "cannot read Redis maxmemory-policy (CONFIG GET refused?); set REDIS_SKIP_POLICY_CHECK=true if your provider guarantees noeviction"
	}
	return fmt.Sprintf("Redis maxmemory-policy is %s; readonce needs noeviction (every secret has a TTL, so %s can evict live secrets)", e.Policy, e.Policy)
}

// PoolStats is the state of the connection pool, for metrics.
type PoolStats struct {
	Hits, Misses, Timeouts            uint64 // connection reused, dialled, waited in vain
	TotalConns, IdleConns, StaleConns uint64
}

// PoolStats reports the connection pool's counters.
func (s *Store) PoolStats() PoolStats {
	p := s.rdb.PoolStats()
	return PoolStats{
		Hits: uint64(p.Hits), Misses: uint64(p.Misses), Timeouts: uint64(p.Timeouts),
		TotalConns: uint64(p.TotalConns), IdleConns: uint64(p.IdleConns), StaleConns: uint64(p.StaleConns),
	}
}

// Close releases connections and stops the embedded store.
func (s *Store) Close() error {
	s.closing.Do(func() { close(s.stop) })
	err := s.rdb.Close()
	if s.embedded != nil {
		s.embedded.Close()
	}
	return err
}

// Error is what every failed store call returns: the operation and a kind
// that is safe to log and to use as a metric label. It never holds a key.
type Error struct {
	Op   string
	Kind string // "timeout", "oom", "readonly", "connection", "reply"
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("cache: %s: %s: %v", e.Op, e.Kind, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// ErrorKind is the kind, for metrics.
func (e *Error) ErrorKind() string { return e.Kind }

// StorageFull reports whether Redis refused a write for lack of memory;
// callers can answer "storage full" instead of a generic outage.
func (e *Error) StorageFull() bool { return e.Kind == "oom" }

func classify(op string, err error) error {
	kind := "connection"
	var rerr redis.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		kind = "timeout"
	case redis.IsOOMError(err):
		kind = "oom"
	case redis.IsReadOnlyError(err):
		kind = "readonly"
	case errors.As(err, &rerr):
		kind = "reply"
	}
	return &Error{Op: op, Kind: kind, Err: err}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
