package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/internal/apitest"
	"github.com/readonce/readonce/internal/logbuf"
	"github.com/readonce/readonce/internal/redistest"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

const (
	publicURL  = "https://secrets.example.test"
	maxContent = 1024
	serverKey  = "an-unguessable-32-byte-server-key-for-tests"
)

// backend is the Redis the suite runs against: miniredis, or a real
// redis-server in the integration build.
type backend struct {
	addr string
	mr   *miniredis.Miniredis // nil for a real redis-server
}

func (b backend) url() string { return "redis://" + b.addr }

// dbsize counts stored keys, asking Redis directly rather than the code
// under test.
func (b backend) dbsize(t testing.TB) int {
	t.Helper()
	reply, err := redistest.Do(b.addr, "DBSIZE")
	if err != nil || !strings.HasPrefix(reply, ":") {
		t.Fatalf("DBSIZE: %q, %v", reply, err)
	}
	n, _ := strconv.Atoi(reply[1:])
	return n
}

// pttl is the store's own remaining lifetime of the secret behind accessKey.
func (b backend) pttl(t testing.TB, accessKey string) time.Duration {
	t.Helper()
	lk, _ := seal.LookupKey(accessKey)
	reply, err := redistest.Do(b.addr, "PTTL", lk)
	if err != nil || !strings.HasPrefix(reply, ":") {
		t.Fatalf("PTTL: %q, %v", reply, err)
	}
	ms, _ := strconv.Atoi(reply[1:])
	return time.Duration(ms) * time.Millisecond
}

// exists says whether Redis holds key at all.
func (b backend) exists(t testing.TB, key string) bool {
	t.Helper()
	reply, err := redistest.Do(b.addr, "EXISTS", key)
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	return reply == ":1"
}

// tombstone says whether key holds a claim's tombstone (it starts with a
// zero byte), which outlives the claim by a few seconds.
func (b backend) tombstone(t testing.TB, key string) bool {
	t.Helper()
	reply, err := redistest.DoBulk(b.addr, "GETRANGE", key, "0", "0")
	if err != nil {
		t.Fatalf("GETRANGE: %v", err)
	}
	return reply == "\x00"
}

func miniBackend(t testing.TB) backend {
	m := miniredis.RunT(t)
	return backend{addr: m.Addr(), mr: m}
}

// app is one running server on an in-memory listener.
type app struct {
	t     testing.TB
	be    backend
	api   *apitest.Client
	logs  *logbuf.Buffer
	clock *clock
	store server.Store
	ln    *fasthttputil.InmemoryListener
	spec  *contract // shared by copies made with (*app).with
}

// response is what a test looks at.
type response = *apitest.Response

type appOption func(*server.Config, *appDeps)

type appDeps struct {
	key   string
	kdf   seal.KDF // cheap by default: each envelope records its own cost
	store func(server.Store) server.Store
}

// testKDF is the Argon2id cost the suites seal passphrases with: cheap, so
// they test the rules rather than the CPU. One test runs DefaultKDF.
var testKDF = seal.KDF{Time: 1, MemoryKiB: 64, Lanes: 1}

func withKey(k string) appOption   { return func(_ *server.Config, d *appDeps) { d.key = k } }
func withRedoc(u string) appOption { return func(c *server.Config, _ *appDeps) { c.RedocJSURL = u } }
func withKDF(k seal.KDF) appOption { return func(_ *server.Config, d *appDeps) { d.kdf = k } }

func withStore(wrap func(server.Store) server.Store) appOption {
	return func(_ *server.Config, d *appDeps) { d.store = wrap }
}

func startApp(t testing.TB, be backend, opts ...appOption) *app {
	t.Helper()
	logs := &logbuf.Buffer{}
	clk := &clock{}
	cfg := server.Config{
		PublicURL:        publicURL,
		MaxContentBytes:  maxContent,
		DefaultTTLHours:  24,
		MaxTTLHours:      168,
		ReceiptRetention: 168 * time.Hour,
		ReadTimeout:      5 * time.Second,
		WriteTimeout:     5 * time.Second,
		IdleTimeout:      5 * time.Second,
		Concurrency:      1000,
		Logger:           slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:              clk.now,
	}
	deps := appDeps{key: serverKey, kdf: testKDF}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	sealer, err := seal.New([]byte(deps.key))
	if err == nil {
		sealer, err = sealer.WithKDF(deps.kdf)
	}
	if err != nil {
		t.Fatal(err)
	}
	// As in production, but miniredis has no CONFIG: the eviction-policy
	// check runs against real Redis only.
	st, err := cache.Open(cache.Options{URL: be.url(), Timeout: 2 * time.Second, AutoPipeline: true, SkipPolicyCheck: be.mr != nil})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var store server.Store = st
	if deps.store != nil {
		store = deps.store(st)
	}
	srv, err := server.New(cfg, store, sealer)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &app{
		t: t, be: be, logs: logs, clock: clk, store: store, ln: ln, spec: &contract{},
		api: apitest.New("http://readonce.test", func() (net.Conn, error) { return ln.Dial() }),
	}
}

