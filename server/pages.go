package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"slices"
	"strings"

	swaggerfiles "github.com/swaggo/files/v2"
	"github.com/valyala/fasthttp"
)

// Every page and asset the server sends that is not the API: the create
// and share pages, the API docs, and their scripts and styles. All are
// embedded files rendered once in New and served by one handler, each page
// under a CSP that allows exactly what it needs.
//
//go:embed web
var webFiles embed.FS

// vendoredRedoc is where /redoc loads ReDoc from by default: the exact
// bundle of a pinned release, embedded (server/web/redoc, with its
// licences; `make redoc` re-fetches it from the npm registry and checks it
// against SHA256SUMS), so the page works offline and runs no script from
// elsewhere. REDOC_JS_URL overrides it, with an SRI hash when absolute.
const vendoredRedoc = "/docs/redoc.standalone.js"

// swaggerAssets are the Swagger UI files /docs needs, from the swaggo/files
// module (which embeds the upstream dist); nothing else of it is served.
var swaggerAssets = []string{
	"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
	"favicon-32x32.png", "favicon-16x16.png",
}

// webCSP allows the pages' own script, style and API calls, nothing else.
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// page is one HTML page and its policy.
type page struct {
	body    []byte
	csp     string
	noIndex bool // share links and the create page stay out of search engines
}

// staticFiles is everything served by path: pages and assets.
type staticFiles struct {
	pages  map[string]page   // by path: "/", "/s", "/docs", "/redoc"
	assets map[string][]byte // by path: "/static/app.css", "/docs/init.js", …
	// public are the pages that differ on the reveal-only face: the share
	// page there links to no create page.
	public map[string]page
}

func newStaticFiles(cfg Config) (*staticFiles, error) {
	redocURL := cfg.RedocJSURL
	if redocURL == "" {
		redocURL = vendoredRedoc
	}
	tmpl, err := template.ParseFS(webFiles, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("server: pages: %w", err)
	}
	data := map[string]any{
		"TTLChoices":      ttlChoices(cfg.DefaultTTLHours, cfg.MaxTTLHours),
		"MaxContentBytes": cfg.MaxContentBytes,
		"MaxContentKiB":   max(1, cfg.MaxContentBytes/1024),
		"MaxFileBytes":    cfg.MaxFileBytes,
		"MaxFileKiB":      max(1, cfg.MaxFileBytes/1024),
		"RedocJSURL":      redocURL,
		"RedocIntegrity":  cfg.RedocJSIntegrity,
		"Login":           cfg.Login != nil && cfg.Auth != nil,
		"RevealOnly":      false,
	}
	common := "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
	policies := map[string]page{
		"/":  {csp: webCSP, noIndex: true},
		"/s": {csp: webCSP, noIndex: true},
		"/r": {csp: webCSP, noIndex: true},
		// Swagger UI sets inline styles and uses data: images for its icons;
		// "Try it out" calls the API at the public URL.
		"/docs": {csp: common + "script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' " + origin(cfg.PublicURL)},
		// ReDoc: one script from REDOC_JS_URL, styled-components' inline
		// styles, and a blob: worker for search.
		"/redoc": {csp: common + "script-src " + cspSource(redocURL) + "; style-src 'unsafe-inline'; img-src 'self' data:; font-src data:; worker-src blob:; connect-src 'self'"},
	}
	files := map[string]string{"/": "index.html", "/s": "s.html", "/r": "r.html", "/docs": "docs.html", "/redoc": "redoc.html"}
	st := &staticFiles{pages: map[string]page{}, assets: map[string][]byte{}, public: map[string]page{}}
	for p, name := range files {
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, fmt.Errorf("server: page %s: %w", name, err)
		}
		pg := policies[p]
		pg.body = buf.Bytes()
		st.pages[p] = pg
	}
	data["RevealOnly"] = true
	var share bytes.Buffer
	if err := tmpl.ExecuteTemplate(&share, "s.html", data); err != nil {
		return nil, fmt.Errorf("server: page s.html: %w", err)
	}
	pg := policies["/s"]
	pg.body = share.Bytes()
	st.public["/s"] = pg
	for _, a := range []struct {
		fsys      fs.FS
		dir, urls string
		names     []string
	}{
		{webFiles, "web", "/static/", []string{"app.css", "e2e.js", "create.js", "reveal.js", "receipt.js"}},
		{webFiles, "web/docs", "/docs/", []string{"init.js"}},
		{webFiles, "web/redoc", "/docs/", []string{"redoc.standalone.js"}},
		{swaggerfiles.FS, ".", "/docs/", swaggerAssets},
	} {
		for _, name := range a.names {
			b, err := fs.ReadFile(a.fsys, path.Join(a.dir, name))
			if err != nil {
				return nil, fmt.Errorf("server: asset %s: %w", name, err)
			}
			st.assets[a.urls+name] = b
		}
	}
	return st, nil
}

// static serves the page or asset at the request's path, or 404. The path
// is looked up as it is: nothing outside the two maps can be reached.
func (s *Server) static(ctx *fasthttp.RequestCtx) error { return s.serveStatic(ctx, s.files.pages) }

// staticPublic is static on the reveal-only face.
func (s *Server) staticPublic(ctx *fasthttp.RequestCtx) error {
	if _, ok := s.files.public[string(ctx.Path())]; ok {
		return s.serveStatic(ctx, s.files.public)
	}
	return s.static(ctx)
}

func (s *Server) serveStatic(ctx *fasthttp.RequestCtx, pages map[string]page) error {
	p := string(ctx.Path())
	if pg, ok := pages[p]; ok {
		h := &ctx.Response.Header
		h.Set("Content-Security-Policy", pg.csp)
		h.Set("X-Frame-Options", "DENY")
		if pg.noIndex {
			h.Set("X-Robots-Tag", "noindex, nofollow")
		}
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBody(pg.body)
		return nil
	}
	if b, ok := s.files.assets[p]; ok {
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType(mime.TypeByExtension(path.Ext(p)))
		ctx.SetBody(b)
		return nil
	}
	return errRouteNotFound
}

// openAPI serves the rendered contract.
func (s *Server) openAPI(ctx *fasthttp.RequestCtx) error {
	writeJSON(ctx, fasthttp.StatusOK, s.openAPIDoc)
	return nil
}

type ttlChoice struct {
	Hours    int
	Label    string
	Selected bool
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

// origin is scheme://host[:port] of u, for a CSP source: rebuilt from the
// parsed parts, and empty (so the policy allows only 'self') unless every
// character of it is one a CSP source cannot misread.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return ""
	}
	o := p.Scheme + "://" + p.Host
	for _, r := range p.Host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)) {
			return ""
		}
	}
	return o
}

// cspSource is the CSP source expression that allows exactly the script at
// u: the full URL when absolute, 'self' when it is a path on this server.
func cspSource(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host == "" {
		return "'self'"
	}
	return u
}
