package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"mime"
	"path"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// The browser pages: / to create a secret, /s to reveal one from a share
// link. HTML, CSS and JavaScript written here, embedded, no third-party
// assets, under a CSP that allows only this origin.
//
//go:embed web
var webFiles embed.FS

// webCSP allows the pages' own script, style and API calls, nothing else.
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type webUI struct {
	create []byte // rendered once: the lifetimes follow the configuration
	reveal []byte
	assets map[string][]byte
}

type ttlChoice struct {
	Hours    int
	Label    string
	Selected bool
}

func newWebUI(cfg Config) (*webUI, error) {
	tmpl, err := template.ParseFS(webFiles, "web/index.html")
	if err != nil {
		return nil, fmt.Errorf("server: web ui: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]any{
		"TTLChoices":      ttlChoices(cfg.DefaultTTLHours, cfg.MaxTTLHours),
		"MaxContentBytes": cfg.MaxContentBytes,
		"MaxContentKiB":   max(1, cfg.MaxContentBytes/1024),
	}); err != nil {
		return nil, fmt.Errorf("server: web ui: %w", err)
	}
	w := &webUI{create: buf.Bytes(), assets: map[string][]byte{}}
	if w.reveal, err = webFiles.ReadFile("web/s.html"); err != nil {
		return nil, err
	}
	for _, name := range []string{"app.css", "create.js", "reveal.js"} {
		if w.assets[name], err = webFiles.ReadFile("web/" + name); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// ttlChoices offers common lifetimes up to maxHours, with the default
// always among them and selected.
func ttlChoices(defaultHours, maxHours int) []ttlChoice {
	hours := []int{1, 6, 24, 72, 168}
	if !slices.Contains(hours, defaultHours) {
		hours = append(hours, defaultHours)
		slices.Sort(hours)
	}
	var out []ttlChoice
	for _, h := range hours {
		if h <= maxHours {
			out = append(out, ttlChoice{Hours: h, Label: ttlLabel(h), Selected: h == defaultHours})
		}
	}
	return out
}

func ttlLabel(h int) string {
	switch {
	case h%24 == 0 && h > 24:
		return fmt.Sprintf("%d days", h/24)
	case h == 24:
		return "1 day"
	case h == 1:
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", h)
}

func (s *Server) createPage(ctx *fasthttp.RequestCtx) { webPage(ctx, s.web.create) }

// revealPage never touches the store: the key is in the fragment, which
// the browser keeps to itself, and revealing takes a click.
func (s *Server) revealPage(ctx *fasthttp.RequestCtx) { webPage(ctx, s.web.reveal) }

func (s *Server) webAsset(ctx *fasthttp.RequestCtx) {
	name, _ := ctx.UserValue("file").(string)
	b, ok := s.web.assets[name]
	if !ok || strings.Contains(name, "/") {
		s.notFound(ctx)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(mime.TypeByExtension(path.Ext(name)))
	ctx.SetBody(b)
}

func webPage(ctx *fasthttp.RequestCtx, body []byte) {
	ctx.Response.Header.Set("X-Robots-Tag", "noindex, nofollow")
	page(ctx, body, webCSP)
}
