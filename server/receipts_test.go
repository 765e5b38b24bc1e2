package server_test

import (
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readonce/readonce/internal/redistest"
)

func receiptSuite(t *testing.T, be backend) {
	t.Run("receipts: pending, revealed, and never a key for the other", func(t *testing.T) { testReceiptReveal(t, startApp(t, be)) })
	t.Run("receipts: burning", func(t *testing.T) { testReceiptBurn(t, startApp(t, be)) })
	t.Run("receipts: expiry", func(t *testing.T) { testReceiptExpiry(t, startApp(t, be)) })
	t.Run("receipts: bad input", func(t *testing.T) { testReceiptBadInput(t, startApp(t, be)) })
	t.Run("receipts: 10 reveals and 10 receipt burns racing, the receipt names the winner", func(t *testing.T) {
		receiptRace(t, startApp(t, be), 10, 10)
	})
	t.Run("receipts: a dump holds no key, token or content", func(t *testing.T) { testReceiptDump(t, startApp(t, be)) })
}

func TestReceipts(t *testing.T) { receiptSuite(t, miniBackend(t)) }

func testReceiptReveal(t *testing.T, a *app) {
	if body := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`).JSON(t); body["receipt_token"] != nil || body["receipt_url"] != nil {
		t.Errorf("a create without a receipt got one: %v", body)
	}
	r := a.do("POST", "/api/v1/secrets/", `{"content":"watched","receipt":true}`)
	body := r.JSON(t)
	key, token := body.String(t, "access_key"), body.String(t, "receipt_token")
	if len(token) != 43 || token == key || strings.Contains(key, token[:10]) {
		t.Fatalf("receipt token %q beside access key %q", token, key)
	}
	if got := body.String(t, "receipt_url"); got != publicURL+"/api/v1/receipts/"+token {
		t.Errorf("receipt_url %q", got)
	}
	rec := a.do("GET", "/api/v1/receipts/"+token, "")
	got := rec.JSON(t)
	if rec.Status != 200 || got["state"] != "pending" || got["revealed_at"] != nil || got["burned_at"] != nil || got["created_by"] != nil ||
		got["expires_at"] != body["expires_at"] {
		t.Fatalf("fresh receipt: %d %s", rec.Status, rec.Body)
	}
	if r := a.do("GET", "/api/v1/secrets/"+token, ""); r.Status != 404 {
		t.Errorf("the receipt token revealed something: %d %s", r.Status, r.Body)
	}
	if r := a.do("GET", "/api/v1/receipts/"+key, ""); r.Status != 404 || r.JSON(t)["detail"] != "Receipt not found" {
		t.Errorf("the access key read a receipt: %d %s", r.Status, r.Body)
	}
	for range 3 { // reading never consumes
		a.do("GET", "/api/v1/receipts/"+token, "")
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 200 || r.JSON(t)["content"] != "watched" {
		t.Fatalf("reveal after the receipt reads: %d %s", r.Status, r.Body)
	}
	got = a.do("GET", "/api/v1/receipts/"+token, "").JSON(t)
	if got["state"] != "revealed" || got["revealed_at"] == nil || got["burned_at"] != nil {
		t.Errorf("after the reveal: %v", got)
	}
	if at, err := time.Parse(time.RFC3339Nano, got.String(t, "revealed_at")); err != nil || time.Since(at) > time.Minute || time.Until(at) > time.Minute {
		t.Errorf("revealed_at %v (%v): want about now", got["revealed_at"], err)
	}
	if r := a.do("DELETE", "/api/v1/receipts/"+token, ""); r.Status != 409 || r.JSON(t)["state"] != "revealed" {
		t.Errorf("burning a revealed secret's receipt: %d %s, want 409 with the receipt", r.Status, r.Body)
	}
	if logs := a.logs.String(); strings.Contains(logs, token) || strings.Contains(logs, token[:16]) || !strings.Contains(logs, "/api/v1/receipts/{receipt_token}") {
		t.Errorf("the log holds the receipt token, or no receipt route line")
	}
}

func testReceiptBurn(t *testing.T, a *app) {
	key, token := a.createWithReceipt("taken back")
	if r := a.do("DELETE", "/api/v1/receipts/"+token, `{}`); r.Status != 400 {
		t.Errorf("DELETE with a body: %d, want 400", r.Status)
	}
	for i := range 2 { // idempotent
		r := a.do("DELETE", "/api/v1/receipts/"+token, "")
		if got := r.JSON(t); r.Status != 200 || got["state"] != "burned" || got["burned_at"] == nil || got["revealed_at"] != nil {
			t.Fatalf("receipt burn %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 404 || strings.Contains(string(r.Body), "taken back") {
		t.Errorf("reveal after the receipt burn: %d %s", r.Status, r.Body)
	}
	key, token = a.createWithReceipt("burnt by key")
	if r := a.do("DELETE", "/api/v1/secrets/"+key, ""); r.Status != 204 {
		t.Fatalf("burn by access key: %d", r.Status)
	}
	if got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t); got["state"] != "burned" || got["burned_at"] == nil {
		t.Errorf("the receipt after a burn by access key: %v", got)
	}
	if r := a.do("DELETE", "/api/v1/receipts/"+token, ""); r.Status != 200 || r.JSON(t)["state"] != "burned" {
		t.Errorf("a receipt burn after a burn by access key: %d %s, want 200 burned", r.Status, r.Body)
	}
}

func testReceiptExpiry(t *testing.T, a *app) {
	r := a.do("POST", "/api/v1/secrets/", `{"content":"x","ttl_seconds":60,"receipt":true}`)
	token := r.JSON(t).String(t, "receipt_token")
	a.clock.advance(61 * time.Second) // the server's clock: the receipt reads expired at once
	if got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t); got["state"] != "expired" {
		t.Errorf("a minute later: %v, want expired", got)
	}
	if r := a.do("DELETE", "/api/v1/receipts/"+token, ""); r.Status != 409 || r.JSON(t)["state"] != "expired" {
		t.Errorf("burning an expired secret's receipt: %d %s, want 409 expired", r.Status, r.Body)
	}
	if a.be.mr == nil {
		return // a real redis-server's clock cannot be moved; the TTLs are checked in cache/
	}
	// Redis forgets the receipt RECEIPT_RETENTION_HOURS after the secret's expiry.
	a.be.mr.FastForward(time.Minute + 167*time.Hour)
	if r := a.do("GET", "/api/v1/receipts/"+token, ""); r.Status != 200 {
		t.Errorf("within the retention: %d, want the receipt", r.Status)
	}
	a.be.mr.FastForward(time.Hour + time.Second)
	if r := a.do("GET", "/api/v1/receipts/"+token, ""); r.Status != 404 {
		t.Errorf("past the retention: %d %s, want 404", r.Status, r.Body)
	}
}

func testReceiptBadInput(t *testing.T, a *app) {
	before := a.be.dbsize(t)
	for _, body := range []string{
		`{"content":"x","receipt":"yes"}`, `{"content":"x","receipt":1}`, `{"content":"x","receipt":null}`,
		`{"content":"x","receipt":[true]}`, `{"content":"x","receipt":true,"receipt":true}`,
	} {
		r := a.do("POST", "/api/v1/secrets/", body)
		if r.Status != 422 || !strings.Contains(string(r.Body), `"receipt"`) {
			t.Errorf("%s: %d %s, want a 422 naming receipt", body, r.Status, r.Body)
		}
	}
	for _, token := range []string{"short", strings.Repeat("A", 43), strings.Repeat("!", 43), strings.Repeat("A", 44)} {
		for _, m := range []string{"GET", "DELETE"} {
			if r := a.do(m, "/api/v1/receipts/"+token, ""); r.Status != 404 || r.JSON(t)["detail"] != "Receipt not found" {
				t.Errorf("%s receipt %q: %d %s, want 404", m, token, r.Status, r.Body)
			}
		}
	}
	if after := a.be.dbsize(t); after > before { // fewer is an earlier test's tombstone expiring
		t.Errorf("bad input stored %d keys", after-before)
	}
}

// receiptRace: on each of rounds secrets, n reveals and n receipt burns at
// once. Exactly one of them wins — a reveal's 200, or the burn the receipt
// then reports — and every answer and the receipt name that winner.
func receiptRace(t *testing.T, a *app, n, rounds int) {
	for round := range rounds {
		key, token := a.createWithReceipt("raced")
		var mu sync.Mutex
		answers := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 * n {
			wg.Go(func() {
				<-start
				var answer string
				if i%2 == 0 {
					answer = "reveal " + strconv.Itoa(a.do("GET", "/api/v1/secrets/"+key, "").Status)
				} else {
					r := a.do("DELETE", "/api/v1/receipts/"+token, "")
					state, _ := r.JSON(t)["state"].(string)
					answer = "burn " + strconv.Itoa(r.Status) + " " + state
				}
				mu.Lock()
				answers[answer]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		state := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t)["state"]
		revealWon := map[string]int{"reveal 200": 1, "reveal 404": n - 1, "burn 409 revealed": n}
		burnWon := map[string]int{"reveal 404": n, "burn 200 burned": n}
		switch {
		case state == "revealed" && maps.Equal(answers, revealWon):
		case state == "burned" && maps.Equal(answers, burnWon):
		default:
			t.Fatalf("round %d: answers %v and the receipt says %v: want one winner, named by all", round, answers, state)
		}
	}
}

// testReceiptDump: after creating with receipts, nothing in Redis holds an
// access key, a receipt token or content.
func testReceiptDump(t *testing.T, a *app) {
	var secrets []string
	for i := range 5 {
		content := "dump-canary-" + strings.Repeat("q", 10) + string(rune('a'+i))
		key, token := a.createWithReceipt(content)
		secrets = append(secrets, content, key, token)
	}
	key, token := a.createWithReceipt("revealed-canary-content")
	a.do("GET", "/api/v1/secrets/"+key, "") // its tombstone and revealed receipt are in the dump too
	secrets = append(secrets, "revealed-canary-content", key, token)
	dump, err := redistest.Dump(a.be.addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(dump) == 0 {
		t.Fatal("the dump is empty")
	}
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("Redis holds %q", s)
		}
	}
}

// HEAD and OPTIONS on a receipt are refused like every method the route
// lacks, and change nothing.
func TestReceiptOtherMethods(t *testing.T) {
	a := startApp(t, miniBackend(t))
	key, token := a.createWithReceipt("untouched")
	for _, m := range []string{"HEAD", "OPTIONS", "PUT", "POST"} {
		if r := a.do(m, "/api/v1/receipts/"+token, ""); r.Status != 405 || r.Header.Get("Allow") != "DELETE, GET" {
			t.Errorf("%s on a receipt: %d, Allow %q", m, r.Status, r.Header.Get("Allow"))
		}
	}
	if got := a.do("GET", "/api/v1/receipts/"+token, "").JSON(t); got["state"] != "pending" {
		t.Errorf("after other methods: %v", got)
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 200 {
		t.Errorf("the secret after other methods on its receipt: %d", r.Status)
	}
}
