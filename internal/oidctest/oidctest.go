// Package oidctest is a local OpenID Connect issuer for tests, on
// loopback: discovery, a JWKS it can rotate, RS256 and ES256 keys, tokens
// signed by published keys or by keys it never published, and an outage.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a local OpenID Connect issuer on loopback: discovery, a JWKS
// it can rotate, and tokens signed by its keys (or by keys it never
// published). It can also go down.
type Issuer struct {
	t      testing.TB
	Server *httptest.Server
	mu     sync.Mutex
	keys   []jose.JSONWebKey // private; published as public
	down   bool
	hits   int // JWKS fetches (Fetches)
}

// Start runs an issuer until the test ends.
func Start(t testing.TB) *Issuer {
	is := &Issuer{t: t}
	is.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		if is.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{"issuer": is.Server.URL, "jwks_uri": is.Server.URL + "/jwks",
				"id_token_signing_alg_values_supported": []string{"RS256", "ES256"}})
		case "/jwks":
			is.hits++
			var set jose.JSONWebKeySet
			for _, k := range is.keys {
				set.Keys = append(set.Keys, k.Public())
			}
			json.NewEncoder(w).Encode(set)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(is.Server.Close)
	return is
}

// Key makes a signing key (RS256 or ES256) and, when publish, adds it to
// the JWKS.
func (is *Issuer) Key(kid string, alg jose.SignatureAlgorithm, publish bool) jose.JSONWebKey {
	is.t.Helper()
	var priv crypto.Signer
	var err error
	if alg == jose.ES256 {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		is.t.Fatal(err)
	}
	k := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(alg), Use: "sig"}
	if publish {
		is.mu.Lock()
		is.keys = append(is.keys, k)
		is.mu.Unlock()
	}
	return k
}

// Rotate publishes exactly these keys from now on.
func (is *Issuer) Rotate(to ...jose.JSONWebKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = to
}

// SetDown makes every request fail with 503, or not.
func (is *Issuer) SetDown(down bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.down = down
}

// Sign makes a token with claims by key.
func (is *Issuer) Sign(key jose.JSONWebKey, claims map[string]any) string {
	is.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		is.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		is.t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		is.t.Fatal(err)
	}
	return tok
}

// Claims are a valid token's claims (iss, aud "readonce", sub, iat, exp,
// repository_owner "acme"), with over's set, or deleted where nil.
func (is *Issuer) Claims(over map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": is.Server.URL, "aud": "readonce", "sub": "repo:acme/app:ref:refs/heads/main",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "repository_owner": "acme"}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// URL is the issuer's URL (its iss).
func (is *Issuer) URL() string { return is.Server.URL }

// Fetches is how often the JWKS was fetched.
func (is *Issuer) Fetches() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.hits
}
