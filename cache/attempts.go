package cache

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Passphrase attempts. A protected secret's wrong guesses are counted under
// "{L}:attempts", in the secret's hash slot (as its receipt), so the count,
// the blob and the receipt change in one atomic step, also on Cluster. A
// correct passphrase is not counted: it goes through the claim.

func attemptsKey(lookupKey string) string { return "{" + lookupKey + "}:attempts" }

// wrongGuessText counts one wrong passphrase against the secret at KEYS[1]:
// the count (KEYS[3]) lives as long as the blob; the guess that reaches the
// limit (ARGV[2]) destroys the blob and the count and moves a pending
// receipt (KEYS[2]) to "burned". It returns the attempts left (0: that
// guess destroyed it), -2 when the secret is gone or claimed (nothing is
// counted), and -1 past the deadline (ARGV[1], Unix ms, by Redis's clock:
// a guess the server has given up on counts nothing).
const wrongGuessText = `
local v = redis.call('GET', KEYS[1])
if (not v) or string.byte(v, 1) == 0 then return -2 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then return -1 end
local n = redis.call('INCR', KEYS[3])
if n == 1 then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
end
local left = tonumber(ARGV[2]) - n
if left > 0 then return left end
redis.call('DEL', KEYS[1], KEYS[3])
if redis.call('HGET', KEYS[2], 'state') == 'pending' then
  redis.call('HSET', KEYS[2], 'state', 'burned', 'burned_at', string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2])))
end
return 0
`

var wrongGuessScript = redis.NewScript(wrongGuessText)

// WrongGuess counts one wrong passphrase against the secret at key, whose
// limit is limit, and returns how many attempts are left; the guess that
// leaves none has destroyed the secret (and burned its receipt). gone is
// true, with nothing counted, when the secret was already gone or claimed.
// An error counts nothing the caller may rely on: the guess is then
// answered as an outage, never as a free one.
func (s *Store) WrongGuess(ctx context.Context, key string, limit int) (left int, gone bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	args := []any{deadline.Add(-skewMargin(s.timeout)).UnixMilli(), limit}
	var reply int64
	run := func(script, src string) (any, error) {
		cmd := redis.NewIntCmd(ctx, append([]any{script, src, 3, key, receiptRecordKey(key), attemptsKey(key)}, args...)...)
		if err := s.write(ctx, "guess", key, cmd); err != nil { // never read the reply after an error
			return nil, err
		}
		reply = cmd.Val()
		return nil, nil
	}
	if _, err := runScript(run, wrongGuessScript, wrongGuessText); err != nil {
		return 0, false, classifyOnce("guess", err)
	}
	switch {
	case reply == -2:
		return 0, true, nil
	case reply == -1:
		return 0, false, &Error{Op: "guess", Kind: "timeout", Err: errLateClaim}
	case reply < 0:
		return 0, false, &Error{Op: "guess", Kind: "reply", Err: errors.New("unexpected reply from the guess script")}
	}
	return int(reply), false, nil
}

// WrongGuesses is how many wrong passphrases the secret at key has had.
func (s *Store) WrongGuesses(ctx context.Context, key string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := redis.NewStringCmd(ctx, "get", attemptsKey(key))
	err := s.exec(ctx, cmd)
	switch {
	case errors.Is(err, redis.Nil):
		return 0, nil
	case err != nil:
		return 0, classify("guess", err)
	}
	n, err := strconv.Atoi(cmd.Val())
	if err != nil {
		return 0, &Error{Op: "guess", Kind: "reply", Err: errors.New("a malformed attempt count")}
	}
	return n, nil
}
