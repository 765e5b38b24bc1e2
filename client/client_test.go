package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readonce/readonce/auth"
	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/client"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

// serve runs the real readonce server (embedded store, a cheap Argon2id
// cost) on loopback and returns its base URL and how to stop it.
func serve(auth server.Authenticator) (string, func(), error) {
	store, err := cache.Open(cache.Options{Timeout: 2 * time.Second})
	if err != nil {
		return "", nil, err
	}
	sealer, err := seal.New([]byte("a-client-test-server-key-of-32-bytes-or-more"))
	if err == nil {
		sealer, err = sealer.WithKDF(seal.KDF{Time: 1, MemoryKiB: 64, Lanes: 1})
	}
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	base := "http://" + ln.Addr().String()
	srv, err := server.New(server.Config{PublicURL: base, MaxContentBytes: 65536, DefaultTTLHours: 24, MaxTTLHours: 168,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, Auth: auth,
		ReceiptRetention: time.Hour, PassphraseQueueWait: 30 * time.Second}, store, sealer)
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln)
	return base, func() {
		srv.Shutdown(context.Background())
		store.Close()
	}, nil
}

func startServer(tb testing.TB, auth server.Authenticator) string {
	tb.Helper()
	base, stop, err := serve(auth)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return base
}

func newClient(t *testing.T, base string) *client.Client {
	c, err := client.New(base, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTextOnce(t *testing.T) {
	c := newClient(t, startServer(t, nil))
	ctx := context.Background()
	created, err := c.Create(ctx, "hunter2", client.CreateOptions{TTL: 15 * time.Minute})
	if err != nil || len(created.AccessKey) != 43 || !strings.Contains(created.ShareURL, "/s#"+created.AccessKey) {
		t.Fatalf("create: %+v %v", created, err)
	}
	if d := time.Until(created.ExpiresAt); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("expires in %v, want 15 minutes", d)
	}
	got, err := c.Reveal(ctx, created.ShareURL) // a share URL works as well as the key
	if err != nil || got.Text != "hunter2" || got.File != nil || got.CreatedAt.IsZero() {
		t.Fatalf("reveal: %+v %v", got, err)
	}
	if _, err := c.Reveal(ctx, created.AccessKey); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("second reveal: %v, want ErrNotFound", err)
	}
}

func TestFileAndBurn(t *testing.T) {
	c := newClient(t, startServer(t, nil))
	ctx := context.Background()
	data := []byte("apiVersion: v1\x00\xff")
	created, err := c.CreateFile(ctx, client.File{Name: "kube.yaml", MediaType: "application/yaml", Data: data}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Reveal(ctx, created.SecretURL)
	if err != nil || got.File == nil || !bytes.Equal(got.File.Data, data) || got.File.Name != "kube.yaml" || got.File.MediaType != "application/yaml" {
		t.Fatalf("reveal of a file: %+v %v", got, err)
	}
	created, _ = c.Create(ctx, "burn me", client.CreateOptions{})
	if err := c.Burn(ctx, created.AccessKey); err != nil {
		t.Fatalf("burn: %v", err)
	}
	if err := c.Burn(ctx, created.AccessKey); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("second burn: %v", err)
	}
}

func TestPassphraseErrors(t *testing.T) {
	c := newClient(t, startServer(t, nil))
	ctx := context.Background()
	created, err := c.Create(ctx, "two factors", client.CreateOptions{Passphrase: "by phone"})
	if err != nil || !created.PassphraseRequired {
		t.Fatalf("create: %+v %v", created, err)
	}
	var pe *client.PassphraseError
	if _, err := c.Reveal(ctx, created.AccessKey); !errors.As(err, &pe) || pe.Wrong || pe.AttemptsLeft != 5 {
		t.Errorf("reveal without the passphrase: %v", err)
	}
	if _, err := c.RevealWithPassphrase(ctx, created.AccessKey, "by fax"); !errors.As(err, &pe) || !pe.Wrong || pe.AttemptsLeft != 4 {
		t.Errorf("a wrong passphrase: %v", err)
	}
	if got, err := c.RevealWithPassphrase(ctx, created.AccessKey, "by phone"); err != nil || got.Text != "two factors" {
		t.Errorf("the right passphrase: %+v %v", got, err)
	}
}

