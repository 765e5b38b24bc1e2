package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

func TestProfilesLoad(t *testing.T) {
	files, _ := filepath.Glob("profiles/*.json")
	if len(files) < 5 {
		t.Fatalf("want the five profiles, found %v", files)
	}
	modes := map[string]bool{}
	for _, f := range files {
		p, err := loadProfile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		modes[p.Mode] = true
		if p.totalDuration() <= 0 && p.Requests <= 0 {
			t.Errorf("%s has no bound", f)
		}
	}
	for _, m := range []string{"create", "reveal", "pair", "mixed", "spike"} {
		if !modes[m] {
			t.Errorf("no profile for mode %s", m)
		}
	}
}

func TestProfileRejects(t *testing.T) {
	for _, p := range []Profile{
		{Mode: "pair", Mix: map[string]float64{"pair": 1}, PayloadSizes: []int{1}},                                        // no load shape
		{Mode: "pair", VUs: 1, Mix: map[string]float64{"pair": 1}, PayloadSizes: []int{1}},                                // no bound
		{Mode: "pair", VUs: 1, Requests: 1, Mix: map[string]float64{"delete": 1}, PayloadSizes: []int{1}},                 // unknown op
		{Mode: "spike", VUs: 1, Requests: 1, Mix: map[string]float64{"pair": 1}, PayloadSizes: []int{1}},                  // spike is open loop
		{Mode: "pair", VUs: 1, Duration: Duration{time.Hour}, Mix: map[string]float64{"pair": 1}, PayloadSizes: []int{1}}, // unbounded
	} {
		if err := p.validate(); err == nil {
			t.Errorf("accepted %+v", p)
		}
	}
}

// fakeAPI is a tiny in-memory one-time store speaking the v1 API; broken
// makes it misbehave the way the harness must catch.
func fakeAPI(t *testing.T, broken string) string {
	var mu sync.Mutex
	secrets := map[string]string{}
	n := 0
	h := func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		defer mu.Unlock()
		path := string(ctx.Path())
		if ctx.IsPost() {
			content := field(ctx.PostBody(), `"content":"`)
			n++
			key := strings.Repeat("k", 40) + string(rune('a'+n%26)) + string(rune('a'+n/26%26)) + string(rune('a'+n/676%26))
			secrets[key] = content
			ctx.SetStatusCode(201)
			ctx.SetBodyString(`{"access_key":"` + key + `","receipt_token":"` + strings.Repeat("r", 40) + key[40:] + `"}`)
			return
		}
		if token, ok := strings.CutPrefix(path, "/api/v1/receipts/"); ok {
			state := "revealed"
			if _, pending := secrets[strings.Repeat("k", 40)+token[40:]]; pending || broken == "receipt" {
				state = "pending"
			}
			ctx.SetBodyString(`{"state":"` + state + `"}`)
			return
		}
		key := strings.TrimPrefix(path, "/api/v1/secrets/")
		content, ok := secrets[key]
		if !ok {
			ctx.SetStatusCode(404)
			return
		}
		switch broken {
		case "twice": // never deletes
		case "swap":
			content = "someone-else's"
			delete(secrets, key)
		default:
			delete(secrets, key)
		}
		ctx.SetBodyString(`{"content":"` + content + `"}`)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestRunnerCatchesViolations(t *testing.T) {
	p := &Profile{Name: "t", Mode: "pair", VUs: 4, Requests: 300, Mix: map[string]float64{"pair": 1},
		PayloadSizes: []int{32}, TTLHours: 1, Recheck: 1}
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		broken string
		want   bool
	}{{"", false}, {"twice", true}, {"swap", true}} {
		r := newRunner(p, fakeAPI(t, c.broken))
		res := summarize(p, c.broken, time.Now(), time.Second, r.closedLoop(context.Background()), r)
		if got := res.Violations > 0; got != c.want {
			t.Errorf("server %q: %d violations (%v), want violations: %v", c.broken, res.Violations, res.FirstBad, c.want)
		}
		if res.Ops["pair"].Count == 0 || res.Requests < 300 {
			t.Errorf("server %q: %d pairs, %d requests: the run did nothing", c.broken, res.Ops["pair"].Count, res.Requests)
		}
	}
}

// A receipt that does not say revealed after the reveal is a violation.
func TestRunnerChecksReceipts(t *testing.T) {
	p := &Profile{Name: "t", Mode: "receipts", VUs: 4, Requests: 200, Mix: map[string]float64{"receipt": 1},
		PayloadSizes: []int{32}, TTLHours: 1}
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		broken string
		want   bool
	}{{"", false}, {"receipt", true}} {
		r := newRunner(p, fakeAPI(t, c.broken))
		res := summarize(p, c.broken, time.Now(), time.Second, r.closedLoop(context.Background()), r)
		if got := res.Violations > 0; got != c.want {
			t.Errorf("server %q: %d violations (%v), want violations: %v", c.broken, res.Violations, res.FirstBad, c.want)
		}
		if res.Ops["receipt"].Count == 0 {
			t.Errorf("server %q: no receipt was read", c.broken)
		}
		// A trip is three requests, not four: the trip itself is no request.
		if trips := res.Ops["receipt trip"].Count; c.broken == "" && res.Requests != 3*trips {
			t.Errorf("%d requests for %d receipt trips, want 3 a trip", res.Requests, trips)
		}
	}
}

