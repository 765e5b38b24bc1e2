package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// tokensRun is `readonce tokens …` as main runs it.
func tokensRun(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), append([]string{"tokens"}, args...), env, &out, &errb)
	return out.String(), errb.String(), err
}

// API tokens end to end: made by the command, printed once, kept only as
// a hash; two replicas accept it; list shows names and dates, never a
// token; a revocation is refused on the next request of both replicas;
// an expired token is refused too.
func TestTokensCommand(t *testing.T) {
	m := miniredis.RunT(t)
	env := func() map[string]string {
		return map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey, "REQUIRE_AUTH": "true"}
	}
	token, note, err := tokensRun(t, env(), "create", "--name", "deploy-bot", "--expires", "90d")
	token = strings.TrimSpace(token)
	if err != nil || !strings.HasPrefix(token, "ro_") || len(token) != 46 || !strings.Contains(note, "shown once") {
		t.Fatalf("tokens create: %q %q %v", token, note, err)
	}
	if _, _, err := tokensRun(t, env(), "create", "--name", "deploy-bot"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second token of one name: %v", err)
	}
	for _, bad := range [][]string{{"create"}, {"create", "--name", "has space"}, {"create", "--name", "x", "--expires", "soon"}, {"revoke"}, {"frobnicate"}} {
		if _, _, err := tokensRun(t, env(), bad...); err == nil {
			t.Errorf("tokens %v: accepted", bad)
		}
	}
	if _, _, err := tokensRun(t, map[string]string{"SECRET_KEY": strongKey}, "list"); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("tokens without REDIS_URL: %v", err)
	}
	for _, k := range m.Keys() {
		if v, err := m.Get(k); err == nil && strings.Contains(v, token) || strings.Contains(k, token) || strings.Contains(m.Dump(), token[3:]) {
			t.Fatal("Redis holds the token itself")
		}
	}

	one, two := start(t, env()), start(t, env())
	for i, p := range []*program{one, two} {
		if r := p.api.Do(t, "POST", "/api/v1/secrets/", `{"content":"x"}`, "Authorization", "Bearer "+token); r.Status != 201 {
			t.Fatalf("replica %d with the token: %d %s", i+1, r.Status, r.Body)
		}
	}
	list, _, err := tokensRun(t, env(), "list")
	if err != nil || !strings.Contains(list, "deploy-bot") || strings.Contains(list, token[3:13]) || strings.Count(list, "\n") != 2 {
		t.Fatalf("tokens list: %q %v", list, err)
	}
	if cols := strings.Fields(strings.Split(list, "\n")[1]); len(cols) != 4 || cols[2] == "never" || cols[3] == "never" {
		t.Errorf("the list's line %q: want name, created, an expiry and a last use", cols)
	}

	out, _, err := tokensRun(t, env(), "revoke", "deploy-bot")
	if err != nil || !strings.Contains(out, "revoked deploy-bot") {
		t.Fatalf("tokens revoke: %q %v", out, err)
	}
	for i, p := range []*program{one, two} {
		if r := p.api.Do(t, "POST", "/api/v1/secrets/", `{"content":"x"}`, "Authorization", "Bearer "+token); r.Status != 401 {
			t.Errorf("replica %d, the next request after the revocation: %d, want 401", i+1, r.Status)
		}
	}
	if _, _, err := tokensRun(t, env(), "revoke", "deploy-bot"); err == nil {
		t.Error("revoking it twice succeeded")
	}

	expiring, _, err := tokensRun(t, env(), "create", "--name", "short-lived", "--expires", "1ns")
	if err != nil {
		t.Fatal(err)
	}
	if r := one.api.Do(t, "POST", "/api/v1/secrets/", `{"content":"x"}`, "Authorization", "Bearer "+strings.TrimSpace(expiring)); r.Status != 401 {
		t.Errorf("an expired token: %d, want 401", r.Status)
	}
	if list, _, _ := tokensRun(t, env(), "list"); !strings.Contains(list, "expired") {
		t.Errorf("tokens list does not say expired: %q", list)
	}
	for _, p := range []*program{one, two} {
		if strings.Contains(p.logs.String(), token[3:]) {
			t.Error("a log holds the token")
		}
	}
}
