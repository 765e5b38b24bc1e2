//go:build integration

package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readonce/readonce/internal/apitest"
	"github.com/readonce/readonce/internal/redistest"
)

func TestIntegrationCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	for _, ap := range []string{"false", "true"} {
		t.Run("autopipeline="+ap, func(t *testing.T) {
			s := &faultSuite{}
			_, c := startOn(t, s, cluster.URL(), "REDIS_MODE", "cluster", "REDIS_AUTOPIPELINE", ap, "REDIS_TIMEOUT", "2s")
			if r := c.do("GET", "/ready", ""); r.Status != 200 {
				t.Fatalf("/ready on a noeviction cluster: %d %v", r.Status, r.body)
			}
			// A claimed secret leaves a tombstone for a few seconds (re-send
			// safety): let the last subtest's expire, so counts below are
			// this subtest's secrets alone.
			apitest.WaitFor(t, 15*time.Second, "the previous claims' tombstones to expire", func() bool {
				for _, n := range dbsizes(t, cluster.Nodes) {
					if n != 0 {
						return false
					}
				}
				return true
			})
			before := dbsizes(t, cluster.Nodes)
			keys := map[string]string{}
			for i := range 60 {
				content := fmt.Sprintf("cluster-secret-%d-%d", i, time.Now().UnixNano())
				r := c.create(content)
				if r.Status != 201 {
					t.Fatalf("create %d: %d %v", i, r.Status, r.body)
				}
				keys[r.body.String(t, "access_key")] = content
			}
			after := dbsizes(t, cluster.Nodes)
			for i := range after {
				if after[i] <= before[i] {
					t.Errorf("node %d got no secrets (%d → %d): keys are not spread over slots", i, before[i], after[i])
				}
			}
			for key, content := range keys {
				if r := c.reveal(key); r.Status != 200 || r.body["content"] != content {
					t.Fatalf("reveal across slots: %d %v", r.Status, r.body)
				}
				if r := c.reveal(key); r.Status != 404 {
					t.Fatalf("second reveal: %d", r.Status)
				}
			}
			raceReveals(t, c, 200)
		})
	}
	// Last: receipts outlive their secrets (retention), so the key counts
	// above would no longer start from zero.
	t.Run("receipts", func(t *testing.T) {
		s := &faultSuite{}
		_, c := startOn(t, s, cluster.URL(), "REDIS_MODE", "cluster", "REDIS_TIMEOUT", "2s", "RATE_LIMIT_PASSPHRASE_PER_MINUTE", "0", "PASSPHRASE_QUEUE_WAIT", "30s")
		receiptsAcrossSlots(t, c, 20)
		passphrasesAcrossSlots(t, c, 10)
	})
}

// passphrasesAcrossSlots: protected secrets over the cluster's slots. A
// wrong guess counts in the secret's slot ({L}:attempts), the last one
// destroys blob and count and burns the receipt in one script; a CROSSSLOT
// error would be a 503.
func passphrasesAcrossSlots(t *testing.T, c *client, n int) {
	t.Helper()
	for i := range n {
		r := c.do("POST", "/api/v1/secrets/", fmt.Sprintf(`{"content":"protected-%d","passphrase":"pw-%d","receipt":true}`, i, i))
		if r.Status != 201 {
			t.Fatalf("create with a passphrase on a cluster: %d %v", r.Status, r.body)
		}
		key, token := r.body.String(t, "access_key"), r.body.String(t, "receipt_token")
		c.s.remember(key)
		c.s.remember(token)
		guess := func(p string) result { return c.do("POST", "/api/v1/secrets/"+key+"/reveal", `{"passphrase":"`+p+`"}`) }
		if got := guess("wrong"); got.Status != 403 || got.body["attempts_left"] != float64(4) {
			t.Fatalf("a wrong guess on a cluster: %d %v", got.Status, got.body)
		}
		want := "revealed"
		if i%2 == 0 {
			if got := guess(fmt.Sprintf("pw-%d", i)); got.Status != 200 || got.body["content"] != fmt.Sprintf("protected-%d", i) {
				t.Fatalf("the right passphrase on a cluster: %d %v", got.Status, got.body)
			}
		} else {
			want = "burned"
			for left := 3; left >= 0; left-- {
				if got := guess("wrong"); got.Status != 403 || got.body["attempts_left"] != float64(left) {
					t.Fatalf("wrong guess on a cluster: %d %v, want %d left", got.Status, got.body, left)
				}
			}
		}
		if got := c.do("GET", "/api/v1/receipts/"+token, ""); got.body["state"] != want {
			t.Fatalf("receipt of a protected secret on a cluster: %d %v, want %s", got.Status, got.body, want)
		}
	}
}

