//go:build integration

package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/readonce/readonce/client"
	"github.com/readonce/readonce/internal/browsertest"
	"github.com/readonce/readonce/internal/logbuf"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

// sentRequests records, through the DevTools protocol, every request the
// page makes: its URL and its whole body.
type sentRequests struct {
	mu      sync.Mutex
	log     []string // URLs and bodies
	partial int      // requests whose body the event did not carry whole
}

func captureRequests(t *testing.T, b *browsertest.Browser) *sentRequests {
	t.Helper()
	s := &sentRequests{}
	// Listen needs the tab: open it first. Bodies up to 8 MiB come whole
	// with each event (the pages post at most MAX_FILE_BYTES of base64).
	b.Do("open a tab", chromedp.Navigate("about:blank"))
	limit := int64(8 << 20)
	if _, err := chromedp.Call(b.Ctx, network.Enable, network.EnableParams{MaxPostDataSize: &limit}); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Listen(b.Ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.log = append(s.log, e.Request.Method+" "+e.Request.URL)
			for _, p := range e.Request.PostDataEntries {
				s.log = append(s.log, string(p.Bytes))
			}
			if e.Request.HasPostData && len(e.Request.PostDataEntries) == 0 {
				s.partial++
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// all is everything sent so far: URLs and bodies.
func (s *sentRequests) all(t *testing.T) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partial > 0 {
		t.Fatalf("%d requests came without their body: the capture cannot vouch for them", s.partial)
	}
	return strings.Join(s.log, "\n")
}

// End-to-end through the pages: the page opens and writes the shared
// vectors exactly as the Go client does; text, Unicode and a binary file
// go through the create and share pages while the page sends neither
// plaintext nor key, and neither reaches Redis or the log; a tampered
// ciphertext, a wrong key, a damaged key and a missing key each say what
// happened and whether the secret was consumed.
func TestIntegrationEndToEndInBrowser(t *testing.T) {
	be := miniBackend(t)
	logs := &logbuf.Buffer{}
	base := serveTCPOn(t, server.Config{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, be)
	b := browsertest.Start(t)
	pc := pageChecks{t, b}
	audit, eval, waitText := pc.audit, pc.eval, pc.waitText
	sent := captureRequests(t, b)

	// The vectors: every one opens to its secret and encrypts again to the
	// same bytes; every negative one is refused.
	vectors, err := os.ReadFile("../client/e2e/testdata/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	b.Do("open the create page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")))
	results, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`(async () => {
		const vs = JSON.parse(`+strconv.Quote(string(vectors))+`);
		const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
		const hex = s => Uint8Array.from(s.match(/../g), h => parseInt(h, 16));
		const keyBytes = s => bytes(s.replace(/-/g, "+").replace(/_/g, "/") + "=");
		const b64 = u => { let s = ""; for (const c of u) { s += String.fromCharCode(c); } return btoa(s); };
		const out = [];
		for (const v of vs.vectors) {
			const got = await readonceE2E.decrypt(v.key, bytes(v.ciphertext_base64));
			const ok = got !== null && (v.file ? !!got.file && got.file.name === v.file.name && got.file.type === v.file.media_type &&
				b64(got.file.bytes) === v.file.content_base64 : got.text === v.text);
			const secret = v.file ? { file: { name: v.file.name, type: v.file.media_type, bytes: bytes(v.file.content_base64) } } : { text: v.text };
			const again = await readonceE2E.encrypt(secret, keyBytes(v.key), hex(v.nonce));
			const same = b64(again.ciphertext) === v.ciphertext_base64 && again.key === v.key &&
				readonceE2E.ciphertextLength(secret) === again.ciphertext.length;
			out.push(v.name + ": " + (ok ? "opened" : "NOT OPENED") + ", " + (same ? "same bytes" : "OTHER BYTES"));
		}
		for (const n of vs.negative) {
			const got = await readonceE2E.decrypt(n.key, bytes(n.ciphertext_base64));
			out.push(n.name + ": " + (got === null ? "refused" : "OPENED"));
		}
		return out;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var vs struct {
		Vectors, Negative []struct{ Name string }
	}
	json.Unmarshal(vectors, &vs)
	var want []string
	for _, v := range vs.Vectors {
		want = append(want, v.Name+": opened, same bytes")
	}
	for _, n := range vs.Negative {
		want = append(want, n.Name+": refused")
	}
	if strings.Join(results, "\n") != strings.Join(want, "\n") {
		t.Errorf("the page and the vectors disagree:\n%s\nwant\n%s", strings.Join(results, "\n"), strings.Join(want, "\n"))
	}

	// Through the pages: a text, a Unicode text, a binary file.
	create := func(what string, set chromedp.Action[chromedp.Void]) (share string) {
		t.Helper()
		b.Do("create "+what, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
			set, chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#share-url")))
		if eval(`String(document.getElementById("sealed-note").hidden) + document.getElementById("e2e-note").hidden`) != "truefalse" {
			t.Errorf("%s: the page says the server sealed it, or does not say the browser encrypted it", what)
		}
		share, _ = chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
		return share
	}
	reveal := func(what, share, wait string) {
		t.Helper()
		b.Do("reveal "+what, chromedp.Navigate("about:blank"), chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#reveal")),
			chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS(wait)))
	}
	stored := func(share string) bool {
		lookup, _ := seal.LookupKey(accessKeyOf(t, share))
		v, err := be.mr.Get(lookup)
		return err == nil && len(v) > 0 && v[0] != 0
	}
	var plaintexts [][]byte
	var clientKeys []string
	keep := func(share string, plain []byte) {
		_, ck, err := client.ParseLink(share)
		if err != nil || ck == "" {
			t.Fatalf("the page's link is not end-to-end: %v", err)
		}
		clientKeys = append(clientKeys, ck)
		plaintexts = append(plaintexts, plain)
	}

	for _, text := range []string{"plain ascii secret 7f3a", "Grüße, 秘密 🔑 — ½\nline two"} {
		share := create("a text", chromedp.SendKeys(chromedp.CSS("#content"), text))
		keep(share, []byte(text))
		audit("create page: an end-to-end link")
		reveal("a text", share, "#content")
		if got := eval(`document.getElementById("content").value`); got != text {
			t.Errorf("revealed %q, want %q", got, text)
		}
		if stored(share) {
			t.Error("the secret outlived its reveal")
		}
	}

	binary := make([]byte, 0, 512)
	for i := range 512 {
		binary = append(binary, byte(i*37+11))
	}
	path := filepath.Join(t.TempDir(), "sealed name ✓.bin")
	if err := os.WriteFile(path, binary, 0o600); err != nil {
		t.Fatal(err)
	}
	share := create("a binary file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{path}))
	keep(share, binary)
	plaintexts = append(plaintexts, []byte("sealed name"), []byte(base64.StdEncoding.EncodeToString(binary)))
	reveal("a binary file", share, "#download")
	waitText("the revealed file", "file-name", "sealed name ✓.bin — 512 bytes")
	audit("share page: an end-to-end file")
	b.HookDownloads()
	b.Do("download", chromedp.Click(chromedp.CSS("#download")))
	if mediaType, got, err := b.Downloaded(); err != nil || !bytes.Equal(got, binary) || mediaType != "application/octet-stream" {
		t.Errorf("the download held other bytes, or as %q (%v)", mediaType, err)
	}

	// A file of exactly MAX_FILE_BYTES fits end-to-end, padding and all.
	mib := bytes.Repeat([]byte{0xc3, 0x28}, 1<<19)
	mibPath := filepath.Join(t.TempDir(), "one.mib")
	if err := os.WriteFile(mibPath, mib, 0o600); err != nil {
		t.Fatal(err)
	}
	share = create("a 1 MiB file", chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{mibPath}))
	keep(share, []byte(base64.StdEncoding.EncodeToString(mib[:3000])))
	reveal("a 1 MiB file", share, "#download")
	b.HookDownloads()
	b.Do("download 1 MiB", chromedp.Click(chromedp.CSS("#download")))
	if _, got, err := b.Downloaded(); err != nil || !bytes.Equal(got, mib) {
		t.Errorf("the 1 MiB download held other bytes (%v)", err)
	}

	// A name the server would refuse, inside a ciphertext it cannot read:
	// the create page refuses to send one, the share page defuses one.
	b.Do("the create page", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")))
	eval(`(() => { const dt = new DataTransfer(); dt.items.add(new File(["x"], "invoice\u202Efdp.exe", {type: "text/plain"}));
		document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true})); return "ok" })()`)
	waitText("a name with a direction override", "file-info", "direction override")
	api, _ := client.New(base, nil, "")
	made, err := api.CreateFile(context.Background(), client.File{Name: "invoice\u202Efdp.exe", Data: []byte("MZ")}, client.CreateOptions{EndToEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	reveal("a file whose name spoofs its type", made.ShareURL, "#download")
	if got := eval(`document.getElementById("file-name").textContent`); got != "invoice_fdp.exe — 2 bytes" {
		t.Errorf("the share page named it %q, want the override replaced", got)
	}

	// Failures, each saying whether the secret is gone.
	_, otherKey, _ := client.EncryptEndToEnd(client.Secret{Text: "another"})
	share = create("a secret to open with the wrong key", chromedp.SendKeys(chromedp.CSS("#content"), "wrong key target"))
	access, _, _ := client.ParseLink(share)
	b.Do("a damaged key", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/s#"+access+"."+otherKey[:42]), chromedp.WaitReady(chromedp.CSS("#status")))
	waitText("a damaged key", "status", "incomplete")
	waitText("a damaged key", "status", "Nothing was revealed")
	if !stored(share) {
		t.Fatal("a damaged key consumed the secret")
	}
	reveal("with the wrong key", base+"/s#"+access+"."+otherKey, "#status")
	waitText("the wrong key", "status", "could not be decrypted")
	waitText("the wrong key", "status", "destroyed on the server now")
	audit("share page: could not decrypt")
	if stored(share) {
		t.Error("the wrong key's reveal did not consume the secret, yet the page says it did")
	}

	ct, key, _ := client.EncryptEndToEnd(client.Secret{Text: "tampered with"})
	ct[20] ^= 0x10
	tampered := postCiphertext(t, base, ct)
	reveal("a tampered ciphertext", tampered+"."+key, "#status")
	waitText("a tampered ciphertext", "status", "could not be decrypted: the key in the link is wrong, or the data was altered")
	waitText("a tampered ciphertext", "status", "destroyed")

	share = create("a secret whose link lost its key", chromedp.SendKeys(chromedp.CSS("#content"), "no key"))
	keyless := share[:strings.LastIndex(share, ".")]
	reveal("without its key", keyless, "#status")
	waitText("without its key", "status", "lacks its key")
	waitText("without its key", "status", "destroyed")
	if eval(`document.getElementById("secret").hidden + " " + document.getElementById("content").value`) != "true " {
		t.Error("a failed decryption showed something")
	}

	// Nothing the page sent, nothing Redis holds, nothing logged holds a
	// plaintext or a client key.
	wire := sent.all(t)
	if !strings.Contains(wire, "/api/v1/secrets/") || !strings.Contains(wire, client.EndToEndMediaType) {
		t.Fatalf("the capture missed the API calls: %.300s", wire)
	}
	dump := be.mr.Dump()
	for _, k := range be.mr.Keys() {
		if v, err := be.mr.Get(k); err == nil {
			dump += "\n" + v
		}
	}
	for where, seen := range map[string]string{"the page's requests": wire, "Redis": dump, "the server's log": logs.String()} {
		for _, p := range plaintexts {
			if bytes.Contains([]byte(seen), p) {
				t.Errorf("%s hold a plaintext (%.20q…)", where, p)
			}
		}
		for _, k := range clientKeys {
			raw, _ := base64.RawURLEncoding.DecodeString(k)
			if strings.Contains(seen, k) || bytes.Contains([]byte(seen), raw) || strings.Contains(seen, base64.StdEncoding.EncodeToString(raw)[:40]) {
				t.Errorf("%s hold a client key", where)
			}
		}
	}
	if !strings.Contains(logs.String(), "secret") {
		t.Error("the log is empty: the check above proved nothing")
	}
	for _, p := range b.Problems() {
		if !strings.Contains(p, "404") {
			t.Errorf("browser reported: %s", p)
		}
	}
}

// postCiphertext stores ct as an end-to-end secret through the API, as a
// client would, and returns its share link without a key.
func postCiphertext(t *testing.T, base string, ct []byte) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"content_base64": base64.StdEncoding.EncodeToString(ct), "media_type": client.EndToEndMediaType})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/api/v1/secrets/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		ShareURL string `json:"share_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, err)
	}
	return created.ShareURL
}

