package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/readonce/readonce/internal/oidctest"
)

// follow is the browser's trip to the issuer and back: the redirect's
// code and state.
func follow(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("the issuer answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.Query().Get("code"), back.Query().Get("state")
}

func TestLogin(t *testing.T) {
	is := oidctest.Start(t)
	is.Key("k1", jose.ES256, true)
	now := time.Now()
	l, err := NewLogin(is.URL(), "readonce-web", "", "https://secrets.example.com/auth/callback",
		[]byte(strings.Repeat("k", 32)), time.Hour, OIDCOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	authURL, flowCookie, err := l.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("client_id") != "readonce-web" {
		t.Fatalf("the authorization request lacks PKCE, nonce or state: %s", authURL)
	}
	code, state := follow(t, authURL)
	if _, _, err := l.Finish(ctx, code, state+"x", flowCookie); !errors.Is(err, ErrInvalid) {
		t.Errorf("a wrong state: %v, want ErrInvalid", err)
	}
	if _, _, err := l.Finish(ctx, code, state, flowCookie[:len(flowCookie)-2]+"AA"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a tampered flow cookie: %v, want ErrInvalid", err)
	}
	sess, sub, err := l.Finish(ctx, code, state, flowCookie)
	if err != nil || sub != "person@example.com" {
		t.Fatalf("finish: (%q, %v)", sub, err)
	}
	if got, ok := l.Session(sess); !ok || got != "person@example.com" {
		t.Errorf("the session names (%q, %v)", got, ok)
	}
	if _, _, err := l.Finish(ctx, code, state, flowCookie); !errors.Is(err, ErrInvalid) {
		t.Errorf("the code a second time: %v, want ErrInvalid", err)
	}
	for name, bad := range map[string]string{
		"tampered":      sess[:len(sess)-2] + "AA",
		"a flow cookie": flowCookie,
		"empty":         "",
		"another key's": mustSession(t, is.URL()),
	} {
		if _, ok := l.Session(bad); ok {
			t.Errorf("a session cookie that is %s was accepted", name)
		}
	}
	now = now.Add(time.Hour + time.Second)
	if _, ok := l.Session(sess); ok {
		t.Error("a session past its lifetime was accepted")
	}
}

// mustSession signs a session under another key.
func mustSession(t *testing.T, issuer string) string {
	other, err := NewLogin(issuer, "readonce-web", "", "https://x/auth/callback", []byte(strings.Repeat("o", 32)), time.Hour, OIDCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return other.sign("session", session{Sub: "person@example.com", Expires: time.Now().Add(time.Hour).Unix()})
}
