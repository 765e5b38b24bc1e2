// Package oidctest is a local OpenID Connect issuer for tests, on
// loopback: discovery, a JWKS it can rotate, RS256 and ES256 keys, tokens
// signed by published keys or by keys it never published, and an outage.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
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

	// The authorization-code flow: every sign-in succeeds, as LoginSub,
	// for a client that proves its PKCE verifier.
	LoginSub string
	codes    map[string]grant
}

// grant is one issued authorization code.
type grant struct {
	clientID, redirectURI, challenge, nonce string
}

// Start runs an issuer until the test ends.
func Start(t testing.TB) *Issuer {
	is := &Issuer{t: t, LoginSub: "person@example.com", codes: map[string]grant{}}
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
				"authorization_endpoint": is.Server.URL + "/authorize", "token_endpoint": is.Server.URL + "/token",
				"id_token_signing_alg_values_supported": []string{"RS256", "ES256"}})
		case "/authorize":
			is.authorize(w, r)
		case "/token":
			is.token(w, r)
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

// authorize signs the person in at once and sends the browser back with
// a code, as an identity provider does after its login page.
func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("client_id") == "" || q.Get("redirect_uri") == "" || !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := strconv.Itoa(len(is.codes)+1) + "-code"
	is.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token exchanges a code, once, for an ID token, checking the PKCE
// verifier, the client and the redirect URI.
func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	g, ok := is.codes[r.PostForm.Get("code")]
	delete(is.codes, r.PostForm.Get("code"))
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || r.PostForm.Get("grant_type") != "authorization_code" || g.clientID != r.PostForm.Get("client_id") ||
		g.redirectURI != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge || len(is.keys) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant"}`)
		return
	}
	claims := is.Claims(map[string]any{"aud": g.clientID, "sub": is.LoginSub, "nonce": g.nonce, "repository_owner": nil})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": "opaque", "token_type": "Bearer", "expires_in": 300,
		"id_token": is.Sign(is.keys[0], claims)})
}

// Unsigned is a token with claims and alg "none".
func (is *Issuer) Unsigned(kid string, claims map[string]any) string {
	return b64(header("none", kid)) + "." + b64(mustJSON(claims)) + "."
}

// KeyConfused is a token "signed" HS256 with key's public key as the HMAC
// secret: what an algorithm-confusion attack sends.
func (is *Issuer) KeyConfused(key jose.JSONWebKey, claims map[string]any) string {
	pub, err := x509.MarshalPKIXPublicKey(key.Public().Key)
	if err != nil {
		is.t.Fatal(err)
	}
	signing := b64(header("HS256", key.KeyID)) + "." + b64(mustJSON(claims))
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(signing))
	return signing + "." + b64(mac.Sum(nil))
}

func header(alg, kid string) []byte {
	return mustJSON(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
