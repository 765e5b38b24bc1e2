package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readonce/readonce/internal/apitest"
	"github.com/readonce/readonce/internal/faultproxy"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

const notFoundBody = `{"detail":"Secret not found, expired, or already read"}`

// TestAPI runs the HTTP suite on miniredis; integration_test.go runs the
// same suite on a real redis-server.
func TestAPI(t *testing.T) {
	apiSuite(t, miniBackend(t))
}

func apiSuite(t *testing.T, be backend) {
	t.Run("create and reveal once", func(t *testing.T) { testCreateReveal(t, startApp(t, be)) })
	t.Run("validation", func(t *testing.T) { testValidation(t, startApp(t, be)) })
	t.Run("ttl", func(t *testing.T) { testTTL(t, startApp(t, be)) })
	t.Run("methods never consume", func(t *testing.T) { testMethods(t, startApp(t, be)) })
	t.Run("burn", func(t *testing.T) { testBurn(t, startApp(t, be)) })
	t.Run("burns and reveals racing: exactly one success", func(t *testing.T) { burnsAndReveals(t, startApp(t, be), 25, 10) })
	t.Run("no redirects", func(t *testing.T) { testNoRedirects(t, startApp(t, be)) })
	t.Run("secret_url ignores request headers", func(t *testing.T) { testLinkPoisoning(t, startApp(t, be)) })
	t.Run("wrong server key burns nothing", func(t *testing.T) { testWrongKey(t, be) })
	t.Run("expired envelope is never returned", func(t *testing.T) { testExpiredEnvelope(t, startApp(t, be)) })
	t.Run("logs hold no key and no content", func(t *testing.T) { testLogs(t, startApp(t, be)) })
	t.Run("health and ready", func(t *testing.T) { testHealthReady(t, startApp(t, be)) })
	t.Run("concurrent reveals: exactly one 200", func(t *testing.T) { concurrentReveals(t, startApp(t, be), 50, 3) })
}

func testCreateReveal(t *testing.T, a *app) {
	for _, path := range []string{"/api/v1/secrets/", "/api/v1/secrets"} {
		before := time.Now().UTC()
		r := a.do("POST", path, `{"content":"pässwörd ✓\nline two","ttl_hours":2}`)
		if r.Status != 201 {
			t.Fatalf("POST %s: status %d, body %s", path, r.Status, r.Body)
		}
		body := r.JSON(t)
		if len(body) != 4 {
			t.Errorf("create body has fields %v, want access_key, expires_at, secret_url, share_url", body)
		}
		key, _ := body["access_key"].(string)
		if len(key) != 43 {
			t.Fatalf("access_key %q: want 43 characters", key)
		}
		if got, want := body["secret_url"], publicURL+"/api/v1/secrets/"+key; got != want {
			t.Errorf("secret_url: got %v, want %v", got, want)
		}
		if got, want := body["share_url"], publicURL+"/s#"+key; got != want {
			t.Errorf("share_url: got %v, want %v (the key only in the fragment)", got, want)
		}
		exp, err := time.Parse("2006-01-02T15:04:05.000000Z", body.String(t, "expires_at"))
		if err != nil {
			t.Fatalf("expires_at %q is not RFC 3339 UTC with microseconds: %v", body["expires_at"], err)
		}
		if d := exp.Sub(before); d < 2*time.Hour-time.Second || d > 2*time.Hour+5*time.Second {
			t.Errorf("expires_at is %v after the request, want 2h", d)
		}

		r = a.do("GET", "/api/v1/secrets/"+key, "")
		if r.Status != 200 {
			t.Fatalf("first reveal: status %d, body %s", r.Status, r.Body)
		}
		got := r.JSON(t)
		if got["content"] != "pässwörd ✓\nline two" {
			t.Errorf("content: got %q", got["content"])
		}
		created, err := time.Parse("2006-01-02T15:04:05.000000Z", got.String(t, "created_at"))
		if err != nil || !created.Add(2*time.Hour).Equal(exp) {
			t.Errorf("created_at %v (%v): want expires_at - 2h = %v", got["created_at"], err, exp.Add(-2*time.Hour))
		}
		if len(got) != 2 {
			t.Errorf("reveal body has fields %v, want content and created_at", got)
		}

		second := a.do("GET", "/api/v1/secrets/"+key, "")
		never := a.do("GET", "/api/v1/secrets/"+strings.Repeat("A", 43), "")
		malformed := a.do("GET", "/api/v1/secrets/not-a-key", "")
		for name, r := range map[string]response{"second read": second, "never existed": never, "malformed": malformed} {
			if r.Status != 404 || string(r.Body) != notFoundBody {
				t.Errorf("%s: got %d %s, want 404 %s", name, r.Status, r.Body, notFoundBody)
			}
		}
	}
	if a.be.mr != nil {
		before := a.be.mr.CommandCount()
		a.do("GET", "/api/v1/secrets/"+strings.Repeat("!", 43), "")
		a.do("GET", "/api/v1/secrets/"+strings.Repeat("A", 44), "")
		if n := a.be.mr.CommandCount() - before; n != 0 {
			t.Errorf("malformed keys cost %d Redis commands, want 0", n)
		}
	}
}

