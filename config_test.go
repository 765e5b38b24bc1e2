package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/readonce/readonce/seal"
)

const strongKey = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(map[string]string{}) // non-nil: never the process environment
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8000 || c.PublicURL != "http://localhost:8000" || c.AppEnv != "development" ||
		c.MaxContentBytes != 65536 || c.DefaultTTLHours != 24 || c.MaxTTLHours != 168 ||
		c.RedisTimeout.Seconds() != 2 || c.Algorithm != "HS256" || c.LogFormat != "text" {
		t.Errorf("defaults: got %+v", c)
	}
	if !c.ephemeralKey || len(c.SecretKey) < minSecretKey {
		t.Errorf("development without SECRET_KEY should get an ephemeral key")
	}
	if c.Host != "127.0.0.1" {
		t.Errorf("development listens on %q, want loopback only", c.Host)
	}
}

func TestConfigRejects(t *testing.T) {
	t.Parallel()
	prod := func(kv ...string) map[string]string {
		m := map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r:6379", "SECRET_KEY": strongKey}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"production without SECRET_KEY", prod("SECRET_KEY", ""), "SECRET_KEY"},
		{"production without REDIS_URL", prod("REDIS_URL", ""), "REDIS_URL"},
		{"production with a short key", prod("SECRET_KEY", "abc123"), "SECRET_KEY"},
		{"production with changeme", prod("SECRET_KEY", "changeme-changeme-changeme-changeme"), "SECRET_KEY"},
		{"production with a placeholder", prod("SECRET_KEY", "your-secret-key-here-please-update-it"), "SECRET_KEY"},
		{"production with a repeated char", prod("SECRET_KEY", strings.Repeat("a", 64)), "SECRET_KEY"},
		{"external Redis without SECRET_KEY", map[string]string{"REDIS_URL": "redis://r:6379"}, "SECRET_KEY"},
		{"short key in development", map[string]string{"SECRET_KEY": "short"}, "SECRET_KEY"},
		{"bad APP_ENV", map[string]string{"APP_ENV": "prod"}, "APP_ENV"},
		{"PORT not a number", map[string]string{"PORT": "http"}, "PORT"},
		{"PORT out of range", map[string]string{"PORT": "70000"}, "PORT"},
		{"PUBLIC_URL without scheme", map[string]string{"PUBLIC_URL": "secrets.example.com"}, "PUBLIC_URL"},
		{"PUBLIC_URL with query", map[string]string{"PUBLIC_URL": "https://x.example/?a=b"}, "PUBLIC_URL"},
		{"PUBLIC_URL with an empty query", map[string]string{"PUBLIC_URL": "https://h?"}, "PUBLIC_URL"},
		{"PUBLIC_URL with an empty fragment", map[string]string{"PUBLIC_URL": "https://h#"}, "PUBLIC_URL"},
		{"PUBLIC_URL with a space", map[string]string{"PUBLIC_URL": "https://h .example"}, "PUBLIC_URL"},
		{"PUBLIC_URL port over 65535", map[string]string{"PUBLIC_URL": "https://h.example:70000"}, "PUBLIC_URL"},
		{"PUBLIC_URL empty port", map[string]string{"PUBLIC_URL": "https://h.example:"}, "PUBLIC_URL"},
		{"PUBLIC_URL host with ;", map[string]string{"PUBLIC_URL": "https://h.example;script-src"}, "PUBLIC_URL"},
		{"PUBLIC_URL with credentials", map[string]string{"PUBLIC_URL": "https://u:p@h.example"}, "PUBLIC_URL"},
		{"PUBLIC_URL host with _", map[string]string{"PUBLIC_URL": "https://under_score.example"}, "PUBLIC_URL"},
		{"REDIS_TIMEOUT not a duration", map[string]string{"REDIS_TIMEOUT": "2"}, "REDIS_TIMEOUT"},
		{"REDIS_TIMEOUT zero", map[string]string{"REDIS_TIMEOUT": "0s"}, "REDIS_TIMEOUT"},
		{"MAX_CONTENT_BYTES zero", map[string]string{"MAX_CONTENT_BYTES": "0"}, "MAX_CONTENT_BYTES"},
		{"DEFAULT over MAX ttl", map[string]string{"DEFAULT_TTL_HOURS": "200"}, "DEFAULT_TTL_HOURS"},
		{"ALGORITHM none", map[string]string{"ALGORITHM": "none"}, "ALGORITHM"},
		{"ALGORITHM RS256", map[string]string{"ALGORITHM": "RS256"}, "ALGORITHM"},
		{"LOG_LEVEL", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"LOG_FORMAT", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"bad TRUSTED_PROXIES", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,not-a-cidr"}, "TRUSTED_PROXIES"},
		{"negative rate", map[string]string{"RATE_LIMIT_CREATE_PER_MINUTE": "-1"}, "RATE_LIMIT_CREATE_PER_MINUTE"},
		{"REQUIRE_AUTH not a bool", map[string]string{"REQUIRE_AUTH": "yes please"}, "REQUIRE_AUTH"},
		{"reveal-only without an internal address", map[string]string{"PUBLIC_LISTEN_REVEAL_ONLY": "true"}, "CREATE_LISTEN_ADDR"},
		{"an internal address without reveal-only", map[string]string{"CREATE_LISTEN_ADDR": "127.0.0.1:8001"}, "CREATE_LISTEN_ADDR"},
		{"an internal address that is not host:port", map[string]string{"PUBLIC_LISTEN_REVEAL_ONLY": "true", "CREATE_LISTEN_ADDR": "8001"}, "CREATE_LISTEN_ADDR"},
		{"an OIDC issuer over plain http", map[string]string{"REQUIRE_AUTH": "true", "AUTH_OIDC_ISSUER": "http://idp.example.com", "AUTH_OIDC_AUDIENCE": "readonce"}, "AUTH_OIDC_ISSUER"},
		{"an OIDC issuer without an audience", map[string]string{"REQUIRE_AUTH": "true", "AUTH_OIDC_ISSUER": "https://idp.example.com"}, "AUTH_OIDC_AUDIENCE"},
		{"required claims that are not pairs", map[string]string{"REQUIRE_AUTH": "true", "AUTH_OIDC_ISSUER": "https://idp.example.com", "AUTH_OIDC_AUDIENCE": "r", "AUTH_OIDC_REQUIRED_CLAIMS": "repository_owner"}, "AUTH_OIDC_REQUIRED_CLAIMS"},
		{"OIDC without REQUIRE_AUTH", map[string]string{"AUTH_OIDC_ISSUER": "https://idp.example.com", "AUTH_OIDC_AUDIENCE": "r"}, "REQUIRE_AUTH"},
		{"METRICS_ADDR without port", map[string]string{"METRICS_ADDR": "localhost"}, "METRICS_ADDR"},
		{"REDOC_JS_URL over http", map[string]string{"REDOC_JS_URL": "http://cdn.example/redoc.js"}, "REDOC_JS_URL"},
		{"REDOC_JS_URL without its SRI hash", map[string]string{"REDOC_JS_URL": "https://cdn.example/redoc.js"}, "REDOC_JS_INTEGRITY"},
		{"REDOC_JS_INTEGRITY not a hash", map[string]string{"REDOC_JS_URL": "https://cdn.example/redoc.js", "REDOC_JS_INTEGRITY": "md5-abc"}, "REDOC_JS_INTEGRITY"},
		{"REDIS_MODE unknown", map[string]string{"REDIS_MODE": "replica"}, "REDIS_MODE"},
		{"sentinel without URL", map[string]string{"REDIS_MODE": "sentinel", "SECRET_KEY": strongKey}, "REDIS_URL"},
		{"empty previous key", map[string]string{"SECRET_KEY": strongKey, "SECRET_KEY_PREVIOUS": strongKey + "x,,"}, "SECRET_KEY_PREVIOUS"},
		{"production with a digit run", prod("SECRET_KEY", strings.Repeat("0123456789", 4)), "SECRET_KEY"},
		{"production with a weak previous key", prod("SECRET_KEY_PREVIOUS", "changeme-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), "SECRET_KEY_PREVIOUS"},
		{"production with a short previous key", prod("SECRET_KEY_PREVIOUS", "abc"), "SECRET_KEY_PREVIOUS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig(c.env)
			if err == nil {
				t.Fatalf("accepted %v", c.env)
			}
			if !strings.Contains(err.Error(), c.wantVar) {
				t.Errorf("error %q does not name %s", err, c.wantVar)
			}
			if k := c.env["SECRET_KEY"]; len(k) > 4 && strings.Contains(err.Error(), k) {
				t.Errorf("error quotes SECRET_KEY: %q", err)
			}
		})
	}
}

func TestConfigAcceptsPublicURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https://secrets.example.com", "http://localhost:8000", "https://h.example:8443/readonce",
		"http://127.0.0.1:8000", "https://[2001:db8::1]:8443", "https://xn--bcher-kva.example/"} {
		if _, err := loadConfig(map[string]string{"PUBLIC_URL": u}); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

func TestConfigAcceptsProduction(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r:6379", "SECRET_KEY": strongKey,
		"SECRET_KEY_PREVIOUS": " 0bd1bd3c1b8d2c4b8e1b5e0ee1b2f7f5a9a7d5c3e9f1c2b4d6a8e0f2a4c6e8d0 "})
	if err != nil {
		t.Fatal(err)
	}
	if c.LogFormat != "json" || c.ephemeralKey || len(c.SecretKeyPrevious) != 1 || strings.HasPrefix(c.SecretKeyPrevious[0], " ") || c.Host != "" {
		t.Errorf("got %+v", c)
	}
}

