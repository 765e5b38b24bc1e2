package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
	es := is.Key("k-es", jose.ES256, true)
	if status, _ := create(is.Sign(es, is.Claims(nil))); status != 201 {
		t.Errorf("a valid ES256 ID token: %d", status)
	}
	stranger := is.Key("k1", jose.RS256, false) // k1's id, a key never published
	before := len(m.Keys())
	for name, tok := range map[string]string{
		"wrong aud":              is.Sign(key, is.Claims(map[string]any{"aud": "someone-else"})),
		"wrong iss":              is.Sign(key, is.Claims(map[string]any{"iss": "https://token.actions.githubusercontent.com"})),
		"expired":                is.Sign(key, is.Claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})),
		"nbf ahead":              is.Sign(key, is.Claims(map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()})),
		"unknown key":            is.Sign(stranger, is.Claims(nil)),
		"alg none":               is.Unsigned("k1", is.Claims(nil)),
		"HS256 with the pub key": is.KeyConfused(key, is.Claims(nil)),
		"missing required claim": is.Sign(key, is.Claims(map[string]any{"repository_owner": nil})),
		"another owner":          is.Sign(key, is.Claims(map[string]any{"repository_owner": "evil-corp"})),
	} {
		if status, _ := create(tok); status != 401 {
			t.Errorf("%s: %d, want 401", name, status)
		}
	}
	if n := len(m.Keys()); n != before {
		t.Errorf("refused tokens stored %d keys", n-before)
	}

	// The other methods, on the same server: an API token and the v1 JWT.
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"token", "--subject", "ci-jwt"}, map[string]string{"SECRET_KEY": strongKey}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if status, _ := create(strings.TrimSpace(out.String())); status != 201 {
		t.Errorf("a v1 JWT beside OIDC: %d", status)
	}
	apiToken, _, err := tokensRun(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey, "REQUIRE_AUTH": "true"}, "create", "--name", "beside-oidc")
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := create(strings.TrimSpace(apiToken)); status != 201 {
		t.Errorf("an API token beside OIDC: %d", status)
	}
	if metrics := p.api.Do(t, "GET", "/metrics", ""); !strings.Contains(string(metrics.Body), `readonce_secrets_created_by_auth_total{method="oidc"} 2`) {
		t.Error("/metrics does not count the two OIDC creates")
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

// The create page's sign-in, wired from the environment: /auth/login
// sends the browser to the issuer with PKCE, a Lax flow cookie for /auth;
// the redirect URL defaults to PUBLIC_URL/auth/callback.
func TestSignInWiring(t *testing.T) {
	is := oidctest.Start(t)
	is.Key("k1", jose.ES256, true)
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey, "REQUIRE_AUTH": "true",
		"AUTH_OIDC_ISSUER": is.URL(), "AUTH_OIDC_AUDIENCE": "readonce", "AUTH_OIDC_CLIENT_ID": "readonce-web",
		"PUBLIC_URL": "https://secrets.example.com"})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(p.url("/auth/login"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != 302 || !strings.HasPrefix(loc.String(), is.URL()+"/authorize?") || q.Get("client_id") != "readonce-web" ||
		q.Get("redirect_uri") != "https://secrets.example.com/auth/callback" || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("/auth/login: %d → %s", resp.StatusCode, loc)
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"readonce_login=", "HttpOnly", "SameSite=Lax", "Path=/auth", "max-age=600"} {
		if !strings.Contains(strings.ToLower(cookie), strings.ToLower(want)) {
			t.Errorf("the flow cookie %q lacks %s", cookie, want)
		}
	}
	if r := p.api.Do(t, "GET", "/auth/session", ""); r.Status != 200 || !strings.Contains(string(r.Body), `"signed_in":false`) {
		t.Errorf("/auth/session without a cookie: %d %s", r.Status, r.Body)
	}
}