// receiptsAcrossSlots: secrets with receipts, spread over the cluster's
// slots, revealed or burned through their receipts. The claim moves the
// secret and its receipt in one script (their keys share a hash slot), so
// a CROSSSLOT error here would be a 503.
func receiptsAcrossSlots(t *testing.T, c *client, n int) {
	t.Helper()
	for i := range n {
		r := c.do("POST", "/api/v1/secrets/", fmt.Sprintf(`{"content":"receipted-%d","receipt":true}`, i))
		if r.Status != 201 {
			t.Fatalf("create with a receipt on a cluster: %d %v", r.Status, r.body)
		}
		key, token := r.body.String(t, "access_key"), r.body.String(t, "receipt_token")
		c.s.remember(key)
		c.s.remember(token)
		want := "revealed"
		if i%2 == 0 {
			if got := c.reveal(key); got.Status != 200 {
				t.Fatalf("reveal of a receipted secret on a cluster: %d %v", got.Status, got.body)
			}
		} else {
			want = "burned"
			if got := c.do("DELETE", "/api/v1/receipts/"+token, ""); got.Status != 200 {
				t.Fatalf("burn through a receipt on a cluster: %d %v", got.Status, got.body)
			}
		}
		if got := c.do("GET", "/api/v1/receipts/"+token, ""); got.Status != 200 || got.body["state"] != want {
			t.Fatalf("receipt on a cluster: %d %v, want %s", got.Status, got.body, want)
		}
	}
}

func dbsizes(t *testing.T, nodes []*redistest.Server) []int {
	t.Helper()
	var out []int
	for _, n := range nodes {
		reply, err := n.Do("DBSIZE")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.Atoi(strings.TrimPrefix(reply, ":"))
		out = append(out, v)
	}
	return out
}

// raceReveals: n concurrent reveals of one key, exactly one 200.
func raceReveals(t *testing.T, c *client, n int) {
	t.Helper()
	key := c.create("raced for").body.String(t, "access_key")
	apitest.ExactlyOne(t, n, func() int { return c.reveal(key).Status })
}

