package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/readonce/readonce/auth"
	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/internal/apitest"
	"github.com/readonce/readonce/server"
)

func withConfig(f func(*server.Config)) appOption {
	return func(c *server.Config, _ *appDeps) { f(c) }
}

func TestCreatorAuth(t *testing.T) {
	tokens, err := auth.New([]byte(serverKey), "HS256", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a := startApp(t, miniBackend(t), withConfig(func(c *server.Config) { c.Auth = &auth.Creators{JWT: tokens} }))
	good, _, _ := tokens.Issue("ci")
	other, _ := auth.New([]byte("some-other-server-key-of-32-bytes-xx"), "HS256", time.Minute)
	forged, _, _ := other.Issue("ci")
	body := `{"content":"needs a token"}`

	for name, header := range map[string]string{
		"missing":      "",
		"not bearer":   "Basic dXNlcjpwYXNz",
		"empty bearer": "Bearer ",
		"wrong key":    "Bearer " + forged,
		"garbage":      "Bearer not.a.jwt",
	} {
		before := a.be.dbsize(t)
		var r response
		if header == "" {
			r = a.do("POST", "/api/v1/secrets/", body)
		} else {
			r = a.do("POST", "/api/v1/secrets/", body, "Authorization", header)
		}
		if r.Status != 401 || !strings.HasPrefix(r.Header.Get("Www-Authenticate"), "Bearer") {
			t.Errorf("%s: got %d (WWW-Authenticate %q), want 401 Bearer", name, r.Status, r.Header.Get("Www-Authenticate"))
		}
		if a.be.dbsize(t) > before {
			t.Errorf("%s: an unauthenticated request stored something", name)
		}
	}
	r := a.do("POST", "/api/v1/secrets/", body, "Authorization", "Bearer "+good)
	if r.Status != 201 {
		t.Fatalf("valid token: got %d %s", r.Status, r.Body)
	}
	key := r.JSON(t).String(t, "access_key")
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 200 {
		t.Errorf("reveal without a token: got %d, want 200 (revealing never needs one)", r.Status)
	}
}

// API tokens and the v1 JWT side by side: each creates, each receipt
// names its creator, a revoked token is refused on the next request, a
// store that cannot be asked is a 503 (nothing stored), and the metric
// counts methods, never names.
func TestAPITokenAuth(t *testing.T) {
	be := miniBackend(t)
	st, err := cache.Open(cache.Options{URL: be.url(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	jwt, _ := auth.New([]byte(serverKey), "HS256", 30*time.Minute)
	reg := prometheus.NewRegistry()
	a := startApp(t, be, withConfig(func(c *server.Config) {
		c.Auth = &auth.Creators{JWT: jwt, APITokens: st}
		c.Metrics, c.ServeMetrics = reg, true
	}))
	token, hash, err := auth.NewAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIToken(context.Background(), "deploy-bot", hash, time.Now(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	createdBy := func(header string) string {
		t.Helper()
		r := a.do("POST", "/api/v1/secrets/", `{"content":"x","receipt":true}`, "Authorization", header)
		if r.Status != 201 {
			t.Fatalf("%.20s…: %d %s", header, r.Status, r.Body)
		}
		rec := a.do("GET", "/api/v1/receipts/"+r.JSON(t).String(t, "receipt_token"), "").JSON(t)
		name, _ := rec["created_by"].(string)
		return name
	}
	if got := createdBy("Bearer " + token); got != "deploy-bot" {
		t.Errorf("an API token's receipt says created_by %q", got)
	}
	good, _, _ := jwt.Issue("ci@example")
	if got := createdBy("Bearer " + good); got != "ci@example" {
		t.Errorf("a JWT's receipt says created_by %q", got)
	}

	forged := auth.APITokenPrefix + token[len(auth.APITokenPrefix)+1:] + "A"
	for name, tok := range map[string]string{"unknown": forged, "malformed": auth.APITokenPrefix + "short"} {
		if r := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`, "Authorization", "Bearer "+tok); r.Status != 401 {
			t.Errorf("%s API token: %d, want 401", name, r.Status)
		}
	}
	if ok, err := st.RevokeAPIToken(context.Background(), "deploy-bot"); !ok || err != nil {
		t.Fatal(err)
	}
	if r := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`, "Authorization", "Bearer "+token); r.Status != 401 {
		t.Errorf("a revoked token on the next request: %d, want 401", r.Status)
	}

	body := a.do("GET", "/metrics", "").Body
	for _, want := range []string{`readonce_secrets_created_by_auth_total{method="api_token"} 1`, `readonce_secrets_created_by_auth_total{method="jwt"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), "deploy-bot") || strings.Contains(string(body), "ci@example") {
		t.Error("/metrics names a creator")
	}

	// The token store down: 503, never 401, nothing stored.
	before := be.dbsize(t)
	be.mr.Close()
	if r := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`, "Authorization", "Bearer "+token); r.Status != 503 {
		t.Errorf("token store unreachable: %d, want 503", r.Status)
	}
	be.mr.Restart()
	if got := be.dbsize(t); got > before {
		t.Errorf("a create with an unverifiable token stored %d keys", got-before)
	}
}

func TestRateLimits(t *testing.T) {
	be := miniBackend(t)
	st, err := cache.Open(cache.Options{URL: be.url(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := startApp(t, be, withConfig(func(c *server.Config) {
		c.Limiter = st.Limiter([]byte("limiter-key-for-tests"))
		c.CreateLimit = server.RateLimit{PerMinute: 60, Burst: 3}
		c.NotFoundLimit = server.RateLimit{PerMinute: 60, Burst: 2}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")} // the in-memory peer
	}))

	t.Run("creates", func(t *testing.T) {
		a := a.with(t)
		from := func(ip string) response {
			return a.do("POST", "/api/v1/secrets/", `{"content":"x"}`, "X-Forwarded-For", ip)
		}
		for i := range 3 {
			if r := from("192.0.2.1"); r.Status != 201 {
				t.Fatalf("create %d within the burst: %d", i+1, r.Status)
			}
		}
		before := a.be.dbsize(t)
		r := from("192.0.2.1")
		if r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("create over the burst: got %d (Retry-After %q), want 429", r.Status, r.Header.Get("Retry-After"))
		}
		if a.be.dbsize(t) > before {
			t.Errorf("a rate-limited create stored a secret")
		}
		if r := from("192.0.2.2"); r.Status != 201 {
			t.Errorf("another client was limited too: %d", r.Status)
		}
		// A client cannot dodge its limit by naming itself through a trusted
		// proxy chain of its own invention: the right-most untrusted hop counts.
		if r := from("198.51.100.7, 192.0.2.1"); r.Status != 429 {
			t.Errorf("spoofed left-most X-Forwarded-For escaped the limit: %d", r.Status)
		}
	})

	t.Run("404 bursts at reveal", func(t *testing.T) {
		a := a.with(t)
		key := a.create("still revealable by others")
		ip := "203.0.113.9"
		for i := range 2 {
			if r := a.do("GET", "/api/v1/secrets/"+strings.Repeat("A", 43), "", "X-Forwarded-For", ip); r.Status != 404 {
				t.Fatalf("404 number %d: got %d", i+1, r.Status)
			}
		}
		r := a.do("GET", "/api/v1/secrets/"+key, "", "X-Forwarded-For", ip)
		if r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("after a burst of 404s: got %d, want 429 with Retry-After", r.Status)
		}
		if r := a.do("GET", "/api/v1/secrets/"+key, "", "X-Forwarded-For", "203.0.113.10"); r.Status != 200 {
			t.Errorf("the limited client's 429 consumed the secret, or another client is limited: %d", r.Status)
		}
	})

	t.Run("untrusted peers cannot pick their address", func(t *testing.T) {
		b := startApp(t, be, withConfig(func(c *server.Config) {
			c.Limiter = st.Limiter([]byte("limiter-key-for-tests"))
			c.CreateLimit = server.RateLimit{PerMinute: 60, Burst: 1}
		}))
		b.do("POST", "/api/v1/secrets/", `{"content":"x"}`, "X-Forwarded-For", "192.0.2.50")
		if r := b.do("POST", "/api/v1/secrets/", `{"content":"x"}`, "X-Forwarded-For", "192.0.2.51"); r.Status != 429 {
			t.Errorf("X-Forwarded-For from an untrusted peer changed the client address: %d", r.Status)
		}
	})
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startApp(t, miniBackend(t), withConfig(func(c *server.Config) { c.Metrics, c.ServeMetrics = reg, true }))
	key := a.create("metrics canary 42")
	a.do("GET", "/api/v1/secrets/"+key, "")
	a.do("GET", "/api/v1/secrets/"+key, "")
	a.do("GET", "/no/such/"+key, "")

	r := a.do("GET", "/metrics", "")
	if r.Status != 200 {
		t.Fatalf("/metrics: %d", r.Status)
	}
	text := string(r.Body)
	for _, want := range []string{
		`readonce_secrets_created_total 1`,
		`readonce_secrets_revealed_total 1`,
		`readonce_secrets_not_found_total 1`,
		`readonce_http_requests_total{method="GET",route="/api/v1/secrets/{access_key}",status="200"} 1`,
		`readonce_http_requests_total{method="GET",route="/api/v1/secrets/{access_key}",status="404"} 1`,
		`readonce_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`readonce_http_request_duration_seconds_bucket{method="POST",route="/api/v1/secrets/",le=`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, key) || strings.Contains(text, key[:12]) || strings.Contains(text, "canary") {
		t.Errorf("/metrics holds secret material")
	}

	off := startApp(t, miniBackend(t), withConfig(func(c *server.Config) { c.Metrics = prometheus.NewRegistry() }))
	if r := off.do("GET", "/metrics", ""); r.Status != 404 {
		t.Errorf("/metrics on the API port with ServeMetrics off: %d, want 404", r.Status)
	}
}

func TestStoreErrorMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	be := miniBackend(t)
	a := startApp(t, be, withConfig(func(c *server.Config) { c.Metrics, c.ServeMetrics = reg, true }))
	be.mr.SetError("OOM command not allowed when used memory > 'maxmemory'.")
	a.do("POST", "/api/v1/secrets/", `{"content":"x"}`)
	be.mr.SetError("")
	if r := a.do("GET", "/metrics", ""); !strings.Contains(string(r.Body), `readonce_store_errors_total{kind="oom",op="create"} 1`) {
		t.Errorf("store errors are not counted by kind:\n%s", grep(string(r.Body), "store_errors"))
	}
}

func grep(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// limitedApp allows 3 creates and 5 misses a minute per client, behind a
// trusted proxy (the in-memory listener's peer is 0.0.0.0).
func limitedApp(t *testing.T) *app {
	be := miniBackend(t)
	st, err := cache.Open(cache.Options{URL: be.url(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return startApp(t, be, withConfig(func(c *server.Config) {
		c.Limiter = st.Limiter([]byte("limiter-key-for-tests"))
		c.CreateLimit = server.RateLimit{PerMinute: 60, Burst: 3}
		c.NotFoundLimit = server.RateLimit{PerMinute: 60, Burst: 5}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}
	}))
}

// createsUntilLimited counts creates answered 201 before the first 429
// (at most 10), each request sending the X-Forwarded-For lines that
// lines(i) gives.
func createsUntilLimited(a *app, lines func(i int) []string) int {
	for i := range 10 {
		var h []string
		for _, l := range lines(i) {
			h = append(h, "X-Forwarded-For", l)
		}
		if a.do("POST", "/api/v1/secrets/", `{"content":"x"}`, h...).Status == 429 {
			return i
		}
	}
	return 10
}

func TestClientAddresses(t *testing.T) {
	t.Run("every X-Forwarded-For line counts, right-most last", func(t *testing.T) {
		a := limitedApp(t)
		// The client writes a line of its own; the proxy appends the real one.
		n := createsUntilLimited(a, func(i int) []string { return []string{fmt.Sprintf("198.51.100.%d", i), "192.0.2.77"} })
		if n != 3 {
			t.Errorf("%d creates before 429 with a client-written first line, want 3 (the limit of 192.0.2.77)", n)
		}
	})
	t.Run("a hop that is not an address: the peer counts", func(t *testing.T) {
		a := limitedApp(t)
		n := createsUntilLimited(a, func(i int) []string { return []string{fmt.Sprintf("192.0.2.%d, not-an-address", i)} })
		if n != 3 {
			t.Errorf("%d creates before 429 with garbage in the header, want 3 (the peer's limit)", n)
		}
	})
	t.Run("IPv6 clients share their /64, zone ids dropped", func(t *testing.T) {
		a := limitedApp(t)
		same64 := []string{"2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:aaaa::9%eth0", "2001:db8:1:2::7"}
		n := createsUntilLimited(a, func(i int) []string { return []string{same64[i%len(same64)]} })
		if n != 3 {
			t.Errorf("%d creates before 429 from one /64, want 3", n)
		}
		if r := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`, "X-Forwarded-For", "2001:db8:1:3::1"); r.Status != 201 {
			t.Errorf("the next /64 was limited too: %d", r.Status)
		}
	})
}

// The 404 budget is paid before a 404 is told, atomically: 100 concurrent
// misses against a budget of 5 learn "not found" exactly 5 times.
func TestNotFoundBudgetIsAtomic(t *testing.T) {
	a := limitedApp(t)
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 100 {
		wg.Go(func() {
			<-start
			key := fmt.Sprintf("%043d", i) // well-formed, never stored
			r := a.do("GET", "/api/v1/secrets/"+strings.ReplaceAll(key, "0", "A"), "", "X-Forwarded-For", "203.0.113.50")
			mu.Lock()
			got[r.Status]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if got[404] != 5 || got[429] != 95 {
		t.Errorf("100 concurrent misses, budget 5: %v (status → count), want 5 × 404 and 95 × 429", got)
	}
}

// One client holding keep-alive connections cannot lock others out: past
// MaxConnsPerIP its next connection is refused with a JSON 503 (with
// Retry-After and the security headers; fasthttp's own refusal was
// text/plain), and a freed place is served again. A trusted proxy speaks
// for many clients and is not capped.
func TestConnectionsPerClient(t *testing.T) {
	held := func(a *app, n int) []net.Conn {
		var conns []net.Conn
		for range n {
			c, err := a.ln.Dial()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			io.WriteString(c, "GET /health HTTP/1.1\r\nHost: readonce.test\r\n\r\n")
			if r := a.readResponse(c, "GET"); r.Status != 200 {
				t.Fatalf("connection within the cap: %d", r.Status)
			}
			conns = append(conns, c)
		}
		return conns
	}
	next := func(a *app) response {
		c, err := a.ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /health HTTP/1.1\r\nHost: readonce.test\r\nConnection: close\r\n\r\n")
		return a.readResponse(c, "GET")
	}

	a := startApp(t, miniBackend(t), withConfig(func(c *server.Config) { c.MaxConnsPerIP = 2 }))
	conns := held(a, 2)
	r := next(a)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("third connection of one client: %d %v %s, want a JSON 503 with Retry-After and the security headers", r.Status, r.Header, r.Body)
	}
	if d := r.JSON(t).String(t, "detail"); !strings.Contains(d, "connections") {
		t.Errorf("refusal says %q", d)
	}
	other, err := a.ln.DialWithLocalAddr(&net.TCPAddr{IP: net.ParseIP("192.0.2.9"), Port: 40000})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(other, "GET /health HTTP/1.1\r\nHost: readonce.test\r\nConnection: close\r\n\r\n")
	if r := a.readResponse(other, "GET"); r.Status != 200 {
		t.Errorf("another client while the first is at its cap: %d, want 200", r.Status)
	}
	other.Close()
	conns[0].Close()
	if !apitest.Eventually(2*time.Second, func() bool { return next(a).Status == 200 }) {
		t.Errorf("a freed place was not served again")
	}

	// The server-wide cap (MAX_CONNECTIONS) refuses the same way.
	full := startApp(t, miniBackend(t), withConfig(func(c *server.Config) { c.Concurrency = 2 }))
	held(full, 2)
	if r := next(full); r.Status != 503 || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Retry-After") == "" {
		t.Errorf("past MAX_CONNECTIONS: %d %v, want a JSON 503 with Retry-After", r.Status, r.Header)
	}

	trusted := startApp(t, miniBackend(t), withConfig(func(c *server.Config) {
		c.MaxConnsPerIP = 2
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}
	}))
	held(trusted, 3)
	if r := next(trusted); r.Status != 200 {
		t.Errorf("a trusted proxy's fourth connection: %d, want 200 (not capped per address)", r.Status)
	}
}
