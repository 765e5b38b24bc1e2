package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// API tokens: named, opaque creator tokens an operator makes with
// `readonce tokens create --name NAME`. A token is "ro_" and 32 random
// bytes in base64url; the store keeps only its SHA-256 (hex), with the
// name and dates. A token has 256 bits of entropy, so an unsalted hash is
// enough: nobody can guess a preimage, and the hash is the lookup key, so
// verifying is one read and needs no comparison of secrets at all.

// APITokenPrefix starts every API token: it tells them from JWTs and
// makes a leaked one easy for secret scanners to find.
const APITokenPrefix = "ro_"

const apiTokenBytes = 32

// Creator is who a verified token names: the API token's name, or a JWT's
// or OIDC token's sub, and how it was proven (for metrics, never with the
// name).
type Creator struct {
	Name   string
	Method string // MethodAPIToken, MethodJWT or MethodOIDC
}

// Methods a creator proves itself by.
const (
	MethodAPIToken = "api_token"
	MethodJWT      = "jwt"
	MethodOIDC     = "oidc"
)

// ErrInvalid is every reason a token is refused (a 401); the reason itself
// is not told to clients. Any other error from a verifier means the token
// could not be checked now (a 503): nothing is stored either way.
var ErrInvalid = errInvalid

// NewAPIToken makes a token and the hash to store for it.
func NewAPIToken() (token, hash string, err error) {
	var b [apiTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = APITokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	hash, _ = HashAPIToken(token)
	return token, hash, nil
}

// HashAPIToken is the stored hash of a well-formed API token.
func HashAPIToken(token string) (string, bool) {
	raw, ok := strings.CutPrefix(token, APITokenPrefix)
	if !ok {
		return "", false
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(raw); err != nil || len(b) != apiTokenBytes {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:]), true
}

// CheckTokenName says whether name can name an API token: 1–64 of
// A–Z a–z 0–9 . _ - (it lands in receipts and in `tokens list`).
func CheckTokenName(name string) error {
	if name == "" || len(name) > 64 || strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
		return fmt.Errorf("a token name is 1 to 64 of A-Z a-z 0-9 . _ -, got %q", name)
	}
	return nil
}

// TokenStore finds an API token by its hash: its name, if it exists and
// has not expired at now.
type TokenStore interface {
	LookupAPIToken(ctx context.Context, hash string, now time.Time) (name string, found bool, err error)
}

// Creators verifies every kind of creator token this server accepts: API
// tokens in a TokenStore, the v1 JWT, OIDC ID tokens (each when set).
type Creators struct {
	JWT       *Tokens
	APITokens TokenStore
	OIDC      *OIDC
	Now       func() time.Time // nil: time.Now
}

// Verify returns who token names. An API token is looked up on every
// request — no cache — so a revocation holds on the next request of every
// replica.
func (c *Creators) Verify(ctx context.Context, token string) (Creator, error) {
	if strings.HasPrefix(token, APITokenPrefix) {
		hash, ok := HashAPIToken(token)
		if !ok || c.APITokens == nil {
			return Creator{}, ErrInvalid
		}
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		name, found, err := c.APITokens.LookupAPIToken(ctx, hash, now())
		switch {
		case err != nil:
			return Creator{}, fmt.Errorf("auth: API tokens: %w", err)
		case !found:
			return Creator{}, ErrInvalid
		}
		return Creator{Name: name, Method: MethodAPIToken}, nil
	}
	if c.JWT != nil {
		if sub, err := c.JWT.Verify(token); err == nil {
			return Creator{Name: sub, Method: MethodJWT}, nil
		}
	}
	if c.OIDC != nil {
		return c.OIDC.Verify(ctx, token)
	}
	return Creator{}, ErrInvalid
}

// ErrTokenExists: create with a name already taken (revoke it first).
var ErrTokenExists = errors.New("auth: a token of that name exists")