func TestIntegrationSentinelFailover(t *testing.T) {
	sent := redistest.StartSentinels(t)
	s := &faultSuite{}
	_, c := startOn(t, s, sent.URL(), "REDIS_MODE", "sentinel", "REDIS_MIN_REPLICAS_ACK", "1", "REDIS_TIMEOUT", "1s")
	r := c.create("through sentinel")
	if r.Status != 201 {
		t.Fatalf("create through sentinel: %d %v", r.Status, r.body)
	}
	if got := c.reveal(r.body.String(t, "access_key")); got.Status != 200 || got.body["content"] != "through sentinel" {
		t.Fatalf("reveal through sentinel: %d %v", got.Status, got.body)
	}
	oldMaster, _ := sent.MasterAddr()

	// A bounded create+reveal load with a failover in the middle.
	var revealedTwice, lost, otherStatus, ok200, unavailable, last503, pendingAfterReveal atomic.Int64
	var revealedMu sync.Mutex
	var revealedTokens []string
	note503 := func() {
		unavailable.Add(1)
		last503.Store(time.Now().UnixNano())
	}
	stop := time.Now().Add(8 * time.Second)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				content := fmt.Sprintf("failover-%d-%d-%d", w, i, time.Now().UnixNano())
				c.s.remember(content)
				r := c.do("POST", "/api/v1/secrets/", `{"content":"`+content+`","receipt":true}`)
				switch {
				case r.Status == 503:
					note503()
					continue
				case r.Status != 201:
					otherStatus.Add(1)
					continue
				}
				key, token := r.body.String(t, "access_key"), r.body.String(t, "receipt_token")
				c.s.remember(key)
				c.s.remember(token)
				first := c.reveal(key)
				retried := false
				for first.Status == 503 && time.Now().Before(stop.Add(10*time.Second)) {
					note503()
					retried = true
					time.Sleep(100 * time.Millisecond)
					first = c.reveal(key)
				}
				switch {
				case first.Status == 200 && first.body["content"] == content:
					ok200.Add(1)
					// The claim moved the receipt in the same step: it can
					// never read pending now, failover or not.
					if rc := c.do("GET", "/api/v1/receipts/"+token, ""); rc.Status == 200 && rc.body["state"] != "revealed" {
						pendingAfterReveal.Add(1)
					}
					revealedMu.Lock()
					revealedTokens = append(revealedTokens, token)
					revealedMu.Unlock()
				case first.Status == 404 && retried:
					// The 503 was an unknown outcome: that attempt may have
					// taken the secret (unshown). Gone is the safe answer.
					continue
				case first.Status == 404:
					lost.Add(1) // acknowledged by a replica, never revealed, yet gone
					continue
				default:
					otherStatus.Add(1)
					continue
				}
				if again := c.reveal(key); again.Status == 200 {
					revealedTwice.Add(1)
				}
			}
		})
	}
	// Fail over once the load is well under way.
	apitest.Eventually(time.Until(stop), func() bool { return ok200.Load() >= 200 })
	if reply, err := sent.Sentinels[1].Do("SENTINEL", "FAILOVER", sent.MasterName); err != nil || reply != "+OK" {
		t.Fatalf("SENTINEL FAILOVER: %q %v", reply, err)
	}
	switched := time.Now()
	wg.Wait()

	newMaster, _ := sent.MasterAddr()
	if newMaster == oldMaster {
		t.Fatalf("no failover happened (master still %s)", newMaster)
	}
	window := time.Duration(0)
	if l := last503.Load(); l > 0 {
		window = time.Unix(0, l).Sub(switched)
	}
	t.Logf("failover %s → %s; %d pairs revealed once; %d 503s, the last %v after SENTINEL FAILOVER",
		oldMaster, newMaster, ok200.Load(), unavailable.Load(), window.Round(100*time.Millisecond))
	if window > 10*time.Second {
		t.Errorf("503s went on for %v after the failover, want a few seconds", window)
	}
	if revealedTwice.Load() != 0 {
		t.Errorf("%d secrets were revealed twice across the failover", revealedTwice.Load())
	}
	// After the failover, on the new master: every revealed secret's
	// receipt says revealed.
	for _, token := range revealedTokens {
		var rc result
		apitest.Eventually(5*time.Second, func() bool { // 503s while replicas catch up are not answers
			rc = c.do("GET", "/api/v1/receipts/"+token, "")
			return rc.Status != 503
		})
		if rc.Status != 200 || rc.body["state"] != "revealed" {
			pendingAfterReveal.Add(1)
			t.Errorf("after the failover, a revealed secret's receipt: %d %v", rc.Status, rc.body)
			break
		}
	}
	if n := pendingAfterReveal.Load(); n != 0 {
		t.Errorf("%d receipts did not say revealed for a secret already revealed", n)
	}
	t.Logf("%d receipts of revealed secrets checked after the failover", len(revealedTokens))
	if lost.Load() != 0 || otherStatus.Load() != 0 {
		t.Errorf("%d acknowledged secrets lost, %d answers other than 201/200/404/503", lost.Load(), otherStatus.Load())
	}
	if ok200.Load() < 20 {
		t.Errorf("only %d pairs completed: the load proved little", ok200.Load())
	}
	// Serving now, without a restart.
	apitest.WaitFor(t, 20*time.Second-time.Since(switched), "a create and reveal to work after the failover", func() bool {
		r := c.create("after the failover")
		return r.Status == 201 && c.reveal(r.body.Str("access_key")).Status == 200
	})
}