// The floor answers a constant: an unchecked runner times its answers and
// never calls them violations; the same server checked is all violations.
func TestUncheckedTargetIsTimedNotJudged(t *testing.T) {
	p := &Profile{Name: "t", Mode: "pair", VUs: 2, Requests: 100, Mix: map[string]float64{"pair": 1},
		PayloadSizes: []int{32}, TTLHours: 1, Recheck: 1}
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	base := fakeAPI(t, "twice")
	for _, unchecked := range []bool{true, false} {
		r := newRunner(p, base)
		r.unchecked = unchecked
		res := summarize(p, "floor", time.Now(), time.Second, r.closedLoop(context.Background()), r)
		if (res.Violations == 0) != unchecked || res.Requests < 100 {
			t.Errorf("unchecked %v: %d violations over %d requests", unchecked, res.Violations, res.Requests)
		}
	}
}

// A sweep runs a closed-loop profile at each concurrency, named for it;
// an open-loop profile runs as it is.
func TestSweep(t *testing.T) {
	p := &Profile{Name: "pair", VUs: 64}
	got := sweep(p, "1, 16,64,512")
	if len(got) != 4 || got[0].VUs != 1 || got[3].VUs != 512 || got[1].Name != "pair@16" || p.VUs != 64 {
		t.Errorf("sweep: %+v", got)
	}
	open := &Profile{Name: "spike", Steps: []Step{{Rate: 1, Duration: Duration{time.Second}}}}
	if s := sweep(open, "1,16"); len(s) != 1 || s[0] != open {
		t.Errorf("an open-loop profile was swept")
	}
}

// The passphrase trip and the flood against the real server (embedded
// store, a cheap Argon2id cost): no violations, each operation counted,
// and the flood's operations kept out of the profile's own figures.
func TestRunnerPassphraseAndFlood(t *testing.T) {
	base := realServer(t)
	trip := &Profile{Name: "t", Mode: "passphrase", VUs: 2, Requests: 10, Mix: map[string]float64{"passphrase": 1},
		PayloadSizes: []int{32}, TTLHours: 1}
	flood := &Profile{Name: "f", Mode: "pair", VUs: 2, Duration: Duration{300 * time.Millisecond}, Mix: map[string]float64{"pair": 1},
		PayloadSizes: []int{32}, TTLHours: 1, Flood: &Flood{VUs: 2}}
	for _, p := range []*Profile{trip, flood} {
		if err := p.validate(); err != nil {
			t.Fatal(err)
		}
	}
	r := newRunner(trip, base)
	res := summarize(trip, "readonce", time.Now(), time.Second, r.closedLoop(context.Background()), r)
	if res.Violations > 0 || res.Ops["passphrase trip"].Count < 10 || res.Ops["wrong passphrase"].Count < 10 || len(res.Errors) > 0 {
		t.Errorf("passphrase trips: %d violations %v, ops %v, errors %v", res.Violations, res.FirstBad, res.Ops, res.Errors)
	}
	files := &Profile{Name: "files", Mode: "files", VUs: 2, Requests: 6, Mix: map[string]float64{"file": 1},
		PayloadSizes: []int{1000, 65536}, TTLHours: 1}
	if err := files.validate(); err != nil {
		t.Fatal(err)
	}
	r = newRunner(files, base)
	res = summarize(files, "readonce", time.Now(), time.Second, r.closedLoop(context.Background()), r)
	if res.Violations > 0 || res.Ops["file trip"].Count < 6 || len(res.Errors) > 0 {
		t.Errorf("file trips: %d violations %v, ops %v, errors %v", res.Violations, res.FirstBad, res.Ops, res.Errors)
	}
	e2e := &Profile{Name: "e2e", Mode: "e2e", VUs: 2, Requests: 20, Mix: map[string]float64{"e2e": 1}, PayloadSizes: []int{256}, TTLHours: 1}
	if err := e2e.validate(); err != nil {
		t.Fatal(err)
	}
	r = newRunner(e2e, base)
	res = summarize(e2e, "readonce", time.Now(), time.Second, r.closedLoop(context.Background()), r)
	if res.Violations > 0 || res.Ops["e2e trip"].Count < 20 || len(res.Errors) > 0 {
		t.Errorf("end-to-end pairs: %d violations %v, ops %v, errors %v", res.Violations, res.FirstBad, res.Ops, res.Errors)
	}
	r = newRunner(flood, base)
	r.flooded = true
	res = summarize(flood, "readonce flooded", time.Now(), time.Second, r.closedLoop(context.Background()), r)
	if res.Violations > 0 || res.Ops["flood guess"].Count == 0 || res.Ops["pair"].Count == 0 || len(res.Errors) > 0 {
		t.Fatalf("flooded: %d violations %v, ops %v, errors %v", res.Violations, res.FirstBad, res.Ops, res.Errors)
	}
	if plain := res.Ops["create"].Count + res.Ops["reveal"].Count + res.Ops["recheck"].Count; res.All.Count != plain {
		t.Errorf("the profile's figures count %d requests, its own users made %d: the flood leaked in", res.All.Count, plain)
	}
}

// realServer is readonce on loopback over the embedded store.
func realServer(t *testing.T) string {
	store, err := cache.Open(cache.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]byte("a-bench-test-server-key-of-32-bytes-or-more"))
	if err == nil {
		sealer, err = sealer.WithKDF(seal.KDF{Time: 1, MemoryKiB: 64, Lanes: 1})
	}
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := server.New(server.Config{PublicURL: base, MaxContentBytes: 1024, MaxFileBytes: 1 << 20, DefaultTTLHours: 1, MaxTTLHours: 24,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}, store, sealer)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		store.Close()
	})
	return base
}
