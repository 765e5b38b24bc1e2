package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/readonce/readonce/internal/oidctest"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestOIDC(t *testing.T) {
	is := oidctest.Start(t)
	rs := is.Key("rs-1", jose.RS256, true)
	es := is.Key("es-1", jose.ES256, true)
	stranger := is.Key("rs-1", jose.RS256, false) // the same kid, never published
	o, err := NewOIDC(is.URL(), "readonce", OIDCOptions{RequiredClaims: map[string]string{"repository_owner": "acme"}, RefreshEvery: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, tok := range map[string]string{"RS256": is.Sign(rs, is.Claims(nil)), "ES256": is.Sign(es, is.Claims(nil))} {
		if who, err := o.Verify(ctx, tok); err != nil || who.Name != "repo:acme/app:ref:refs/heads/main" || who.Method != MethodOIDC {
			t.Errorf("%s: (%+v, %v), want the sub", name, who, err)
		}
	}

	// alg "none", and HS256 keyed by the RSA public key (algorithm confusion).
	header := func(alg string) string { return b64([]byte(`{"alg":"` + alg + `","kid":"rs-1","typ":"JWT"}`)) }
	body, _ := json.Marshal(is.Claims(nil))
	none := header("none") + "." + b64(body) + "."
	pub, _ := x509.MarshalPKIXPublicKey(rs.Public().Key)
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(header("HS256") + "." + b64(body)))
	confused := header("HS256") + "." + b64(body) + "." + b64(mac.Sum(nil))

	for name, tok := range map[string]string{
		"wrong aud":               is.Sign(rs, is.Claims(map[string]any{"aud": "someone-else"})),
		"wrong iss":               is.Sign(rs, is.Claims(map[string]any{"iss": "https://evil.example"})),
		"expired":                 is.Sign(rs, is.Claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})),
		"nbf ahead":               is.Sign(rs, is.Claims(map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()})),
		"unknown key":             is.Sign(stranger, is.Claims(nil)),
		"alg none":                none,
		"HS256 with the pub key":  confused,
		"missing required claim":  is.Sign(rs, is.Claims(map[string]any{"repository_owner": nil})),
		"another required claim":  is.Sign(es, is.Claims(map[string]any{"repository_owner": "evil-corp"})),
		"no sub":                  is.Sign(rs, is.Claims(map[string]any{"sub": nil})),
		"not a JWT":               "not.a.token",
		"a v1 JWT (HS256, other)": strings.Join([]string{header("HS256"), b64(body), b64([]byte("sig"))}, "."),
	} {
		if who, err := o.Verify(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: (%+v, %v), want ErrInvalid", name, who, err)
		}
	}

	// Rotation: a token by a new key makes one refresh, and verifies.
	fresh := is.Key("rs-2", jose.RS256, false)
	is.Rotate(fresh, es)
	hits := is.Fetches()
	if who, err := o.Verify(ctx, is.Sign(fresh, is.Claims(nil))); err != nil || who.Name == "" {
		t.Fatalf("after the issuer rotated its keys: (%+v, %v)", who, err)
	}
	if is.Fetches() != hits+1 {
		t.Errorf("%d JWKS fetches for one new key, want 1", is.Fetches()-hits)
	}
	if _, err := o.Verify(ctx, is.Sign(rs, is.Claims(nil))); !errors.Is(err, ErrInvalid) {
		t.Errorf("a token by a key the issuer dropped: %v, want ErrInvalid", err)
	}

	// The issuer down: known keys still verify; a new key is "try again".
	is.SetDown(true)
	if _, err := o.Verify(ctx, is.Sign(es, is.Claims(nil))); err != nil {
		t.Errorf("a cached key while the issuer is down: %v", err)
	}
	newer := is.Key("es-2", jose.ES256, true)
	if _, err := o.Verify(ctx, is.Sign(newer, is.Claims(nil))); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("a new key while the issuer is down: %v, want an unavailable error (503), not ErrInvalid", err)
	}
	is.SetDown(false)
	if _, err := o.Verify(ctx, is.Sign(newer, is.Claims(nil))); err != nil {
		t.Errorf("the new key once the issuer is back: %v", err)
	}
}

// Refreshes are rate-limited: one unknown key id asked for again and
// again costs one fetch (and 401s); a flood of distinct made-up ids costs
// what is left of the burst of five, then "try again" (503) — while known
// keys verify.
func TestOIDCRefreshIsRateLimited(t *testing.T) {
	is := oidctest.Start(t)
	rs := is.Key("rs-1", jose.RS256, true)
	now := time.Now()
	o, _ := NewOIDC(is.URL(), "readonce", OIDCOptions{RefreshEvery: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	if _, err := o.Verify(ctx, is.Sign(rs, is.Claims(nil))); err != nil {
		t.Fatal(err)
	}
	hits := is.Fetches()
	for i := range 20 {
		k := is.Key("made-up", jose.RS256, false)
		if _, err := o.Verify(ctx, is.Sign(k, is.Claims(nil))); !errors.Is(err, ErrInvalid) {
			t.Fatalf("token %d by an unpublished key: %v, want ErrInvalid", i, err)
		}
	}
	if got := is.Fetches() - hits; got != 1 {
		t.Errorf("one unknown key id, 20 times: %d JWKS fetches, want 1", got)
	}
	var invalid, later int
	for i := range 20 {
		k := is.Key("flood-"+string(rune('a'+i)), jose.RS256, false)
		_, err := o.Verify(ctx, is.Sign(k, is.Claims(nil)))
		switch {
		case errors.Is(err, ErrInvalid):
			invalid++
		case err != nil:
			later++
		default:
			t.Fatal("a made-up key verified")
		}
	}
	if got := is.Fetches() - hits; got != 4 || invalid != 3 || later != 17 { // the burst of five, less the first fetch and the made-up one
		t.Errorf("20 distinct unknown key ids: %d fetches in all, %d invalid, %d try-again; want 4, 3 and 17", got, invalid, later)
	}
	if _, err := o.Verify(ctx, is.Sign(rs, is.Claims(nil))); err != nil {
		t.Errorf("a known key during the flood: %v", err)
	}
	now = now.Add(time.Minute)
	fresh := is.Key("rs-2", jose.RS256, true)
	if _, err := o.Verify(ctx, is.Sign(fresh, is.Claims(nil))); err != nil {
		t.Errorf("a rotated key a minute after the flood: %v", err)
	}
}
