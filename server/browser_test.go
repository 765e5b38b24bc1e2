//go:build integration

package server_test

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/readonce/readonce/internal/apitest"

	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/client"
	"github.com/readonce/readonce/internal/browsertest"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

var readmeShots = flag.String("readme-screenshots", "", "directory to write the README's PNGs into (e.g. ../docs)")

// serveTCP runs the server on a real loopback port: a browser cannot dial
// an in-memory listener.
func serveTCP(t *testing.T, cfg server.Config) string {
	t.Helper()
	return serveTCPOn(t, cfg, miniBackend(t))
}

func serveTCPOn(t *testing.T, cfg server.Config, be backend) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = base
	}
	cfg.MaxContentBytes, cfg.DefaultTTLHours, cfg.MaxTTLHours = 65536, 24, 168
	cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// The default Argon2id cost and CPU share, but a long wait for a slot:
	// under the race detector a run takes ~4× longer, and its cool-down
	// with it; the pages are tested here, the gate in TestPassphraseGate.
	cfg.PassphraseQueueWait = 30 * time.Second
	store, err := cache.Open(cache.Options{URL: be.url(), Timeout: 2 * time.Second, SkipPolicyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New([]byte(serverKey))
	srv, err := server.New(cfg, store, sealer)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		store.Close()
	})
	return base
}

// accessKeyOf is the access key in a share link, end-to-end or not.
func accessKeyOf(t *testing.T, share string) string {
	t.Helper()
	key, err := client.KeyOf(share)
	if err != nil {
		t.Fatalf("share link %q: %v", share, err)
	}
	return key
}

func TestIntegrationDocsInBrowser(t *testing.T) {
	base := serveTCP(t, server.Config{})
	b := browsertest.Start(t)

	b.Do("open /docs and wait for the operations",
		chromedp.Navigate(base+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.opblock-summary-path`)),
	)
	paths, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('.opblock-summary-path')].map(e => e.textContent.replace(/\u200b/g, ''))`))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(paths, " | ")
	for _, want := range []string{"/api/v1/secrets/", "/api/v1/secrets/{access_key}"} {
		found := false
		for _, p := range paths {
			found = found || p == want
		}
		if !found {
			t.Errorf("/docs does not render %s; rendered: %s (screenshot: %s)", want, joined, b.Screenshot("docs.png"))
		}
	}
	title, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(`.info .title`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "readonce") {
		t.Errorf("title: %q", title)
	}
	for _, p := range b.Problems() {
		t.Errorf("browser reported: %s", p) // a CSP violation shows up here
	}
	if *readmeShots != "" {
		b.SavePNG(*readmeShots + "/docs.png")
	}
}

// /redoc renders from the bundle vendored in the binary: every resource the
// page loads is on this server (or a blob: worker), so it works air-gapped,
// and its CSP reports nothing.
func TestIntegrationRedocInBrowser(t *testing.T) {
	base := serveTCP(t, server.Config{})
	b := browsertest.Start(t)
	b.Do("open /redoc and wait for the operations",
		chromedp.Navigate(base+"/redoc"),
		chromedp.WaitVisible(chromedp.CSS(`h2`)),
	)
	headings, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('h1, h2')].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(headings, " | ")
	for _, want := range []string{"readonce", "Create a secret", "Reveal a secret"} {
		if !strings.Contains(joined, want) {
			t.Errorf("/redoc does not render %q; headings: %s (screenshot: %s)", want, joined, b.Screenshot("redoc.png"))
		}
	}
	elsewhere, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](
		`performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin) && !n.startsWith('blob:'))`))
	if err != nil {
		t.Fatal(err)
	}
	// ReDoc's footer always tries its vendor's logo (no option turns it
	// off); the page's CSP blocks it, so no request leaves the browser.
	// That one blocked attempt is allowed, nothing else.
	const vendorLogo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
	for _, u := range elsewhere {
		if u != vendorLogo {
			t.Errorf("/redoc loaded a resource from elsewhere: %s", u)
		}
	}
	for _, p := range b.Problems() {
		switch {
		case strings.Contains(p, vendorLogo) && strings.Contains(p, "Content Security Policy"): // blocked, as it must be
		case strings.Contains(p, "404"): // the browser's own /favicon.ico
		default:
			t.Errorf("browser reported: %s", p)
		}
	}
}

