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
	key    []byte
	method jwt.SigningMethod
	ttl    time.Duration
	now    func() time.Time
}

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
// and issue tokens valid for ttl.
func New(key []byte, alg string, ttl time.Duration) (*Tokens, error) {
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
	return &Tokens{key: key, method: m, ttl: ttl, now: time.Now}, nil
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

// Verify checks a token's signature, algorithm (only the configured one:
// "none", RS* and ES* never pass) and expiry, and returns its subject.
func (t *Tokens) Verify(token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{t.method.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return "", errInvalid
	}
	return claims.Subject, nil
}
