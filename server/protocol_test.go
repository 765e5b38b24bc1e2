package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readonce/readonce/internal/receipt"
	"github.com/readonce/readonce/seal"
)

// fakeStore is a map with a call log and injectable failures: the protocol's
// rules tested without HTTP or Redis.
type fakeStore struct {
	mu     sync.Mutex
	blobs  map[string][]byte
	ttls   map[string]time.Duration
	calls  int            // Claim calls
	claims int            // blobs claimed
	fail   error          // returned by every call while set
	wrong  map[string]int // wrong passphrases by key
}

func newFakeStore() *fakeStore {
	return &fakeStore{blobs: map[string][]byte{}, ttls: map[string]time.Duration{}, wrong: map[string]int{}}
}

func (f *fakeStore) Get(_ context.Context, k string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, false, f.fail
	}
	b, ok := f.blobs[k]
	return b, ok, nil
}

// WrongGuess counts and destroys at the limit, as the real store's script.
func (f *fakeStore) WrongGuess(_ context.Context, k string, limit int) (int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, false, f.fail
	}
	if _, ok := f.blobs[k]; !ok {
		return 0, true, nil
	}
	f.wrong[k]++
	if left := limit - f.wrong[k]; left > 0 {
		return left, false, nil
	}
	delete(f.blobs, k)
	delete(f.wrong, k)
	return 0, false, nil
}

func (f *fakeStore) WrongGuesses(_ context.Context, k string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wrong[k], f.fail
}

func (f *fakeStore) Put(_ context.Context, k string, b []byte, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.blobs[k], f.ttls[k] = b, ttl
	return nil
}

// Claim takes k only if its blob begins with one of openable, as the real
// store's script does.
func (f *fakeStore) Claim(_ context.Context, k, _ string, openable []string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return nil, false, f.fail
	}
	b, ok := f.blobs[k]
	if !ok {
		return nil, false, nil
	}
	if !slices.ContainsFunc(openable, func(p string) bool { return strings.HasPrefix(string(b), p) }) {
		return b, false, nil
	}
	f.claims++
	delete(f.blobs, k)
	return b, true, nil
}

func (f *fakeStore) Ready(context.Context) error { return f.fail }

// Receipts are the cache package's to prove (cache/receipts_test.go and
// the HTTP suites on Redis); the protocol tests here create without them.
func (f *fakeStore) PutReceipted(context.Context, string, []byte, time.Duration, string, string, time.Time, time.Time, time.Duration) error {
	return errors.New("fakeStore: no receipts")
}
func (f *fakeStore) Receipt(context.Context, string) (receipt.Record, bool, error) {
	return receipt.Record{}, false, nil
}
func (f *fakeStore) BurnByReceipt(context.Context, string, []string) (receipt.Record, bool, error) {
	return receipt.Record{}, false, nil
}

type fullError struct{}

func (fullError) Error() string     { return "OOM" }
func (fullError) ErrorKind() string { return "oom" }
func (fullError) StorageFull() bool { return true }

func newProtocol(t *testing.T, key string) (*secrets, *fakeStore, *time.Time) {
	t.Helper()
	sealer, err := seal.New([]byte(key))
	if err == nil {
		sealer, err = sealer.WithKDF(cheapKDF)
	}
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st := newFakeStore()
	return &secrets{store: st, sealer: sealer, now: func() time.Time { return now }, defaultTTL: 24 * time.Hour,
		maxAttempts: 5, kdf: newKDFGate(2, 1, 2, time.Second), burnable: burnable(sealer)}, st, &now
}

// cheapKDF keeps passphrase tests fast; the cost is sealed in each blob.
var cheapKDF = seal.KDF{Time: 1, MemoryKiB: 64, Lanes: 1}

const protocolKey = "a-32-byte-or-longer-server-key-for-protocol-tests"

func TestProtocolCreateRevealOnce(t *testing.T) {
	p, st, _ := newProtocol(t, protocolKey)
	content := []byte("hunter2")
	c, err := p.create(context.Background(), seal.Secret{Content: content}, nil, 0, false, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(content) == "hunter2" {
		t.Errorf("create kept the plaintext: %q", content)
	}
	for k, ttl := range st.ttls {
		if ttl != 24*time.Hour {
			t.Errorf("ttl 0: stored for %v, want the default 24h", ttl)
		}
		if k == c.accessKey {
			t.Errorf("the store holds the access key itself")
		}
	}
	if want := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC); !c.expires.Equal(want) {
		t.Errorf("expires %v, want %v", c.expires, want)
	}
	got, err := p.reveal(context.Background(), c.accessKey)
	if err != nil || string(got.Content) != "hunter2" {
		t.Fatalf("first reveal: %q, %v", got.Content, err)
	}
	if _, err := p.reveal(context.Background(), c.accessKey); err != errSecretNotFound {
		t.Errorf("second reveal: %v, want errSecretNotFound", err)
	}
}

func TestProtocolTTL(t *testing.T) {
	p, st, _ := newProtocol(t, protocolKey)
	c, err := p.create(context.Background(), seal.Secret{Content: []byte("x")}, nil, 2*time.Hour, false, "")
	if err != nil {
		t.Fatal(err)
	}
	lk, _ := seal.LookupKey(c.accessKey)
	if st.ttls[lk] != 2*time.Hour {
		t.Errorf("stored for %v, want 2h", st.ttls[lk])
	}
}