// The whole sharing flow, as a person does it, in headless Chromium.
func TestIntegrationSharingInBrowser(t *testing.T) {
	be := miniBackend(t)
	base := serveTCPOn(t, server.Config{}, be)
	b := browsertest.Start(t)
	const secret = "pässwörd ✓ 42\nsecond line"

	// Create through the page.
	b.Do("create a secret through the page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#content")),
		chromedp.SendKeys(chromedp.CSS("#content"), secret),
		chromedp.SetValue(chromedp.CSS("#ttl"), "1"),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#share-url")),
	)
	if *readmeShots != "" {
		b.SavePNG(*readmeShots + "/create.png")
	}
	shareURL, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
	if err != nil {
		t.Fatal(err)
	}
	prefix := base + "/s#"
	key, clientKey, e2e := strings.Cut(strings.TrimPrefix(shareURL, prefix), ".")
	if !strings.HasPrefix(shareURL, prefix) || len(key) != 43 || !e2e || len(clientKey) != 43 {
		t.Fatalf("share link %q: want %s + a 43-character access key + . + a 43-character client key", shareURL, prefix)
	}
	lookup, _ := seal.LookupKey(key)

	// Open the share link: nothing is consumed before the click.
	b.Do("open the share link", chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.CSS("#reveal")))
	if !be.mr.Exists(lookup) {
		t.Fatal("opening the share link consumed the secret before any click")
	}
	if *readmeShots != "" {
		b.SavePNG(*readmeShots + "/reveal.png")
	}

	// Click: the exact content, and the key gone from the address bar.
	b.Do("reveal", chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#content")))
	got, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#content")))
	if err != nil {
		t.Fatal(err)
	}
	if got != secret {
		t.Errorf("revealed %q, want %q", got, secret)
	}
	if v, err := be.mr.Get(lookup); err == nil && len(v) > 0 && v[0] != 0 { // a claimed key holds a tombstone (0x00…) for a few seconds
		t.Error("the secret is still stored after the reveal")
	}
	loc, _ := chromedp.Run(b.Ctx, chromedp.Location())
	if strings.Contains(loc, "#") || strings.Contains(loc, key) {
		t.Errorf("the key is still in the address bar: %s", loc)
	}
	if *readmeShots != "" {
		b.SavePNG(*readmeShots + "/revealed.png")
	}

	// Reload: "already read".
	b.Do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#status")))
	msg, _ := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#status")))
	if !strings.Contains(msg, "already been read") {
		t.Errorf("after a reload: %q, want an 'already read' message", msg)
	}
	// The same link again, in a fresh page: "already read" after the click.
	b.Do("open the link again", chromedp.Navigate("about:blank"), chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")))
	msg, _ = chromedp.Run(b.Ctx, chromedp.Poll[string](`(() => { const t = document.getElementById("status").textContent; return t.includes("already") ? t : null })()`))
	if !strings.Contains(msg, "already been read") {
		t.Errorf("opening a used link: %q", msg)
	}
	for _, p := range b.Problems() {
		if !strings.Contains(p, "404") { // the used link's fetch logs its 404
			t.Errorf("browser reported: %s", p)
		}
	}
}

// Share links opened one after another in one tab: a damaged %-escape
// says the link is incomplete (it was a blank page); a second link opened
// by changing the fragment shows its own secret, not the first one's; and
// "already read" belongs to the page that showed a secret, not to the tab.
func TestIntegrationShareLinksInOneTab(t *testing.T) {
	be := miniBackend(t)
	base := serveTCPOn(t, server.Config{}, be)
	api := apitest.New(base, nil)
	first, second := api.Create(t, "the first secret"), api.Create(t, "the second secret")
	b := browsertest.Start(t)
	statusHas := func(what string) string {
		msg, _ := chromedp.Run(b.Ctx, chromedp.Poll[string](`(() => { const t = document.getElementById("status").textContent; return t.includes(`+"`"+what+"`"+`) ? t : null })()`))
		return msg
	}

	b.Do("open a link with a damaged %-escape", chromedp.Navigate(base+"/s#%E0%A4%A"), chromedp.WaitReady(chromedp.CSS("#status")))
	if msg := statusHas("incomplete"); !strings.Contains(msg, "incomplete") {
		t.Errorf("damaged %%-escape: status %q, want the incomplete-link message", msg)
	}

	b.Do("open the first link and reveal", chromedp.Navigate(base+"/s#"+first), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#content")))
	if got, _ := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#content"))); got != "the first secret" {
		t.Fatalf("first link: %q", got)
	}

	// Paste the second link into the same tab: only the fragment changes.
	b.Do("open the second link in the same tab", chromedp.Evaluate[chromedp.Void](`location.hash = "`+second+`"`),
		chromedp.WaitVisible(chromedp.CSS("#reveal")))
	shown, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.getElementById("secret").hidden ? "" : document.getElementById("content").value`))
	if shown != "" {
		t.Errorf("after opening the second link the page still shows %q", shown)
	}
	b.Do("reveal the second", chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#content")))
	if got, _ := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#content"))); got != "the second secret" {
		t.Errorf("second link in the same tab: %q, want the second secret", got)
	}

	// A damaged link opened next in this tab is judged on its own.
	b.Do("open a damaged link in the same tab", chromedp.Navigate(base+"/s#tooshort"), chromedp.WaitReady(chromedp.CSS("#status")))
	if msg := statusHas("incomplete"); !strings.Contains(msg, "incomplete") {
		t.Errorf("a damaged link after a reveal in this tab: %q, want incomplete (not 'already read')", msg)
	}
	for _, p := range b.Problems() {
		if !strings.Contains(p, "404") { // the browser's own /favicon.ico
			t.Errorf("browser reported: %s", p)
		}
	}
}

// Both pages fit a phone (no sideways scrolling at 360 px) and every field
// has a label a screen reader announces.
func TestIntegrationPagesAccessibleOnAPhone(t *testing.T) {
	base := serveTCP(t, server.Config{})
	b := browsertest.Start(t)
	for _, path := range []string{"/", "/s#" + strings.Repeat("A", 43), "/r#" + strings.Repeat("A", 43)} {
		b.Do("open "+path, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(360, 740), chromedp.Navigate(base+path),
			chromedp.WaitReady(chromedp.CSS("main")))
		overflow, err := chromedp.Run(b.Ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || overflow {
			t.Errorf("%s scrolls sideways on a 360 px screen (%v)", path, err)
		}
		unlabelled, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll("input, textarea, select")].filter(e => !(e.labels && e.labels.length)).map(e => e.id)`))
		if err != nil || len(unlabelled) > 0 {
			t.Errorf("%s: fields without a label: %v (%v)", path, unlabelled, err)
		}
		divButtons, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`document.querySelectorAll("[onclick]:not(button), div[role=button]").length`))
		if divButtons > 0 {
			t.Errorf("%s has %d click targets that are not buttons (keyboard users cannot reach them)", path, divButtons)
		}
	}
	// Keyboard only: the field, type, then Tab past the file picker, the
	// lifetime, the passphrase, its Show button and the receipt box to the
	// button, Enter.
	b.Do("create with the keyboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
		chromedp.Focus(chromedp.CSS("#content")), chromedp.KeyEvent("typed with keys"),
		chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"),
		chromedp.KeyEvent("\t"), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#share-url")))
}

