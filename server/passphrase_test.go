package server_test

import (
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/internal/redistest"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

// passphraseSuite runs on miniredis here and on a real redis-server in the
// integration build (TestIntegrationAPI).
func passphraseSuite(t *testing.T, be backend) {
	t.Run("passphrases: required, wrong, right, once", func(t *testing.T) { testPassphraseReveal(t, startApp(t, be)) })
	t.Run("passphrases: the last wrong guess destroys it and burns its receipt", func(t *testing.T) {
		testPassphraseLimit(t, startApp(t, be))
	})
	t.Run("passphrases: POST reveal of an unprotected secret", func(t *testing.T) { testRevealPostUnprotected(t, startApp(t, be)) })
	t.Run("passphrases: bad input stores and counts nothing", func(t *testing.T) { testPassphraseBadInput(t, startApp(t, be)) })
	t.Run("passphrases: burning needs no passphrase", func(t *testing.T) { testPassphraseBurn(t, startApp(t, be)) })
	t.Run("passphrases: a wrong SECRET_KEY never spends an attempt", func(t *testing.T) { testPassphraseWrongServerKey(t, be) })
	t.Run("passphrases: 20 concurrent wrong guesses, limit 5", func(t *testing.T) { concurrentWrongGuesses(t, startApp(t, be), 20, 5) })
	t.Run("passphrases: 10 concurrent right guesses, one reveal", func(t *testing.T) { concurrentRightGuesses(t, startApp(t, be), 10, 5) })
	t.Run("passphrases: no passphrase in Redis, the log or an answer", func(t *testing.T) { testPassphraseNowhere(t, startApp(t, be)) })
}

func TestPassphrases(t *testing.T) { passphraseSuite(t, miniBackend(t)) }

// createProtected creates a secret with a passphrase (and a receipt) and
// returns its access key and receipt token.
func (a *app) createProtected(content, passphrase string) (key, token string) {
	a.t.Helper()
	b, _ := json.Marshal(map[string]any{"content": content, "passphrase": passphrase, "receipt": true})
	r := a.do("POST", "/api/v1/secrets/", string(b))
	body := r.JSON(a.t)
	if r.Status != 201 || body["passphrase_required"] != true {
		a.t.Fatalf("create with a passphrase: %d %s", r.Status, r.Body)
	}
	return body.String(a.t, "access_key"), body.String(a.t, "receipt_token")
}

func (a *app) guess(key, passphrase string) response {
	a.t.Helper()
	b, _ := json.Marshal(map[string]string{"passphrase": passphrase})
	return a.do("POST", "/api/v1/secrets/"+key+"/reveal", string(b))
}

// wantAttempts checks a 403 of the given detail and attempts left.
func wantAttempts(t *testing.T, r response, detail string, left int) {
	t.Helper()
	body := r.JSON(t)
	if r.Status != 403 || body["detail"] != detail || body["attempts_left"] != float64(left) || len(body) != 2 {
		t.Fatalf("got %d %s, want 403 %q with attempts_left %d", r.Status, r.Body, detail, left)
	}
}

func testPassphraseReveal(t *testing.T, a *app) {
	if body := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`).JSON(t); body["passphrase_required"] != nil {
		t.Errorf("a create without a passphrase says passphrase_required: %v", body)
	}
	key, token := a.createProtected("behind a passphrase", "correct horse")
	for range 3 { // GET never consumes a protected secret, and counts nothing
		wantAttempts(t, a.do("GET", "/api/v1/secrets/"+key, ""), "Passphrase required", 5)
	}
	wantAttempts(t, a.do("POST", "/api/v1/secrets/"+key+"/reveal", `{}`), "Passphrase required", 5)
	wantAttempts(t, a.do("POST", "/api/v1/secrets/"+key+"/reveal", ``), "Passphrase required", 5)
	wantAttempts(t, a.guess(key, "correct horsE"), "Wrong passphrase", 4)
	wantAttempts(t, a.do("GET", "/api/v1/secrets/"+key, ""), "Passphrase required", 4)
	if got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t); got["state"] != "pending" {
		t.Errorf("after a wrong guess the receipt says %v", got["state"])
	}
	r := a.guess(key, "correct horse")
	if r.Status != 200 || r.JSON(t)["content"] != "behind a passphrase" || r.JSON(t)["created_at"] == nil {
		t.Fatalf("the right passphrase: %d %s", r.Status, r.Body)
	}
	for _, again := range []response{a.guess(key, "correct horse"), a.do("GET", "/api/v1/secrets/"+key, "")} {
		if again.Status != 404 {
			t.Errorf("after the reveal: %d %s, want 404", again.Status, again.Body)
		}
	}
	if got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t); got["state"] != "revealed" {
		t.Errorf("after the reveal the receipt says %v", got["state"])
	}
	if r := a.do("GET", "/api/v1/secrets/"+key+"/reveal", ""); r.Status != 405 {
		t.Errorf("GET of the reveal path: %d, want 405", r.Status)
	}
}

func testPassphraseLimit(t *testing.T, a *app) {
	key, token := a.createProtected("five strikes", "right")
	for left := 4; left >= 0; left-- {
		wantAttempts(t, a.guess(key, "wrong-"+strconv.Itoa(left)), "Wrong passphrase", left)
	}
	for _, r := range []response{a.guess(key, "right"), a.do("GET", "/api/v1/secrets/"+key, ""), a.guess(key, "wrong")} {
		if r.Status != 404 {
			t.Errorf("after the last attempt: %d %s, want 404", r.Status, r.Body)
		}
	}
	got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t)
	if got["state"] != "burned" || got["burned_at"] == nil || got["revealed_at"] != nil {
		t.Errorf("after the last attempt the receipt says %v", got)
	}
	if a.be.exists(t, "{"+lookupKey(t, key)+"}:attempts") || a.be.exists(t, lookupKey(t, key)) {
		t.Error("the blob or its attempt count outlived the last attempt")
	}
}

func lookupKey(t *testing.T, key string) string {
	lk, ok := seal.LookupKey(key)
	if !ok {
		t.Fatalf("malformed access key %q", key)
	}
	return lk
}

func testRevealPostUnprotected(t *testing.T, a *app) {
	for _, body := range []string{``, `{}`, `{"passphrase":"not needed"}`} {
		key := a.create("plain")
		r := a.do("POST", "/api/v1/secrets/"+key+"/reveal", body)
		if r.Status != 200 || r.JSON(t)["content"] != "plain" {
			t.Errorf("POST reveal %q of an unprotected secret: %d %s", body, r.Status, r.Body)
		}
		if r := a.do("POST", "/api/v1/secrets/"+key+"/reveal", body); r.Status != 404 {
			t.Errorf("POST reveal twice: %d", r.Status)
		}
	}
	if r := a.do("POST", "/api/v1/secrets/"+strings.Repeat("A", 43)+"/reveal", `{}`); r.Status != 404 {
		t.Errorf("POST reveal of an unknown key: %d", r.Status)
	}
}

func testPassphraseBadInput(t *testing.T, a *app) {
	before := a.be.dbsize(t)
	for _, c := range []struct{ body, field, typ string }{
		{`{"content":"x","passphrase":""}`, "passphrase", "string_too_short"},
		{`{"content":"x","passphrase":"` + strings.Repeat("p", 1025) + `"}`, "passphrase", "string_too_long"},
		{`{"content":"x","passphrase":12345}`, "passphrase", "string_type"},
		{`{"content":"x","passphrase":null}`, "passphrase", "string_type"},
		{`{"content":"x","passphrase":"a","passphrase":"b"}`, "passphrase", "duplicate_field"},
		{`{"content":"x","passphrase":"\ud800"}`, "passphrase", "string_unicode"},
	} {
		r := a.do("POST", "/api/v1/secrets/", c.body)
		if r.Status != 422 || !strings.Contains(string(r.Body), `"loc":["body","`+c.field+`"]`) || !strings.Contains(string(r.Body), c.typ) {
			t.Errorf("%.60s: %d %s, want 422 %s on %s", c.body, r.Status, r.Body, c.typ, c.field)
		}
	}
	if r := a.do("POST", "/api/v1/secrets/", `{"content":"x","passphrase":"`+strings.Repeat("é", 512)+`"}`); r.Status != 201 {
		t.Errorf("a 1024-byte passphrase: %d %s", r.Status, r.Body)
	}
	if got := a.be.dbsize(t); got > before+1 { // fewer is an earlier test's tombstone expiring
		t.Errorf("bad creates stored something: %d keys, want %d", got, before+1)
	}

	key, _ := a.createProtected("guarded", "pw")
	for _, c := range []struct {
		body   string
		status int
		header []string
	}{
		{`{"passphrase":""}`, 422, nil},
		{`{"passphrase":1}`, 422, nil},
		{`{"passphrase":"pw","extra":1}`, 422, nil},
		{`{"passphrase":"pw"`, 400, nil},
		{`["pw"]`, 400, nil},
		{`{"passphrase":"pw"} {}`, 400, nil},
		{`{"passphrase":"pw"}`, 415, []string{"Content-Type", "text/plain"}},
	} {
		if r := a.do("POST", "/api/v1/secrets/"+key+"/reveal", c.body, c.header...); r.Status != c.status {
			t.Errorf("reveal with %s: %d %s, want %d", c.body, r.Status, r.Body, c.status)
		}
	}
	wantAttempts(t, a.do("GET", "/api/v1/secrets/"+key, ""), "Passphrase required", 5)
	if r := a.guess(key, "pw"); r.Status != 200 {
		t.Errorf("after bad requests the right passphrase: %d %s", r.Status, r.Body)
	}
}

func testPassphraseBurn(t *testing.T, a *app) {
	key, token := a.createProtected("burn me", "pw")
	if r := a.do("DELETE", "/api/v1/secrets/"+key, ""); r.Status != 204 {
		t.Fatalf("burning a protected secret by its key: %d %s", r.Status, r.Body)
	}
	if got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t); got["state"] != "burned" {
		t.Errorf("after the burn: %v", got)
	}
	if r := a.guess(key, "pw"); r.Status != 404 {
		t.Errorf("after the burn the passphrase: %d", r.Status)
	}
	key, token = a.createProtected("burn me by receipt", "pw")
	if r := a.do("DELETE", "/api/v1/receipts/"+token, ""); r.Status != 200 || r.JSON(t)["state"] != "burned" {
		t.Fatalf("burning a protected secret by its receipt: %d %s", r.Status, r.Body)
	}
	if r := a.guess(key, "pw"); r.Status != 404 {
		t.Errorf("after the receipt burn the passphrase: %d", r.Status)
	}
}

// testPassphraseWrongServerKey: a server started with the wrong SECRET_KEY
// answers 503 to the right passphrase, the wrong one and a GET, and counts
// nothing; back on the right key, all five attempts are left.
func testPassphraseWrongServerKey(t *testing.T, be backend) {
	right := startApp(t, be)
	key, _ := right.createProtected("survives a misconfiguration", "pw")
	wrong := startApp(t, be, withKey("a-different-32-byte-server-key-for-tests!"))
	for _, r := range []response{wrong.guess(key, "pw"), wrong.guess(key, "nope"), wrong.do("GET", "/api/v1/secrets/"+key, "")} {
		if r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Errorf("the wrong SECRET_KEY: %d %s, want 503 with Retry-After", r.Status, r.Body)
		}
	}
	again := startApp(t, be)
	wantAttempts(t, again.do("GET", "/api/v1/secrets/"+key, ""), "Passphrase required", 5)
	if r := again.guess(key, "pw"); r.Status != 200 || r.JSON(t)["content"] != "survives a misconfiguration" {
		t.Errorf("back on the right key: %d %s", r.Status, r.Body)
	}
}

// concurrentWrongGuesses: n wrong guesses at once against a limit of
// limit → exactly limit 403s, with attempts_left limit-1 … 0 each once,
// and n-limit 404s.
func concurrentWrongGuesses(t *testing.T, a *app, n, limit int) {
	key, token := a.createProtected("guessed at", "the right one")
	answers := make(chan response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			answers <- a.guess(key, "wrong "+strconv.Itoa(i))
		})
	}
	close(start)
	wg.Wait()
	close(answers)
	var lefts []int
	statuses := map[int]int{}
	for r := range answers {
		statuses[r.Status]++
		if r.Status == 403 {
			lefts = append(lefts, int(r.JSON(t)["attempts_left"].(float64)))
		}
	}
	slices.Sort(lefts)
	want := []int{}
	for i := range limit {
		want = append(want, i)
	}
	if !maps.Equal(statuses, map[int]int{403: limit, 404: n - limit}) || !slices.Equal(lefts, want) {
		t.Fatalf("%d concurrent wrong guesses: statuses %v, attempts_left %v; want %d × 403 with %v and %d × 404",
			n, statuses, lefts, limit, want, n-limit)
	}
	if got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t); got["state"] != "burned" {
		t.Errorf("the receipt says %v", got["state"])
	}
}

// concurrentRightGuesses: n right guesses at once, each round → one 200.
func concurrentRightGuesses(t *testing.T, a *app, n, rounds int) {
	for round := range rounds {
		key, token := a.createProtected("one reader "+strconv.Itoa(round), "open sesame")
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				r := a.guess(key, "open sesame")
				if r.Status == 200 && r.JSON(t)["content"] != "one reader "+strconv.Itoa(round) {
					t.Errorf("a 200 with other content: %s", r.Body)
				}
				statuses <- r.Status
			})
		}
		close(start)
		wg.Wait()
		close(statuses)
		got := map[int]int{}
		for s := range statuses {
			got[s]++
		}
		if !maps.Equal(got, map[int]int{200: 1, 404: n - 1}) {
			t.Fatalf("round %d: %d concurrent right guesses: %v, want one 200", round, n, got)
		}
		if st := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t)["state"]; st != "revealed" {
			t.Errorf("round %d: the receipt says %v", round, st)
		}
	}
}

// testPassphraseNowhere: the passphrase is in no key or value of Redis,
// no log line and no answer; nor is the content.
func testPassphraseNowhere(t *testing.T, a *app) {
	const passphrase, content = "pass-canary-Zq81xv", "content-canary-Mw27"
	key, _ := a.createProtected(content, passphrase)
	var answers []string
	for _, r := range []response{a.guess(key, passphrase+"-wrong"), a.do("GET", "/api/v1/secrets/"+key, "")} {
		answers = append(answers, string(r.Body))
	}
	dump, err := redistest.Dump(a.be.addr)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"Redis": dump, "the log": a.logs.String(), "an answer": strings.Join(answers, "\n")} {
		for _, s := range []string{passphrase, passphrase[:10], content, key} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds %q", what, s)
			}
		}
	}
	if r := a.guess(key, passphrase); r.Status != 200 || strings.Contains(a.logs.String(), passphrase) {
		t.Errorf("the right guess: %d, or the log holds the passphrase", r.Status)
	}
}

// TestPassphraseGate: with one Argon2 slot and a short wait, a burst of
// guesses at the default cost gets some 503s with Retry-After; those were
// never tried and count nothing, and they are counted in a metric.
func TestPassphraseGate(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := startApp(t, miniBackend(t), withKDF(seal.DefaultKDF), withConfig(func(c *server.Config) {
		c.PassphraseConcurrency, c.PassphraseQueueWait = 1, 10*time.Millisecond
		c.Metrics, c.ServeMetrics = reg, true
	}))
	key, _ := a.createProtected("gated", "right")
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			r := a.guess(key, "canary-guess-"+strconv.Itoa(i%2)) // never more than 4 counted: the secret survives
			if r.Status == 503 && (r.Header.Get("Retry-After") == "" || r.JSON(t)["detail"] != "Too many passphrase checks at once, try again") {
				t.Errorf("a busy gate: %s", r.Body)
			}
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
		if i == 3 {
			wg.Wait() // at most 4 counted, so the rest cannot reach the limit
		}
	}
	wg.Wait()
	if statuses[503] == 0 || statuses[403]+statuses[503] != 8 {
		t.Fatalf("8 guesses through one slot with a 10 ms wait: %v, want some 503s and the rest 403", statuses)
	}
	wantAttempts(t, a.do("GET", "/api/v1/secrets/"+key, ""), "Passphrase required", 5-statuses[403])
	metrics := string(a.do("GET", "/metrics", "").Body)
	if strings.Contains(metrics, "canary-guess") || strings.Contains(metrics, key[:12]) {
		t.Error("/metrics holds a passphrase or the key")
	}
	for _, want := range []string{
		"readonce_passphrase_busy_total " + strconv.Itoa(statuses[503]),
		"readonce_passphrase_wrong_total " + strconv.Itoa(statuses[403]),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grep(metrics, "passphrase"))
		}
	}
}

// TestPassphraseBudget: each client's passphrase budget is spent by every
// request that brings a passphrase (create or reveal); past it, 429 before
// any Argon2 work and without counting a guess. Other clients are not
// limited.
func TestPassphraseBudget(t *testing.T) {
	be := miniBackend(t)
	st, err := cache.Open(cache.Options{URL: be.url(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	a := startApp(t, be, withConfig(func(c *server.Config) {
		c.Limiter = st.Limiter([]byte("limiter-key-for-tests"))
		c.PassphraseLimit = server.RateLimit{PerMinute: 60, Burst: 3}
		c.TrustedProxies = trustInMemoryPeer
		c.Metrics, c.ServeMetrics = reg, true
	}))
	key, _ := a.createProtected("budgeted", "pw") // one spent, by 0.0.0.0
	const client = "203.0.113.7"
	for i := range 3 {
		wantAttempts(t, a.do("POST", "/api/v1/secrets/"+key+"/reveal", `{"passphrase":"no"}`, "X-Forwarded-For", client), "Wrong passphrase", 4-i)
	}
	r := a.do("POST", "/api/v1/secrets/"+key+"/reveal", `{"passphrase":"pw"}`, "X-Forwarded-For", client)
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("past the budget: %d %s, want 429", r.Status, r.Body)
	}
	wantAttempts(t, a.do("GET", "/api/v1/secrets/"+key, "", "X-Forwarded-For", client), "Passphrase required", 2)
	if r := a.do("POST", "/api/v1/secrets/"+key+"/reveal", `{"passphrase":"pw"}`, "X-Forwarded-For", "203.0.113.8"); r.Status != 200 {
		t.Errorf("another client: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(string(a.do("GET", "/metrics", "").Body), `readonce_rate_limited_total{limit="passphrase"} 1`) {
		t.Error("the 429 is not counted under limit=passphrase")
	}
}

// TestPassphraseDefaultCost: at the default cost a protected secret still
// creates and opens; the seconds it takes are reported, not asserted (the
// bench's passphrase profile measures it).
func TestPassphraseDefaultCost(t *testing.T) {
	// The gate is TestPassphraseGate's: here every core and a long wait, so
	// a slow machine (the race detector makes Argon2 ~4× slower) still
	// gets through.
	a := startApp(t, miniBackend(t), withKDF(seal.DefaultKDF), withConfig(func(c *server.Config) {
		c.PassphraseCPUShare, c.PassphraseQueueWait = 1, 30*time.Second
	}))
	begin := time.Now()
	key, _ := a.createProtected("at full cost", "a real passphrase")
	wantAttempts(t, a.guess(key, "a wrong one"), "Wrong passphrase", 4)
	if r := a.guess(key, "a real passphrase"); r.Status != 200 {
		t.Fatalf("at the default cost: %d %s", r.Status, r.Body)
	}
	t.Logf("create, a wrong guess and a right one at t=2 m=40 MiB: %v", time.Since(begin))
}

// trustInMemoryPeer makes the in-memory listener's peer (0.0.0.0) a
// trusted proxy, so X-Forwarded-For picks the client.
var trustInMemoryPeer = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}
