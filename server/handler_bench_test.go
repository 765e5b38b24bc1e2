package server_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/readonce/readonce/internal/receipt"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

// memStore is a map behind a mutex: it takes Redis out of the handler
// benchmark, so what is measured is readonce's own work per request.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Put(_ context.Context, k string, b []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = b
	return nil
}

func (s *memStore) Claim(_ context.Context, k, _ string, _ []string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[k]
	delete(s.m, k)
	return b, ok, nil
}
func (s *memStore) Ready(context.Context) error { return nil }

func (s *memStore) Get(_ context.Context, k string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[k]
	return b, ok, nil
}

// The pair benchmark has no passphrases.
func (s *memStore) WrongGuess(context.Context, string, int) (int, bool, error) {
	return 0, false, errors.New("memStore: no passphrases")
}
func (s *memStore) WrongGuesses(context.Context, string) (int, error) {
	return 0, errors.New("memStore: no passphrases")
}

// The pair benchmark creates without receipts.
func (s *memStore) PutReceipted(context.Context, string, []byte, time.Duration, string, string, time.Time, time.Time, time.Duration) error {
	return errors.New("memStore: no receipts")
}
func (s *memStore) Receipt(context.Context, string) (receipt.Record, bool, error) {
	return receipt.Record{}, false, nil
}
func (s *memStore) BurnByReceipt(context.Context, string, []string) (receipt.Record, bool, error) {
	return receipt.Record{}, false, nil
}

// pairRig is the whole server (routing, decoding, sealing, headers, access
// log to a discarding JSON handler) over an in-memory listener, with a
// client that allocates nothing of its own per pair.
type pairRig struct {
	c        *fasthttp.Client
	req      *fasthttp.Request
	resp     *fasthttp.Response
	body     []byte
	reveal   []byte
	prefix   int
	field    []byte
	shutdown func()
}

func newPairRig(tb testing.TB) *pairRig {
	sealer, _ := seal.New([]byte(serverKey))
	srv, err := server.New(server.Config{
		PublicURL: publicURL, MaxContentBytes: 65536, DefaultTTLHours: 24, MaxTTLHours: 168,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(discard{}, nil)),
	}, &memStore{m: map[string][]byte{}}, sealer)
	if err != nil {
		tb.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Shutdown(context.Background()) })
	reveal := []byte("http://readonce.test/api/v1/secrets/")
	return &pairRig{
		c:      &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }},
		req:    fasthttp.AcquireRequest(),
		resp:   fasthttp.AcquireResponse(),
		body:   []byte(`{"content":"` + strings.Repeat("x", 256) + `"}`),
		reveal: reveal, prefix: len(reveal),
		field: []byte(`"access_key":"`),
	}
}

// pair is one create and one reveal of a 256-byte secret.
func (r *pairRig) pair(tb testing.TB) {
	r.req.Reset()
	r.req.SetRequestURI("http://readonce.test/api/v1/secrets/")
	r.req.Header.SetMethod("POST")
	r.req.Header.SetContentType("application/json")
	r.req.SetBody(r.body)
	if err := r.c.Do(r.req, r.resp); err != nil || r.resp.StatusCode() != 201 {
		tb.Fatalf("create: %v %d", err, r.resp.StatusCode())
	}
	i := bytes.Index(r.resp.Body(), r.field) + len(r.field)
	r.reveal = append(r.reveal[:r.prefix], r.resp.Body()[i:i+43]...)
	r.req.Reset()
	r.req.SetRequestURIBytes(r.reveal)
	if err := r.c.Do(r.req, r.resp); err != nil || r.resp.StatusCode() != 200 {
		tb.Fatalf("reveal: %v %d", err, r.resp.StatusCode())
	}
}

// BenchmarkHandlerPair prices readonce's own work per request, Redis aside:
//
//	go test -run '^$' -bench HandlerPair -benchmem ./server
func BenchmarkHandlerPair(b *testing.B) {
	r := newPairRig(b)
	b.ReportAllocs() // per pair: a create and a reveal
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		r.pair(b)
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(2*b.N), "allocs/request")
}

// The pair path's allocation budget (issue 13: at most 20), held as a test
// so a change that adds allocations fails instead of drifting. Counts, not
// time: the same on a loaded machine. The race detector allocates on its
// own account and drops pooled objects at random, so under -race the
// budget is the one it measures there.
func TestPairAllocationBudget(t *testing.T) {
	r := newPairRig(t)
	for range 100 { // warm the pools and the connection
		r.pair(t)
	}
	budget := 20.0
	if raceEnabled {
		budget = raceAllocBudget
	}
	got := testing.AllocsPerRun(500, func() { r.pair(t) })
	t.Logf("%.1f allocations a pair (budget %.0f)", got, budget)
	if got > budget {
		t.Errorf("a create and a reveal cost %.1f allocations, budget %.0f", got, budget)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