// A previewer that runs JavaScript (but never clicks) burns nothing either.
func TestIntegrationPreviewBotInBrowser(t *testing.T) {
	be := miniBackend(t)
	base := serveTCPOn(t, server.Config{}, be)
	st, err := cache.Open(cache.Options{URL: be.url(), Timeout: 2 * time.Second, SkipPolicyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, _ := seal.New([]byte(serverKey))
	key, _ := sealer.NewAccessKey()
	lookup, _ := sealer.LookupKey(key)
	blob, _ := sealer.Seal(key, lookup, []byte("bait"), time.Now(), time.Now().Add(time.Hour))
	if err := st.Put(context.Background(), lookup, blob, time.Hour); err != nil {
		t.Fatal(err)
	}
	b := browsertest.Start(t)
	b.Do("a bot renders the link",
		chromedp.Emulate(botDevice{}),
		chromedp.Navigate(base+"/s#"+key),
		chromedp.WaitVisible(chromedp.CSS("#reveal")),
	)
	if !be.mr.Exists(lookup) {
		t.Fatal("rendering the share page consumed the secret")
	}
}

// botDevice is a link previewer's browser.
type botDevice struct{}

func (botDevice) Device() device.Info {
	return device.Info{Name: "Slackbot", UserAgent: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", Width: 1200, Height: 800, Scale: 1}
}

// Every state of the create, share and receipt pages passes axe-core's
// WCAG 2.1 A and AA rules: blank, with a share and a receipt link, before
// and after the click, a used link, damaged links, and the create page at
// phone width.
func TestIntegrationPagesPassWCAGAudit(t *testing.T) {
	base := serveTCP(t, server.Config{})
	b := browsertest.Start(t)
	audit := func(state string) {
		t.Helper()
		for _, v := range b.AuditWCAG() {
			t.Errorf("%s: %s", state, v)
		}
	}
	// The audit can fail: a field without a label and an image without alt text.
	b.Do("open a page known to fail", chromedp.Navigate(`data:text/html,<!doctype html><html lang="en"><title>x</title><main><input id="x"><img src="data:,"></main>`))
	if v := b.AuditWCAG(); len(v) < 2 {
		t.Fatalf("the audit found %d violations on a page with an unlabelled field and an image without alt text: %v", len(v), v)
	}
	b.Do("open the create page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")))
	audit("create page")
	b.Do("create", chromedp.SendKeys(chromedp.CSS("#content"), "audited"), chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#share-url")))
	audit("create page with its share link")
	shareURL, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
	if err != nil {
		t.Fatal(err)
	}
	receiptURL, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#receipt-url")))
	if err != nil || !strings.HasPrefix(receiptURL, base+"/r#") {
		t.Fatalf("receipt link %q (%v)", receiptURL, err)
	}
	b.Do("open the receipt page", chromedp.Navigate(receiptURL), chromedp.WaitVisible(chromedp.CSS("#receipt")))
	audit("receipt page: not opened yet")
	b.Do("open the share link", chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.CSS("#reveal")))
	audit("share page before the click")
	b.Do("reveal", chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#content")))
	audit("share page showing the secret")
	b.Do("the receipt page after the reveal", chromedp.Navigate("about:blank"), chromedp.Navigate(receiptURL), chromedp.WaitVisible(chromedp.CSS("#receipt")))
	audit("receipt page: opened")
	b.Do("open the used link", chromedp.Navigate("about:blank"), chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")))
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[string](`(() => { const t = document.getElementById("status").textContent; return t.includes("already") ? t : null })()`)); err != nil {
		t.Fatal(err)
	}
	audit("share page: already read")
	b.Do("open a damaged link", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/s#tooshort"), chromedp.WaitReady(chromedp.CSS("#status")))
	audit("share page: damaged link")
	b.Do("open a damaged receipt link", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/r#tooshort"), chromedp.WaitReady(chromedp.CSS("#status")))
	audit("receipt page: damaged link")
	b.Do("the create page on a phone", chromedp.Navigate("about:blank"), chromedp.EmulateViewport(360, 740), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#content")))
	audit("create page at 360 px")
}

// Receipts through the pages: the create page's receipt link shows "Not
// opened yet", then "Opened" after the reveal; its burn button takes a
// secret back; the share page burns one unread.
func TestIntegrationReceiptsInBrowser(t *testing.T) {
	be := miniBackend(t)
	base := serveTCPOn(t, server.Config{}, be)
	b := browsertest.Start(t)
	create := func(content string) (share, receiptLink string) {
		t.Helper()
		b.Do("create "+content, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
			chromedp.SendKeys(chromedp.CSS("#content"), content), chromedp.Click(chromedp.CSS("#create")),
			chromedp.WaitVisible(chromedp.CSS("#receipt-url")))
		share, _ = chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
		receiptLink, _ = chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#receipt-url")))
		return share, receiptLink
	}
	waitStatus := func(what, has string) {
		t.Helper()
		poll := chromedp.Poll[string](`(() => { const t = document.getElementById("status").textContent; return t.includes(` + strconv.Quote(has) + `) ? t : null })()`)
		if _, err := chromedp.Run(b.Ctx, poll); err != nil {
			t.Fatalf("%s: no status with %q: %v", what, has, err)
		}
	}
	stateOf := func(receiptLink string) string {
		t.Helper()
		b.Do("open the receipt page", chromedp.Navigate("about:blank"), chromedp.Navigate(receiptLink), chromedp.WaitVisible(chromedp.CSS("#receipt")))
		got, _ := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#state")))
		return got
	}

	share, receiptLink := create("watched through the page")
	if got := stateOf(receiptLink); got != "Not opened yet" {
		t.Errorf("receipt page before the reveal: %q", got)
	}
	b.Do("reveal", chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#reveal")), chromedp.Click(chromedp.CSS("#reveal")),
		chromedp.WaitVisible(chromedp.CSS("#content")))
	if got := stateOf(receiptLink); got != "Opened" {
		t.Errorf("receipt page after the reveal: %q", got)
	}

	share, receiptLink = create("taken back through the page")
	b.Do("burn from the create page", chromedp.Click(chromedp.CSS("#burn")))
	waitStatus("burn from the create page", "Burned")
	if got := stateOf(receiptLink); got != "Burned" {
		t.Errorf("receipt page after the burn: %q", got)
	}
	b.Do("open the burnt link", chromedp.Navigate("about:blank"), chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")))
	waitStatus("open the burnt link", "already")

	share, receiptLink = create("burnt unread by its recipient")
	lookup, _ := seal.LookupKey(accessKeyOf(t, share))
	b.Do("burn from the share page", chromedp.Navigate("about:blank"), chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#burn")),
		chromedp.Click(chromedp.CSS("#burn")))
	waitStatus("burn from the share page", "Burned unread")
	if v, err := be.mr.Get(lookup); err == nil && len(v) > 0 && v[0] != 0 {
		t.Error("the share page's burn left the secret in the store")
	}
	if got := stateOf(receiptLink); got != "Burned" {
		t.Errorf("receipt page after the recipient's burn: %q", got)
	}
	for _, p := range b.Problems() {
		if !strings.Contains(p, "404") {
			t.Errorf("browser reported: %s", p)
		}
	}
}
