//go:build integration

package server_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/readonce/readonce/internal/browsertest"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

// Passphrases through the pages, by keyboard: the create page's optional
// passphrase (shown and hidden on demand, cleared after the create), the
// share page asking for it after the click, a typo that costs one attempt
// and nothing else, the right one revealing, and five wrong ones
// destroying another secret. Every state passes the WCAG audit.
func TestIntegrationPassphrasesInBrowser(t *testing.T) {
	be := miniBackend(t)
	base := serveTCPOn(t, server.Config{}, be)
	b := browsertest.Start(t)
	pc := pageChecks{t, b}
	audit, eval, waitText := pc.audit, pc.eval, pc.waitText
	stored := func(share string) bool {
		lookup, _ := seal.LookupKey(accessKeyOf(t, share))
		v, err := be.mr.Get(lookup)
		return err == nil && len(v) > 0 && v[0] != 0
	}
	create := func(content, passphrase string) (share, receiptLink string) {
		t.Helper()
		b.Do("create "+content, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
			chromedp.SendKeys(chromedp.CSS("#content"), content), chromedp.SendKeys(chromedp.CSS("#passphrase"), passphrase))
		if eval(`document.getElementById("passphrase").type`) != "password" {
			t.Error("the passphrase is shown before anyone asked")
		}
		b.Do("show the passphrase", chromedp.Click(chromedp.CSS("#show-passphrase")))
		if eval(`document.getElementById("passphrase").type + " " + document.getElementById("show-passphrase").getAttribute("aria-pressed")`) != "text true" {
			t.Error("Show did not show the passphrase, or did not say so")
		}
		audit("create page with its passphrase shown")
		b.Do("submit by keyboard", chromedp.SendKeys(chromedp.CSS("#passphrase"), kb.Enter), chromedp.WaitVisible(chromedp.CSS("#share-url")),
			chromedp.WaitVisible(chromedp.CSS("#passphrase-note")))
		if left := eval(`document.getElementById("passphrase").value + document.getElementById("content").value`); left != "" {
			t.Errorf("the page kept %q after the create", left)
		}
		share, _ = chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
		receiptLink, _ = chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#receipt-url")))
		if strings.Contains(share, passphrase) {
			t.Error("the share link holds the passphrase")
		}
		return share, receiptLink
	}
	guess := func(what, passphrase string) {
		t.Helper()
		b.Do(what, chromedp.SendKeys(chromedp.CSS("#passphrase"), passphrase+kb.Enter))
	}

	share, _ := create("opened with two factors", "said on the phone")
	audit("create page: a protected link")
	b.Do("open the link and click reveal", chromedp.Navigate("about:blank"), chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#passphrase")))
	waitText("asked for the passphrase", "attempts", "5 wrong attempts left")
	if !stored(share) {
		t.Fatal("asking for the passphrase consumed the secret")
	}
	if focused := eval(`document.activeElement.id`); focused != "passphrase" {
		t.Errorf("focus is on #%s, want the passphrase field", focused)
	}
	audit("share page asking for the passphrase")
	guess("a typo", "said on the fone")
	waitText("a typo", "status", "Wrong passphrase")
	waitText("a typo", "attempts", "4 wrong attempts left")
	if !stored(share) || eval(`document.getElementById("passphrase").value`) != "" {
		t.Fatal("a typo consumed the secret, or the field kept the wrong passphrase")
	}
	audit("share page after a wrong passphrase")
	guess("the right passphrase", "said on the phone")
	b.Do("wait for the secret", chromedp.WaitVisible(chromedp.CSS("#content")))
	if got := eval(`document.getElementById("content").value`); got != "opened with two factors" {
		t.Errorf("revealed %q", got)
	}
	if stored(share) {
		t.Error("the secret is still stored after its reveal")
	}

	share, receiptLink := create("guessed at five times", "right")
	b.Do("open the second link", chromedp.Navigate("about:blank"), chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#passphrase")))
	for left := 4; left >= 1; left-- {
		guess("wrong "+strconv.Itoa(left), "wrong")
		want := strconv.Itoa(left) + " wrong attempts left"
		if left == 1 {
			want = "One wrong attempt left"
		}
		waitText("wrong guess", "attempts", want)
	}
	guess("the last wrong one", "wrong")
	waitText("the last wrong one", "status", "the secret is destroyed")
	if stored(share) {
		t.Error("the secret outlived its last attempt")
	}
	audit("share page: destroyed by wrong passphrases")
	b.Do("its receipt", chromedp.Navigate("about:blank"), chromedp.Navigate(receiptLink), chromedp.WaitVisible(chromedp.CSS("#receipt")))
	waitText("the receipt of a guessed-out secret", "state", "Burned")

	// A server older than the page (mid-upgrade) answers the passphrase
	// route with the router's 404: the page must not call the secret gone.
	share, _ = create("survives an old server", "old server passphrase")
	b.Do("open the third link", chromedp.Navigate("about:blank"), chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#passphrase")))
	eval(`window.fetch = async () => new Response('{"detail":"Not Found"}', {status: 404, headers: {"Content-Type": "application/json"}}), "patched"`)
	guess("against an old server", "old server passphrase")
	waitText("against an old server", "status", "cannot check passphrases right now")
	if eval(`String(document.getElementById("unlock").hidden)`) != "false" || !stored(share) {
		t.Error("an old server's 404 hid the passphrase form or lost the secret")
	}

	for _, p := range b.Problems() {
		if !strings.Contains(p, "403") && !strings.Contains(p, "404") {
			t.Errorf("browser reported: %s", p)
		}
	}
}

// pageChecks are the three checks the page tests make: axe-core's WCAG
// audit of the page as it stands, a JavaScript expression's string value,
// and waiting until an element's text says something.
type pageChecks struct {
	t *testing.T
	b *browsertest.Browser
}

func (p pageChecks) audit(state string) {
	p.t.Helper()
	for _, v := range p.b.AuditWCAG() {
		p.t.Errorf("%s: %s", state, v)
	}
}

func (p pageChecks) eval(js string) string {
	p.t.Helper()
	got, err := chromedp.Run(p.b.Ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
	return got
}

func (p pageChecks) waitText(what, id, has string) {
	p.t.Helper()
	poll := chromedp.Poll[string](`(() => { const t = document.getElementById(` + strconv.Quote(id) + `).textContent; return t.includes(` + strconv.Quote(has) + `) ? t : null })()`)
	if _, err := chromedp.Run(p.b.Ctx, poll); err != nil {
		p.t.Fatalf("%s: #%s never said %q (it says %q): %v", what, id, has, p.eval(`document.getElementById(`+strconv.Quote(id)+`).textContent`), err)
	}
}