// Without WebCrypto (a page served over plain http to another host) the
// create page lets the server seal and says so, and the share page
// refuses an end-to-end link it could not decrypt, consuming nothing.
func TestIntegrationEndToEndWithoutWebCrypto(t *testing.T) {
	be := miniBackend(t)
	base := serveTCPOn(t, server.Config{}, be)
	b := browsertest.Start(t)
	pc := pageChecks{t, b}
	b.Do("open a tab", chromedp.Navigate("about:blank"))
	// What a browser reports on http://10.0.0.5:8000 and the like.
	if _, err := chromedp.Call(b.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `Object.defineProperty(window, "isSecureContext", { get: () => false })`}); err != nil {
		t.Fatal(err)
	}
	b.Do("create without WebCrypto", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
		chromedp.SendKeys(chromedp.CSS("#content"), "sealed by the server"), chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#sealed-note")))
	if pc.eval(`String(document.getElementById("e2e-note").hidden)`) != "true" {
		t.Error("a server-sealed link is called end-to-end")
	}
	share, _ := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
	if _, ck, err := client.ParseLink(share); err != nil || ck != "" {
		t.Fatalf("without WebCrypto the page made %q (%v), want a server-sealed link", share, err)
	}
	pc.audit("create page: sealed by the server")

	api, _ := client.New(base, nil, "")
	made, err := api.Create(context.Background(), "end-to-end", client.CreateOptions{EndToEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	b.Do("open an end-to-end link", chromedp.Navigate("about:blank"), chromedp.Navigate(made.ShareURL), chromedp.WaitReady(chromedp.CSS("#status")))
	pc.waitText("an end-to-end link without WebCrypto", "status", "cannot decrypt it here")
	pc.waitText("an end-to-end link without WebCrypto", "status", "Nothing was revealed")
	if pc.eval(`String(document.getElementById("ready").hidden)`) != "true" {
		t.Error("the page offers to reveal a secret it cannot decrypt")
	}
	pc.audit("share page: cannot decrypt here")
	if got, err := api.Reveal(context.Background(), made.ShareURL); err != nil || got.Text != "end-to-end" {
		t.Errorf("the secret did not survive the page: %v", err)
	}
}
