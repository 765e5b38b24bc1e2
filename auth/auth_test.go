package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var key = []byte("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")

func newTokens(t *testing.T, alg string) *Tokens {
	t.Helper()
	tk, err := New(key, alg, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tk := newTokens(t, "HS256")
	valid, _, err := tk.Issue("ci-bot")
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := tk.Verify(valid); err != nil || sub != "ci-bot" {
		t.Fatalf("valid token: got (%q, %v)", sub, err)
	}

	past := newTokens(t, "HS256")
	past.now = func() time.Time { return time.Now().Add(-time.Hour) }
	expired, _, _ := past.Issue("late")

	other, _ := New([]byte("another-key-of-32-bytes-or-more-0000000"), "HS256", time.Hour)
	wrongKey, _, _ := other.Issue("x")

	hs512, _, _ := newTokens(t, "HS512").Issue("x")

	parts := strings.Split(valid, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "ci-bot", "admin!", 1))) + "." + parts[2]

	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{
		Subject: "x", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rs256, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Subject: "x", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(rsaKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	es256, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
		Subject: "x", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(ecKey)

	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "x"}).SignedString(key)

	for name, tok := range map[string]string{
		"expired": expired, "wrong key": wrongKey, "algorithm mismatch (HS512)": hs512,
		"tampered payload": tampered, "alg none": none, "RS256": rs256, "ES256": es256,
		"no exp": noExp, "empty": "", "garbage": "a.b.c",
	} {
		if sub, err := tk.Verify(tok); !errors.Is(err, errInvalid) || sub != "" {
			t.Errorf("%s: got (%q, %v), want errInvalid", name, sub, err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"none", "RS256", "ES256", "hs256", ""} {
		if _, err := New(key, alg, time.Minute); err == nil {
			t.Errorf("New accepted algorithm %q", alg)
		}
	}
	if _, err := New(nil, "HS256", time.Minute); err == nil {
		t.Error("New accepted an empty key")
	}
}

func TestIssueExpiry(t *testing.T) {
	t.Parallel()
	tk := newTokens(t, "HS384")
	_, exp, err := tk.Issue("x")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 29*time.Minute || d > 30*time.Minute {
		t.Errorf("expires in %v, want 30m", d)
	}
	if _, _, err := tk.Issue(""); err == nil {
		t.Error("issued a token without a subject")
	}
}

// Claims a careful verifier refuses, each signed with the right key: an
// issue time ahead, a lifetime longer than this server issues, no subject,
// no issue time, and a critical header extension nobody here understands.
func TestVerifyRefusesOddClaims(t *testing.T) {
	t.Parallel()
	tk := newTokens(t, "HS256") // issues 30-minute tokens
	now := time.Now()
	sign := func(c jwt.RegisteredClaims, header map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	good := jwt.RegisteredClaims{Subject: "ci", IssuedAt: at(0), ExpiresAt: at(30 * time.Minute)}
	if _, err := tk.Verify(sign(good, nil)); err != nil {
		t.Fatalf("the well-formed token is refused: %v", err)
	}
	for name, tok := range map[string]string{
		"iat in the future": sign(jwt.RegisteredClaims{Subject: "ci", IssuedAt: at(time.Hour), ExpiresAt: at(90 * time.Minute)}, nil),
		"a year of life":    sign(jwt.RegisteredClaims{Subject: "ci", IssuedAt: at(0), ExpiresAt: at(365 * 24 * time.Hour)}, nil),
		"no sub":            sign(jwt.RegisteredClaims{IssuedAt: at(0), ExpiresAt: at(time.Minute)}, nil),
		"no iat":            sign(jwt.RegisteredClaims{Subject: "ci", ExpiresAt: at(time.Minute)}, nil),
		"crit header":       sign(good, map[string]any{"crit": []string{"exp"}}),
	} {
		if sub, err := tk.Verify(tok); !errors.Is(err, errInvalid) || sub != "" {
			t.Errorf("%s: got (%q, %v), want errInvalid", name, sub, err)
		}
	}
}

// During a SECRET_KEY rotation, tokens signed with the previous key still
// verify; new tokens are signed with the current one.
func TestVerifyDuringRotation(t *testing.T) {
	t.Parallel()
	oldKey := []byte("the-previous-server-key-of-32-bytes-0000")
	old, _ := New(oldKey, "HS256", 30*time.Minute)
	issuedBefore, _, _ := old.Issue("ci")
	rotated, err := New(key, "HS256", 30*time.Minute, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := rotated.Verify(issuedBefore); err != nil || sub != "ci" {
		t.Errorf("a token of the previous key during the rotation: (%q, %v), want it accepted", sub, err)
	}
	fresh, _, _ := rotated.Issue("ci")
	if _, err := old.Verify(fresh); err == nil {
		t.Errorf("a new token was signed with the previous key")
	}
	if _, err := New(key, "HS256", time.Minute, nil); err == nil {
		t.Errorf("an empty previous key was accepted")
	}
}
