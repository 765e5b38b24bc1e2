package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/readonce/readonce/server"
)

// contract validates responses against the OpenAPI document the server
// itself serves at /openapi.json. Every response the HTTP suite sees goes
// through check (see app.do), so a handler change the document does not
// describe fails the build.
type contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

var registerDecoders = sync.OnceFunc(func() {
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "image/png", "text/plain"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
})

// load parses and validates the document that fetch returns, once.
func (c *contract) load(fetch func() []byte) error {
	c.once.Do(func() {
		registerDecoders()
		spec := fetch()
		loader := openapi3.NewLoader()
		if c.doc, c.err = loader.LoadFromData(spec); c.err != nil {
			return
		}
		if c.err = c.doc.Validate(context.Background()); c.err != nil {
			return
		}
		c.router, c.err = gorillamux.NewRouter(c.doc)
	})
	return c.err
}

// check validates one exchange. Requests the document has no operation for
// (unknown paths, other methods) must still answer with its Error schema.
func (c *contract) check(t testing.TB, method, path string, reqHeader http.Header, r response) {
	t.Helper()
	req, err := http.NewRequest(method, publicURL+path, nil)
	if err != nil {
		return // a path net/http cannot even parse (raw tests): checked below as unrouted
	}
	req.Header = reqHeader
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if r.Status != 404 && r.Status != 405 && r.Status != 400 {
			t.Errorf("contract: %s %s → %d has no operation in the document", method, path, r.Status)
		}
		c.checkSchema(t, method, path, r, "Error")
		return
	}
	header := r.Header.Clone()
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(r.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("contract: %s %s → %d %.200s: %v", method, path, r.Status, r.Body, err)
	}
}

func (c *contract) checkSchema(t testing.TB, method, path string, r response, name string) {
	t.Helper()
	if method == "HEAD" {
		return
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Errorf("contract: %s %s → %d: body is not JSON", method, path, r.Status)
		return
	}
	if err := c.doc.Components.Schemas[name].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("contract: %s %s → %d does not match %s: %v", method, path, r.Status, name, err)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	a := startApp(t, miniBackend(t))
	r := a.do("GET", "/openapi.json", "")
	var c contract
	if err := c.load(func() []byte { return r.Body }); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	if !c.doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi: got %s, want 3.1", c.doc.OpenAPI)
	}
	if got := c.doc.Servers[0].URL; got != publicURL {
		t.Errorf("servers[0].url: got %q, want PUBLIC_URL %q", got, publicURL)
	}
	content := c.doc.Components.Schemas["NewSecret"].Value.Properties["content"].Value
	if content.MaxLength == nil || *content.MaxLength != maxContent {
		t.Errorf("content maxLength does not follow MAX_CONTENT_BYTES")
	}
	seconds := c.doc.Components.Schemas["NewSecret"].Value.Properties["ttl_seconds"]
	if seconds == nil || seconds.Value.Max == nil || *seconds.Value.Max != 168*3600 || seconds.Value.Min == nil || *seconds.Value.Min != 60 {
		t.Errorf("ttl_seconds bounds do not follow MAX_TTL_HOURS: %+v", seconds)
	}
	for _, op := range []struct{ method, path string }{
		{"POST", "/api/v1/secrets/"}, {"GET", "/api/v1/secrets/{access_key}"}, {"GET", "/health"}, {"GET", "/ready"},
	} {
		if c.doc.Paths.Find(op.path) == nil || c.doc.Paths.Find(op.path).GetOperation(op.method) == nil {
			t.Errorf("the document lacks %s %s", op.method, op.path)
		}
	}
	if !strings.Contains(c.doc.Info.Description, "consumes") {
		t.Errorf("the description lacks the security notes")
	}
}

func TestDocsPages(t *testing.T) {
	a := startApp(t, miniBackend(t), withRedoc("https://cdn.example.net/redoc/redoc.standalone.js"))
	api := a.do("POST", "/api/v1/secrets/", `{"content":"x"}`)
	apiCSP := api.Header.Get("Content-Security-Policy")
	if apiCSP != "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("API CSP: got %q", apiCSP)
	}
	for _, c := range []struct{ path, mustHave, script string }{
		{"/docs", "script-src 'self';", "/docs/swagger-ui-bundle.js"},
		{"/redoc", "script-src https://cdn.example.net/redoc/redoc.standalone.js;", "https://cdn.example.net/redoc/redoc.standalone.js"},
	} {
		r := a.do("GET", c.path, "")
		csp := r.Header.Get("Content-Security-Policy")
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", c.path, r.Status, r.Header.Get("Content-Type"))
		}
		if !strings.Contains(csp, c.mustHave) || !strings.Contains(csp, "default-src 'none'") ||
			strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'unsafe-inline'") {
			t.Errorf("%s CSP: %q", c.path, csp)
		}
		if !strings.Contains(string(r.Body), c.script) || strings.Contains(string(r.Body), "<script>") {
			t.Errorf("%s: page does not load %s from a file, or has an inline script", c.path, c.script)
		}
		if r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", c.path, r.Header.Get("X-Frame-Options"))
		}
	}
	for _, asset := range []string{"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "init.js"} {
		if r := a.do("GET", "/docs/"+asset, ""); r.Status != 200 || len(r.Body) == 0 {
			t.Errorf("/docs/%s: %d", asset, r.Status)
		}
	}
	if r := a.do("GET", "/docs/../main.go", ""); r.Status != 404 {
		t.Errorf("path escape: %d", r.Status)
	}
	if r := a.do("GET", "/docs/oauth2-redirect.html", ""); r.Status != 404 {
		t.Errorf("an asset outside the allowlist was served: %d", r.Status)
	}
}

// By default /redoc runs the ReDoc bundle vendored in the binary (nothing
// from another origin); an absolute REDOC_JS_URL comes with its SRI hash.
func TestRedocSources(t *testing.T) {
	a := startApp(t, miniBackend(t))
	r := a.do("GET", "/redoc", "")
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("default /redoc CSP: %q, want script-src 'self'", csp)
	}
	if !strings.Contains(string(r.Body), `<script src="/docs/redoc.standalone.js"></script>`) {
		t.Errorf("default /redoc does not load the vendored bundle:\n%s", r.Body)
	}
	if b := a.do("GET", "/docs/redoc.standalone.js", ""); b.Status != 200 || !strings.Contains(string(b.Body), `const Hw="2.5.4"`) ||
		!strings.HasPrefix(b.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("the vendored bundle: %d %s (%d bytes)", b.Status, b.Header.Get("Content-Type"), len(b.Body))
	}

	const sri = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"
	cdn := startApp(t, miniBackend(t), withConfig(func(c *server.Config) {
		c.RedocJSURL, c.RedocJSIntegrity = "https://cdn.example.net/redoc/redoc.standalone.js", sri
	}))
	page := html.UnescapeString(string(cdn.do("GET", "/redoc", "").Body))
	if !strings.Contains(page, `integrity="`+sri+`" crossorigin="anonymous"`) {
		t.Errorf("an absolute REDOC_JS_URL without its integrity attribute:\n%s", page)
	}
}
