//go:build integration

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/readonce/readonce/internal/browsertest"
)

// Links cross over: one made by the create page opens with `readonce get`,
// and one made by `readonce send` — a text, a protected text, a binary file
// — opens in the share page.
func TestIntegrationLinksBetweenPageAndCLI(t *testing.T) {
	base := cliServer(t)
	env := []string{"READONCE_URL=" + base}
	b := browsertest.Start(t)
	eval := func(js string) string {
		t.Helper()
		got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return got
	}

	// The page's link, through the CLI.
	const fromPage = "made in the page: Grüße 🔑\nsecond line"
	b.Do("create in the page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
		chromedp.SendKeys(chromedp.CSS("#content"), fromPage), chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS("#share-url")))
	link, err := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
	if err != nil || !strings.Contains(link[len(base):], ".") {
		t.Fatalf("the page made %q (%v), want an end-to-end link", link, err)
	}
	if got := ro(t, env, nil, "get", link).want(t, "get the page's link", 0); got.stdout != fromPage {
		t.Errorf("the CLI opened the page's link as %q", got.stdout)
	}

	// The CLI's links, in the page.
	reveal := func(what, link, wait string) {
		t.Helper()
		b.Do("open "+what, chromedp.Navigate("about:blank"), chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#reveal")),
			chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS(wait)))
	}
	const fromCLI = "made by readonce send ✓"
	link = strings.TrimSpace(ro(t, env, []byte(fromCLI), "send").want(t, "send", 0).stdout)
	reveal("the CLI's link", link, "#content")
	if got := eval(`document.getElementById("content").value`); got != fromCLI {
		t.Errorf("the page opened the CLI's link as %q", got)
	}

	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("by phone\n"), 0o600)
	link = strings.TrimSpace(ro(t, env, []byte("protected by the CLI"), "send", "--passphrase-file", pass).want(t, "send --passphrase-file", 0).stdout)
	reveal("the CLI's protected link", link, "#passphrase")
	b.Do("give the passphrase", chromedp.SendKeys(chromedp.CSS("#passphrase"), "by phone"+kb.Enter), chromedp.WaitVisible(chromedp.CSS("#content")))
	if got := eval(`document.getElementById("content").value`); got != "protected by the CLI" {
		t.Errorf("the page opened the CLI's protected link as %q", got)
	}

	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(255 - i%256)
	}
	file := filepath.Join(dir, "release.key")
	os.WriteFile(file, data, 0o600)
	link = strings.TrimSpace(ro(t, env, nil, "send", "--file", file).want(t, "send --file", 0).stdout)
	reveal("the CLI's file", link, "#download")
	if got := eval(`document.getElementById("file-name").textContent`); got != "release.key — 300 bytes" {
		t.Errorf("the page named the CLI's file %q", got)
	}
	b.HookDownloads()
	b.Do("download", chromedp.Click(chromedp.CSS("#download")))
	if _, got, err := b.Downloaded(); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the download of the CLI's file held other bytes (%v)", err)
	}
	for _, p := range b.Problems() {
		if !strings.Contains(p, "403") && !strings.Contains(p, "404") { // the protected reveal's first answer; the favicon
			t.Errorf("browser reported: %s", p)
		}
	}
}
