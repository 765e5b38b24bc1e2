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
	"github.com/redis/go-redis/v9"

	"github.com/readonce/readonce/internal/faultproxy"
	"github.com/readonce/readonce/internal/receipt"
)

const testTimeout = 2 * time.Second

// openT opens a store on miniredis, which has no CONFIG command: the
// eviction-policy check is tested on a real redis-server instead.
func openT(t testing.TB, url string) *Store { return openMode(t, url, modes[0]) }

func openMode(t testing.TB, url string, m mode) *Store {
	t.Helper()
	return openOpts(t, Options{URL: url, AutoPipeline: m.ap, PipelineFrom: m.from, SkipPolicyCheck: true})
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
		blob, found, err := s.take(ctx, "k:once")
		if err != nil || !found || string(blob) != "blob" {
			t.Fatalf("first take: got (%q, %v, %v), want (blob, true, nil)", blob, found, err)
		}
		blob, found, err = s.take(ctx, "k:once")
		if err != nil || found || blob != nil {
			t.Fatalf("second take: got (%q, %v, %v), want (nil, false, nil)", blob, found, err)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		_, found, err := s.take(ctx, "k:never")
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

	t.Run("a claimed key reads as gone, and a second claim loses", func(t *testing.T) {
		if err := s.Put(ctx, "k:claimed", []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if blob, claimed, err := s.Claim(ctx, "k:claimed", receipt.Revealed, anyBlob); !claimed || string(blob) != "x" || err != nil {
			t.Fatalf("first claim: (%q, %v, %v), want the blob, claimed", blob, claimed, err)
		}
		if _, found, err := s.Get(ctx, "k:claimed"); found || err != nil {
			t.Errorf("Get after the claim: (%v, %v), want not found", found, err)
		}
		if blob, claimed, err := s.Claim(ctx, "k:claimed", receipt.Revealed, anyBlob); claimed || blob != nil || err != nil {
			t.Errorf("second claim: (%q, %v, %v), want nothing", blob, claimed, err)
		}
		if ttl := s.rdb.PTTL(ctx, "k:claimed").Val(); ttl <= 0 || ttl > 2*testTimeout+time.Second {
			t.Errorf("tombstone lives %v, want a few seconds at most", ttl)
		}
	})

	t.Run("a blob that begins with no openable prefix is handed back and left in place", func(t *testing.T) {
		if err := s.Put(ctx, "k:foreign", []byte("\x01KEY2rest"), time.Hour); err != nil {
			t.Fatal(err)
		}
		openable := []string{"\x01KEY1", "\x02KEY1"}
		blob, claimed, err := s.Claim(ctx, "k:foreign", receipt.Revealed, openable)
		if claimed || string(blob) != "\x01KEY2rest" || err != nil {
			t.Fatalf("foreign blob: (%q, %v, %v), want it back unclaimed", blob, claimed, err)
		}
		if got, found, _ := s.Get(ctx, "k:foreign"); !found || string(got) != "\x01KEY2rest" {
			t.Fatalf("the foreign blob was touched: (%q, %v)", got, found)
		}
		if ttl := s.rdb.PTTL(ctx, "k:foreign").Val(); ttl < 59*time.Minute {
			t.Errorf("the foreign blob's TTL changed to %v", ttl)
		}
		openable = append(openable, "\x01KEY2")
		if blob, claimed, err := s.Claim(ctx, "k:foreign", receipt.Revealed, openable); !claimed || string(blob) != "\x01KEY2rest" || err != nil {
			t.Errorf("with its prefix openable: (%q, %v, %v), want it claimed", blob, claimed, err)
		}
	})

	t.Run("a late claim claims nothing", func(t *testing.T) {
		if err := s.Put(ctx, "k:late", []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Second).UnixMilli()
		blob, claimed, err := s.claimOnce(ctx, "k:late", []any{past, "\x00late-claim", 5000, "revealed", ""})
		var cerr *Error
		if claimed || blob != nil || !errors.As(err, &cerr) || cerr.Kind != "timeout" {
			t.Errorf("claim past its deadline: (%q, %v, %v), want a timeout error", blob, claimed, err)
		}
		if blob, found, _ := s.Get(ctx, "k:late"); !found || string(blob) != "x" {
			t.Errorf("a late claim touched the secret: (%q, %v)", blob, found)
		}
	})

	t.Run("a re-sent claim with the same id wins again with the blob, another id loses", func(t *testing.T) {
		if err := s.Put(ctx, "k:resend", []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
		future := time.Now().Add(time.Minute).UnixMilli()
		for i, c := range []struct {
			id   string
			want bool
		}{{"\x00mine", true}, {"\x00mine", true}, {"\x00theirs", false}} {
			blob, claimed, err := s.claimOnce(ctx, "k:resend", []any{future, c.id, 5000, "revealed", ""})
			if claimed != c.want || err != nil || (c.want && string(blob) != "x") {
				t.Errorf("claim %d (%q): (%q, %v, %v), want %v", i+1, c.id, blob, claimed, err, c.want)
			}
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

// anyBlob is the openable prefixes that let a claim take any blob: the
// tests' blobs are not envelopes.
var anyBlob = []string{""}

// take is a reveal without the opening: claim whatever blob is there.
func (s *Store) take(ctx context.Context, key string) ([]byte, bool, error) {
	blob, claimed, err := s.Claim(ctx, key, receipt.Revealed, anyBlob)
	if !claimed {
		return nil, false, err
	}
	return blob, true, err
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
				blob, found, err := s.take(ctx, "k:race")
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

// mode is one way the store talks to Redis.
type mode struct {
	name string
	ap   bool  // the autopipeliner
	from int64 // PipelineFrom: batch only from this many in flight
}

// modes: one round trip per command; always batched; and batched only
// under load (the default).
var modes = []mode{{"plain", false, 0}, {"autopipeline", true, 0}, {"adaptive", true, 8}}

func TestStoreMiniredis(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			storeSuite(t, openMode(t, "redis://"+mr.Addr(), m))
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
	if _, found, err := s.take(ctx, "k"); found || err != nil {
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
	if _, found, err := s.take(ctx, "k"); found || err != nil {
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
	if _, found, err := s.take(ctx, "k"); err == nil || found {
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
	for _, u := range []string{
		"redis://user:hunter2@host:6379/0",
		"redis://s1:26379?master_name=m&password=hunter2&addr=s2:26379",
		"redis://:hunter2@s1:26379?master_name=m&sentinel_password=hunter2&username=hunter2",
		"rediss://h:6380/0?Password=hunter2",
	} {
		got := Redacted(u)
		if strings.Contains(got, "hunter2") {
			t.Errorf("Redacted(%q) kept a credential: %q", u, got)
		}
		if !strings.Contains(got, "6379") && !strings.Contains(got, "6380") {
			t.Errorf("Redacted(%q) lost the address: %q", u, got)
		}
	}
	if got := Redacted("redis://h:6379?master_name=mymaster&addr=b:1"); !strings.Contains(got, "master_name=mymaster") || !strings.Contains(got, "addr=b") {
		t.Errorf("Redacted dropped harmless parameters: %q", got)
	}
}

// A Sentinel URL's ?password= is the master's password: honoured, not
// silently replaced by the sentinels' (it was, before).
func TestSentinelURLCredentials(t *testing.T) {
	for _, c := range []struct {
		url, wantUser, wantPass string
	}{
		{"redis://su:spass@s1:26379?master_name=m", "su", "spass"},
		{"redis://su:spass@s1:26379?master_name=m&password=mpass", "su", "mpass"},
		{"redis://s1:26379?master_name=m&username=mu&password=mpass", "mu", "mpass"},
	} {
		rdb, err := newClient(Options{URL: c.url, Mode: ModeSentinel, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o := rdb.(*redis.Client).Options()
		rdb.Close()
		if o.Username != c.wantUser || o.Password != c.wantPass {
			t.Errorf("%s: master credentials (%q, %q), want (%q, %q)", Redacted(c.url), o.Username, o.Password, c.wantUser, c.wantPass)
		}
	}
}

// A claim whose reply is lost (the connection closes after Redis ran it)
// is sent again with the same claim id: the re-send learns that the first
// attempt won, so the reader gets the secret and no one else can.
func TestClaimReSendIsSafe(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { claimReSendIsSafe(t, mode) })
	}
}

func claimReSendIsSafe(t *testing.T, md mode) {
	m := miniredis.RunT(t)
	p := faultproxy.Start(t, m.Addr())
	s := openMode(t, "redis://"+p.Addr(), md)
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.ScriptLoad(ctx, claimScriptText).Err(); err != nil { // so the dropped EVALSHA runs
		t.Fatal(err)
	}
	p.DropReplies("EVALSHA", 1)
	blob, claimed, err := s.Claim(ctx, "k", receipt.Revealed, anyBlob)
	if !claimed || string(blob) != "x" || err != nil {
		t.Fatalf("claim with its first reply lost: (%q, %v, %v), want the blob, learnt from the re-send", blob, claimed, err)
	}
	if n := p.Count("EVALSHA"); n != 2 {
		t.Errorf("the claim reached Redis %d times, want 2 (the lost one and the re-send)", n)
	}
	if blob, claimed, err := s.Claim(ctx, "k", receipt.Revealed, anyBlob); claimed || blob != nil || err != nil {
		t.Errorf("another reader after the re-sent claim: (%q, %v, %v), want nothing", blob, claimed, err)
	}
}

// A SET whose reply is lost is an error, never a success.
func TestPutLostReplyIsAnError(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { putLostReplyIsAnError(t, mode) })
	}
}

func putLostReplyIsAnError(t *testing.T, md mode) {
	m := miniredis.RunT(t)
	p := faultproxy.Start(t, m.Addr())
	s := openMode(t, "redis://"+p.Addr(), md)
	p.DropReplies("SET", 1)
	if err := s.Put(context.Background(), "k", []byte("x"), time.Hour); err == nil {
		t.Fatal("Put reported success for a SET whose reply was lost")
	}
	if n := p.Count("SET"); n != 1 {
		t.Errorf("SET sent %d times, want 1", n)
	}
}

// The full-memory variant of the claim must differ from the claim in its
// write alone.
func TestClaimDeleteVariant(t *testing.T) {
	if claimDeleteText == claimScriptText || !strings.Contains(claimDeleteText, "redis.call('DEL', KEYS[1])") || strings.Contains(claimDeleteText, "'SET'") {
		t.Fatalf("the delete variant of the claim script was not derived:\n%s", claimDeleteText)
	}
}

// With REDIS_MIN_REPLICAS_ACK, a claim that wins is shown only once WAIT
// says enough replicas have its tombstone; a claim that loses, or finds a
// foreign blob, wrote nothing, and its answer stands even when WAIT falls
// short (miniredis's WAIT always answers 0: no replica).
func TestClaimWithReplicasAcknowledged(t *testing.T) {
	m := miniredis.RunT(t)
	s := openOpts(t, Options{URL: "redis://" + m.Addr(), MinReplicasAck: 1, SkipPolicyCheck: true})
	ctx := context.Background()
	if blob, claimed, err := s.Claim(ctx, "k:none", receipt.Revealed, anyBlob); blob != nil || claimed || err != nil {
		t.Errorf("nothing there, WAIT short: (%q, %v, %v), want a plain 'gone'", blob, claimed, err)
	}
	_ = m.Set("k:foreign", "\x01KEY9rest")
	if blob, claimed, err := s.Claim(ctx, "k:foreign", receipt.Revealed, []string{"\x01KEY1"}); string(blob) != "\x01KEY9rest" || claimed || err != nil {
		t.Errorf("foreign blob, WAIT short: (%q, %v, %v), want it back unclaimed", blob, claimed, err)
	}
	_ = m.Set("k:won", "x")
	blob, claimed, err := s.Claim(ctx, "k:won", receipt.Revealed, anyBlob)
	var cerr *Error
	if blob != nil || claimed || !errors.As(err, &cerr) || cerr.Kind != "replication" {
		t.Errorf("a won claim no replica acknowledged: (%q, %v, %v), want a replication error and no blob", blob, claimed, err)
	}
}
