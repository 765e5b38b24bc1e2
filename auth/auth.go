// Package auth issues and verifies the bearer tokens that creators present
// when REQUIRE_AUTH is on: JWTs signed with SECRET_KEY by one pinned HMAC
// algorithm, with an enforced expiry.
package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// errInvalid is every reason a token is refused; the reason itself is not
// told to clients.
var errInvalid = errors.New("auth: invalid token")

// Tokens issues and verifies creator tokens.
type Tokens struct {
	key      []byte   // signs, and verifies
	previous [][]byte // only verify: tokens issued before a SECRET_KEY rotation
	method   jwt.SigningMethod
	ttl      time.Duration
	now      func() time.Time
}

// leeway is how far the clocks of issuer and verifier may disagree.
const leeway = 5 * time.Second

// algorithms are the only ones a token may be signed with: HMACs keyed by
// SECRET_KEY. Asymmetric and "none" are never accepted.
var algorithms = map[string]jwt.SigningMethod{
	"HS256": jwt.SigningMethodHS256,
	"HS384": jwt.SigningMethodHS384,
	"HS512": jwt.SigningMethodHS512,
}

// CheckAlgorithm says whether alg is one New accepts.
func CheckAlgorithm(alg string) error {
	if _, ok := algorithms[alg]; !ok {
		return fmt.Errorf("must be HS256, HS384 or HS512, got %q", alg)
	}
	return nil
}

// New returns Tokens that sign with key by alg (HS256, HS384 or HS512)
// and issue tokens valid for ttl; tokens signed with any of previous still
// verify (a SECRET_KEY rotation must not log every CI job out at once).
func New(key []byte, alg string, ttl time.Duration, previous ...[]byte) (*Tokens, error) {
	if err := CheckAlgorithm(alg); err != nil {
		return nil, fmt.Errorf("auth: algorithm %w", err)
	}
	m := algorithms[alg]
	if len(key) == 0 {
		return nil, errors.New("auth: empty key")
	}
	if ttl <= 0 {
		return nil, errors.New("auth: token lifetime must be positive")
	}
	for _, k := range previous {
		if len(k) == 0 {
			return nil, errors.New("auth: empty previous key")
		}
	}
	return &Tokens{key: key, previous: previous, method: m, ttl: ttl, now: time.Now}, nil
}

// LogValue keeps the key out of logs.
func (t *Tokens) LogValue() slog.Value { return slog.StringValue("[tokens " + t.method.Alg() + "]") }

// Issue returns a token for subject and when it expires.
func (t *Tokens) Issue(subject string) (string, time.Time, error) {
	if subject == "" {
		return "", time.Time{}, errors.New("auth: empty subject")
	}
	now := t.now()
	exp := now.Add(t.ttl)
	tok, err := jwt.NewWithClaims(t.method, jwt.RegisteredClaims{
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}).SignedString(t.key)
	return tok, exp, err
}

// Verify checks a token's signature (by the current key or a previous one),
// its algorithm (only the configured one: "none", RS* and ES* never pass),
// and its claims: a subject, an expiry, an issue time not in the future and
// no further from the expiry than this server would issue (a token minted
// for a year is refused), and no critical header extension, since none is
// understood here (RFC 7515 §4.1.11). It returns the subject.
func (t *Tokens) Verify(token string) (string, error) {
	var claims jwt.RegisteredClaims
	keys := jwt.VerificationKeySet{Keys: []jwt.VerificationKey{t.key}}
	for _, k := range t.previous {
		keys.Keys = append(keys.Keys, k)
	}
	parsed, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return keys, nil },
		jwt.WithValidMethods([]string{t.method.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(leeway),
	)
	switch {
	case err != nil:
		return "", errInvalid
	case parsed.Header["crit"] != nil:
		return "", errInvalid
	case claims.Subject == "", claims.IssuedAt == nil:
		return "", errInvalid
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > t.ttl+leeway:
		return "", errInvalid
	}
	return claims.Subject, nil
}
