package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// OIDC verifies ID tokens from an OpenID Connect issuer — a CI system
// (GitHub Actions, GitLab CI), Kubernetes service accounts, a company's
// identity provider — with go-oidc: issuer, audience, expiry, not-before,
// and a signature by RS256 or ES256 only (never "none", never an HMAC keyed
// by a public key). Discovery and the JWKS are fetched with timeouts and
// kept; a token signed by a key not among them makes one refresh, so the
// issuer's key rotation needs no restart. Refreshes are rate-limited: a
// burst of five, then one per RefreshEvery, and a key id the issuer just
// did not have is refused without asking again, so a flood of made-up key
// ids costs the issuer a handful of requests. While the issuer cannot be
// reached (or the budget is spent), tokens by known keys still verify and
// tokens by new keys get a 503, never a 401.
type OIDC struct {
	issuer   string
	audience string
	required map[string]string
	client   *http.Client
	every    time.Duration
	now      func() time.Time
	keys     *jwks
	verifier *oidc.IDTokenVerifier
}

// OIDCOptions tune an OIDC verifier; the zero value is the default.
type OIDCOptions struct {
	RequiredClaims map[string]string // each claim must be this string, e.g. repository_owner=acme
	HTTPClient     *http.Client      // nil: 5 s timeouts
	RefreshEvery   time.Duration     // 0: 10 s: one more refresh on unknown keys (of a burst of five) each
	Now            func() time.Time  // nil: time.Now
}

// oidcAlgorithms are the only signatures accepted.
var oidcAlgorithms = []string{oidc.RS256, oidc.ES256}

// NewOIDC verifies tokens of issuer for audience. It fetches nothing yet:
// a server starts while its issuer is down.
func NewOIDC(issuer, audience string, opts OIDCOptions) (*OIDC, error) {
	if issuer == "" || audience == "" {
		return nil, errors.New("auth: OIDC needs an issuer and an audience")
	}
	o := &OIDC{issuer: strings.TrimRight(issuer, "/"), audience: audience, required: opts.RequiredClaims,
		client: opts.HTTPClient, every: opts.RefreshEvery, now: opts.Now}
	if o.client == nil {
		o.client = &http.Client{Timeout: 5 * time.Second}
	}
	if o.every == 0 {
		o.every = 10 * time.Second
	}
	if o.now == nil {
		o.now = time.Now
	}
	o.keys = &jwks{o: o}
	// go-oidc checks iss against the issuer exactly as configured.
	o.verifier = oidc.NewVerifier(issuer, o.keys, &oidc.Config{ClientID: audience, SupportedSigningAlgs: oidcAlgorithms, Now: o.now})
	return o, nil
}

// unavailable is set, for one verification, when the keys could not be
// had: go-oidc flattens the KeySet's error into text, so the cause travels
// beside it.
type unavailable struct{ err error }

type unavailableKey struct{}

// Verify returns the token's sub, or ErrInvalid, or an error meaning the
// issuer could not be asked (a 503).
func (o *OIDC) Verify(ctx context.Context, token string) (Creator, error) {
	u := &unavailable{}
	ctx = context.WithValue(ctx, unavailableKey{}, u)
	id, err := o.verifier.Verify(ctx, token)
	switch {
	case err != nil && u.err != nil:
		return Creator{}, fmt.Errorf("auth: OIDC issuer: %w", u.err)
	case err != nil:
		return Creator{}, ErrInvalid
	case id.Subject == "":
		return Creator{}, ErrInvalid
	}
	if len(o.required) > 0 {
		var claims map[string]any
		if err := id.Claims(&claims); err != nil {
			return Creator{}, ErrInvalid
		}
		for k, want := range o.required {
			if got, ok := claims[k].(string); !ok || got != want {
				return Creator{}, ErrInvalid
			}
		}
	}
	return Creator{Name: id.Subject, Method: MethodOIDC}, nil
}

// jwks is the issuer's key set as last fetched.
type jwks struct {
	o    *OIDC
	mu   sync.Mutex
	disc discovery // once it worked
	keys jose.JSONWebKeySet
	// Refreshes on unknown keys: a budget of refreshBurst, one more each
	// RefreshEvery; and a key id a good fetch just lacked is not looked
	// for again within RefreshEvery.
	budget   float64
	refilled time.Time
	lacked   map[string]time.Time
}

// refreshBurst is how many unknown key ids may make a fetch at once:
// enough for a rotation beside a stray token, few for a flood.
const refreshBurst = 5

