package main

import (
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/alicebob/miniredis/v2"

	"github.com/readonce/readonce/internal/oidctest"
)

// OIDC through the real program: a CI's ID token creates, its sub is the
// receipt's created_by; a token for another audience, or without the
// required claim, is a 401 and stores nothing; the issuer down, a known
// key still verifies and a new one is a 503.
func TestOIDCCreators(t *testing.T) {
	is := oidctest.Start(t)
	key := is.Key("k1", jose.RS256, true)
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey, "REQUIRE_AUTH": "true",
		"AUTH_OIDC_ISSUER": is.URL(), "AUTH_OIDC_AUDIENCE": "readonce", "AUTH_OIDC_REQUIRED_CLAIMS": "repository_owner=acme"})
	create := func(tok string) (int, string) {
		r := p.api.Do(t, "POST", "/api/v1/secrets/", `{"content":"from CI","receipt":true}`, "Authorization", "Bearer "+tok)
		return r.Status, r.TryJSON().Str("receipt_token")
	}
	status, receipt := create(is.Sign(key, is.Claims(nil)))
	if status != 201 {
		t.Fatalf("a valid ID token: %d", status)
	}
	if r := p.api.Do(t, "GET", "/api/v1/receipts/"+receipt, ""); r.TryJSON().Str("created_by") != "repo:acme/app:ref:refs/heads/main" {
		t.Errorf("the receipt: %s, want created_by the token's sub", r.Body)
	}
	before := len(m.Keys())
	for name, claims := range map[string]map[string]any{
		"another audience":  {"aud": "someone-else"},
		"another owner":     {"repository_owner": "evil-corp"},
		"no required claim": {"repository_owner": nil},
		"another issuer":    {"iss": "https://token.actions.githubusercontent.com"},
	} {
		if status, _ := create(is.Sign(key, is.Claims(claims))); status != 401 {
			t.Errorf("%s: %d, want 401", name, status)
		}
	}
	if n := len(m.Keys()); n != before {
		t.Errorf("refused tokens stored %d keys", n-before)
	}
	is.SetDown(true)
	if status, _ := create(is.Sign(key, is.Claims(nil))); status != 201 {
		t.Errorf("a known key while the issuer is down: %d, want 201", status)
	}
	fresh := is.Key("k2", jose.RS256, true)
	if status, _ := create(is.Sign(fresh, is.Claims(nil))); status != 503 {
		t.Errorf("a new key while the issuer is down: %d, want 503", status)
	}
	if strings.Contains(p.logs.String(), "eyJ") {
		t.Error("a log holds a token")
	}
}
