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
//     with a tombstone holding the request's random claim id and the blob,
//     for a little longer than any request may wait. A re-sent claim (after
//     a broken connection) that finds its own id has won and gets the blob
//     back; one that finds another id, or nothing, has lost. No second
//     reader can win, and the request learns whether its first attempt did.
//   - Open before claim. The claim reads and claims in one round trip (one
//     fewer than a read followed by a claim: the reveal costs what a GETDEL
//     costs), so the server cannot open the blob first. What it can do, it
//     asks Redis to do: the claim takes a blob only when it begins with an
//     envelope prefix (version and server key id) the server can open. A
//     server started with the wrong SECRET_KEY, the one way a sound blob
//     fails to open, is refused the claim and the blob is left untouched
//     (but for the 1 in 2^32 chance that its key's 4-byte id is a right
//     key's).
//     A blob that begins with a known prefix and still fails to open is
//     corrupt or forged: nobody could ever have opened it. A reveal that
//     needs more than the access key to open (a passphrase) Gets and opens
//     first, then claims.
//
// The window left: Redis ran a claim in time, and the connection then broke
// and stayed broken (re-sends failing too) until the request's deadline.
// The secret is then claimed but not shown: at most REDIS_TIMEOUT of a
// total outage striking in the microseconds between Redis running the
// script and its reply leaving.
//
// A full Redis (maxmemory reached) refuses the SET of a tombstone, though
// reveals must keep working while creates are refused: the claim is then
// run as claimDeleteText, which deletes instead (DEL is allowed at full
// memory). Only the re-send safety is lost while Redis is full: a re-sent
// claim after a broken connection then answers "gone", never a second win.

// claimScriptText returns the blob when this claim holds the key (now, or
// from an earlier attempt with the same id), 0 when the key is gone or
// another claim holds it, the blob wrapped in an array when it begins with
// none of the openable prefixes (ARGV[5…]; it is left in place), and -1
// when the deadline (Unix ms, ARGV[1]) has passed by Redis's clock.
// ARGV[2] is the claim id, ARGV[3] the tombstone's lifetime in ms. A won
// claim moves the secret's receipt (KEYS[2], if there is one and it is
// pending) to ARGV[4], "revealed" or "burned", with Redis's time, in the
// same step: no crash or failover between the two can leave them
// disagreeing. The tombstone is written first: at full memory the first
// write is the one Redis refuses, and once a script has written, Redis
// lets it finish. A blob is never empty, so the reply's type says which.
const claimScriptText = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local id = ARGV[2]
if string.byte(v, 1) == 0 then
  if string.sub(v, 1, #id) == id and #v > #id then return string.sub(v, #id + 1) end
  return 0
end
local openable = false
for i = 5, #ARGV do
  if string.sub(v, 1, #ARGV[i]) == ARGV[i] then openable = true break end
end
if not openable then return {v} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then return -1 end
redis.call('SET', KEYS[1], id .. v, 'PX', ARGV[3])
if redis.call('HGET', KEYS[2], 'state') == 'pending' then
  redis.call('HSET', KEYS[2], 'state', ARGV[4], ARGV[4] .. '_at', string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])))
end
return v
`

var (
	claimScript       = redis.NewScript(claimScriptText)
	claimDeleteText   = strings.Replace(claimScriptText, "redis.call('SET', KEYS[1], id .. v, 'PX', ARGV[3])", "redis.call('DEL', KEYS[1])", 1)
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

// Claim claims key for this caller alone and returns its blob, in one atomic
// step, if the blob begins with one of openable; the secret's receipt, if
// any, then says outcome (receipt.Revealed or receipt.Burned). blob is nil when the key
// is gone or another caller claimed it; claimed is false, with the blob,
// when it begins with none of openable and was left in place. An error
// means the claim did not demonstrably win: the secret is then, but for the
// window described above, still there.
func (s *Store) Claim(ctx context.Context, key, outcome string, openable []string) (blob []byte, claimed bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var id [17]byte
	id[0] = tombstoneByte
	if _, err := rand.Read(id[1:]); err != nil {
		return nil, false, &Error{Op: "claim", Kind: "reply", Err: err}
	}
	args := make([]any, 0, 4+len(openable))
	args = append(args, deadline.Add(-skewMargin(s.timeout)).UnixMilli(), string(id[:]), (2*s.timeout + time.Second).Milliseconds(), outcome)
	for _, p := range openable {
		args = append(args, p)
	}
	for attempt := 1; ; attempt++ {
		blob, claimed, err = s.claimOnce(ctx, key, args)
		if err == nil || attempt == 3 || ctx.Err() != nil || !brokenConnection(err) {
			break
		}
		// The connection broke: the claim may or may not have run. The same
		// claim id again is harmless, and brings back what it won.
	}
	var cerr *Error
	switch {
	case err == nil:
		return blob, claimed, nil
	case errors.As(err, &cerr):
		return nil, false, err
	}
	return nil, false, classify("claim", err)
}

func (s *Store) claimOnce(ctx context.Context, key string, args []any) ([]byte, bool, error) {
	run := func(script, src string) (any, error) {
		cmd := redis.NewCmd(ctx, append([]any{script, src, 2, key, receiptRecordKey(key)}, args...)...)
		if s.minAcks == 0 {
			if err := s.exec(ctx, cmd); err != nil { // and never read the reply: a queued command's accessors wait for it
				return nil, err
			}
			return cmd.Val(), nil
		}
		err := s.replicated(ctx, "claim", key, cmd)
		if err != nil && cmd.Err() == nil {
			// The script ran; only WAIT fell short. A claim that won wrote a
			// tombstone a failover could lose, so it is not shown. One that
			// lost, or found a foreign blob, wrote nothing: its answer
			// stands, as a plain read's would.
			if _, won := cmd.Val().(string); !won {
				return cmd.Val(), nil
			}
		}
		if err != nil {
			return nil, err
		}
		return cmd.Val(), nil
	}
	reply, err := runScript(run, claimScript, claimScriptText)
	if err != nil && isOOM(err) { // full: the tombstone's SET was refused before it ran
		reply, err = runScript(run, claimDeleteScript, claimDeleteText)
	}
	if err != nil {
		return nil, false, err
	}
	switch r := reply.(type) {
	case string:
		return []byte(r), true, nil
	case []any:
		if len(r) == 1 {
			if v, ok := r[0].(string); ok {
				return []byte(v), false, nil
			}
		}
	case int64:
		switch r {
		case 0:
			return nil, false, nil
		case -1:
			return nil, false, &Error{Op: "claim", Kind: "timeout", Err: errLateClaim}
		}
	}
	return nil, false, &Error{Op: "claim", Kind: "reply", Err: errors.New("unexpected reply from the claim script")}
}

// runScript runs a script by its hash, and whole if Redis does not know it
// yet (NOSCRIPT: it did not run).
func runScript(run func(string, string) (any, error), sc *redis.Script, text string) (any, error) {
	v, err := run("evalsha", sc.Hash())
	if err != nil && isNoScript(err) {
		v, err = run("eval", text)
	}
	return v, err
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
