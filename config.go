package main

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/readonce/readonce/auth"
	"github.com/readonce/readonce/cache"
	"github.com/readonce/readonce/server"
)

// config is every setting of the process, read once from the environment
// at start and never changed afterwards.
type config struct {
	Port      int    `env:"PORT" envDefault:"8000"`
	Host      string `env:"HOST"` // empty: 127.0.0.1 in development, all interfaces in production
	PublicURL string `env:"PUBLIC_URL" envDefault:"http://localhost:8000"`
	AppEnv    string `env:"APP_ENV" envDefault:"development"`

	SecretKey         string   `env:"SECRET_KEY"`
	SecretKeyPrevious []string `env:"SECRET_KEY_PREVIOUS" envSeparator:","`

	RequireAuth bool `env:"REQUIRE_AUTH" envDefault:"false"`
	// OIDC ID tokens (a CI system's, an identity provider's) as creators.
	OIDCIssuer         string `env:"AUTH_OIDC_ISSUER"`
	OIDCAudience       string `env:"AUTH_OIDC_AUDIENCE"`
	OIDCRequiredClaims string `env:"AUTH_OIDC_REQUIRED_CLAIMS"` // k=v,k2=v2
	// Sign-in on the create page, at the same issuer, as this client.
	OIDCClientID             string `env:"AUTH_OIDC_CLIENT_ID"`
	OIDCClientSecret         string `env:"AUTH_OIDC_CLIENT_SECRET"` // empty: a public client (PKCE alone)
	OIDCRedirectURL          string `env:"AUTH_OIDC_REDIRECT_URL"`  // empty: PUBLIC_URL/auth/callback
	SessionMinutes           int    `env:"AUTH_SESSION_MINUTES" envDefault:"60"`
	Algorithm                string `env:"ALGORITHM" envDefault:"HS256"`
	AccessTokenExpireMinutes int    `env:"ACCESS_TOKEN_EXPIRE_MINUTES" envDefault:"30"`

	CreateRatePerMinute   int      `env:"RATE_LIMIT_CREATE_PER_MINUTE" envDefault:"0"`
	CreateRateBurst       int      `env:"RATE_LIMIT_CREATE_BURST" envDefault:"0"`
	NotFoundRatePerMinute int      `env:"RATE_LIMIT_NOT_FOUND_PER_MINUTE" envDefault:"0"`
	NotFoundRateBurst     int      `env:"RATE_LIMIT_NOT_FOUND_BURST" envDefault:"0"`
	TrustedProxies        []string `env:"TRUSTED_PROXIES" envSeparator:","`

	// RevealOnly narrows PORT to what recipients need; CreateListenAddr
	// then serves the whole API (create, receipts, the create page).
	RevealOnly       bool   `env:"PUBLIC_LISTEN_REVEAL_ONLY" envDefault:"false"`
	CreateListenAddr string `env:"CREATE_LISTEN_ADDR"`
	MetricsAddr      string `env:"METRICS_ADDR"` // empty: /metrics on the API port
	PprofAddr        string `env:"PPROF_ADDR"`   // empty: no profiling endpoint

	RedisURL              string        `env:"REDIS_URL"`
	RedisMode             string        `env:"REDIS_MODE" envDefault:"single"`
	RedisSentinelPassword string        `env:"REDIS_SENTINEL_PASSWORD"`
	RedisTLSCAFile        string        `env:"REDIS_TLS_CA_FILE"`
	RedisTimeout          time.Duration `env:"REDIS_TIMEOUT" envDefault:"2s"`
	AutoPipeline          bool          `env:"REDIS_AUTOPIPELINE" envDefault:"true"`
	AutoPipelineFrom      int64         `env:"REDIS_AUTOPIPELINE_FROM" envDefault:"8"` // batch only from this many commands in flight
	// Durability: WAIT for this many replicas after every SET and GETDEL.
	MinReplicasAck  int  `env:"REDIS_MIN_REPLICAS_ACK" envDefault:"0"`
	SkipPolicyCheck bool `env:"REDIS_SKIP_POLICY_CHECK" envDefault:"false"`

	MaxContentBytes int `env:"MAX_CONTENT_BYTES" envDefault:"65536"`
	MaxFileBytes    int `env:"MAX_FILE_BYTES" envDefault:"1048576"`
	DefaultTTLHours int `env:"DEFAULT_TTL_HOURS" envDefault:"24"`
	MaxTTLHours     int `env:"MAX_TTL_HOURS" envDefault:"168"`
	// How long a receipt outlives its secret's expiry.
	ReceiptRetentionHours int `env:"RECEIPT_RETENTION_HOURS" envDefault:"168"`

	// Passphrases: wrong guesses a protected secret survives; the share of
	// the cores Argon2 may use on average, runs at once (0: that share of
	// the cores, at least one) and how long one waits for a slot; each
	// client's budget of Argon2 runs (reveals and creates with a passphrase).
	PassphraseMaxAttempts   int           `env:"PASSPHRASE_MAX_ATTEMPTS" envDefault:"5"`
	PassphraseCPUShare      float64       `env:"PASSPHRASE_CPU_SHARE" envDefault:"0.1"`
	PassphraseConcurrency   int           `env:"PASSPHRASE_CONCURRENCY" envDefault:"0"`
	PassphraseQueueWait     time.Duration `env:"PASSPHRASE_QUEUE_WAIT" envDefault:"2s"`
	PassphraseRatePerMinute int           `env:"RATE_LIMIT_PASSPHRASE_PER_MINUTE" envDefault:"60"`
	PassphraseRateBurst     int           `env:"RATE_LIMIT_PASSPHRASE_BURST" envDefault:"20"`

	ReadTimeout     time.Duration `env:"READ_TIMEOUT" envDefault:"10s"`
	WriteTimeout    time.Duration `env:"WRITE_TIMEOUT" envDefault:"10s"`
	IdleTimeout     time.Duration `env:"IDLE_TIMEOUT" envDefault:"60s"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	MaxConnections  int           `env:"MAX_CONNECTIONS" envDefault:"10000"`
	MaxConnsPerIP   int           `env:"MAX_CONNS_PER_IP" envDefault:"256"` // 0: no cap; trusted proxies are never capped

	RedocJSURL       string `env:"REDOC_JS_URL"`       // empty: the bundle vendored in the binary
	RedocJSIntegrity string `env:"REDOC_JS_INTEGRITY"` // SRI hash, required with an https:// REDOC_JS_URL

	LogLevel  slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string     `env:"LOG_FORMAT"` // text or json; default json in production

	// rawKeys are SECRET_KEY and SECRET_KEY_PREVIOUS entries as given,
	// where trimming changed them: they still open, never seal.
	rawKeys         []string
	previousAsGiven []string // SECRET_KEY_PREVIOUS before trimming

	// ephemeralKey is set when SECRET_KEY was not given (development on the
	// embedded store only): a random key that dies with the process.
	ephemeralKey bool
}

const (
	envDevelopment = "development"
	envProduction  = "production"
	minSecretKey   = 32
)

// loadConfig reads, completes and validates the configuration. Every error
// names the variable at fault and never quotes SECRET_KEY.
func loadConfig(environ map[string]string) (config, error) {
	var c config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		return c, explainEnvError(err)
	}
	c.complete()
	if err := c.validate(); err != nil {
		return c, err
	}
	if c.SecretKey == "" {
		var k [32]byte
		if _, err := rand.Read(k[:]); err != nil {
			return c, fmt.Errorf("config: ephemeral SECRET_KEY: %w", err)
		}
		c.SecretKey = hex.EncodeToString(k[:])
		c.ephemeralKey = true
	}
	return c, nil
}

func (c *config) production() bool { return c.AppEnv == envProduction }

// complete fills the defaults that depend on other settings and tidies
// lists; validate then only checks.
func (c *config) complete() {
	if c.Host == "" && !c.production() {
		// A laptop run (embedded store, maybe an ephemeral key) is not for
		// the network; containers and the chart run in production mode.
		c.Host = "127.0.0.1"
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
		if c.production() {
			c.LogFormat = "json"
		}
	}
	// One rule for every server key: surrounding whitespace (a newline from
	// a mounted file, a space after a comma) is not part of it. A key that
	// had some may have sealed secrets as it was: that form still opens
	// (rawKeys), and start-up warns.
	c.rawKeys = nil
	for _, k := range append([]string{c.SecretKey}, c.SecretKeyPrevious...) {
		if t := strings.TrimSpace(k); t != k && t != "" {
			c.rawKeys = append(c.rawKeys, k)
		}
	}
	c.SecretKey = strings.TrimSpace(c.SecretKey)
	c.previousAsGiven = slices.Clone(c.SecretKeyPrevious)
	for i, k := range c.SecretKeyPrevious {
		c.SecretKeyPrevious[i] = strings.TrimSpace(k)
	}
	c.TrustedProxies = slices.DeleteFunc(c.TrustedProxies, func(p string) bool { return strings.TrimSpace(p) == "" })
}

// validate checks every setting, by concern, and reports all that are
// wrong at once.
func (c *config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: "+format, append([]any{name}, args...)...))
	}
	c.validateListening(bad)
	c.validateKeys(bad)
	c.validateRedis(bad)
	c.validateAuthAndLimits(bad)
	c.validateSizes(bad)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", "must be text or json, got %q", c.LogFormat)
	}
	return errors.Join(errs...)
}

type complaint func(name, format string, args ...any)

// validateListening: where the process listens and what URL it hands out.
func (c *config) validateListening(bad complaint) {
	if c.AppEnv != envDevelopment && c.AppEnv != envProduction {
		bad("APP_ENV", "must be %q or %q, got %q", envDevelopment, envProduction, c.AppEnv)
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("PORT", "must be 0..65535, got %d", c.Port)
	}
	if err := checkPublicURL(c.PublicURL); err != nil {
		bad("PUBLIC_URL", "%v; want an http(s) URL such as https://secrets.example.com", err)
	}
	switch {
	case c.RevealOnly && c.CreateListenAddr == "":
		bad("CREATE_LISTEN_ADDR", "is required with PUBLIC_LISTEN_REVEAL_ONLY=true: the internal host:port where creating is served")
	case !c.RevealOnly && c.CreateListenAddr != "":
		bad("CREATE_LISTEN_ADDR", "only means something with PUBLIC_LISTEN_REVEAL_ONLY=true (PORT serves everything otherwise)")
	}
	for name, addr := range map[string]string{"METRICS_ADDR": c.MetricsAddr, "PPROF_ADDR": c.PprofAddr, "CREATE_LISTEN_ADDR": c.CreateListenAddr} {
		if addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad(name, "must be host:port or :port, got %q", addr)
		}
	}
	if c.RedocJSURL != "" {
		u, err := url.Parse(c.RedocJSURL)
		if err != nil || !(u.Scheme == "https" && u.Host != "" || u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/")) ||
			strings.ContainsAny(c.RedocJSURL, " ;,'\"") {
			bad("REDOC_JS_URL", "must be an https:// URL or an absolute path on this server")
		} else if u.Scheme == "https" && !sriHash.MatchString(c.RedocJSIntegrity) {
			bad("REDOC_JS_INTEGRITY", "is required with an https:// REDOC_JS_URL: its Subresource Integrity hash, e.g. sha384-… (openssl dgst -sha384 -binary redoc.standalone.js | openssl base64 -A)")
		}
	}
	if c.RedocJSIntegrity != "" && !sriHash.MatchString(c.RedocJSIntegrity) {
		bad("REDOC_JS_INTEGRITY", "must be sha256-, sha384- or sha512- followed by base64")
	}
	for name, d := range map[string]time.Duration{
		"READ_TIMEOUT": c.ReadTimeout, "WRITE_TIMEOUT": c.WriteTimeout,
		"IDLE_TIMEOUT": c.IdleTimeout, "SHUTDOWN_TIMEOUT": c.ShutdownTimeout,
	} {
		if d <= 0 || d > 10*time.Minute {
			bad(name, "must be a duration above 0 and at most 10m, got %v", d)
		}
	}
	if c.MaxConnections < 1 {
		bad("MAX_CONNECTIONS", "must be at least 1, got %d", c.MaxConnections)
	}
	if c.MaxConnsPerIP < 0 || c.MaxConnsPerIP > c.MaxConnections {
		bad("MAX_CONNS_PER_IP", "must be 0 (no cap) to MAX_CONNECTIONS (%d), got %d", c.MaxConnections, c.MaxConnsPerIP)
	}
}

// validateKeys: SECRET_KEY and the keys it replaced.
func (c *config) validateKeys(bad complaint) {
	switch {
	case c.SecretKey == "" && c.production():
		bad("SECRET_KEY", "is required in production (generate one with: openssl rand -hex 32)")
	case c.SecretKey == "" && c.RedisURL != "":
		bad("SECRET_KEY", "is required with an external Redis: a random key would strand every stored secret at the next restart")
	case c.SecretKey != "" && len(c.SecretKey) < minSecretKey:
		bad("SECRET_KEY", "must be at least %d characters (generate one with: openssl rand -hex 32)", minSecretKey)
	case c.SecretKey != "" && c.production() && weakSecret(c.SecretKey):
		bad("SECRET_KEY", "looks like a placeholder or a low-entropy value; generate one with: openssl rand -hex 32")
	}
	for i, k := range c.SecretKeyPrevious {
		if k == "" {
			bad("SECRET_KEY_PREVIOUS", "entry %d is empty", i+1)
		} else if c.production() && (len(k) < minSecretKey || weakSecret(k)) {
			bad("SECRET_KEY_PREVIOUS", "entry %d is shorter than %d characters or looks like a placeholder or a low-entropy value", i+1, minSecretKey)
		} else if k == c.SecretKey && c.previousAsGiven[i] == k {
			// (with whitespace it is the untrimmed old form of a key trimmed
			// by hand: it opens what it sealed)
			bad("SECRET_KEY_PREVIOUS", "entry %d repeats SECRET_KEY", i+1)
		}
	}
}

// validateRedis: how the store is reached.
func (c *config) validateRedis(bad complaint) {
	if err := cache.CheckMode(c.RedisMode); err != nil {
		bad("REDIS_MODE", "%v", err)
	} else if c.RedisMode != cache.ModeSingle && c.RedisURL == "" {
		bad("REDIS_URL", "is required with REDIS_MODE=%s", c.RedisMode)
	}
	if c.production() && c.RedisURL == "" {
		bad("REDIS_URL", "is required in production: the embedded store keeps nothing across restarts")
	}
	if c.AutoPipelineFrom < 0 || c.AutoPipelineFrom > 100_000 {
		bad("REDIS_AUTOPIPELINE_FROM", "must be 0 (always batch) to 100000, got %d", c.AutoPipelineFrom)
	}
	if c.MinReplicasAck < 0 || c.MinReplicasAck > 16 {
		bad("REDIS_MIN_REPLICAS_ACK", "must be 0..16, got %d", c.MinReplicasAck)
	}
	if c.RedisTimeout <= 0 || c.RedisTimeout > 10*time.Minute {
		bad("REDIS_TIMEOUT", "must be a duration above 0 and at most 10m, got %v", c.RedisTimeout)
	}
}

// validateAuthAndLimits: who may create, and how often.
func (c *config) validateAuthAndLimits(bad complaint) {
	if err := auth.CheckAlgorithm(c.Algorithm); err != nil {
		bad("ALGORITHM", "%v", err)
	}
	if c.AccessTokenExpireMinutes < 1 {
		bad("ACCESS_TOKEN_EXPIRE_MINUTES", "must be at least 1, got %d", c.AccessTokenExpireMinutes)
	}
	if c.OIDCIssuer != "" || c.OIDCAudience != "" || c.OIDCRequiredClaims != "" {
		if err := checkIssuer(c.OIDCIssuer); err != nil {
			bad("AUTH_OIDC_ISSUER", "%v", err)
		}
		if c.OIDCAudience == "" {
			bad("AUTH_OIDC_AUDIENCE", "is required with AUTH_OIDC_ISSUER: the aud your CI or provider puts in tokens for readonce")
		}
		if _, err := c.requiredClaims(); err != nil {
			bad("AUTH_OIDC_REQUIRED_CLAIMS", "%v", err)
		}
		if !c.RequireAuth {
			bad("AUTH_OIDC_ISSUER", "only means something with REQUIRE_AUTH=true")
		}
	}
	if c.OIDCClientID != "" || c.OIDCClientSecret != "" || c.OIDCRedirectURL != "" {
		if c.OIDCIssuer == "" {
			bad("AUTH_OIDC_CLIENT_ID", "signs people in at AUTH_OIDC_ISSUER, which is not set")
		}
		if c.OIDCClientID == "" {
			bad("AUTH_OIDC_CLIENT_ID", "is required with AUTH_OIDC_CLIENT_SECRET or AUTH_OIDC_REDIRECT_URL")
		}
		if c.OIDCRedirectURL != "" {
			if err := checkPublicURL(c.OIDCRedirectURL); err != nil || !strings.HasSuffix(c.OIDCRedirectURL, "/auth/callback") {
				bad("AUTH_OIDC_REDIRECT_URL", "must be this server's URL ending in /auth/callback, got %q", c.OIDCRedirectURL)
			}
		}
		if c.ephemeralKey {
			bad("AUTH_OIDC_CLIENT_ID", "needs SECRET_KEY: sessions are signed with a key derived from it, shared by every replica")
		}
	}
	if c.SessionMinutes < 1 || c.SessionMinutes > 24*60 {
		bad("AUTH_SESSION_MINUTES", "must be 1..1440, got %d", c.SessionMinutes)
	}
	for name, v := range map[string]int{
		"RATE_LIMIT_CREATE_PER_MINUTE": c.CreateRatePerMinute, "RATE_LIMIT_CREATE_BURST": c.CreateRateBurst,
		"RATE_LIMIT_NOT_FOUND_PER_MINUTE": c.NotFoundRatePerMinute, "RATE_LIMIT_NOT_FOUND_BURST": c.NotFoundRateBurst,
		"RATE_LIMIT_PASSPHRASE_PER_MINUTE": c.PassphraseRatePerMinute, "RATE_LIMIT_PASSPHRASE_BURST": c.PassphraseRateBurst,
	} {
		if v < 0 || v > 1_000_000 {
			bad(name, "must be 0 (off) to 1000000, got %d", v)
		}
	}
	if c.PassphraseMaxAttempts < 1 || c.PassphraseMaxAttempts > 100 {
		bad("PASSPHRASE_MAX_ATTEMPTS", "must be 1..100, got %d", c.PassphraseMaxAttempts)
	}
	if !(c.PassphraseCPUShare > 0 && c.PassphraseCPUShare <= 1) {
		bad("PASSPHRASE_CPU_SHARE", "must be above 0 and at most 1, got %v", c.PassphraseCPUShare)
	}
	if c.PassphraseConcurrency < 0 || c.PassphraseConcurrency > 256 {
		bad("PASSPHRASE_CONCURRENCY", "must be 0 (PASSPHRASE_CPU_SHARE of the cores) to 256, got %d", c.PassphraseConcurrency)
	}
	if c.PassphraseQueueWait <= 0 || c.PassphraseQueueWait > time.Minute {
		bad("PASSPHRASE_QUEUE_WAIT", "must be a duration above 0 and at most 1m, got %v", c.PassphraseQueueWait)
	}
	for _, p := range c.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			bad("TRUSTED_PROXIES", "%q is not a CIDR such as 10.0.0.0/8 or an address", strings.TrimSpace(p))
		}
	}
}

// validateSizes: how big and how long a secret may be.
func (c *config) validateSizes(bad complaint) {
	if c.MaxContentBytes < 1 || c.MaxContentBytes > 16<<20 {
		bad("MAX_CONTENT_BYTES", "must be 1..%d, got %d", 16<<20, c.MaxContentBytes)
	}
	if c.MaxFileBytes < 1 || c.MaxFileBytes > 16<<20 {
		bad("MAX_FILE_BYTES", "must be 1..%d, got %d", 16<<20, c.MaxFileBytes)
	}
	if c.MaxTTLHours < 1 || c.MaxTTLHours > 24*365 {
		bad("MAX_TTL_HOURS", "must be 1..%d, got %d", 24*365, c.MaxTTLHours)
	}
	if c.DefaultTTLHours < 1 || c.DefaultTTLHours > c.MaxTTLHours {
		bad("DEFAULT_TTL_HOURS", "must be 1..MAX_TTL_HOURS (%d), got %d", c.MaxTTLHours, c.DefaultTTLHours)
	}
	if c.ReceiptRetentionHours < 1 || c.ReceiptRetentionHours > 24*365 {
		bad("RECEIPT_RETENTION_HOURS", "must be 1..%d, got %d", 24*365, c.ReceiptRetentionHours)
	}
}

// checkPublicURL accepts scheme://host[:port][/path] and nothing looser:
// the URL goes into every link handed out and into the docs page's CSP, so
// a query, a fragment, credentials, white space or a stray character in the
// host is refused rather than repaired.
func checkPublicURL(raw string) error {
	if strings.ContainsAny(raw, "?#;,'\"<>\\ \t\r\n") || strings.ContainsFunc(raw, unicode.IsControl) {
		return errors.New("holds a query, a fragment, white space or a character that has no place in it")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("scheme is not http or https")
	case u.User != nil:
		return errors.New("holds credentials")
	case u.Opaque != "" || u.Host == "":
		return errors.New("has no host")
	}
	host, port := u.Hostname(), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return errors.New("has an empty port")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("port is not 1..65535")
		}
	}
	if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return errors.New("host is not a DNS name or an IP address")
	}
	return nil
}

// validHostname: dot-separated labels of letters, digits and hyphens.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// sriHash is one Subresource Integrity hash.
var sriHash = regexp.MustCompile(`^sha(256|384|512)-[A-Za-z0-9+/]+={0,2}$`)

// parseProxy reads one TRUSTED_PROXIES entry: a CIDR or a single address.
func parseProxy(p string) (netip.Prefix, error) {
	p = strings.TrimSpace(p)
	if a, err := netip.ParseAddr(p); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	prefix, err := netip.ParsePrefix(p)
	return prefix.Masked(), err
}

// trustedProxies is TRUSTED_PROXIES parsed (validate has vouched for it).
func (c *config) trustedProxies() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		if prefix, err := parseProxy(p); err == nil {
			out = append(out, prefix)
		}
	}
	return out
}

// The configuration as each package wants it.

// sealerKeys: SECRET_KEY seals; the previous keys, and every key as it was
// given before trimming, still open.
func (c *config) sealerKeys() (current []byte, previous [][]byte) {
	seen := map[string]bool{c.SecretKey: true}
	for _, k := range append(append([]string{}, c.SecretKeyPrevious...), c.rawKeys...) {
		if !seen[k] {
			seen[k] = true
			previous = append(previous, []byte(k))
		}
	}
	return []byte(c.SecretKey), previous
}

// limiterKey keys the rate limiter's bucket names (HMAC): its own HKDF
// label, so it is unrelated to the sealing pepper.
func (c *config) limiterKey() ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(c.SecretKey), nil, "readonce/v1/rate-limit", 32)
}

func (c *config) cacheOptions(log *slog.Logger) cache.Options {
	return cache.Options{
		URL: c.RedisURL, Mode: c.RedisMode, SentinelPassword: c.RedisSentinelPassword, TLSCAFile: c.RedisTLSCAFile,
		Timeout: c.RedisTimeout, Logger: log, AutoPipeline: c.AutoPipeline, PipelineFrom: c.AutoPipelineFrom,
		MinReplicasAck: c.MinReplicasAck, SkipPolicyCheck: c.SkipPolicyCheck,
	}
}

// tokens signs creator JWTs with SECRET_KEY and still accepts those signed
// with a previous key (or a key's untrimmed form) during a rotation.
func (c *config) tokens() (*auth.Tokens, error) {
	current, previous := c.sealerKeys()
	return auth.New(current, c.Algorithm, time.Duration(c.AccessTokenExpireMinutes)*time.Minute, previous...)
}

// checkIssuer: an OIDC issuer is an https URL (http only on loopback, for
// a local issuer), without query or fragment.
func checkIssuer(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("is required with AUTH_OIDC_AUDIENCE or AUTH_OIDC_REQUIRED_CLAIMS")
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("must be the issuer's URL, such as https://token.actions.githubusercontent.com, got %q", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http":
		if ip, err := netip.ParseAddr(u.Hostname()); (err == nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("must be https (http only on loopback), got %q", raw)
}

// requiredClaims reads AUTH_OIDC_REQUIRED_CLAIMS: claim=value pairs,
// comma-separated.
func (c *config) requiredClaims() (map[string]string, error) {
	if c.OIDCRequiredClaims == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(c.OIDCRequiredClaims, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("want claim=value pairs separated by commas, such as repository_owner=acme, got %q", pair)
		}
		out[k] = v
	}
	return out, nil
}

// login is the create page's sign-in, when a client ID is configured.
func (c *config) login() (*auth.Login, error) {
	if c.OIDCClientID == "" {
		return nil, nil
	}
	key, err := hkdf.Key(sha256.New, []byte(c.SecretKey), nil, "readonce/v1/login-cookies", 32)
	if err != nil {
		return nil, err
	}
	redirect := c.OIDCRedirectURL
	if redirect == "" {
		redirect = strings.TrimRight(c.PublicURL, "/") + "/auth/callback"
	}
	return auth.NewLogin(c.OIDCIssuer, c.OIDCClientID, c.OIDCClientSecret, redirect, key,
		time.Duration(c.SessionMinutes)*time.Minute, auth.OIDCOptions{})
}

// oidc is the OIDC verifier, when an issuer is configured.
func (c *config) oidc() (*auth.OIDC, error) {
	if c.OIDCIssuer == "" {
		return nil, nil
	}
	claims, err := c.requiredClaims()
	if err != nil {
		return nil, err
	}
	return auth.NewOIDC(c.OIDCIssuer, c.OIDCAudience, auth.OIDCOptions{RequiredClaims: claims})
}

// serverConfig is what the HTTP server needs; the limiter, metrics and
// creator auth come from what run built.
func (c *config) serverConfig(log *slog.Logger, limiter server.Limiter, reg *prometheus.Registry, creators server.Authenticator) server.Config {
	return server.Config{
		PublicURL:             c.PublicURL,
		MaxContentBytes:       c.MaxContentBytes,
		MaxFileBytes:          c.MaxFileBytes,
		DefaultTTLHours:       c.DefaultTTLHours,
		MaxTTLHours:           c.MaxTTLHours,
		ReceiptRetention:      time.Duration(c.ReceiptRetentionHours) * time.Hour,
		ReadTimeout:           c.ReadTimeout,
		WriteTimeout:          c.WriteTimeout,
		IdleTimeout:           c.IdleTimeout,
		Concurrency:           c.MaxConnections,
		MaxConnsPerIP:         c.MaxConnsPerIP,
		RedocJSURL:            c.RedocJSURL,
		RedocJSIntegrity:      c.RedocJSIntegrity,
		Logger:                log,
		Auth:                  creators,
		SessionTTL:            time.Duration(c.SessionMinutes) * time.Minute,
		CookieSecure:          c.AppEnv != envDevelopment,
		Limiter:               limiter,
		CreateLimit:           server.RateLimit{PerMinute: c.CreateRatePerMinute, Burst: c.CreateRateBurst},
		NotFoundLimit:         server.RateLimit{PerMinute: c.NotFoundRatePerMinute, Burst: c.NotFoundRateBurst},
		PassphraseLimit:       server.RateLimit{PerMinute: c.PassphraseRatePerMinute, Burst: c.PassphraseRateBurst},
		PassphraseMaxAttempts: c.PassphraseMaxAttempts,
		PassphraseCPUShare:    c.PassphraseCPUShare,
		PassphraseConcurrency: c.PassphraseConcurrency,
		PassphraseQueueWait:   c.PassphraseQueueWait,
		TrustedProxies:        c.trustedProxies(),
		Metrics:               reg,
		ServeMetrics:          c.MetricsAddr == "",
	}
}

// weakSecret is the one strength rule for SECRET_KEY and every
// SECRET_KEY_PREVIOUS entry: an estimate of the key's entropy must reach
// minKeyBits, and a key with a placeholder word in it ("changeme",
// "your-secret-key-here", …) must clear a higher bar, since words are far
// more guessable than their letters suggest. A word inside a long random key
// (openssl rand -base64 48 can spell "test") clears it.
func weakSecret(k string) bool {
	bits := entropyBits(k)
	lower := strings.ToLower(k)
	for _, word := range []string{"change", "secret", "example", "default", "password", "insecure", "replace", "your", "test", "sample", "dummy"} {
		if strings.Contains(lower, word) {
			return bits < 2*minKeyBits
		}
	}
	return bits < minKeyBits
}

// minKeyBits is what a server key must be estimated to hold. openssl rand
// -hex 32 is estimated at about 250 bits.
const minKeyBits = 128

// entropyBits estimates a key's entropy, in bits, from below: each
// character is worth log2 of the alphabet its classes span (lower, upper,
// digits, others), except characters that continue a pattern — a repeat of
// the one before, a step of an ascending or descending run ("0123", "cba"),
// or the end of a three-character sequence seen before ("abcabc",
// "changeme-changeme") — which are worth nothing.
func entropyBits(k string) float64 {
	var lower, upper, digit, other bool
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
	}
	alphabet := 0
	for _, c := range []struct {
		on   bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
		if c.on {
			alphabet += c.size
		}
	}
	if alphabet < 2 {
		return 0
	}
	rs := []rune(k)
	seen := map[string]bool{}
	novel := 0
	for i, r := range rs {
		predictable := false
		if i > 0 {
			d := r - rs[i-1]
			predictable = d == 0 || d == 1 || d == -1
		}
		if i >= 2 {
			tri := string(rs[i-2 : i+1])
			predictable = predictable || seen[tri]
			seen[tri] = true
		}
		if !predictable {
			novel++
		}
	}
	return float64(novel) * math.Log2(float64(alphabet))
}

// explainEnvError turns caarlos0/env's field names into variable names.
func explainEnvError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			out = append(out, fmt.Errorf("config: %s: invalid %s value: %v", envName(pe.Name), pe.Type, pe.Err))
			continue
		}
		out = append(out, fmt.Errorf("config: %w", e))
	}
	return errors.Join(out...)
}

func envName(field string) string {
	if f, ok := reflect.TypeFor[config]().FieldByName(field); ok {
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			return name
		}
	}
	return field
}

// LogValue lets the config be logged at start without its secrets.
func (c config) LogValue() slog.Value {
	key := "[set]"
	if c.ephemeralKey {
		key = "[ephemeral]"
	}
	store := "embedded"
	if c.RedisURL != "" {
		store = cache.Redacted(c.RedisURL)
	}
	return slog.GroupValue(
		slog.String("app_env", c.AppEnv),
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("public_url", c.PublicURL),
		slog.String("store", store),
		slog.String("redis_mode", c.RedisMode),
		slog.Int("redis_min_replicas_ack", c.MinReplicasAck),
		slog.String("secret_key", key),
		slog.Int("previous_keys", len(c.SecretKeyPrevious)),
		slog.Int("untrimmed_keys", len(c.rawKeys)),
		slog.Int("max_content_bytes", c.MaxContentBytes),
		slog.Int("max_file_bytes", c.MaxFileBytes),
		slog.Int("default_ttl_hours", c.DefaultTTLHours),
		slog.Int("max_ttl_hours", c.MaxTTLHours),
		slog.Int("receipt_retention_hours", c.ReceiptRetentionHours),
		slog.Duration("redis_timeout", c.RedisTimeout),
		slog.Bool("require_auth", c.RequireAuth),
		slog.String("auth_oidc_issuer", c.OIDCIssuer),
		slog.String("auth_oidc_client_id", c.OIDCClientID),
		slog.Bool("auth_oidc_client_secret", c.OIDCClientSecret != ""),
		slog.Bool("public_listen_reveal_only", c.RevealOnly),
		slog.String("create_listen_addr", c.CreateListenAddr),
		slog.Int("rate_limit_create_per_minute", c.CreateRatePerMinute),
		slog.Int("rate_limit_not_found_per_minute", c.NotFoundRatePerMinute),
		slog.Int("rate_limit_passphrase_per_minute", c.PassphraseRatePerMinute),
		slog.Int("passphrase_max_attempts", c.PassphraseMaxAttempts),
		slog.Int("trusted_proxies", len(c.TrustedProxies)),
		slog.String("metrics_addr", c.MetricsAddr),
	)
}

// String keeps fmt from printing the key too.
func (c config) String() string { return "config{…}" }
