package cache

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/readonce/readonce/internal/receipt"
)

// attemptsSuite runs wherever storeSuite does: miniredis, the embedded
// store and a real redis-server.
func attemptsSuite(t *testing.T, s *Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)

	t.Run("counted, and the last one destroys the secret and burns its receipt", func(t *testing.T) {
		if err := s.PutReceipted(ctx, "k:guessed", []byte("\x03blob"), time.Hour, "r:guessed", "", now, now.Add(time.Hour), time.Hour); err != nil {
			t.Fatal(err)
		}
		if n, err := s.WrongGuesses(ctx, "k:guessed"); n != 0 || err != nil {
			t.Fatalf("fresh: %d wrong guesses, %v", n, err)
		}
		for want := 2; want >= 1; want-- {
			if left, gone, err := s.WrongGuess(ctx, "k:guessed", 3); left != want || gone || err != nil {
				t.Fatalf("wrong guess: (%d, %v, %v), want %d left", left, gone, err, want)
			}
		}
		if n, _ := s.WrongGuesses(ctx, "k:guessed"); n != 2 {
			t.Errorf("after two: %d", n)
		}
		if ttl := s.rdb.PTTL(ctx, attemptsKey("k:guessed")).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("the count lives %v, want the secret's hour", ttl)
		}
		if rec, _, _ := s.Receipt(ctx, "r:guessed"); rec.State != receipt.Pending {
			t.Errorf("before the last attempt the receipt says %s", rec.State)
		}
		if left, gone, err := s.WrongGuess(ctx, "k:guessed", 3); left != 0 || gone || err != nil {
			t.Fatalf("the last wrong guess: (%d, %v, %v)", left, gone, err)
		}
		if _, found, _ := s.Get(ctx, "k:guessed"); found {
			t.Error("the secret outlived its last attempt")
		}
		if s.rdb.Exists(ctx, attemptsKey("k:guessed")).Val() != 0 {
			t.Error("the count outlived the secret")
		}
		if rec, _, _ := s.Receipt(ctx, "r:guessed"); rec.State != receipt.Burned || rec.BurnedAt.IsZero() {
			t.Errorf("after the last attempt the receipt says %+v", rec)
		}
		if left, gone, err := s.WrongGuess(ctx, "k:guessed", 3); !gone || left != 0 || err != nil {
			t.Errorf("a guess after the end: (%d, %v, %v), want gone", left, gone, err)
		}
	})

	t.Run("nothing is counted against a secret that is gone or claimed", func(t *testing.T) {
		if _, gone, err := s.WrongGuess(ctx, "k:never", 5); !gone || err != nil {
			t.Errorf("never stored: (%v, %v)", gone, err)
		}
		if err := s.Put(ctx, "k:claimed", []byte("\x03blob"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, claimed, err := s.Claim(ctx, "k:claimed", receipt.Revealed, []string{"\x03"}); !claimed || err != nil {
			t.Fatal(claimed, err)
		}
		if _, gone, err := s.WrongGuess(ctx, "k:claimed", 5); !gone || err != nil {
			t.Errorf("claimed (a tombstone): (%v, %v)", gone, err)
		}
		if s.rdb.Exists(ctx, attemptsKey("k:never"), attemptsKey("k:claimed")).Val() != 0 {
			t.Error("a count was written for a secret that is not there")
		}
	})

	t.Run("20 concurrent wrong guesses, limit 5", func(t *testing.T) { concurrentGuesses(t, s, 20, 5, 10) })
}

// concurrentGuesses: n wrong guesses at once against limit → attempts left
// limit-1 … 0, each exactly once, and the rest gone; rounds times.
func concurrentGuesses(t *testing.T, s *Store, n, limit, rounds int) {
	ctx := context.Background()
	for round := range rounds {
		key := "k:race-guess-" + strconv.Itoa(round) + "-" + time.Now().Format("150405.000000")
		if err := s.Put(ctx, key, []byte("\x03blob"), time.Hour); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var lefts []int
		gone := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				left, g, err := s.WrongGuess(ctx, key, limit)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("wrong guess: %v", err)
				case g:
					gone++
				default:
					lefts = append(lefts, left)
				}
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(lefts)
		if !slices.Equal(lefts, []int{0, 1, 2, 3, 4}[:limit]) || gone != n-limit {
			t.Fatalf("round %d: attempts left %v and %d gone; want 0…%d once each and %d gone", round, lefts, gone, limit-1, n-limit)
		}
	}
}

func TestAttemptsMiniredis(t *testing.T) {
	attemptsSuite(t, openT(t, "redis://"+miniredis.RunT(t).Addr()))
}

func TestAttemptsEmbedded(t *testing.T) { attemptsSuite(t, openT(t, "")) }
