package server_test

import (
	"strings"
	"testing"

	"github.com/readonce/readonce/seal"
)

func TestWebPages(t *testing.T) {
	a := startApp(t, miniBackend(t))
	for _, c := range []struct{ path, want string }{
		{"/", `id="create-form"`},
		{"/s", `id="reveal"`},
	} {
		r := a.do("GET", c.path, "")
		if r.Status != 200 || !strings.Contains(string(r.Body), c.want) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", c.path, r.Status, r.Header.Get("Content-Type"))
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s CSP %q lacks %s", c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(string(r.Body), "<script>") || strings.Contains(string(r.Body), "style=") {
			t.Errorf("%s: inline script/style or an unsafe CSP", c.path)
		}
		if strings.Contains(string(r.Body), "http://") || strings.Contains(string(r.Body), "https://") {
			t.Errorf("%s refers to another origin", c.path)
		}
	}
	// The lifetimes offered follow the configuration (default 24, max 168).
	page := string(a.do("GET", "/", "").Body)
	if !strings.Contains(page, `<option value="24" selected>1 day</option>`) || !strings.Contains(page, `value="168"`) || strings.Contains(page, `value="169"`) {
		t.Errorf("lifetime choices do not follow DEFAULT/MAX_TTL_HOURS:\n%s", page)
	}
	for _, asset := range []string{"app.css", "create.js", "reveal.js"} {
		if r := a.do("GET", "/static/"+asset, ""); r.Status != 200 || len(r.Body) == 0 {
			t.Errorf("/static/%s: %d", asset, r.Status)
		}
	}
	if r := a.do("GET", "/static/..%2Fmain.go", ""); r.Status != 404 {
		t.Errorf("asset path escape: %d", r.Status)
	}
}

// Link previewers fetch the share link: /s must never consume anything,
// whoever asks.
func TestSharePageConsumesNothing(t *testing.T) {
	be := miniBackend(t)
	a := startApp(t, be)
	r := a.do("POST", "/api/v1/secrets/", `{"content":"not for bots"}`)
	key := r.JSON(t).String(t, "access_key")
	lookup, _ := seal.LookupKey(key)
	for _, ua := range []string{
		"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
		"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.12026; Pro)",
	} {
		// A previewer may keep the fragment in its request line; it must not matter.
		for _, path := range []string{"/s", "/s?utm=x"} {
			if r := a.do("GET", path, "", "User-Agent", ua); r.Status != 200 {
				t.Errorf("%s as %q: %d", path, ua, r.Status)
			}
		}
		if r := a.rawGet("/s#" + key); r.Status != 200 {
			t.Errorf("raw /s#key as %q: %d", ua, r.Status)
		}
		if !be.mr.Exists(lookup) {
			t.Fatalf("GET /s as %q consumed the secret", ua)
		}
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 200 {
		t.Errorf("the secret did not survive the previewers: %d", r.Status)
	}
}