// With REDIS_MIN_REPLICAS_ACK=1 and the replica frozen, nothing is
// acknowledged: creates answer 503, and a reveal fails closed (503, the
// content not shown) rather than risk a failover bringing it back.
func TestIntegrationReplicaAckFrozenReplica(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	apitest.WaitFor(t, 10*time.Second, "the replica to sync", func() bool {
		info, _ := replica.Info("INFO", "replication")
		return strings.Contains(info, "master_link_status:up")
	})
	s := &faultSuite{}
	_, c := startOn(t, s, master.URL(), "REDIS_MIN_REPLICAS_ACK", "1", "REDIS_TIMEOUT", "1s")
	kept := c.create("shown only if replicated")
	if kept.Status != 201 {
		t.Fatalf("create with a live replica: %d %v", kept.Status, kept.body)
	}

	replica.Pause()
	defer replica.Resume()
	if r := c.create("not replicated"); r.Status != 503 {
		t.Errorf("create with the replica frozen: %d, want 503", r.Status)
	}
	r := c.reveal(kept.body.String(t, "access_key"))
	if r.Status != 503 || r.body["content"] != nil {
		t.Errorf("reveal with the replica frozen: %d %v, want 503 without content", r.Status, r.body)
	}
	if r.Took > 3*time.Second {
		t.Errorf("an unacknowledged reveal took %v", r.Took)
	}
	replica.Resume()
	if r := c.create("replicated again"); r.Status != 201 {
		t.Errorf("create after the replica thawed: %d", r.Status)
	}
}

func TestIntegrationEvictionGuard(t *testing.T) {
	lru := redistest.Start(t, "--maxmemory-policy", "volatile-lru")
	s := &faultSuite{}
	_, c := startOn(t, s, lru.URL())
	r := c.do("GET", "/ready", "")
	if detail := r.body.Str("detail"); r.Status != 503 || !strings.Contains(detail, "volatile-lru") {
		t.Errorf("/ready on volatile-lru: %d %q, want 503 naming the policy", r.Status, detail)
	}
	if r := c.create("into an evicting Redis"); r.Status != 503 || !strings.Contains(r.body.Str("detail"), "volatile-lru") {
		t.Errorf("create on volatile-lru: %d %v, want 503 naming the policy (a 201 here is a link that may 404)", r.Status, r.body)
	}

	// A policy switched under a running server: creates stop within
	// seconds, reveals of what is stored go on, and creates come back
	// with noeviction.
	good := redistest.Start(t)
	_, cg := startOn(t, s, good.URL())
	kept := cg.create("stored before the switch").body.String(t, "access_key")
	if reply, err := good.Do("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"); err != nil || reply != "+OK" {
		t.Fatalf("CONFIG SET: %q %v", reply, err)
	}
	apitest.WaitFor(t, 10*time.Second, "creates to be refused under allkeys-lru", func() bool {
		return cg.create("probe").Status == 503
	})
	if r := cg.reveal(kept); r.Status != 200 {
		t.Errorf("reveal under an evicting policy: %d, want 200", r.Status)
	}
	good.Do("CONFIG", "SET", "maxmemory-policy", "noeviction")
	apitest.WaitFor(t, 10*time.Second, "creates to come back under noeviction", func() bool {
		return cg.create("probe").Status == 201
	})

	_, c2 := startOn(t, s, lru.URL(), "REDIS_SKIP_POLICY_CHECK", "true")
	if r := c2.do("GET", "/ready", ""); r.Status != 200 {
		t.Errorf("/ready with the check skipped: %d", r.Status)
	}

	// Full Redis (noeviction): creates 503 "storage full", reveals still work.
	full := redistest.Start(t)
	_, c3 := startOn(t, s, full.URL())
	var keys []string
	for i := range 20 {
		r := c3.create(fmt.Sprintf("before-full-%d", i))
		keys = append(keys, r.body.String(t, "access_key"))
	}
	info, _ := full.Info("INFO", "memory")
	var used int
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			used, _ = strconv.Atoi(v)
		}
	}
	if reply, err := full.Do("CONFIG", "SET", "maxmemory", strconv.Itoa(used)); err != nil || reply != "+OK" {
		t.Fatalf("CONFIG SET maxmemory: %q %v", reply, err)
	}
	big := strings.Repeat("x", 60000)
	var sawFull bool
	for range 50 {
		r := c3.create(big)
		if r.Status == 503 && r.body["detail"] == "storage full" {
			sawFull = true
			break
		}
	}
	if !sawFull {
		t.Fatal("a full Redis never answered 503 storage full")
	}
	for i, k := range keys {
		if r := c3.reveal(k); r.Status != 200 || r.body["content"] != fmt.Sprintf("before-full-%d", i) {
			t.Fatalf("reveal with Redis full: %d %v, want 200", r.Status, r.body)
		}
	}
}