func testValidation(t *testing.T, a *app) {
	big := strings.Repeat("a", maxContent+1)
	cases := []struct {
		name, body, contentType string
		status                  int
		errType                 string // for 422: the type of the first error
	}{
		{"ttl 0", `{"content":"x","ttl_hours":0}`, "", 422, "greater_than_equal"},
		{"ttl -1", `{"content":"x","ttl_hours":-1}`, "", 422, "greater_than_equal"},
		{"ttl 169", `{"content":"x","ttl_hours":169}`, "", 422, "less_than_equal"},
		{"ttl huge", `{"content":"x","ttl_hours":99999999999999999999999}`, "", 422, "less_than_equal"},
		{"ttl string", `{"content":"x","ttl_hours":"24"}`, "", 422, "int_type"},
		{"ttl float", `{"content":"x","ttl_hours":24.5}`, "", 422, "int_from_float"},
		{"ttl 24.0", `{"content":"x","ttl_hours":24.0}`, "", 422, "int_from_float"},
		{"ttl exponent", `{"content":"x","ttl_hours":1e1}`, "", 422, "int_from_float"},
		{"ttl true", `{"content":"x","ttl_hours":true}`, "", 422, "int_type"},
		{"ttl object", `{"content":"x","ttl_hours":{}}`, "", 422, "int_type"},
		{"ttl_seconds 59", `{"content":"x","ttl_seconds":59}`, "", 422, "greater_than_equal"},
		{"ttl_seconds 0", `{"content":"x","ttl_seconds":0}`, "", 422, "greater_than_equal"},
		{"ttl_seconds past the maximum", `{"content":"x","ttl_seconds":604801}`, "", 422, "less_than_equal"},
		{"ttl_seconds string", `{"content":"x","ttl_seconds":"60"}`, "", 422, "int_type"},
		{"ttl_seconds float", `{"content":"x","ttl_seconds":60.5}`, "", 422, "int_from_float"},
		{"ttl_seconds twice", `{"content":"x","ttl_seconds":60,"ttl_seconds":61}`, "", 422, "duplicate_field"},
		{"ttl_hours and ttl_seconds", `{"content":"x","ttl_hours":1,"ttl_seconds":3600}`, "", 422, "mutually_exclusive"},
		{"content empty", `{"content":""}`, "", 422, "string_too_short"},
		{"content number", `{"content":5}`, "", 422, "string_type"},
		{"content null", `{"content":null}`, "", 422, "string_type"},
		{"content array", `{"content":["a"]}`, "", 422, "string_type"},
		{"content missing", `{"ttl_hours":1}`, "", 422, "missing"},
		{"content too long", `{"content":"` + big + `"}`, "", 422, "string_too_long"},
		{"content invalid UTF-8", "{\"content\":\"a\xff\xfeb\"}", "", 422, "string_unicode"},
		{"content lone surrogate", `{"content":"a\ud800b"}`, "", 422, "string_unicode"},
		{"unknown field", `{"content":"x","ttl_hour":1}`, "", 422, "extra_forbidden"},
		{"duplicate field", `{"content":"x","content":"y"}`, "", 422, "duplicate_field"},
		{"duplicate ttl", `{"content":"x","ttl_hours":1,"ttl_hours":2}`, "", 422, "duplicate_field"},
		{"trailing object", `{"content":"x"}{"content":"y"}`, "", 400, ""},
		{"trailing garbage", `{"content":"x"} x`, "", 400, ""},
		{"not JSON", `content=x`, "", 400, ""},
		{"truncated", `{"content":"x"`, "", 400, ""},
		{"empty body", ``, "", 400, ""},
		{"array", `[{"content":"x"}]`, "", 400, ""},
		{"string", `"x"`, "", 400, ""},
		{"text/plain", `{"content":"x"}`, "text/plain", 415, ""},
		{"form", `{"content":"x"}`, "application/x-www-form-urlencoded", 415, ""},
		{"over the body limit", `{"content":"` + strings.Repeat("a", server.MaxBodyBytes(maxContent, 1<<20)+1) + `"}`, "", 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := a.with(t)
			before := a.be.dbsize(t)
			var r response
			if c.status == 413 {
				r = a.rawPost("/api/v1/secrets/", c.body)
			} else if c.contentType != "" {
				r = a.do("POST", "/api/v1/secrets/", c.body, "Content-Type", c.contentType)
			} else if c.body == "" {
				r = a.do("POST", "/api/v1/secrets/", "", "Content-Type", "application/json")
			} else {
				r = a.do("POST", "/api/v1/secrets/", c.body)
			}
			if r.Status != c.status {
				t.Fatalf("status: got %d (%s), want %d", r.Status, r.Body, c.status)
			}
			if after := a.be.dbsize(t); after > before { // fewer is an earlier test's tombstone expiring
				t.Errorf("a rejected request stored something: %d keys before, %d after", before, after)
			}
			if strings.Contains(string(r.Body), "ctnt") || (len(c.body) > 20 && strings.Contains(string(r.Body), c.body)) {
				t.Errorf("error body echoes the request: %s", r.Body)
			}
			detail := r.JSON(t)["detail"]
			if c.status != 422 {
				if _, ok := detail.(string); !ok {
					t.Errorf("detail: got %v, want a message", detail)
				}
				return
			}
			list, _ := detail.([]any)
			if len(list) == 0 {
				t.Fatalf("422 detail: got %v, want a list", detail)
			}
			first, _ := list[0].(map[string]any)
			if first["type"] != c.errType || first["msg"] == "" {
				t.Errorf("422 detail: got %v, want type %s", first, c.errType)
			}
			if loc, _ := first["loc"].([]any); len(loc) != 2 || loc[0] != "body" {
				t.Errorf("422 loc: got %v, want [body, field]", first["loc"])
			}
		})
	}

	// Accepted edge cases.
	for _, body := range []string{
		`{"content":"` + strings.Repeat("é", maxContent/2) + `"}`, // exactly the limit, in bytes
		`{"content":"x","ttl_hours":null}`,
		`{"content":"x","ttl_hours":168}`,
		" \n{\"content\":\"x\"}\n ",
	} {
		if r := a.do("POST", "/api/v1/secrets/", body, "Content-Type", "application/json; charset=utf-8"); r.Status != 201 {
			t.Errorf("%.40s…: got %d %s, want 201", body, r.Status, r.Body)
		}
	}
	if r := a.do("POST", "/api/v1/secrets/", ``); r.Status != 400 {
		t.Errorf("no Content-Type, empty body: got %d, want 400", r.Status)
	}
}

