//go:build integration

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	roclient "github.com/readonce/readonce/client"
	"github.com/readonce/readonce/internal/redistest"
)

// Exactly one reader, through the CLI, on a real redis-server: a dozen
// `readonce get` processes race for each end-to-end secret (plain and
// protected); one prints it, every other exits 3. Redis never holds a
// plaintext or a link's key.
func TestIntegrationCLIOneReader(t *testing.T) {
	redis := redistest.Start(t)
	// One client address for every reader: no per-client passphrase budget.
	base := cliServer(t, "REDIS_URL="+redis.URL(), "SECRET_KEY="+strongKey, "RATE_LIMIT_PASSPHRASE_PER_MINUTE=0")
	env := []string{"READONCE_URL=" + base}
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("by phone\n"), 0o600)
	const readers = 12
	var plaintexts, clientKeys []string
	for round := range 6 {
		content := fmt.Sprintf("round %d: raced for by %d processes", round, readers)
		args := []string{"send"}
		getArgs := []string{"get"}
		if round%2 == 1 {
			args = append(args, "--passphrase-file", pass)
			getArgs = append(getArgs, "--passphrase-file", pass)
		}
		link := strings.TrimSpace(ro(t, env, []byte(content), args...).want(t, "send", 0).stdout)
		_, ck, err := roclient.ParseLink(link)
		if err != nil || ck == "" {
			t.Fatalf("not an end-to-end link: %v", err)
		}
		plaintexts, clientKeys = append(plaintexts, content), append(clientKeys, ck)

		results := make([]ran, readers)
		var wg sync.WaitGroup
		for i := range readers {
			wg.Go(func() { results[i] = ro(t, env, nil, append(getArgs, link)...) })
		}
		wg.Wait()
		won := 0
		for _, r := range results {
			switch {
			case r.code == 0 && r.stdout == content:
				won++
			case r.code == 3 && strings.Contains(r.stderr, "intercepted"):
			default:
				t.Errorf("round %d: a reader exited %d with %q / %q", round, r.code, r.stdout, r.stderr)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d readers got the secret, want exactly 1", round, won)
		}
	}
	dump, err := redistest.Dump(redis.Addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(plaintexts, clientKeys...) {
		if strings.Contains(dump, s) {
			t.Errorf("the Redis dump holds %q", s)
		}
	}
}