func TestProtocolMalformedKeyNeverReachesTheStore(t *testing.T) {
	p, st, _ := newProtocol(t, protocolKey)
	for _, k := range []string{"", "short", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, err := p.reveal(context.Background(), k); err != errSecretNotFound {
			t.Errorf("%q: %v, want errSecretNotFound", k, err)
		}
	}
	if st.calls != 0 {
		t.Errorf("%d store calls for malformed keys, want 0", st.calls)
	}
}

func TestProtocolStoreFailureIsNeverNotFound(t *testing.T) {
	p, st, _ := newProtocol(t, protocolKey)
	c, _ := p.create(context.Background(), seal.Secret{Content: []byte("x")}, nil, 0, false, "")
	st.fail = errors.New("connection reset")
	_, err := p.reveal(context.Background(), c.accessKey)
	if k, _ := classify(err); k != kindUnavailable {
		t.Errorf("reveal on a failing store: kind %d (%v), want kindUnavailable", k, err)
	}
	st.fail = fullError{}
	_, err = p.create(context.Background(), seal.Secret{Content: []byte("x")}, nil, 0, false, "")
	if k, _ := classify(err); k != kindStorageFull {
		t.Errorf("create on a full store: kind %d (%v), want kindStorageFull", k, err)
	}
}

// A blob sealed under a server key this server lacks is never claimed.
func TestProtocolWrongServerKeyTouchesNothing(t *testing.T) {
	right, st, _ := newProtocol(t, protocolKey)
	c, _ := right.create(context.Background(), seal.Secret{Content: []byte("survives")}, nil, time.Hour, false, "")
	wrong, _, _ := newProtocol(t, "another-32-byte-or-longer-server-key-oops")
	wrong.store = st
	if _, err := wrong.reveal(context.Background(), c.accessKey); err != errCannotOpen {
		t.Fatalf("wrong key: %v, want errCannotOpen", err)
	}
	if st.claims != 0 {
		t.Errorf("a blob that did not open was claimed (%d claims)", st.claims)
	}
	if got, err := right.reveal(context.Background(), c.accessKey); err != nil || string(got.Content) != "survives" {
		t.Errorf("after the fix: %q, %v", got.Content, err)
	}
}

// A blob under this server's key that fails to authenticate was claimed:
// it is an error (never content, never "not found"), and it is gone.
func TestProtocolCorruptBlobIsAnError(t *testing.T) {
	p, st, _ := newProtocol(t, protocolKey)
	c, _ := p.create(context.Background(), seal.Secret{Content: []byte("x")}, nil, time.Hour, false, "")
	lk, _ := seal.LookupKey(c.accessKey)
	st.blobs[lk][len(st.blobs[lk])-1] ^= 1 // the last byte of the tag
	got, err := p.reveal(context.Background(), c.accessKey)
	if k, _ := classify(err); k != kindCorrupt || got.Content != nil {
		t.Fatalf("corrupt blob: %q, kind %d (%v), want kindCorrupt", got.Content, k, err)
	}
	if _, err := p.reveal(context.Background(), c.accessKey); err != errSecretNotFound {
		t.Errorf("after the corrupt reveal: %v, want errSecretNotFound", err)
	}
}

func TestProtocolServerClockJudgesExpiry(t *testing.T) {
	p, _, now := newProtocol(t, protocolKey)
	c, _ := p.create(context.Background(), seal.Secret{Content: []byte("x")}, nil, time.Hour, false, "")
	*now = now.Add(time.Hour) // the store still holds it; the envelope says it is over
	if _, err := p.reveal(context.Background(), c.accessKey); err != errSecretNotFound {
		t.Errorf("expired envelope: %v, want errSecretNotFound", err)
	}
}

// Every kind has a row, and every row an HTTP status and, where a client
// sees it, a message.
func TestOutcomesTableIsComplete(t *testing.T) {
	for k := kindInternal; k < numKinds; k++ {
		o := outcomes[k]
		if o.status < 400 || o.status > 599 {
			t.Errorf("kind %d: status %d", k, o.status)
		}
		if o.detail == "" && k != kindInvalid {
			t.Errorf("kind %d: no client message", k)
		}
		if o.retry != (o.status == 429 || o.status == 503) {
			t.Errorf("kind %d: Retry-After %v for status %d", k, o.retry, o.status)
		}
	}
	if len(outcomes) != int(numKinds) {
		t.Errorf("%d rows for %d kinds", len(outcomes), numKinds)
	}
}

// The gate's duty cycle: with share × procs = half a slot, a slot that
// worked for d stays taken for d more, then comes back. The clock is the
// test's, so nothing here waits for real time but the 1 ms of a refusal.
func TestKDFGateCoolsDown(t *testing.T) {
	g := newKDFGate(1, 0.5, 1, time.Millisecond)
	now := time.Unix(1000, 0)
	var cooling time.Duration
	var comeBack func()
	g.now = func() time.Time { return now }
	g.after = func(d time.Duration, f func()) { cooling, comeBack = d, f }

	release, err := g.enter()
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(100 * time.Millisecond) // the work
	release()
	if cooling != 100*time.Millisecond || comeBack == nil {
		t.Fatalf("after 100 ms of work the slot cools for %v, want 100 ms", cooling)
	}
	if _, err := g.enter(); err != errPassphraseBusy {
		t.Fatalf("while the slot cools: %v, want errPassphraseBusy", err)
	}
	comeBack()
	release, err = g.enter()
	if err != nil {
		t.Fatalf("once the slot has cooled: %v", err)
	}
	release()
	if full := newKDFGate(2, 1, 2, time.Millisecond); full.rest != 0 {
		t.Errorf("a gate allowed every core rests %v per second of work, want 0", full.rest)
	}
}
