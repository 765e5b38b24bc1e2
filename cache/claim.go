package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The claim: how a reveal takes a secret, in one atomic step that Redis
// runs under three rules.
//
//   - A late claim claims nothing. The claim carries a deadline; the script
//     compares it with Redis's own clock (TIME) and refuses once it has
//     passed. The deadline sent is the request's own deadline less
//     skewMargin, so a Redis clock behind the server's by less than that
//     still refuses every claim the server has given up on. A stall or a
//     freeze of any length therefore loses no secret: the client gets 503
//     and the secret stays revealable.
//   - Safe to re-send. A won claim does not delete the blob: it replaces it
//     with a tombstone holding the request's random claim id, for a little
//     longer than any request may wait. A re-sent claim (after a broken
//     connection) that finds its own id has won; one that finds another id,
//     or nothing, has lost. No second reader can win, and the request
//     learns whether its first attempt did.
//   - Open before claim is the caller's half: Get the blob, open it, and
//     only then Claim. A blob that does not open is never touched.
//
// The window left: Redis ran a claim in time, and the connection then broke
// and stayed broken (re-sends failing too) until the request's deadline.
// The secret is then claimed but not shown: at most REDIS_TIMEOUT of a
// total outage striking in the microseconds between Redis running the
// script and its reply leaving.

// claimScript returns 1 when this claim id holds the key (now or from an
// earlier attempt), 0 when the key is gone or another claim holds it, and
// -1 when the deadline (Unix ms, ARGV[1]) has passed by Redis's clock.
// ARGV[2] is the tombstone (claim id), ARGV[3] its lifetime in ms.
//
// A full Redis (maxmemory reached) refuses the SET of a tombstone, though
// reveals must keep working while creates are refused: the claim is then
// run as claimDeleteText, which deletes instead (DEL is allowed at full
// memory). Only the re-send safety is lost while Redis is full: a re-sent
// claim after a broken connection then answers "gone", never a second win.
const claimScriptText = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if string.byte(v, 1) == 0 then
  if v == ARGV[2] then return 1 end
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`

var (
	claimScript       = redis.NewScript(claimScriptText)
	claimDeleteText   = strings.Replace(claimScriptText, "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])", "redis.call('DEL', KEYS[1])", 1)
	claimDeleteScript = redis.NewScript(claimDeleteText)
)

// tombstoneByte starts every tombstone; a sealed blob never starts with it
// (envelopes start with their version, 1 or more).
const tombstoneByte = 0x00

// errLateClaim: Redis refused the claim because its deadline had passed.
var errLateClaim = errors.New("claim reached Redis after its deadline")

// skewMargin is how much earlier than the request's deadline a claim
// expires by Redis's clock: a quarter of the timeout, at most 500 ms.
func skewMargin(timeout time.Duration) time.Duration { return min(timeout/4, 500*time.Millisecond) }

// Get returns the blob under key without consuming it. found is false when
// there is none (never stored, expired, or already claimed).
func (s *Store) Get(ctx context.Context, key string) (blob []byte, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := redis.NewStringCmd(ctx, "get", key)
	if err = s.exec(ctx, cmd); err == nil {
		blob, err = cmd.Bytes()
	}
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, classify("get", err)
	case len(blob) > 0 && blob[0] == tombstoneByte:
		return nil, false, nil
	}
	return blob, true, nil
}

// Claim takes key for this caller alone; see the rules above. won is false
// when the key is gone or another caller claimed it. An error means the
// claim did not demonstrably win: with a late or unanswered claim the
// secret stays revealable, except in the one window described above.
func (s *Store) Claim(ctx context.Context, key string) (won bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var id [17]byte
	id[0] = tombstoneByte
	if _, err := rand.Read(id[1:]); err != nil {
		return false, &Error{Op: "claim", Kind: "reply", Err: err}
	}
	args := []any{deadline.Add(-skewMargin(s.timeout)).UnixMilli(), string(id[:]), (2*s.timeout + time.Second).Milliseconds()}
	for attempt := 1; ; attempt++ {
		won, err = s.claimOnce(ctx, key, args)
		if err == nil || attempt == 3 || ctx.Err() != nil || !brokenConnection(err) {
			break
		}
		// The connection broke: the claim may or may not have run. The
		// same claim id again is harmless and says which.
	}
	var cerr *Error
	switch {
	case err == nil:
		return won, nil
	case errors.As(err, &cerr):
		return false, err
	}
	return false, classify("claim", err)
}

func (s *Store) claimOnce(ctx context.Context, key string, args []any) (bool, error) {
	run := func(script string, src string) (int64, error) {
		cmd := redis.NewIntCmd(ctx, append([]any{script, src, 1, key}, args...)...)
		var err error
		if s.minAcks > 0 {
			err = s.replicated(ctx, "claim", key, cmd)
		} else {
			err = s.exec(ctx, cmd)
		}
		if err != nil {
			return 0, err
		}
		return cmd.Val(), nil
	}
	n, err := runScript(run, claimScript, claimScriptText)
	if err != nil && isOOM(err) { // full: the tombstone's SET was refused before it ran
		n, err = runScript(run, claimDeleteScript, claimDeleteText)
	}
	switch {
	case err != nil:
		return false, err
	case n < 0:
		return false, &Error{Op: "claim", Kind: "timeout", Err: errLateClaim}
	}
	return n == 1, nil
}

// runScript runs a script by its hash, and whole if Redis does not know it
// yet (NOSCRIPT: it did not run).
func runScript(run func(string, string) (int64, error), sc *redis.Script, text string) (int64, error) {
	n, err := run("evalsha", sc.Hash())
	if err != nil && isNoScript(err) {
		n, err = run("eval", text)
	}
	return n, err
}

func isOOM(err error) bool { return err != nil && strings.Contains(err.Error(), "OOM") }

func isNoScript(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		err = e.Err
	}
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// brokenConnection says the command may not have reached Redis, or its
// reply never came back, for a reason other than time running out.
func brokenConnection(err error) bool {
	var rerr redis.Error
	var e *Error
	if errors.As(err, &e) && e.Kind != "connection" {
		return false
	}
	if errors.As(err, &rerr) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return false
	}
	var op *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &op) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe") ||
		strings.Contains(err.Error(), "use of closed network connection")
}
