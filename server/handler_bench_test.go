package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

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

func (s *memStore) Claim(_ context.Context, k string, _ []string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[k]
	delete(s.m, k)
	return b, ok, nil
}
func (s *memStore) Ready(context.Context) error { return nil }

// BenchmarkHandlerPair is one create and one reveal through the whole
// server (routing, decoding, sealing, headers, access log to a discarding
// JSON handler) over an in-memory listener.
func BenchmarkHandlerPair(b *testing.B) {
	sealer, _ := seal.New([]byte(serverKey))
	srv, err := server.New(server.Config{
		PublicURL: publicURL, MaxContentBytes: 65536, DefaultTTLHours: 24, MaxTTLHours: 168,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(discard{}, nil)),
	}, &memStore{m: map[string][]byte{}}, sealer)
	if err != nil {
		b.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	body := []byte(`{"content":"` + strings.Repeat("x", 256) + `"}`)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	reveal := []byte("http://readonce.test/api/v1/secrets/")
	prefix := len(reveal)
	field := []byte(`"access_key":"`)
	b.ReportAllocs() // per pair: a create and a reveal
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		req.Reset()
		req.SetRequestURI("http://readonce.test/api/v1/secrets/")
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.SetBody(body)
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != 201 {
			b.Fatalf("create: %v %d", err, resp.StatusCode())
		}
		i := bytes.Index(resp.Body(), field) + len(field)
		reveal = append(reveal[:prefix], resp.Body()[i:i+43]...) // no allocation of the bench's own
		req.Reset()
		req.SetRequestURIBytes(reveal)
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("reveal: %v %d", err, resp.StatusCode())
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(2*b.N), "allocs/request")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
