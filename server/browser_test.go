//go:build integration

package server_test

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/internal/browsertest"
	"github.com/readonce/readonce/seal"
	"github.com/readonce/readonce/server"
)

var readmeShots = flag.String("readme-screenshots", "", "directory to write the README's PNGs into (e.g. ../docs)")

// serveTCP runs the server on a real loopback port: a browser cannot dial
// an in-memory listener.
func serveTCP(t *testing.T, cfg server.Config) string {
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
	cfg.Logger = slog.New(slog.DiscardHandler)
	store, err := cache.Open(cache.Options{URL: miniBackend(t).url(), Timeout: 2 * time.Second})
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
