package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Login is the create page's sign-in for people: the OpenID Connect
// authorization-code flow with PKCE (S256), state and nonce, at the same
// issuer as AUTH_OIDC_ISSUER, for the client AUTH_OIDC_CLIENT_ID. It ends
// in a session: a cookie holding the person's sub and an expiry, signed
// (HMAC-SHA256 under a key derived from SECRET_KEY), so any replica can
// check it and nothing is stored. The flow's own state (state, PKCE
// verifier, nonce) travels in a second signed cookie for ten minutes.
type Login struct {
	oidc       *OIDC // verifies the ID token for the client ID
	conf       oauth2.Config
	key        []byte
	SessionTTL time.Duration
	client     *http.Client
	now        func() time.Time
}

// flowTTL bounds how long a person may take at the issuer's login page.
const flowTTL = 10 * time.Minute

// NewLogin signs people in at issuer as clientID (clientSecret may be
// empty: a public client, PKCE alone), coming back to redirectURL. key
// signs the cookies; sessions last sessionTTL.
func NewLogin(issuer, clientID, clientSecret, redirectURL string, key []byte, sessionTTL time.Duration, opts OIDCOptions) (*Login, error) {
	if clientID == "" || redirectURL == "" || len(key) < 32 || sessionTTL <= 0 {
		return nil, errors.New("auth: login needs a client ID, a redirect URL, a 32-byte key and a session lifetime")
	}
	o, err := NewOIDC(issuer, clientID, opts)
	if err != nil {
		return nil, err
	}
	return &Login{oidc: o, key: key, SessionTTL: sessionTTL, client: o.client, now: o.now,
		conf: oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL, Scopes: []string{oidc.ScopeOpenID}}}, nil
}

// flow is the signed login-in-progress cookie's content.
type flow struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Expires  int64  `json:"e"`
}

// session is the signed session cookie's content.
type session struct {
	Sub     string `json:"sub"`
	Expires int64  `json:"e"`
}

// Start begins a sign-in: the issuer URL to send the browser to, and the
// flow cookie's value.
func (l *Login) Start(ctx context.Context) (authURL, flowCookie string, err error) {
	ep, err := l.oidc.endpoints(l.ctx(ctx))
	if err != nil {
		return "", "", err
	}
	f := flow{State: random(), Verifier: oauth2.GenerateVerifier(), Nonce: random(), Expires: l.now().Add(flowTTL).Unix()}
	conf := l.conf
	conf.Endpoint = oauth2.Endpoint{AuthURL: ep.AuthEndpoint, TokenURL: ep.TokenEndpoint}
	return conf.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), l.sign("flow", f), nil
}

// Finish completes a sign-in with the issuer's code and state, checked
// against the flow cookie: the session cookie's value and who signed in.
// ErrInvalid for a state, code, token or nonce that does not hold; other
// errors mean the issuer could not be asked.
func (l *Login) Finish(ctx context.Context, code, state, flowCookie string) (sessionCookie, sub string, err error) {
	var f flow
	if !l.open("flow", flowCookie, &f) || f.Expires < l.now().Unix() || state == "" || !hmac.Equal([]byte(state), []byte(f.State)) || code == "" {
		return "", "", ErrInvalid
	}
	ep, err := l.oidc.endpoints(l.ctx(ctx))
	if err != nil {
		return "", "", err
	}
	conf := l.conf
	conf.Endpoint = oauth2.Endpoint{AuthURL: ep.AuthEndpoint, TokenURL: ep.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}
	tok, err := conf.Exchange(l.ctx(ctx), code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return "", "", ErrInvalid // the issuer refused the code
		}
		return "", "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := l.oidc.verifier.Verify(context.WithValue(l.ctx(ctx), unavailableKey{}, &unavailable{}), raw)
	if err != nil || id.Subject == "" || !hmac.Equal([]byte(id.Nonce), []byte(f.Nonce)) {
		return "", "", ErrInvalid
	}
	return l.sign("session", session{Sub: id.Subject, Expires: l.now().Add(l.SessionTTL).Unix()}), id.Subject, nil
}

// Session is who a session cookie names, while it has not expired.
func (l *Login) Session(cookie string) (sub string, ok bool) {
	var s session
	if !l.open("session", cookie, &s) || s.Expires < l.now().Unix() || s.Sub == "" {
		return "", false
	}
	return s.Sub, true
}

func (l *Login) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, l.client)
}

// sign is base64url(JSON) "." base64url(HMAC(key, purpose ‖ JSON)): the
// purpose keeps a flow cookie from passing for a session.
func (l *Login) sign(purpose string, v any) string {
	payload, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(l.mac(purpose, payload))
}

func (l *Login) open(purpose, cookie string, into any) bool {
	p, m, ok := strings.Cut(cookie, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, l.mac(purpose, payload)) {
		return false
	}
	return json.Unmarshal(payload, into) == nil
}

func (l *Login) mac(purpose string, payload []byte) []byte {
	h := hmac.New(sha256.New, l.key)
	h.Write([]byte("readonce/login/" + purpose + "\x00"))
	h.Write(payload)
	return h.Sum(nil)
}

func random() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
