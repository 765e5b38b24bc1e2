package cache

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// API tokens (package auth makes and hashes them). Redis keeps, per token,
// a record under its SHA-256 — name, created, expires, last used; never
// the token — and one index from names to hashes. Every key carries the
// hash tag {tokens}, so on Cluster they share a slot and each script below
// is atomic.

const (
	tokenNamesKey     = "readonce:v1:{tokens}:names"
	tokenRecordPrefix = "readonce:v1:{tokens}:t:"
)

func tokenRecordKey(hash string) string { return tokenRecordPrefix + hash }

// lastUsedEvery bounds the writes verification makes: last_used moves at
// most once a minute per token.
const lastUsedEvery = time.Minute

// createTokenText: KEYS names, the new record, the record the name held
// when the caller looked (ARGV[5], "" for none). ARGV: name, hash,
// created ms, expires ms (0: never). 1 made; 0 the name is taken by a live
// token; -1 the name changed since the caller looked.
const createTokenText = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur or '') ~= ARGV[5] then return -1 end
if cur and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], 'name', ARGV[1], 'created', ARGV[3], 'expires', ARGV[4])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIREAT', KEYS[2], ARGV[4]) end
return 1
`

// lookupTokenText: KEYS the record; ARGV now ms, the last_used interval
// ms. The name, or false for no such token or an expired one; last_used
// moves when older than the interval.
const lookupTokenText = `
local r = redis.call('HMGET', KEYS[1], 'name', 'expires', 'last_used')
if not r[1] then return false end
local now = tonumber(ARGV[1])
local exp = tonumber(r[2])
if exp > 0 and exp <= now then return false end
if (not r[3]) or tonumber(r[3]) <= now - tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
end
return r[1]
`

// revokeTokenText: KEYS names, the record; ARGV name, hash. 1 revoked; 0
// the name no longer pointed at that hash.
const revokeTokenText = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`

var (
	createTokenScript = redis.NewScript(createTokenText)
	lookupTokenScript = redis.NewScript(lookupTokenText)
	revokeTokenScript = redis.NewScript(revokeTokenText)
)

// ErrTokenNameTaken: a live token already has the name.
var ErrTokenNameTaken = errors.New("cache: a token of that name exists (revoke it first)")

// APIToken is what Redis knows of a token: never the token itself.
type APIToken struct {
	Name     string
	Created  time.Time
	Expires  time.Time // zero: never
	LastUsed time.Time // zero: never used
	Expired  bool      // its record is gone or past Expires: it verifies no more
}

// CreateAPIToken stores a token's hash under name, until expires (zero:
// never).
func (s *Store) CreateAPIToken(ctx context.Context, name, hash string, created, expires time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for range 3 {
		cur := redis.NewStringCmd(ctx, "hget", tokenNamesKey, name)
		if err := s.exec(ctx, cur); err != nil && !errors.Is(err, redis.Nil) {
			return classify("token create", err)
		}
		old := cur.Val()
		var exp int64
		if !expires.IsZero() {
			exp = expires.UnixMilli()
		}
		args := []any{name, hash, created.UnixMilli(), exp, old}
		var res *redis.Cmd
		run := func(script, src string) (any, error) {
			res = redis.NewCmd(ctx, append([]any{script, src, 3, tokenNamesKey, tokenRecordKey(hash), tokenRecordKey(old)}, args...)...)
			return nil, s.write(ctx, "token create", tokenNamesKey, res)
		}
		if _, err := runScript(run, createTokenScript, createTokenText); err != nil {
			return classifyOnce("token create", err)
		}
		switch n, _ := res.Int(); n {
		case 1:
			return nil
		case 0:
			return ErrTokenNameTaken
		}
		// -1: another create or revoke of this name ran in between; look again.
	}
	return errors.New("cache: token create: the name keeps changing under us")
}

// LookupAPIToken is the name of the live token whose hash is hash: one
// round trip, no cache, so a revocation holds on the next request.
func (s *Store) LookupAPIToken(ctx context.Context, hash string, now time.Time) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var res *redis.Cmd
	run := func(script, src string) (any, error) {
		res = redis.NewCmd(ctx, script, src, 1, tokenRecordKey(hash), now.UnixMilli(), lastUsedEvery.Milliseconds())
		return nil, s.exec(ctx, res)
	}
	_, err := runScript(run, lookupTokenScript, lookupTokenText)
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, classify("token lookup", err)
	}
	name, err := res.Text()
	if err != nil {
		return "", false, nil // false from Lua comes back as nil
	}
	return name, true, nil
}

// APITokens lists every named token, by name, expired ones included
// (until revoked, a name keeps its place).
func (s *Store) APITokens(ctx context.Context, now time.Time) ([]APIToken, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	names := redis.NewMapStringStringCmd(ctx, "hgetall", tokenNamesKey)
	if err := s.exec(ctx, names); err != nil {
		return nil, classify("token list", err)
	}
	var out []APIToken
	for name, hash := range names.Val() {
		rec := redis.NewSliceCmd(ctx, "hmget", tokenRecordKey(hash), "created", "expires", "last_used")
		if err := s.exec(ctx, rec); err != nil {
			return nil, classify("token list", err)
		}
		t := APIToken{Name: name, Expired: true}
		if v := rec.Val(); len(v) == 3 && v[0] != nil {
			t.Created, t.Expires, t.LastUsed = millis(v[0]), millis(v[1]), millis(v[2])
			t.Expired = !t.Expires.IsZero() && !now.Before(t.Expires)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RevokeAPIToken deletes the token named name; false if there was none.
func (s *Store) RevokeAPIToken(ctx context.Context, name string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cur := redis.NewStringCmd(ctx, "hget", tokenNamesKey, name)
	if err := s.exec(ctx, cur); errors.Is(err, redis.Nil) {
		return false, nil
	} else if err != nil {
		return false, classify("token revoke", err)
	}
	var res *redis.Cmd
	run := func(script, src string) (any, error) {
		res = redis.NewCmd(ctx, script, src, 2, tokenNamesKey, tokenRecordKey(cur.Val()), name, cur.Val())
		return nil, s.write(ctx, "token revoke", tokenNamesKey, res)
	}
	if _, err := runScript(run, revokeTokenScript, revokeTokenText); err != nil {
		return false, classifyOnce("token revoke", err)
	}
	n, _ := res.Int()
	return n == 1, nil
}

// millis reads a Unix-milliseconds field; zero for none or "0".
func millis(v any) time.Time {
	s, _ := v.(string)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
