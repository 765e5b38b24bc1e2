// Package browsertest drives Debian's headless Chromium from Go tests
// through chromedp. No browser is ever downloaded: a machine without
// /usr/bin/chromium fails the test with the package to install.
package browsertest

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium for one test.
type Browser struct {
	Ctx      context.Context
	t        testing.TB
	mu       sync.Mutex
	problems []string // console errors and uncaught exceptions
}

// Start launches Chromium with the flags this workplace needs (no sandbox
// as root, no background network traffic) and a fresh profile.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("chromium is not installed (apt-get install -y chromium): %v", err)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 1600),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	b := &Browser{Ctx: ctx, t: t}
	// Console errors, uncaught exceptions and browser-log errors (CSP
	// violations among them) are collected for the test to check.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.note(string(m.Type) + ": " + m.Text)
			}
		}
	}()
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return b
}

func (b *Browser) note(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// Problems returns the console errors and exceptions seen so far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Do runs actions; on failure it saves a screenshot into the test's
// artifact directory and fails the test.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v (screenshot: %s; console: %v)", what, err, b.Screenshot("failure.png"), b.Problems())
	}
}

// Screenshot saves the page as PNG into the artifact directory and returns
// the path (or the error text).
func (b *Browser) Screenshot(name string) string {
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "none: " + err.Error()
	}
	dir := b.t.TempDir()
	if ad, ok := b.t.(interface{ ArtifactDir() string }); ok {
		dir = ad.ArtifactDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "none: " + err.Error()
	}
	return path
}

// SavePNG writes a screenshot of the current page to path (for README images).
func (b *Browser) SavePNG(path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// HookDownloads makes the current page keep the next Blob it turns into an
// object URL — how the share page downloads a file — for Downloaded.
func (b *Browser) HookDownloads() {
	b.t.Helper()
	const hook = `(() => { window.__downloaded = null; const create = URL.createObjectURL;
		URL.createObjectURL = function (blob) { const r = new FileReader();
			r.onload = () => { window.__downloaded = blob.type + " " + r.result.split(",")[1]; }; r.readAsDataURL(blob); return create(blob) };
		return "hooked" })()`
	if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](hook)); err != nil {
		b.t.Fatalf("hook downloads: %v", err)
	}
}

// Downloaded waits for the Blob HookDownloads caught: its type and bytes.
func (b *Browser) Downloaded() (mediaType string, data []byte, err error) {
	got, err := chromedp.Run(b.Ctx, chromedp.Poll[string](`window.__downloaded`))
	if err != nil {
		return "", nil, err
	}
	mediaType, b64, _ := strings.Cut(got, " ")
	data, err = base64.StdEncoding.DecodeString(b64)
	return mediaType, data, err
}