// do sends one request. Every response, whatever its status, must carry
// the security headers and fit the OpenAPI document: that is checked here,
// for every test.
func (a *app) do(method, path, body string, headers ...string) response {
	a.t.Helper()
	r := a.api.Do(a.t, method, path, body, headers...)
	reqHeader := http.Header{}
	if body != "" {
		reqHeader.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		reqHeader.Add(headers[i], headers[i+1])
	}
	a.checkContract(method, path, reqHeader, r)
	for k, want := range map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := r.Header.Get(k); got != want {
			a.t.Errorf("%s %s → %d: header %s = %q, want %q", method, path, r.Status, k, got, want)
		}
	}
	if r.Status >= 300 && r.Status != 304 {
		if ct := r.Header.Get("Content-Type"); method != "HEAD" && ct != "application/json" {
			a.t.Errorf("%s %s → %d: Content-Type %q, want application/json", method, path, r.Status, ct)
		}
		if len(r.Body) > 0 {
			r.JSON(a.t) // error bodies are JSON too
		}
	}
	return r
}

// checkContract validates a response against the served OpenAPI document.
func (a *app) checkContract(method, path string, reqHeader http.Header, r response) {
	a.t.Helper()
	err := a.spec.load(func() []byte {
		r := a.api.Send("GET", "/openapi.json", "")
		if r.Err != nil || r.Status != 200 {
			return nil
		}
		return r.Body
	})
	if err != nil {
		a.t.Fatalf("the served OpenAPI document: %v", err)
	}
	a.spec.check(a.t, method, path, reqHeader, r)
}

// with returns the app bound to another (sub)test, so failures land there.
func (a *app) with(t testing.TB) *app {
	b := *a
	b.t = t
	return &b
}

// rawPost writes a request while reading the answer, as a client would that
// keeps sending while the server has already refused the body.
func (a *app) rawPost(path, body string) response {
	a.t.Helper()
	c, err := a.ln.Dial()
	if err != nil {
		a.t.Fatal(err)
	}
	defer c.Close()
	go io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: readonce.test\r\nContent-Type: application/json\r\n"+
		"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	r := a.readResponse(c, "POST")
	a.checkContract("POST", path, http.Header{"Content-Type": {"application/json"}}, r)
	return r
}

func (a *app) readResponse(c net.Conn, method string) response {
	a.t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return &apitest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// rawGet sends a GET with the path exactly as given (clients normalise
// paths; an attacker's need not).
func (a *app) rawGet(path string) response {
	a.t.Helper()
	c, err := a.ln.Dial()
	if err != nil {
		a.t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: readonce.test\r\nConnection: close\r\n\r\n"); err != nil {
		a.t.Fatal(err)
	}
	r := a.readResponse(c, "GET")
	a.checkContract("GET", path, http.Header{}, r)
	return r
}

// create posts a secret and returns the access key, failing unless 201.
func (a *app) create(content string, ttl ...int) string {
	a.t.Helper()
	body := map[string]any{"content": content}
	if len(ttl) > 0 {
		body["ttl_hours"] = ttl[0]
	}
	b, _ := json.Marshal(body)
	r := a.do("POST", "/api/v1/secrets/", string(b))
	if r.Status != 201 {
		a.t.Fatalf("create: status %d, body %s", r.Status, r.Body)
	}
	return r.JSON(a.t).String(a.t, "access_key")
}

// createWithReceipt creates a secret with a receipt and returns its access
// key and receipt token.
func (a *app) createWithReceipt(content string) (key, token string) {
	a.t.Helper()
	b, _ := json.Marshal(map[string]any{"content": content, "receipt": true})
	r := a.do("POST", "/api/v1/secrets/", string(b))
	if r.Status != 201 {
		a.t.Fatalf("create with a receipt: status %d, body %s", r.Status, r.Body)
	}
	body := r.JSON(a.t)
	return body.String(a.t, "access_key"), body.String(a.t, "receipt_token")
}

// clock is a settable clock; zero means the real time.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
