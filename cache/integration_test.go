//go:build integration

package cache

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/readonce/readonce/internal/redistest"
)

func TestIntegrationStore(t *testing.T) {
	srv := redistest.Start(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := openOpts(t, Options{URL: srv.URL(), AutoPipeline: m.ap, PipelineFrom: m.from})
			storeSuite(t, s)
			t.Run("500 concurrent takes, 20 rounds", func(t *testing.T) {
				exactlyOnce(t, s, 500, 20)
			})
			t.Run("receipts", func(t *testing.T) { receiptSuite(t, s) })
			t.Run("10 reveals and 10 receipt burns racing, 20 rounds", func(t *testing.T) { receiptRace(t, s, 10, 20) })
			t.Run("passphrase attempts", func(t *testing.T) { attemptsSuite(t, s) })
			t.Run("API tokens", func(t *testing.T) { tokensSuite(t, s) })
		})
	}
}

func TestIntegrationUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	redistest.Start(t, "--unixsocket", sock, "--unixsocketperm", "700")
	s := openOpts(t, Options{URL: "unix://" + sock})
	ctx := context.Background()
	if err := s.Put(ctx, "k", []byte("over a socket"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if blob, found, err := s.take(ctx, "k"); err != nil || !found || string(blob) != "over a socket" {
		t.Fatalf("take over unix://: (%q, %v, %v)", blob, found, err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready over unix://: %v", err)
	}
}

// BenchmarkIntegrationReveal prices the claim against the GETDEL it
// replaced, on a real redis-server, one reveal at a time (the latency a
// single client sees) and with 64 at once (autopipelined, as in production):
//
//	go test -tags integration -run '^$' -bench IntegrationReveal -benchtime 20000x ./cache
func BenchmarkIntegrationReveal(b *testing.B) {
	srv := redistest.Start(b)
	for _, m := range modes {
		s := openOpts(b, Options{URL: srv.URL(), AutoPipeline: m.ap, PipelineFrom: m.from})
		ctx := context.Background()
		for _, path := range []struct {
			name   string
			reveal func(key string) bool
		}{
			{"getdel", func(key string) bool { // as the store sent it before the claim: through exec
				cctx, cancel := context.WithTimeout(ctx, s.timeout)
				defer cancel()
				return s.exec(cctx, redis.NewStringCmd(cctx, "getdel", key)) == nil
			}},
			{"claim", func(key string) bool { _, found, err := s.take(ctx, key); return found && err == nil }},
			{"get+claim", func(key string) bool { // the reveal that must open before it claims (passphrases)
				if _, found, err := s.Get(ctx, key); !found || err != nil {
					return false
				}
				_, found, err := s.take(ctx, key)
				return found && err == nil
			}},
		} {
			for _, clients := range []int{1, 16, 64} {
				b.Run(m.name+"/"+path.name+"/"+strconv.Itoa(clients)+"-clients", func(b *testing.B) {
					keys := make([]string, b.N)
					for i := range keys {
						keys[i] = "bench:" + strconv.Itoa(i)
						if err := s.Put(ctx, keys[i], []byte("x"), time.Minute); err != nil {
							b.Fatal(err)
						}
					}
					var next atomic.Int64
					b.ResetTimer()
					if clients == 1 {
						for _, k := range keys {
							if !path.reveal(k) {
								b.Fatal("reveal failed")
							}
						}
						return
					}
					b.SetParallelism(clients / 2) // × GOMAXPROCS (2 here)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if !path.reveal(keys[next.Add(1)-1]) {
								b.Error("reveal failed")
							}
						}
					})
				})
			}
		}
	}
}

// With Redis frozen, every call returns an error within its timeout, in
// every mode: a command abandoned in the autopipeliner's queue must never
// be waited on past the deadline (its accessors would block until it ran).
func TestIntegrationFrozenRedisBoundsEveryCall(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 500 * time.Millisecond
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s, err := Open(Options{URL: srv.URL(), AutoPipeline: m.ap, PipelineFrom: m.from, Timeout: timeout, SkipPolicyCheck: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			now := time.Now()
			if err := s.PutReceipted(ctx, "k:frozen", []byte("\x02x"), time.Minute, "r:frozen", "", now, now.Add(time.Minute), time.Hour); err != nil {
				t.Fatal(err)
			}
			srv.Pause()
			defer srv.Resume()
			calls := []func() error{
				func() error { _, _, err := s.Claim(ctx, "k:frozen", "revealed", anyBlob); return err },
				func() error { _, _, err := s.BurnByReceipt(ctx, "r:frozen", anyBlob); return err },
				func() error { _, _, err := s.Receipt(ctx, "r:frozen"); return err },
				func() error { _, _, err := s.Get(ctx, "k:frozen"); return err },
				func() error { _, _, err := s.WrongGuess(ctx, "k:frozen", 5); return err },
				func() error { _, err := s.WrongGuesses(ctx, "k:frozen"); return err },
				func() error { return s.Put(ctx, "k:other", []byte("x"), time.Minute) },
			}
			var wg sync.WaitGroup
			for i := range 35 {
				wg.Go(func() {
					start := time.Now()
					err := calls[i%len(calls)]()
					if took := time.Since(start); err == nil || took > timeout+300*time.Millisecond {
						t.Errorf("call %d with Redis frozen: %v after %v, want an error within %v", i%len(calls), err, took, timeout)
					}
				})
			}
			wg.Wait()
		})
	}
}