// VerifySignature is go-oidc's KeySet: the payload of a token signed by a
// key of the set, refreshing the set (within its budget) for a key it
// lacks. A key id the issuer just did not have is invalid; a refresh that
// failed or was over budget is "try again" (the caller's 503).
func (k *jwks) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	algs := []jose.SignatureAlgorithm{jose.RS256, jose.ES256}
	jws, err := jose.ParseSigned(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("auth: not one RS256 or ES256 signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	if payload, ok := k.verify(jws, kid); ok {
		return payload, nil
	}
	if err := k.refresh(ctx, kid); errors.Is(err, errJustLacked) {
		return nil, err
	} else if err != nil {
		if u, ok := ctx.Value(unavailableKey{}).(*unavailable); ok {
			u.err = err
		}
		return nil, err
	}
	if payload, ok := k.verify(jws, kid); ok {
		return payload, nil
	}
	return nil, errors.New("auth: no key of the issuer verifies the token")
}

func (k *jwks) verify(jws *jose.JSONWebSignature, kid string) ([]byte, bool) {
	k.mu.Lock()
	candidates := k.keys.Keys
	if kid != "" {
		candidates = k.keys.Key(kid)
	}
	k.mu.Unlock()
	for _, key := range candidates {
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

var (
	// errRefreshedRecently: refreshes are over budget (a flood of unknown
	// key ids); the answer is "try again", never "invalid".
	errRefreshedRecently = errors.New("auth: the issuer's keys were fetched moments ago; try again")
	// errJustLacked: a fetch moments ago did not have this key id.
	errJustLacked = errors.New("auth: the issuer has no such key")
)

// refresh fetches discovery (once it worked, it is kept) and the JWKS,
// for a token whose key id is kid.
func (k *jwks) refresh(ctx context.Context, kid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.o.now()
	if at, ok := k.lacked[kid]; ok && now.Sub(at) < k.o.every {
		return errJustLacked
	}
	if k.refilled.IsZero() {
		k.budget = refreshBurst
	} else {
		k.budget = min(refreshBurst, k.budget+float64(now.Sub(k.refilled))/float64(k.o.every))
	}
	k.refilled = now
	if k.budget < 1 {
		return errRefreshedRecently
	}
	k.budget--
	if err := k.fetch(ctx); err != nil {
		return err
	}
	if len(k.keys.Key(kid)) == 0 {
		if k.lacked == nil || len(k.lacked) > 1000 {
			k.lacked = map[string]time.Time{}
		}
		k.lacked[kid] = now
	}
	return nil
}

// discovery is what the issuer's openid-configuration says.
type discovery struct {
	Issuer        string `json:"issuer"`
	JWKSURI       string `json:"jwks_uri"`
	AuthEndpoint  string `json:"authorization_endpoint"`
	TokenEndpoint string `json:"token_endpoint"`
}

// discover fetches the openid-configuration unless it already worked;
// k.mu is held.
func (k *jwks) discover(ctx context.Context) error {
	if k.disc.JWKSURI != "" {
		return nil
	}
	var doc discovery
	if err := k.get(ctx, k.o.issuer+"/.well-known/openid-configuration", &doc); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if strings.TrimRight(doc.Issuer, "/") != k.o.issuer || doc.JWKSURI == "" {
		return fmt.Errorf("discovery: the document names issuer %q and jwks_uri %q", doc.Issuer, doc.JWKSURI)
	}
	k.disc = doc
	return nil
}

// endpoints are the issuer's authorization and token endpoints, for the
// create page's login.
func (o *OIDC) endpoints(ctx context.Context) (discovery, error) {
	o.keys.mu.Lock()
	defer o.keys.mu.Unlock()
	if err := o.keys.discover(ctx); err != nil {
		return discovery{}, err
	}
	if o.keys.disc.AuthEndpoint == "" || o.keys.disc.TokenEndpoint == "" {
		return discovery{}, errors.New("discovery: the issuer names no authorization or token endpoint")
	}
	return o.keys.disc, nil
}

func (k *jwks) fetch(ctx context.Context) error {
	if err := k.discover(ctx); err != nil {
		return err
	}
	var set jose.JSONWebKeySet
	if err := k.get(ctx, k.disc.JWKSURI, &set); err != nil {
		return fmt.Errorf("JWKS: %w", err)
	}
	k.keys = set
	return nil
}

func (k *jwks) get(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.o.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into)
}