func TestReceipts(t *testing.T) {
	c := newClient(t, startServer(t, nil))
	ctx := context.Background()
	created, err := c.Create(ctx, "watched", client.CreateOptions{Receipt: true})
	if err != nil || len(created.ReceiptToken) != 43 {
		t.Fatalf("create with a receipt: %+v %v", created, err)
	}
	if r, err := c.Receipt(ctx, created.ReceiptToken); err != nil || r.State != "pending" || r.RevealedAt != nil {
		t.Fatalf("fresh receipt: %+v %v", r, err)
	}
	if _, err := c.Reveal(ctx, created.AccessKey); err != nil {
		t.Fatal(err)
	}
	if r, err := c.BurnByReceipt(ctx, created.ReceiptToken); err != nil || r.State != "revealed" || r.RevealedAt == nil {
		t.Errorf("burning a revealed secret's receipt: %+v %v, want its receipt (revealed)", r, err)
	}
	created, _ = c.Create(ctx, "taken back", client.CreateOptions{Receipt: true})
	if r, err := c.BurnByReceipt(ctx, created.ReceiptToken); err != nil || r.State != "burned" {
		t.Errorf("burn by receipt: %+v %v", r, err)
	}
	if _, err := c.Receipt(ctx, strings.Repeat("A", 43)); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("an unknown receipt: %v", err)
	}
}

type denyAll struct{}

func (denyAll) Verify(context.Context, string) (auth.Creator, error) {
	return auth.Creator{}, auth.ErrInvalid
}

func TestUnauthorized(t *testing.T) {
	c := newClient(t, startServer(t, denyAll{}))
	if _, err := c.Create(context.Background(), "x", client.CreateOptions{}); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("create without a valid token: %v, want ErrUnauthorized", err)
	}
}

// A create is sent again after a 503 (waiting its Retry-After); a reveal
// never is, and says unavailable.
func TestRetriesOnlyWhereSafe(t *testing.T) {
	var creates, reveals atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost && creates.Add(1) < 3 || r.Method == http.MethodGet && reveals.Add(1) > 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"detail":"Service temporarily unavailable, try again"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"access_key":"`+strings.Repeat("A", 43)+`","expires_at":"2026-12-01T00:00:00Z"}`)
	}))
	defer fake.Close()
	c := newClient(t, fake.URL)
	if _, err := c.Create(context.Background(), "x", client.CreateOptions{}); err != nil || creates.Load() != 3 {
		t.Errorf("create after two 503s: %v after %d attempts, want success on the third", err, creates.Load())
	}
	var unavailable *client.UnavailableError
	if _, err := c.Reveal(context.Background(), strings.Repeat("A", 43)); !errors.As(err, &unavailable) || reveals.Load() != 1 {
		t.Errorf("reveal on a 503: %v after %d attempts, want one attempt and UnavailableError", err, reveals.Load())
	}
	// A closed port: unavailable, not "not found".
	dead, _ := client.New("http://127.0.0.1:1", nil, "")
	dead.Retries = 0
	if _, err := dead.Reveal(context.Background(), strings.Repeat("A", 43)); !errors.As(err, &unavailable) {
		t.Errorf("a closed port: %v, want UnavailableError", err)
	}
}

func TestKeyOf(t *testing.T) {
	key := strings.Repeat("Ab_-", 10) + "xyz"
	for _, in := range []string{key, "https://s.example/s#" + key, "https://s.example/api/v1/secrets/" + key, " " + key + "\n"} {
		if got, err := client.KeyOf(in); err != nil || got != key {
			t.Errorf("KeyOf(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "short", "https://s.example/s#", key + "!", strings.Repeat("A", 44)} {
		if _, err := client.KeyOf(bad); err == nil || strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("KeyOf(%q): %v, want an error that does not echo the input", bad, err)
		}
	}
}

// A file over the server's limit is a 413 (an APIError), every time — not
// a broken pipe from the close that follows a refused body: the client
// asks first (Expect: 100-continue) and the server refuses before the
// body is sent.
func TestTooLargeIsAnAnswer(t *testing.T) {
	c := newClient(t, startServer(t, nil))
	c.Retries = 0
	big := bytes.Repeat([]byte{7}, 3<<20)
	for i := range 20 {
		_, err := c.CreateFile(context.Background(), client.File{Data: big}, client.CreateOptions{EndToEnd: i%2 == 0})
		var api *client.APIError
		if !errors.As(err, &api) || api.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("attempt %d: %v, want a 413", i, err)
		}
	}
}
