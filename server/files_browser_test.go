//go:build integration

package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/readonce/readonce/internal/browsertest"
	"github.com/readonce/readonce/server"
)

// Files through the pages: chosen with the picker or dropped, the size
// shown and the limit enforced before any upload; on the share page an
// .html and an .svg file with script in them are offered for download and
// nothing of them runs or renders; the download holds the exact bytes.
// Every state passes the WCAG audit.
func TestIntegrationFilesInBrowser(t *testing.T) {
	be := miniBackend(t)
	base := serveTCPOn(t, server.Config{}, be)
	b := browsertest.Start(t)
	pc := pageChecks{t, b}
	audit, eval, waitText := pc.audit, pc.eval, pc.waitText
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The picker: name and size shown, the text area set aside, created.
	kube := []byte("apiVersion: v1\nkind: Config\n\x00\xff binary tail")
	b.Do("choose a file", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{write("kube config.yaml", kube)}))
	waitText("a chosen file", "file-info", "kube config.yaml ("+strconv.Itoa(len(kube))+" bytes)")
	if eval(`String(document.getElementById("content").disabled)`) != "true" {
		t.Error("the text area stayed open beside a file")
	}
	audit("create page with a file chosen")
	b.Do("create it", chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#share-url")))
	keys := be.dbsize(t)
	share, _ := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#share-url")))
	if eval(`document.getElementById("file").value`) != "" {
		t.Error("the file stayed chosen after the create")
	}

	// Too large: refused in the page, nothing sent.
	big := write("too-big.bin", bytes.Repeat([]byte{1}, 1<<20+1))
	b.Do("a file over the limit", chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#content")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{big}))
	waitText("an oversized file", "file-info", "too large")
	b.Do("try to create it", chromedp.Click(chromedp.CSS("#create")))
	waitText("an oversized file", "status", "too large")
	if got := be.dbsize(t); got > keys { // fewer is an earlier tombstone expiring
		t.Errorf("%d more keys after a refused file: the page uploaded it", got-keys)
	}

	// Dropped: the drop zone takes it as the picker does.
	eval(`(() => { const dt = new DataTransfer(); dt.items.add(new File(["DROPPED=1\n"], "dropped.env", {type: "text/plain"}));
		document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true})); return "ok" })()`)
	waitText("a dropped file", "file-info", "dropped.env (10 bytes)")
	b.Do("remove it", chromedp.Click(chromedp.CSS("#clear-file")))

	// A name over 255 bytes (no disk holds one; a drop can): refused in the
	// page, nothing sent.
	eval(`(() => { const dt = new DataTransfer(); dt.items.add(new File(["x"], "é".repeat(150) + ".txt", {type: "text/plain"}));
		document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true})); return "ok" })()`)
	waitText("a file name too long", "file-info", "name is too long")
	b.Do("try to create it", chromedp.Click(chromedp.CSS("#create")))
	waitText("a file name too long", "status", "cannot be shared: its name is too long")
	if got := be.dbsize(t); got > keys {
		t.Errorf("%d more keys after a refused file name: the page uploaded it", got-keys)
	}
	b.Do("remove it", chromedp.Click(chromedp.CSS("#clear-file")))
	if eval(`String(document.getElementById("file-info").hidden) + document.getElementById("content").disabled`) != "truefalse" {
		t.Error("removing the file did not bring the text area back")
	}

	// The share page: the picked file downloads with its exact bytes.
	b.Do("open the file's link", chromedp.Navigate("about:blank"), chromedp.Navigate(share), chromedp.WaitVisible(chromedp.CSS("#reveal")),
		chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#download")))
	waitText("the revealed file", "file-name", "kube config.yaml")
	audit("share page offering a download")
	b.HookDownloads()
	b.Do("download", chromedp.Click(chromedp.CSS("#download")))
	waitText("the download", "status", "Downloaded kube config.yaml")
	if mediaType, got, err := b.Downloaded(); err != nil || !bytes.Equal(got, kube) || mediaType != "application/octet-stream" {
		t.Errorf("the download held %q as %q (%v), want the file's bytes as an octet-stream", got, mediaType, err)
	}

	// Hostile files: offered, never rendered, never run.
	for _, f := range []struct{ name, mediaType, data string }{
		{"page.html", "text/html", `<html><body><h1 id="pwned">rendered</h1><script>window.top.__pwned = "html"; document.title = "pwned"</script></body></html>`},
		{"logo.svg", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg" onload="window.top.__pwned='svg'"><script>window.top.__pwned = "svg"</script><text y="20">rendered</text></svg>`},
	} {
		body, _ := json.Marshal(map[string]string{"content_base64": base64.StdEncoding.EncodeToString([]byte(f.data)), "filename": f.name, "media_type": f.mediaType})
		resp, err := http.Post(base+"/api/v1/secrets/", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var created struct {
			ShareURL string `json:"share_url"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		b.Do("open "+f.name, chromedp.Navigate("about:blank"), chromedp.Navigate(created.ShareURL), chromedp.WaitVisible(chromedp.CSS("#reveal")),
			chromedp.Click(chromedp.CSS("#reveal")), chromedp.WaitVisible(chromedp.CSS("#download")))
		b.HookDownloads()
		b.Do("download "+f.name, chromedp.Click(chromedp.CSS("#download")))
		waitText("download "+f.name, "status", "Downloaded "+f.name)
		state := eval(`JSON.stringify([String(window.__pwned), document.title, document.querySelectorAll("iframe, object, embed, img, svg, #pwned").length,
			document.getElementById("content").value, document.body.innerHTML.includes("rendered")])`)
		if want := `["undefined","readonce — a secret for you",0,"",false]`; state != want {
			t.Errorf("%s on the share page: %s, want %s (nothing run, rendered or shown)", f.name, state, want)
		}
		if mediaType, _, err := b.Downloaded(); err != nil || mediaType != "application/octet-stream" {
			t.Errorf("%s downloaded as %q (%v), want an octet-stream", f.name, mediaType, err)
		}
	}
	for _, p := range b.Problems() {
		if !strings.Contains(p, "404") {
			t.Errorf("browser reported: %s", p)
		}
	}
}
