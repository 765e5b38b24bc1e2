package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// tokensSuite runs on miniredis, the embedded store and a real
// redis-server (each mode of it sharing one server: names are unique).
func tokensSuite(t *testing.T, s *Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	unique := fmt.Sprintf("%x", time.Now().UnixNano())
	hash := func(c byte) string { return strings.Repeat(string(c), 56) + unique[len(unique)-8:] }

	name := "ci-" + unique
	if err := s.CreateAPIToken(ctx, name, hash('a'), now, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, found, err := s.LookupAPIToken(ctx, hash('a'), now); got != name || !found || err != nil {
		t.Fatalf("lookup: (%q, %v, %v)", got, found, err)
	}
	if _, found, _ := s.LookupAPIToken(ctx, hash('b'), now); found {
		t.Fatal("an unknown hash was found")
	}
	if err := s.CreateAPIToken(ctx, name, hash('b'), now, time.Time{}); !errors.Is(err, ErrTokenNameTaken) {
		t.Fatalf("a second token of the same name: %v, want ErrTokenNameTaken", err)
	}
	list, err := s.APITokens(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	var mine *APIToken
	for i := range list {
		if list[i].Name == name {
			mine = &list[i]
		}
	}
	if mine == nil || !mine.Created.Equal(now) || !mine.Expires.IsZero() || !mine.LastUsed.Equal(now) || mine.Expired {
		t.Fatalf("listed as %+v", mine)
	}

	// Expiry: refused from its moment on, listed as expired.
	soon := name + "-soon"
	if err := s.CreateAPIToken(ctx, soon, hash('c'), now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.LookupAPIToken(ctx, hash('c'), now.Add(59*time.Minute)); !found {
		t.Error("refused before its expiry")
	}
	if _, found, _ := s.LookupAPIToken(ctx, hash('c'), now.Add(time.Hour)); found {
		t.Error("accepted at its expiry")
	}
	if ttl := s.rdb.PTTL(ctx, tokenRecordKey(hash('c'))).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("an expiring token's record lives %v", ttl)
	}

	// Revoked: found no more, the name free again.
	if ok, err := s.RevokeAPIToken(ctx, name); !ok || err != nil {
		t.Fatalf("revoke: (%v, %v)", ok, err)
	}
	if _, found, _ := s.LookupAPIToken(ctx, hash('a'), now); found {
		t.Fatal("a revoked token still verifies")
	}
	if ok, err := s.RevokeAPIToken(ctx, name); ok || err != nil {
		t.Errorf("revoking it again: (%v, %v), want false", ok, err)
	}
	if err := s.CreateAPIToken(ctx, name, hash('d'), now, time.Time{}); err != nil {
		t.Errorf("the name after a revoke: %v", err)
	}

	// Racing creates of one name: exactly one wins.
	race := name + "-race"
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, taken := 0, 0
	for i := range 10 {
		wg.Go(func() {
			err := s.CreateAPIToken(ctx, race, hash(byte('e'+i)), now, time.Time{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrTokenNameTaken):
				taken++
			default:
				t.Errorf("racing create: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || taken != 9 {
		t.Errorf("10 racing creates of one name: %d won, %d refused; want 1 and 9", won, taken)
	}
	for _, n := range []string{name, soon, race} {
		s.RevokeAPIToken(ctx, n)
	}
}

func TestTokensMiniredis(t *testing.T) {
	tokensSuite(t, openT(t, "redis://"+miniredis.RunT(t).Addr()))
}

func TestTokensEmbedded(t *testing.T) { tokensSuite(t, openT(t, "")) }
