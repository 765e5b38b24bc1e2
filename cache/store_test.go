package cache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/readonce/readonce/internal/faultproxy"
)

const testTimeout = 2 * time.Second

// openT opens a store on miniredis, which has no CONFIG command: the
// eviction-policy check is tested on a real redis-server instead.
func openT(t testing.TB, url string) *Store { return openMode(t, url, false) }

func openMode(t testing.TB, url string, autoPipeline bool) *Store {
	t.Helper()
	return openOpts(t, Options{URL: url, AutoPipeline: autoPipeline, SkipPolicyCheck: true})
}

func openOpts(t testing.TB, o Options) *Store {
	t.Helper()
	o.Timeout = testTimeout
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storeSuite is run against miniredis here and against a real redis-server
// in integration_test.go.
func storeSuite(t *testing.T, s *Store) {
	ctx := context.Background()

	t.Run("put then take once", func(t *testing.T) {
		if err := s.Put(ctx, "k:once", []byte("blob"), time.Hour); err != nil {
			t.Fatal(err)
		}
		blob, found, err := s.Take(ctx, "k:once")
		if err != nil || !found || string(blob) != "blob" {
			t.Fatalf("first take: got (%q, %v, %v), want (blob, true, nil)", blob, found, err)
		}
		blob, found, err = s.Take(ctx, "k:once")
		if err != nil || found || blob != nil {
			t.Fatalf("second take: got (%q, %v, %v), want (nil, false, nil)", blob, found, err)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		_, found, err := s.Take(ctx, "k:never")
		if err != nil || found {
			t.Fatalf("got (%v, %v), want (false, nil)", found, err)
		}
	})

	t.Run("ttl is set", func(t *testing.T) {
		if err := s.Put(ctx, "k:ttl", []byte("x"), 90*time.Minute); err != nil {
			t.Fatal(err)
		}
		ttl := s.rdb.PTTL(ctx, "k:ttl").Val()
		if ttl <= 89*time.Minute || ttl > 90*time.Minute {
			t.Errorf("PTTL: got %v, want about 90m", ttl)
		}
	})

	t.Run("restore keeps expiry and never overwrites", func(t *testing.T) {
		exp := time.Now().Add(2 * time.Hour)
		if err := s.Restore(ctx, "k:restore", []byte("old"), exp); err != nil {
			t.Fatal(err)
		}
		if ttl := s.rdb.PTTL(ctx, "k:restore").Val(); ttl < 119*time.Minute || ttl > 2*time.Hour {
			t.Errorf("PTTL after restore: got %v, want about 2h", ttl)
		}
		if err := s.Restore(ctx, "k:restore", []byte("new"), exp); err != nil {
			t.Fatal(err)
		}
		if blob, _, _ := s.Take(ctx, "k:restore"); string(blob) != "old" {
			t.Errorf("restore overwrote an existing key: got %q", blob)
		}
		if err := s.Restore(ctx, "k:past", []byte("x"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if n := s.rdb.Exists(ctx, "k:past").Val(); n != 0 {
			t.Errorf("an expired blob was restored")
		}
	})

	t.Run("concurrent takes: exactly one wins", func(t *testing.T) {
		exactlyOnce(t, s, 100, 5)
	})

	t.Run("ready", func(t *testing.T) {
		if err := s.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// exactlyOnce races readers on one key, rounds times, and fails unless
// exactly one reader gets the blob each round.
func exactlyOnce(t *testing.T, s *Store, readers, rounds int) {
	ctx := context.Background()
	for round := range rounds {
		if err := s.Put(ctx, "k:race", []byte("prize"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var wins, errs atomic.Int32
		var start, done sync.WaitGroup
		start.Add(1)
		for range readers {
			done.Go(func() {
				start.Wait()
				blob, found, err := s.Take(ctx, "k:race")
				switch {
				case err != nil:
					errs.Add(1)
				case found && string(blob) == "prize":
					wins.Add(1)
				}
			})
		}
		start.Done()
		done.Wait()
		if wins.Load() != 1 || errs.Load() != 0 {
			t.Fatalf("round %d: %d readers won and %d failed, want exactly 1 and 0", round, wins.Load(), errs.Load())
		}
	}
}

// modes are the two ways the store talks to Redis: one round trip per
// command, or go-redis's autopipeliner (the default).
var modes = []struct {
	name string
	ap   bool
}{{"plain", false}, {"autopipeline", true}}

func TestStoreMiniredis(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			storeSuite(t, openMode(t, "redis://"+mr.Addr(), m.ap))
		})
	}
}

func TestStoreExpiry(t *testing.T) {
	m := miniredis.RunT(t)
	s := openT(t, "redis://"+m.Addr())
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	m.FastForward(time.Hour + time.Second)
	if _, found, err := s.Take(ctx, "k"); found || err != nil {
		t.Fatalf("after the TTL: got (%v, %v), want (false, nil)", found, err)
	}
}

func TestEmbeddedExpiresOnTheClock(t *testing.T) {
	s := openT(t, "")
	if s.embedded == nil {
		t.Fatal("empty URL did not give the embedded store")
	}
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	// With ClockTTL on, moving the embedded clock is what the wall clock
	// does in production; without it, miniredis would never expire "k".
	s.embedded.SetTime(time.Now().Add(time.Hour + time.Minute))
	if _, found, err := s.Take(ctx, "k"); found || err != nil {
		t.Fatalf("an hour later: got (%v, %v), want (false, nil)", found, err)
	}
}

func TestStoreEmbedded(t *testing.T) {
	storeSuite(t, openT(t, ""))
}

func TestErrorsAreClassified(t *testing.T) {
	m := miniredis.RunT(t)
	s := openT(t, "redis://"+m.Addr())
	ctx := context.Background()

	m.SetError("OOM command not allowed when used memory > 'maxmemory'.")
	err := s.Put(ctx, "k", []byte("x"), time.Hour)
	var cerr *Error
	if !errors.As(err, &cerr) || !cerr.StorageFull() || cerr.Op != "put" {
		t.Errorf("OOM: got %v, want a storage-full put error", err)
	}
	m.SetError("")

	m.Close()
	if _, found, err := s.Take(ctx, "k"); err == nil || found {
		t.Errorf("Redis down: got (%v, %v), want an error", found, err)
	}
	if err := s.Ready(ctx); err == nil {
		t.Error("Ready with Redis down: got nil, want an error")
	}
}

func TestOpenRejects(t *testing.T) {
	for _, o := range []Options{
		{URL: "http://example.com", Timeout: time.Second},
		{URL: "redis://:hunter2@[::1", Timeout: time.Second},
		{URL: "", Timeout: 0},
	} {
		s, err := Open(o)
		if err == nil {
			s.Close()
			t.Errorf("Open(%+v): got nil error", o.Timeout)
			continue
		}
		if got := err.Error(); strings.Contains(got, "hunter2") {
			t.Errorf("error leaks the password: %q", got)
		}
	}
}

func TestRedacted(t *testing.T) {
	if got := Redacted("redis://user:hunter2@host:6379/0"); strings.Contains(got, "hunter2") {
		t.Errorf("Redacted kept the password: %q", got)
	}
}

// A GETDEL whose reply is lost must not be sent again: the first one may
// have consumed the secret, and a second would answer "not found".
func TestTakeIsNeverResent(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { takeIsNeverResent(t, mode.ap) })
	}
}

func takeIsNeverResent(t *testing.T, autoPipeline bool) {
	m := miniredis.RunT(t)
	p := faultproxy.Start(t, m.Addr())
	s := openMode(t, "redis://"+p.Addr(), autoPipeline)
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	p.DropReplies("GETDEL", 1)
	blob, found, err := s.Take(ctx, "k")
	if err == nil || found || blob != nil {
		t.Fatalf("reply lost: got (%q, %v, %v), want an error", blob, found, err)
	}
	if n := p.Count("GETDEL"); n != 1 {
		t.Errorf("GETDEL reached Redis %d times, want exactly 1", n)
	}
	if m.Exists("k") {
		t.Errorf("the GETDEL did not run: the test proves nothing")
	}
}

// A SET whose reply is lost is an error, never a success.
func TestPutLostReplyIsAnError(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { putLostReplyIsAnError(t, mode.ap) })
	}
}

func putLostReplyIsAnError(t *testing.T, autoPipeline bool) {
	m := miniredis.RunT(t)
	p := faultproxy.Start(t, m.Addr())
	s := openMode(t, "redis://"+p.Addr(), autoPipeline)
	p.DropReplies("SET", 1)
	if err := s.Put(context.Background(), "k", []byte("x"), time.Hour); err == nil {
		t.Fatal("Put reported success for a SET whose reply was lost")
	}
	if n := p.Count("SET"); n != 1 {
		t.Errorf("SET sent %d times, want 1", n)
	}
}
