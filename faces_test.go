package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/readonce/readonce/internal/apitest"
)

// PUBLIC_LISTEN_REVEAL_ONLY: PORT serves what a recipient needs, health
// and docs; creating, receipts, the create page and /metrics answer only
// on CREATE_LISTEN_ADDR, and are the usual JSON 404 on PORT.
func TestRevealOnlyFace(t *testing.T) {
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey,
		"PUBLIC_LISTEN_REVEAL_ONLY": "true", "CREATE_LISTEN_ADDR": "127.0.0.1:0"})
	var internalAddr string
	for _, line := range p.logs.Lines() {
		var rec struct {
			Msg        string
			CreateAddr string `json:"create_addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "readonce listening" {
			internalAddr = rec.CreateAddr
		}
	}
	if internalAddr == "" || internalAddr == p.addr {
		t.Fatalf("no internal listener logged (%q)", internalAddr)
	}
	public, internal := p.api, apitest.New("http://"+internalAddr, nil)

	notFound := func(what string, r *apitest.Response) {
		t.Helper()
		if r.Status != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("public %s: %d %q, want a JSON 404", what, r.Status, r.Header.Get("Content-Type"))
		}
	}
	notFound("create", public.Do(t, "POST", "/api/v1/secrets/", `{"content":"x"}`))
	notFound("create without the slash", public.Do(t, "POST", "/api/v1/secrets", `{"content":"x"}`))
	notFound("create page", public.Do(t, "GET", "/", ""))
	notFound("receipt page", public.Do(t, "GET", "/r", ""))
	notFound("metrics", public.Do(t, "GET", "/metrics", ""))

	r := internal.Do(t, "POST", "/api/v1/secrets/", `{"content":"made inside","receipt":true}`)
	if r.Status != 201 {
		t.Fatalf("internal create: %d %s", r.Status, r.Body)
	}
	key, token := r.TryJSON().Str("access_key"), r.TryJSON().Str("receipt_token")
	notFound("receipt", public.Do(t, "GET", "/api/v1/receipts/"+token, ""))
	notFound("burn by receipt", public.Do(t, "DELETE", "/api/v1/receipts/"+token, ""))
	if r := public.Do(t, "GET", "/api/v1/secrets/"+key, ""); r.Status != 200 || r.TryJSON().Str("content") != "made inside" {
		t.Errorf("public reveal: %d %s", r.Status, r.Body)
	}
	if r := internal.Do(t, "GET", "/api/v1/receipts/"+token, ""); r.Status != 200 || r.TryJSON().Str("state") != "revealed" {
		t.Errorf("internal receipt: %d %s", r.Status, r.Body)
	}
	key = internal.Create(t, "burned unread")
	if r := public.Do(t, "DELETE", "/api/v1/secrets/"+key, ""); r.Status != 204 {
		t.Errorf("public burn unread: %d", r.Status)
	}
	if r := public.Do(t, "GET", "/ready", ""); r.Status == 404 { // miniredis fails the policy check: 503, but routed
		t.Errorf("public /ready: 404, want it served")
	}
	for _, path := range []string{"/s", "/health", "/openapi.json", "/docs", "/redoc", "/static/reveal.js", "/static/e2e.js"} {
		if r := public.Do(t, "GET", path, ""); r.Status != 200 {
			t.Errorf("public %s: %d, want 200", path, r.Status)
		}
	}
	for _, path := range []string{"/", "/r", "/s", "/metrics", "/health"} {
		if r := internal.Do(t, "GET", path, ""); r.Status != 200 {
			t.Errorf("internal %s: %d, want 200", path, r.Status)
		}
	}
	// The public share page links to no create page it does not serve.
	if body := string(public.Do(t, "GET", "/s", "").Body); strings.Contains(body, `href="/"`) {
		t.Error("the public share page links to the create page, a 404 there")
	}
	if body := string(internal.Do(t, "GET", "/s", "").Body); !strings.Contains(body, `href="/"`) {
		t.Error("the internal share page lost its link to the create page")
	}
}
