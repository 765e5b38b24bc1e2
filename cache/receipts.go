package cache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/readonce/readonce/internal/receipt"
)

// Receipts. A secret created with a receipt has, beside its blob under the
// lookup key L, a record under receiptRecordKey(L) (a hash: state and
// times, nothing else) and an index under the token's own key that names
// L. The record's key is "{L}:receipt": on Cluster the hash tag puts it in
// L's slot, so the claim script moves blob and record in one atomic step.
// The index is in another slot and is written after them; it only ever
// points, it decides nothing.

func receiptRecordKey(lookupKey string) string { return "{" + lookupKey + "}:receipt" }

// putReceiptedText stores the blob (ARGV[1], for ARGV[2] ms) and its
// pending record (created and expiry, Unix µs, ARGV[3] and ARGV[4]; kept
// ARGV[5] ms; who created it, ARGV[6], when known), together.
const putReceiptedText = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'state', 'pending', 'created_at', ARGV[3], 'expires_at', ARGV[4])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'created_by', ARGV[6]) end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`

var putReceiptedScript = redis.NewScript(putReceiptedText)

// PutReceipted stores blob under key for ttl, as Put does, with a pending
// receipt found through tokenKey, naming createdBy when not empty; the
// receipt outlives the secret by retention.
func (s *Store) PutReceipted(ctx context.Context, key string, blob []byte, ttl time.Duration, tokenKey, createdBy string, created, expires time.Time, retention time.Duration) error {
	if err := s.refuseWhileEvicting("put"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	keep := (ttl + retention).Milliseconds()
	args := []any{blob, ttl.Milliseconds(), created.UnixMicro(), expires.UnixMicro(), keep, createdBy}
	run := func(script, src string) (any, error) {
		cmd := redis.NewCmd(ctx, append([]any{script, src, 2, key, receiptRecordKey(key)}, args...)...)
		return nil, s.write(ctx, "put", key, cmd)
	}
	if _, err := runScript(run, putReceiptedScript, putReceiptedText); err != nil {
		return classifyOnce("put", err)
	}
	index := redis.NewStatusCmd(ctx, "set", tokenKey, key, "px", keep)
	return classifyOnce("put", s.write(ctx, "put", tokenKey, index))
}

// burnReceiptText burns, for a receipt's holder, the secret its record
// (KEYS[2]) names, if the record is pending and the blob (KEYS[1]) is there
// and begins with one of openable (ARGV[2…]). It returns the record's state
// afterwards ("burned", "revealed", or "pending" when the secret is gone:
// expired), 0 without a record, 2 for a foreign blob (left in place) and -1
// past the deadline (ARGV[1]). A re-sent burn finds "burned": burning is
// idempotent, so the blob is simply deleted.
const burnReceiptText = `
local st = redis.call('HGET', KEYS[2], 'state')
if not st then return 0 end
if st ~= 'pending' then return st end
local v = redis.call('GET', KEYS[1])
if (not v) or string.byte(v, 1) == 0 then return 'pending' end
local openable = false
for i = 2, #ARGV do
  if string.sub(v, 1, #ARGV[i]) == ARGV[i] then openable = true break end
end
if not openable then return 2 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'state', 'burned', 'burned_at', string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])))
return 'burned'
`

var burnReceiptScript = redis.NewScript(burnReceiptText)

// ErrForeign: the secret a receipt names was sealed under a server key this
// server lacks; it was left in place.
var ErrForeign error = foreignError{}

type foreignError struct{}

func (foreignError) Error() string {
	return "cache: the secret was sealed under a server key this server lacks; left in place"
}

// Foreign tells the server (which does not import cache) what this is.
func (foreignError) Foreign() bool { return true }

// BurnByReceipt burns the secret behind the receipt at tokenKey if it is
// still pending, and returns the receipt as it then stands. found is false
// for no receipt (never, malformed, or past its retention).
func (s *Store) BurnByReceipt(ctx context.Context, tokenKey string, openable []string) (rec receipt.Record, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	key, found, err := s.receiptTarget(ctx, tokenKey)
	if err != nil || !found {
		return rec, false, err
	}
	deadline, _ := ctx.Deadline()
	args := []any{deadline.Add(-skewMargin(s.timeout)).UnixMilli()}
	for _, p := range openable {
		args = append(args, p)
	}
	var reply any
	run := func(script, src string) (any, error) {
		cmd := redis.NewCmd(ctx, append([]any{script, src, 2, key, receiptRecordKey(key)}, args...)...)
		err := s.write(ctx, "burn", key, cmd)
		// With REDIS_MIN_REPLICAS_ACK the command ran in a pipeline that has
		// returned; its reply can be read. (A queued autopipelined command's
		// accessors would wait for it: never read one after an error.)
		if err != nil && s.minAcks > 0 && cmd.Err() == nil && cmd.Val() != "burned" {
			err = nil // WAIT fell short, but this burn wrote nothing
		}
		if err != nil {
			return nil, err
		}
		return cmd.Val(), nil
	}
	if reply, err = runScript(run, burnReceiptScript, burnReceiptText); err != nil {
		return rec, false, classifyOnce("burn", err)
	}
	switch reply {
	case int64(0):
		return rec, false, nil
	case int64(2):
		return rec, false, ErrForeign
	case int64(-1):
		return rec, false, &Error{Op: "burn", Kind: "timeout", Err: errLateClaim}
	}
	return s.readRecord(ctx, key)
}

// Receipt reads the receipt at tokenKey; it never changes anything.
func (s *Store) Receipt(ctx context.Context, tokenKey string) (rec receipt.Record, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	key, found, err := s.receiptTarget(ctx, tokenKey)
	if err != nil || !found {
		return rec, false, err
	}
	return s.readRecord(ctx, key)
}

// receiptTarget is the lookup key the index at tokenKey names.
func (s *Store) receiptTarget(ctx context.Context, tokenKey string) (string, bool, error) {
	cmd := redis.NewStringCmd(ctx, "get", tokenKey)
	err := s.exec(ctx, cmd)
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, classify("receipt", err)
	}
	return cmd.Val(), true, nil
}

func (s *Store) readRecord(ctx context.Context, key string) (receipt.Record, bool, error) {
	cmd := redis.NewMapStringStringCmd(ctx, "hgetall", receiptRecordKey(key))
	if err := s.exec(ctx, cmd); err != nil {
		return receipt.Record{}, false, classify("receipt", err)
	}
	f := cmd.Val()
	if f["state"] == "" {
		return receipt.Record{}, false, nil
	}
	micros := func(name string) time.Time {
		n, err := strconv.ParseInt(f[name], 10, 64)
		if err != nil || n == 0 {
			return time.Time{}
		}
		return time.UnixMicro(n).UTC()
	}
	return receipt.Record{
		State:      f["state"],
		CreatedAt:  micros("created_at"),
		ExpiresAt:  micros("expires_at"),
		RevealedAt: micros("revealed_at"),
		BurnedAt:   micros("burned_at"),
		CreatedBy:  f["created_by"],
	}, true, nil
}
