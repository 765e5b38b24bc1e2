package cache

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/readonce/readonce/internal/receipt"
)

// receiptSuite runs wherever storeSuite does: miniredis, the embedded store
// and a real redis-server.
func receiptSuite(t *testing.T, s *Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	put := func(t *testing.T, name string) {
		t.Helper()
		if err := s.PutReceipted(ctx, "k:"+name, []byte("\x02blob"), time.Hour, "r:"+name, "", now, now.Add(time.Hour), 2*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	read := func(t *testing.T, name string) receipt.Record {
		t.Helper()
		rec, found, err := s.Receipt(ctx, "r:"+name)
		if err != nil || !found {
			t.Fatalf("receipt %s: (%v, %v)", name, found, err)
		}
		return rec
	}

	t.Run("pending, then revealed by the claim, in the same step", func(t *testing.T) {
		put(t, "reveal")
		if rec := read(t, "reveal"); rec.State != receipt.Pending || !rec.CreatedAt.Equal(now) || !rec.ExpiresAt.Equal(now.Add(time.Hour)) || !rec.RevealedAt.IsZero() {
			t.Fatalf("fresh receipt: %+v", rec)
		}
		if ttl := s.rdb.PTTL(ctx, receiptRecordKey("k:reveal")).Val(); ttl <= 2*time.Hour+59*time.Minute || ttl > 3*time.Hour {
			t.Errorf("the record lives %v, want the secret's hour and 2h of retention", ttl)
		}
		if ttl := s.rdb.PTTL(ctx, "r:reveal").Val(); ttl <= 2*time.Hour+59*time.Minute || ttl > 3*time.Hour {
			t.Errorf("the token's index lives %v, want 3h", ttl)
		}
		if _, claimed, err := s.Claim(ctx, "k:reveal", receipt.Revealed, anyBlob); !claimed || err != nil {
			t.Fatalf("claim: (%v, %v)", claimed, err)
		}
		rec := read(t, "reveal")
		if rec.State != receipt.Revealed || rec.RevealedAt.IsZero() || time.Since(rec.RevealedAt) > time.Minute || !rec.BurnedAt.IsZero() {
			t.Errorf("after the reveal: %+v", rec)
		}
		if rec, found, err := s.BurnByReceipt(ctx, "r:reveal", anyBlob); !found || err != nil || rec.State != receipt.Revealed {
			t.Errorf("burning a revealed secret's receipt: (%+v, %v, %v), want it unchanged", rec, found, err)
		}
	})

	t.Run("burnt by its receipt, idempotently", func(t *testing.T) {
		put(t, "burn")
		for i := range 2 {
			rec, found, err := s.BurnByReceipt(ctx, "r:burn", anyBlob)
			if !found || err != nil || rec.State != receipt.Burned || rec.BurnedAt.IsZero() {
				t.Fatalf("burn %d: (%+v, %v, %v)", i+1, rec, found, err)
			}
		}
		if blob, _, err := s.Claim(ctx, "k:burn", receipt.Revealed, anyBlob); blob != nil || err != nil {
			t.Errorf("a reveal after the burn: (%q, %v), want gone", blob, err)
		}
		if rec := read(t, "burn"); rec.State != receipt.Burned || !rec.RevealedAt.IsZero() {
			t.Errorf("the receipt after a reveal attempt on a burnt secret: %+v", rec)
		}
	})

	t.Run("burnt by its access key: the receipt says burned", func(t *testing.T) {
		put(t, "delete")
		if _, claimed, err := s.Claim(ctx, "k:delete", receipt.Burned, anyBlob); !claimed || err != nil {
			t.Fatalf("claim: (%v, %v)", claimed, err)
		}
		if rec := read(t, "delete"); rec.State != receipt.Burned || rec.BurnedAt.IsZero() || !rec.RevealedAt.IsZero() {
			t.Errorf("after a burn by access key: %+v", rec)
		}
	})

	t.Run("a foreign blob is left in place", func(t *testing.T) {
		put(t, "foreign")
		if _, _, err := s.BurnByReceipt(ctx, "r:foreign", []string{"\x01"}); !errors.Is(err, ErrForeign) {
			t.Fatalf("burn of a blob this server cannot open: %v, want ErrForeign", err)
		}
		if blob, found, _ := s.Get(ctx, "k:foreign"); !found || string(blob) != "\x02blob" {
			t.Errorf("the foreign blob was touched: (%q, %v)", blob, found)
		}
		if rec := read(t, "foreign"); rec.State != receipt.Pending {
			t.Errorf("the receipt moved: %+v", rec)
		}
	})

	t.Run("unknown token", func(t *testing.T) {
		if _, found, err := s.Receipt(ctx, "r:never"); found || err != nil {
			t.Errorf("read: (%v, %v), want not found", found, err)
		}
		if _, found, err := s.BurnByReceipt(ctx, "r:never", anyBlob); found || err != nil {
			t.Errorf("burn: (%v, %v), want not found", found, err)
		}
	})

	t.Run("a create without a receipt writes no record", func(t *testing.T) {
		if err := s.Put(ctx, "k:plain", []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, claimed, err := s.Claim(ctx, "k:plain", receipt.Revealed, anyBlob); !claimed || err != nil {
			t.Fatal(claimed, err)
		}
		if n := s.rdb.Exists(ctx, receiptRecordKey("k:plain")).Val(); n != 0 {
			t.Errorf("a receipt record appeared for a secret created without one")
		}
	})
}

// receiptRace races reveals and receipt burns on each of rounds secrets:
// exactly one wins, and the receipt names it.
func receiptRace(t *testing.T, s *Store, each, rounds int) {
	ctx := context.Background()
	now := time.Now()
	for round := range rounds {
		key, token := "k:race"+strconv.Itoa(round), "r:race"+strconv.Itoa(round)
		if err := s.PutReceipted(ctx, key, []byte("\x02prize"), time.Minute, token, "", now, now.Add(time.Minute), time.Hour); err != nil {
			t.Fatal(err)
		}
		var reveals, burns, errs atomic.Int32
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range 2 * each {
			done.Go(func() {
				start.Wait()
				if i%2 == 0 {
					blob, claimed, err := s.Claim(ctx, key, receipt.Revealed, anyBlob)
					switch {
					case err != nil:
						errs.Add(1)
					case claimed && string(blob) == "\x02prize":
						reveals.Add(1)
					}
					return
				}
				// A burn "wins" when it finds the record pending; later ones
				// see burned too, so the winner is the one that deleted: it is
				// counted by the secret being gone with the state burned and
				// no reveal having won.
				if _, _, err := s.BurnByReceipt(ctx, token, anyBlob); err != nil {
					errs.Add(1)
				}
			})
		}
		start.Done()
		done.Wait()
		rec, found, err := s.Receipt(ctx, token)
		if err != nil || !found || errs.Load() != 0 {
			t.Fatalf("round %d: receipt (%v, %v), %d errors", round, found, err, errs.Load())
		}
		if rec.State == receipt.Burned {
			burns.Add(1)
		}
		switch {
		case reveals.Load()+burns.Load() != 1:
			t.Fatalf("round %d: %d reveals won and the receipt says %s: want exactly one winner", round, reveals.Load(), rec.State)
		case reveals.Load() == 1 && (rec.State != receipt.Revealed || rec.RevealedAt.IsZero()):
			t.Fatalf("round %d: a reveal won but the receipt says %+v", round, rec)
		}
		if blob, found, _ := s.Get(ctx, key); found {
			t.Fatalf("round %d: the secret is still there: %q", round, blob)
		}
	}
}

func TestReceiptsMiniredis(t *testing.T) {
	m := miniredis.RunT(t)
	s := openT(t, "redis://"+m.Addr())
	receiptSuite(t, s)
	t.Run("10 reveals and 10 receipt burns racing", func(t *testing.T) { receiptRace(t, s, 10, 5) })
}

func TestReceiptsEmbedded(t *testing.T) { receiptSuite(t, openT(t, "")) }
