package server

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	swaggerfiles "github.com/swaggo/files/v2"
	"github.com/valyala/fasthttp"
)

// openAPISource is the API's contract, written by hand and kept true by the
// contract test, which validates every response of the HTTP suite against
// the document served at /openapi.json.
//
//go:embed openapi.json
var openAPISource []byte

// DefaultRedocJSURL is where FastAPI's /redoc loads ReDoc from; no Go
// module ships its bundle. REDOC_JS_URL points elsewhere (air-gapped sites
// host the file themselves).
const DefaultRedocJSURL = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"

// swaggerAssets are the Swagger UI files /docs needs, from the swaggo/files
// module (which embeds the upstream dist); nothing else of it is served.
var swaggerAssets = []string{
	"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
	"favicon-32x32.png", "favicon-16x16.png",
}

// docs holds the rendered documentation, built once in New.
type docs struct {
	openAPI  []byte
	swagger  []byte
	redoc    []byte
	assets   map[string][]byte
	docsCSP  string
	redocCSP string
}

func newDocs(cfg Config) (*docs, error) {
	redocURL := cfg.RedocJSURL
	if redocURL == "" {
		redocURL = DefaultRedocJSURL
	}
	spec, err := renderOpenAPI(cfg)
	if err != nil {
		return nil, err
	}
	d := &docs{openAPI: spec, assets: map[string][]byte{}}
	for _, name := range swaggerAssets {
		b, err := fs.ReadFile(swaggerfiles.FS, name)
		if err != nil {
			return nil, fmt.Errorf("server: swagger ui asset %s: %w", name, err)
		}
		d.assets[name] = b
	}
	d.assets["init.js"] = []byte(swaggerInit)

	d.swagger = []byte(swaggerPage)
	d.redoc = fmt.Appendf(nil, redocPage, html.EscapeString(redocURL))

	publicOrigin := origin(cfg.PublicURL)
	common := "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
	// Swagger UI sets inline styles and uses data: images for its icons;
	// "Try it out" calls the API at the public URL.
	d.docsCSP = common + "script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' " + publicOrigin
	// ReDoc: one script from REDOC_JS_URL, styled-components' inline styles,
	// and a blob: worker for search.
	d.redocCSP = common + "script-src " + cspSource(redocURL) + "; style-src 'unsafe-inline'; img-src 'self' data:; font-src data:; worker-src blob:; connect-src 'self'"
	return d, nil
}

// renderOpenAPI fills the deployment's values into the document, keeping
// its order: the server URL and the configured limits.
func renderOpenAPI(cfg Config) ([]byte, error) {
	set := map[string]string{
		"/servers/0/url": strconv.Quote(cfg.PublicURL),
		"/components/schemas/NewSecret/properties/content/maxLength": strconv.Itoa(cfg.MaxContentBytes),
		"/components/schemas/NewSecret/properties/ttl_hours/maximum": strconv.Itoa(cfg.MaxTTLHours),
		"/components/schemas/NewSecret/properties/ttl_hours/default": strconv.Itoa(cfg.DefaultTTLHours),
	}
	dec := jsontext.NewDecoder(bytes.NewReader(openAPISource))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out, jsontext.WithIndent("  "))
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("server: openapi.json: %w", err)
		}
		if err := enc.WriteToken(tok); err != nil {
			return nil, err
		}
		// Just read an object member's name: is its value one to replace?
		if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 {
			ptr := string(dec.StackPointer())
			if repl, ok := set[ptr]; ok {
				if err := dec.SkipValue(); err != nil {
					return nil, err
				}
				if err := enc.WriteValue(jsontext.Value(repl)); err != nil {
					return nil, err
				}
				delete(set, ptr)
			}
		}
	}
	if len(set) > 0 {
		return nil, fmt.Errorf("server: openapi.json lacks %v", set)
	}
	return out.Bytes(), nil
}

const swaggerPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>readonce API — Swagger UI</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`

// swaggerInit is a file, not an inline script, so the CSP needs no
// 'unsafe-inline' for scripts. validatorUrl null: no badge fetched from
// swagger.io.
const swaggerInit = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  supportedSubmitMethods: ["get", "post"],
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "BaseLayout"
});
`

const redocPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>readonce API — ReDoc</title>
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="%s"></script>
</body>
</html>
`

func (s *Server) openAPI(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, s.docs.openAPI)
}

func (s *Server) swaggerUI(ctx *fasthttp.RequestCtx) {
	page(ctx, s.docs.swagger, s.docs.docsCSP)
}

func (s *Server) redocUI(ctx *fasthttp.RequestCtx) {
	page(ctx, s.docs.redoc, s.docs.redocCSP)
}

func (s *Server) docsAsset(ctx *fasthttp.RequestCtx) {
	name, _ := ctx.UserValue("file").(string)
	b, ok := s.docs.assets[name]
	if !ok {
		s.notFound(ctx)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(mime.TypeByExtension(path.Ext(name)))
	ctx.SetBody(b)
}

func page(ctx *fasthttp.RequestCtx, body []byte, csp string) {
	ctx.Response.Header.Set("Content-Security-Policy", csp)
	ctx.Response.Header.Set("X-Frame-Options", "DENY")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(body)
}

// origin is scheme://host of u, for a CSP source.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// cspSource is the CSP source expression that allows exactly the script at
// u: the full URL when absolute, 'self' when it is a path on this server.
func cspSource(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host == "" {
		return "'self'"
	}
	return u
}
