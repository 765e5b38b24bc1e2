//go:build integration

package main

import (
	"strings"
	"testing"

	"github.com/readonce/readonce/internal/redistest"
)

// TestIntegrationPassphraseSurvivesWrongKey: the whole program on a real
// redis-server, restarted with the wrong SECRET_KEY and back: the wrong
// key answers 503 to the right passphrase, a wrong one and a GET, and
// spends no attempt; back on the right key all five are left and the
// passphrase opens it. Default Argon2id cost, as deployed.
func TestIntegrationPassphraseSurvivesWrongKey(t *testing.T) {
	redis := redistest.Start(t)
	env := func(key string) map[string]string {
		// A long wait at the Argon2id gate: under the race detector each run
		// takes ~4× longer and its slot cools as long again.
		return map[string]string{"REDIS_URL": redis.URL(), "SECRET_KEY": key, "PASSPHRASE_QUEUE_WAIT": "30s"}
	}
	right := start(t, env(strongKey))
	r := right.api.Do(t, "POST", "/api/v1/secrets/", `{"content":"behind two factors","passphrase":"by phone"}`)
	if r.Status != 201 || r.TryJSON()["passphrase_required"] != true {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	key := r.TryJSON().Str("access_key")
	restart(right)

	wrong := start(t, env("0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"))
	for _, body := range []string{`{"passphrase":"by phone"}`, `{"passphrase":"by fax"}`} {
		if r := wrong.api.Do(t, "POST", "/api/v1/secrets/"+key+"/reveal", body); r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Errorf("the wrong SECRET_KEY, %s: %d %s, want 503", body, r.Status, r.Body)
		}
	}
	if r := wrong.api.Do(t, "GET", "/api/v1/secrets/"+key, ""); r.Status != 503 {
		t.Errorf("the wrong SECRET_KEY, GET: %d %s, want 503", r.Status, r.Body)
	}
	restart(wrong)

	again := start(t, env(strongKey))
	if r := again.api.Do(t, "GET", "/api/v1/secrets/"+key, ""); r.Status != 403 || r.TryJSON()["attempts_left"] != float64(5) {
		t.Fatalf("back on the right key: %d %s, want 403 with 5 attempts left", r.Status, r.Body)
	}
	if r := again.api.Do(t, "POST", "/api/v1/secrets/"+key+"/reveal", `{"passphrase":"by phone"}`); r.Status != 200 || r.TryJSON().Str("content") != "behind two factors" {
		t.Errorf("the right passphrase on the right key: %d %s", r.Status, r.Body)
	}
	for _, p := range []*program{right, wrong, again} {
		for _, s := range []string{"by phone", "by fax", "behind two factors", key} {
			if strings.Contains(p.logs.String(), s) {
				t.Errorf("a log holds %q", s)
			}
		}
	}
}

// restart stops p and waits for it, leaving its result for the cleanup
// that start registered.
func restart(p *program) {
	p.stop()
	err := <-p.done
	p.done <- err
}
