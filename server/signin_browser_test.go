//go:build integration

package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/readonce/readonce/auth"
	"github.com/readonce/readonce/internal/browsertest"
	"github.com/readonce/readonce/internal/oidctest"
	"github.com/readonce/readonce/server"
)

// lateLogin lets the test build the sign-in once the server's address
// (its redirect URL) is known.
type lateLogin struct{ *auth.Login }

// Signing in on the create page, in headless Chromium, against a local
// OpenID Connect issuer: the authorization-code flow with PKCE ends in an
// HttpOnly, SameSite=Strict session cookie; the page creates as that
// person (the receipt names them) while a bare API call is refused; a
// sign-out brings the sign-in back; a forged callback says it failed.
// Every state passes the WCAG audit.
func TestIntegrationSignInInBrowser(t *testing.T) {
	is := oidctest.Start(t)
	is.Key("k1", jose.ES256, true)
	be := miniBackend(t)
	late := &lateLogin{}
	base := serveTCPOn(t, server.Config{Auth: &auth.Creators{}, Login: late, SessionTTL: time.Hour}, be)
	var err error
	if late.Login, err = auth.NewLogin(is.URL(), "readonce-web", "", base+"/auth/callback", []byte(strings.Repeat("s", 32)), time.Hour, auth.OIDCOptions{}); err != nil {
		t.Fatal(err)
	}
	b := browsertest.Start(t)
	pc := pageChecks{t, b}

	b.Do("open the create page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	if pc.eval(`String(document.getElementById("create-form").hidden)`) != "true" {
		t.Error("the form shows before anyone signed in")
	}
	pc.audit("create page: sign in first")
	b.Do("sign in", chromedp.Click(chromedp.CSS("#signin-link")), chromedp.WaitVisible(chromedp.CSS("#signed-in")))
	pc.waitText("signed in", "who", "person@example.com")
	pc.audit("create page: signed in")

	cookies, err := chromedp.Call(b.Ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		switch c.Name {
		case "readonce_session":
			session = c
		case "readonce_login":
			t.Error("the sign-in's flow cookie outlived the sign-in")
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Secure || session.Path != "/" {
		t.Fatalf("the session cookie: %+v, want HttpOnly, SameSite=Strict, not Secure on a development http run, Path /", session)
	}
	if left := time.Until(time.Unix(int64(session.Expires), 0)); left < 59*time.Minute || left > 61*time.Minute {
		t.Errorf("the session cookie lives %v, want an hour", left)
	}

	b.Do("create as the signed-in person", chromedp.SendKeys(chromedp.CSS("#content"), "from a signed-in person"),
		chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#receipt-url")))
	receipt, _ := chromedp.Run(b.Ctx, chromedp.Value(chromedp.CSS("#receipt-url")))
	resp, err := http.Get(base + "/api/v1/receipts/" + receipt[strings.Index(receipt, "#")+1:])
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		CreatedBy string `json:"created_by"`
	}
	json.NewDecoder(resp.Body).Decode(&rec)
	resp.Body.Close()
	if rec.CreatedBy != "person@example.com" {
		t.Errorf("the receipt says created_by %q", rec.CreatedBy)
	}
	anon, _ := http.Post(base+"/api/v1/secrets/", "application/json", strings.NewReader(`{"content":"x"}`))
	if anon.StatusCode != 401 {
		t.Errorf("a create without the cookie or a token: %d, want 401", anon.StatusCode)
	}
	anon.Body.Close()

	b.Do("sign out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#signout")), chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#signin")))
	got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`(async () => JSON.stringify(await (await fetch("/auth/session")).json()))()`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(got, `"signed_in":false`) {
		t.Errorf("after signing out the session says %s (%v)", got, err)
	}

	b.Do("a forged callback", chromedp.Navigate(base+"/auth/callback?code=1-code&state=forged"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	pc.waitText("a forged callback", "status", "did not work")
	pc.audit("create page: sign-in failed")
	for _, p := range b.Problems() {
		if !strings.Contains(p, "404") {
			t.Errorf("browser reported: %s", p)
		}
	}
}