func testTTL(t *testing.T, a *app) {
	for _, c := range []struct {
		body string
		want time.Duration
	}{
		{`{"content":"x"}`, 24 * time.Hour},
		{`{"content":"x","ttl_hours":null}`, 24 * time.Hour},
		{`{"content":"x","ttl_hours":2}`, 2 * time.Hour},
		{`{"content":"x","ttl_seconds":60}`, time.Minute},
		{`{"content":"x","ttl_seconds":90,"ttl_hours":null}`, 90 * time.Second},
		{`{"content":"x","ttl_seconds":604800}`, 168 * time.Hour},
	} {
		r := a.do("POST", "/api/v1/secrets/", c.body)
		body := r.JSON(t)
		exp, _ := time.Parse(time.RFC3339Nano, body.String(t, "expires_at"))
		if d := time.Until(exp); d < c.want-5*time.Second || d > c.want {
			t.Errorf("%s: expires in %v, want %v", c.body, d, c.want)
		}
		// The store forgets it on the same second the envelope says.
		if d := a.be.pttl(t, body.String(t, "access_key")); d <= c.want-2*time.Second || d > c.want {
			t.Errorf("%s: Redis keeps it for %v, want %v", c.body, d, c.want)
		}
	}
}

func testMethods(t *testing.T, a *app) {
	key := a.create("still here")
	for _, m := range []string{"HEAD", "OPTIONS", "PUT", "PATCH"} {
		r := a.do(m, "/api/v1/secrets/"+key, "")
		if r.Status != 405 {
			t.Errorf("%s: got %d, want 405", m, r.Status)
		}
		if allow := r.Header.Get("Allow"); allow != "DELETE, GET" {
			t.Errorf("%s: Allow %q, want DELETE, GET", m, allow)
		}
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 200 {
		t.Fatalf("after HEAD/OPTIONS the secret was gone: %d", r.Status)
	}
	if r := a.do("GET", "/api/v1/secrets/", ""); r.Status != 405 {
		t.Errorf("GET on the create path: got %d, want 405", r.Status)
	}
	if r := a.do("GET", "/nope", ""); r.Status != 404 {
		t.Errorf("unknown path: got %d, want 404", r.Status)
	}
}

func testNoRedirects(t *testing.T, a *app) {
	key := a.create("not via a redirect")
	for _, path := range []string{
		"/api/v1/secrets/" + key + "/",
		"/api/v1/Secrets/" + key,
		"/api/v1//secrets/" + key,
		"/api/v1/secrets/../secrets/" + key,
		"/api/v1/secrets/" + key + "%2F",
	} {
		r := a.rawGet(path)
		if r.Status >= 300 && r.Status < 400 || r.Header.Get("Location") != "" {
			t.Errorf("GET %s: redirected (%d to %q)", path, r.Status, r.Header.Get("Location"))
		}
		if r.Status == 200 {
			t.Errorf("GET %s revealed the secret through a non-canonical path", path)
		}
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 200 {
		t.Errorf("the secret did not survive the odd paths: %d", r.Status)
	}
}

func testLinkPoisoning(t *testing.T, a *app) {
	r := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`,
		"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http",
		"Forwarded", "host=evil.example")
	url := r.JSON(t).String(t, "secret_url")
	if !strings.HasPrefix(url, publicURL+"/api/v1/secrets/") {
		t.Errorf("secret_url %q does not start with PUBLIC_URL", url)
	}
	if share := r.JSON(t).String(t, "share_url"); !strings.HasPrefix(share, publicURL+"/s#") {
		t.Errorf("share_url %q does not start with PUBLIC_URL", share)
	}
}

// A server with the wrong SECRET_KEY burns nothing, even for a moment:
// 30 concurrent reveals all answer 503 (never a false 404), and the right
// key then reveals the secret.
func testWrongKey(t *testing.T, be backend) {
	right := startApp(t, be)
	key := right.create("survives a bad deploy", 3)
	wrong := startApp(t, be, withKey("a-different-32-byte-server-key-oops!!"))
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			r := wrong.do("GET", "/api/v1/secrets/"+key, "")
			if r.Header.Get("Retry-After") == "" || strings.Contains(string(r.Body), "survives") {
				t.Errorf("wrong SECRET_KEY: %d %s (Retry-After %q): want 503 with Retry-After and no content", r.Status, r.Body, r.Header.Get("Retry-After"))
			}
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[503] != 30 {
		t.Fatalf("30 concurrent reveals with the wrong SECRET_KEY: %v (status → count), want 30 × 503", statuses)
	}
	if r := wrong.do("DELETE", "/api/v1/secrets/"+key, ""); r.Status != 503 {
		t.Fatalf("a burn with the wrong SECRET_KEY: got %d %s, want 503", r.Status, r.Body)
	}
	r := right.do("GET", "/api/v1/secrets/"+key, "")
	if r.Status != 200 || r.JSON(t)["content"] != "survives a bad deploy" {
		t.Fatalf("after fixing SECRET_KEY: got %d %s, want 200 and the content", r.Status, r.Body)
	}
}

func testBurn(t *testing.T, a *app) {
	key := a.create("burn after sending")
	if r := a.do("DELETE", "/api/v1/secrets/"+key, `{"why":"oops"}`); r.Status != 400 || r.JSON(t)["detail"] != "A DELETE takes no request body" {
		t.Errorf("DELETE with a body: got %d %s, want 400", r.Status, r.Body)
	}
	r := a.do("DELETE", "/api/v1/secrets/"+key, "")
	if r.Status != 204 || len(r.Body) != 0 || strings.Contains(string(r.Body), "burn after") {
		t.Fatalf("burn: got %d %q, want 204 and no body", r.Status, r.Body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r := a.do(m, "/api/v1/secrets/"+key, ""); r.Status != 404 || string(r.Body) != notFoundBody {
			t.Errorf("%s after the burn: got %d %s, want the 404", m, r.Status, r.Body)
		}
	}
	for _, k := range []string{"short", strings.Repeat("A", 43)} {
		if r := a.do("DELETE", "/api/v1/secrets/"+k, ""); r.Status != 404 || string(r.Body) != notFoundBody {
			t.Errorf("burn of %q: got %d %s, want the 404", k, r.Status, r.Body)
		}
	}
	if lk, _ := seal.LookupKey(key); a.be.exists(t, lk) && !a.be.tombstone(t, lk) {
		t.Errorf("the burnt secret's blob is still in Redis")
	}
}

// burnsAndReveals races n burns and n reveals on each of rounds keys: one
// of the 2n succeeds (a reveal's 200 or a burn's 204), every other is 404.
func burnsAndReveals(t *testing.T, a *app, n, rounds int) {
	for range rounds {
		key := a.create("one winner")
		var i atomic.Int32
		apitest.ExactlyOne(t, 2*n, func() int {
			if i.Add(1)%2 == 0 {
				return a.do("GET", "/api/v1/secrets/"+key, "").Status
			}
			if st := a.do("DELETE", "/api/v1/secrets/"+key, "").Status; st != 204 {
				return st
			}
			return 200 // a burn's success, counted with the reveals'
		})
	}
}

func testExpiredEnvelope(t *testing.T, a *app) {
	key := a.create("short-lived", 1)
	// The store still holds it (no time passed for Redis), but the server's
	// clock is past expires_at: it must not be served.
	a.clock.advance(time.Hour + time.Second)
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 404 || string(r.Body) != notFoundBody {
		t.Errorf("expired envelope: got %d %s, want 404", r.Status, r.Body)
	}
}

func testLogs(t *testing.T, a *app) {
	content := "log-canary-" + strings.Repeat("z", 20)
	r := a.do("POST", "/api/v1/secrets/", `{"content":"`+content+`"}`, "X-Request-ID", "req-create-1")
	key := r.JSON(t).String(t, "access_key")
	if r.Header.Get("X-Request-Id") != "req-create-1" {
		t.Errorf("X-Request-ID not echoed: %q", r.Header.Get("X-Request-Id"))
	}
	r = a.do("GET", "/api/v1/secrets/"+key, "", "X-Request-ID", "bad id with spaces")
	if id := r.Header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Errorf("an invalid X-Request-ID was kept or none was made: %q", id)
	}
	a.do("GET", "/api/v1/secrets/"+key, "")

	logs := a.logs.String()
	for _, secret := range []string{key, content, key[:16], lookupSafePrefix(key)} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain secret material %q", secret)
		}
	}
	var lines int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] != "request" || rec["route"] == "/openapi.json" { // the contract check's own fetch
			continue
		}
		lines++
		for _, field := range []string{"method", "route", "status", "duration", "request_id"} {
			if _, ok := rec[field]; !ok {
				t.Errorf("access log line lacks %s: %s", field, line)
			}
		}
	}
	if lines != 3 {
		t.Errorf("got %d access log lines for 3 requests", lines)
	}
	if !strings.Contains(logs, `"route":"/api/v1/secrets/{access_key}"`) || !strings.Contains(logs, `"request_id":"req-create-1"`) {
		t.Errorf("access log lacks the route template or request id:\n%s", logs)
	}
}

func lookupSafePrefix(key string) string { return key[len(key)-16:] }

func testHealthReady(t *testing.T, a *app) {
	if r := a.do("GET", "/health", ""); r.Status != 200 || string(r.Body) != `{"status":"healthy"}` {
		t.Errorf("/health: got %d %s", r.Status, r.Body)
	}
	if r := a.do("GET", "/ready", ""); r.Status != 200 {
		t.Errorf("/ready: got %d %s", r.Status, r.Body)
	}
	if a.be.mr == nil {
		return
	}
	before := a.be.mr.CommandCount()
	a.do("GET", "/health", "")
	if n := a.be.mr.CommandCount() - before; n != 0 {
		t.Errorf("/health sent %d commands to Redis, want 0", n)
	}
}

// concurrentReveals races readers on one key: exactly one may win.
func concurrentReveals(t *testing.T, a *app, readers, rounds int) {
	for range rounds {
		key := a.create("only once")
		apitest.ExactlyOne(t, readers, func() int { return a.do("GET", "/api/v1/secrets/"+key, "").Status })
	}
}

// Hermetic-only tests: they need miniredis's fault injection.

func TestStoreFailures(t *testing.T) {
	be := miniBackend(t)
	a := startApp(t, be)
	key := a.create("kept through an outage")

	be.mr.SetError("LOADING Redis is loading the dataset in memory")
	for _, r := range []response{
		a.do("POST", "/api/v1/secrets/", `{"content":"x"}`),
		a.do("GET", "/api/v1/secrets/"+key, ""),
		a.do("GET", "/ready", ""),
	} {
		if r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Errorf("Redis failing: got %d %s (Retry-After %q), want 503 with Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
		}
		if strings.Contains(string(r.Body), "LOADING") {
			t.Errorf("503 body leaks internal error text: %s", r.Body)
		}
	}
	if r := a.do("GET", "/health", ""); r.Status != 200 {
		t.Errorf("/health depends on Redis: %d", r.Status)
	}

	be.mr.SetError("OOM command not allowed when used memory > 'maxmemory'.")
	if r := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`); r.Status != 503 || r.JSON(t)["detail"] != "storage full" {
		t.Errorf("Redis full: got %d %s, want 503 storage full", r.Status, r.Body)
	}

	be.mr.SetError("")
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 200 {
		t.Errorf("after the outage: got %d, want the secret", r.Status)
	}
}

type panickingStore struct{ server.Store }

func (panickingStore) Put(context.Context, string, []byte, time.Duration) error {
	panic(errors.New("boom with content-canary"))
}

func TestPanicIs500(t *testing.T) {
	a := startApp(t, miniBackend(t), withStore(func(s server.Store) server.Store { return panickingStore{s} }))
	r := a.do("POST", "/api/v1/secrets/", `{"content":"content-canary"}`)
	if r.Status != 500 || string(r.Body) != `{"detail":"Internal Server Error"}` {
		t.Errorf("panic: got %d %s, want 500 with a fixed message", r.Status, r.Body)
	}
	if strings.Contains(a.logs.String(), "content-canary") {
		t.Errorf("the panic value reached the log")
	}
	if r := a.do("GET", "/health", ""); r.Status != 200 {
		t.Errorf("server did not survive a panic: %d", r.Status)
	}
}

func TestExpiryInStore(t *testing.T) {
	be := miniBackend(t)
	a := startApp(t, be)
	key := a.create("gone after an hour", 1)
	be.mr.FastForward(time.Hour + time.Second)
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 404 {
		t.Errorf("after the TTL: got %d, want 404", r.Status)
	}
}

// The reply to a claim is lost (Redis ran it; the connection closed): the
// claim is re-sent with the same id, learns that it won, and the reader
// gets the secret, once. Before the claim primitive this was a 503 and a
// burnt secret.
func TestRevealWithLostClaimReplyIsSafe(t *testing.T) {
	m := miniBackend(t)
	p := faultproxy.Start(t, m.addr)
	a := startApp(t, backend{addr: p.Addr(), mr: m.mr})
	warm := a.create("loads the claim script")
	a.do("GET", "/api/v1/secrets/"+warm, "")
	key := a.create("lost in transit")
	before := p.Count("EVALSHA")
	p.DropReplies("EVALSHA", 1)
	r := a.do("GET", "/api/v1/secrets/"+key, "")
	if r.Status != 200 || r.JSON(t).String(t, "content") != "lost in transit" {
		t.Errorf("lost claim reply: got %d %s, want 200 and the content (learnt from the re-send)", r.Status, r.Body)
	}
	if n := p.Count("EVALSHA") - before; n != 2 {
		t.Errorf("claim sent %d times, want 2 (the lost one and its re-send)", n)
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 404 {
		t.Errorf("a second reader after the re-sent claim: %d, want 404", r.Status)
	}
	p.DropReplies("SET", 1)
	if r := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`); r.Status != 503 {
		t.Errorf("lost SET reply: got %d, want 503 (never 201 for an unconfirmed write)", r.Status)
	}
}

// fasthttp quotes raw request bytes in some of its errors; a malformed
// request carrying an access key must not put the key in the log.
func TestMalformedRequestKeepsKeyOutOfLogs(t *testing.T) {
	a := startApp(t, miniBackend(t))
	key := a.create("kept out of logs")
	for _, raw := range []string{
		"GET /api/v1/secrets/" + key + " HTTP/1.1\r\nHost: x\r\nBroken header line without colon\r\n\r\n",
		"GET /api/v1/secrets/" + key + "\r\n\r\n",
		"GET /api/v1/secrets/" + key + " HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
	} {
		c, err := a.ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, raw)
		io.Copy(io.Discard, c) // until the server closes it
		c.Close()
	}
	a.do("GET", "/health", "") // the server is still fine
	logs := a.logs.String()
	if !strings.Contains(logs, "fasthttp") {
		t.Fatalf("no fasthttp error was logged: the test proves nothing\n%s", logs)
	}
	if strings.Contains(logs, key) || strings.Contains(logs, key[:20]) {
		t.Errorf("the access key reached the log:\n%s", logs)
	}
}

// A body of thousands of unknown fields gets a bounded 422: a few entries
// and a count, not an answer larger than the request (it was 6.5 MB for a
// 390 KB body).
func TestValidationErrorsAreCapped(t *testing.T) {
	a := startApp(t, miniBackend(t), withConfig(func(c *server.Config) { c.MaxContentBytes = 65536 }))
	body := `{` + strings.Repeat(`"":1,`, 70000) + `"content":"a"}`
	r := a.rawPost("/api/v1/secrets/", body)
	if r.Status != 422 {
		t.Fatalf("got %d, want 422", r.Status)
	}
	if len(r.Body) > 4096 {
		t.Errorf("a %d-byte body got a %d-byte 422", len(body), len(r.Body))
	}
	detail := r.JSON(t).List(t, "detail")
	last, _ := detail[len(detail)-1].(map[string]any)
	if len(detail) != 11 || last["type"] != "too_many_errors" || !strings.Contains(last["msg"].(string), "69990") {
		t.Errorf("detail: %d entries, last %v; want 10 and a count of the other 69990", len(detail), last)
	}
	if a.be.dbsize(t) != 0 {
		t.Errorf("a rejected body stored something")
	}
}