func TestConfigTrustedProxies(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 ,fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.trustedProxies() {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.168.1.7/32 fd00::/8" {
		t.Errorf("trusted proxies: got %v", got)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(map[string]string{"SECRET_KEY": strongKey, "REDIS_URL": "redis://user:redispass@r:6379/0",
		"SECRET_KEY_PREVIOUS": "0bd1bd3c1b8d2c4b8e1b5e0ee1b2f7f5a9a7d5c3e9f1c2b4d6a8e0f2a4c6e8d0"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("start", "config", c)
	fmt.Fprintf(&buf, "%v %+v %s", c, c, c)
	for _, s := range []string{strongKey, "0bd1bd3c1b8d", "redispass"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("printed config contains %q:\n%s", s, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "max_ttl_hours") {
		t.Errorf("the config log lacks its settings: %s", buf.String())
	}

	// Sentinel URLs carry the master's password in the query.
	c, err = loadConfig(map[string]string{"SECRET_KEY": strongKey, "REDIS_MODE": "sentinel",
		"REDIS_URL": "redis://:sentpass@s1:26379?master_name=m&password=masterpass&addr=s2:26379"})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", c)
	if strings.Contains(buf.String(), "sentpass") || strings.Contains(buf.String(), "masterpass") || !strings.Contains(buf.String(), "s1:26379") {
		t.Errorf("sentinel URL logged with a credential, or not at all: %s", buf.String())
	}
}

func TestWeakSecret(t *testing.T) {
	t.Parallel()
	for k, want := range map[string]bool{
		"your-secret-key-here-please-update-it":      true,
		"changeme-changeme-changeme-changeme":        true,
		strings.Repeat("ab", 32):                     true,
		"this-is-a-test-key-for-production-use-only": true,
		strongKey: false,
		"Xq7TestRk2mZ9pLw4vBn8cYdF1hJ6sGt3uEiA0oKyQzMxNbVaWlPjCfDgHrSeUT5": false, // random, happens to spell "Test"
		strings.Repeat("0123456789", 4):                                    true,  // distinct characters, no entropy
		"changeme-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":                    true,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":             true,
		"qwertyqwertyqwertyqwertyqwertyqwerty":                             true,
		"Kx9vQ2mLp7Rz4tWb8nYc3hJd6fGs1aE5":                                 false, // 32 random characters
		"0bd1bd3c1b8d2c4b8e1b5e0ee1b2f7f5a9a7d5c3e9f1c2b4d6a8e0f2a4c6e8d0": false,
	} {
		if got := weakSecret(k); got != want {
			t.Errorf("weakSecret(%q) = %v, want %v", k, got, want)
		}
	}
}

// One whitespace rule for SECRET_KEY and SECRET_KEY_PREVIOUS: both are
// trimmed, and a key given with whitespace still opens what it sealed as
// given. Before, SECRET_KEY was used verbatim and previous keys trimmed, so
// a key with a trailing newline could not be rotated out.
func TestSecretKeyWhitespaceRule(t *testing.T) {
	t.Parallel()
	const other = "0bd1bd3c1b8d2c4b8e1b5e0ee1b2f7f5a9a7d5c3e9f1c2b4d6a8e0f2a4c6e8d0"
	sealWith := func(key string) (ak, lk string, blob []byte) {
		s, err := seal.New([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		ak, _ = s.NewAccessKey()
		lk, _ = s.LookupKey(ak)
		now := time.Now()
		blob, err = s.Seal(ak, lk, []byte("sealed before"), now, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return ak, lk, blob
	}
	opens := func(env map[string]string, ak, lk string, blob []byte) bool {
		c, err := loadConfig(env)
		if err != nil {
			t.Fatal(err)
		}
		cur, prev := c.sealerKeys()
		s, err := seal.New(cur, prev...)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, err = s.Open(ak, lk, blob)
		return err == nil
	}
	ak, lk, blob := sealWith(strongKey + "\n") // sealed by a key read verbatim from a file
	for name, env := range map[string]map[string]string{
		"same key, newline and all":            {"SECRET_KEY": strongKey + "\n"},
		"rotated: the newline key is previous": {"SECRET_KEY": other, "SECRET_KEY_PREVIOUS": strongKey + "\n"},
		"trimmed by hand, old form previous":   {"SECRET_KEY": strongKey, "SECRET_KEY_PREVIOUS": strongKey + "\n"},
	} {
		if !opens(env, ak, lk, blob) {
			t.Errorf("%s: a secret sealed under the untrimmed key no longer opens", name)
		}
	}
	c, _ := loadConfig(map[string]string{"SECRET_KEY": " " + strongKey + "\n", "SECRET_KEY_PREVIOUS": other + " "})
	if c.SecretKey != strongKey || c.SecretKeyPrevious[0] != other || len(c.rawKeys) != 2 {
		t.Errorf("keys not trimmed alike: %d raw variants", len(c.rawKeys))
	}
}
