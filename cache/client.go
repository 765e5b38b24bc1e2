package cache

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Modes of reaching Redis.
const (
	ModeSingle   = "single"   // one server (or a proxy in front of many)
	ModeSentinel = "sentinel" // Redis Sentinel: the URL names sentinels and master_name
	ModeCluster  = "cluster"  // Redis Cluster: the URL names seed nodes
)

// CheckMode says whether mode is one Open knows.
func CheckMode(mode string) error {
	switch mode {
	case ModeSingle, ModeSentinel, ModeCluster:
		return nil
	}
	return fmt.Errorf("must be single, sentinel or cluster, got %q", mode)
}

// Options says how to reach Redis.
type Options struct {
	// URL is, by Mode:
	//   single:   redis://[user:pass@]host:port/db, rediss://… (TLS) or unix:///path?db=N
	//   sentinel: redis://[user:pass@]sentinel:26379?master_name=NAME&addr=sentinel2:26379&…
	//             (the user info serves the sentinels and the master alike;
	//             &username=…&password=… set the master's own instead)
	//   cluster:  redis://[user:pass@]node:6379?addr=node2:6379&addr=node3:6379
	// Empty means the embedded store.
	URL  string
	Mode string // single (default), sentinel or cluster
	// SentinelPassword, when set, authenticates to the sentinels instead of
	// the URL's password (which then only serves the master).
	SentinelPassword string
	// TLSCAFile is a PEM bundle of CAs to trust for rediss:// (a private
	// CA); empty means the system's roots.
	TLSCAFile string
	// Timeout bounds every call to Redis: dial, read, write, and the whole
	// command, so a frozen Redis turns into errors within Timeout.
	Timeout time.Duration
	// Logger receives the embedded-store warning (go-redis's own messages go
	// where [SetLogger] says).
	Logger *slog.Logger
	// AutoPipeline batches concurrent commands into shared round trips
	// (go-redis's experimental autopipeliner). Retries stay off.
	AutoPipeline bool
	// PipelineFrom is how many commands must be in flight before the
	// autopipeliner is used; below it each goes straight to a connection.
	// 0 or 1: always batch.
	PipelineFrom int64
	// MinReplicasAck > 0 makes every SET and GETDEL wait (WAIT) until that
	// many replicas have it, within the timeout; otherwise the call fails.
	MinReplicasAck int
	// SkipPolicyCheck turns off the maxmemory-policy check of Ready, for a
	// managed Redis that blocks CONFIG (and guarantees noeviction itself).
	SkipPolicyCheck bool
}

// Open connects to Redis (or starts the embedded store) and returns a Store.
// It does not wait for Redis to answer: readiness is [Store.Ready]'s job, so
// the process can start while Redis is still coming up.
func Open(opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		return nil, fmt.Errorf("cache: timeout must be positive, got %v", opts.Timeout)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	if opts.URL == "" {
		return openEmbedded(opts.Timeout, logger)
	}
	rdb, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	s := newStore(rdb, opts.Timeout, nil)
	s.minAcks, s.skipPolicy = opts.MinReplicasAck, opts.SkipPolicyCheck
	if !s.skipPolicy {
		go s.watchPolicy()
	}
	if opts.AutoPipeline && opts.MinReplicasAck == 0 { // WAIT must follow its write on one connection
		// The deferred face, so that each wait can be bounded (see exec).
		ap, err := asyncAutoPipeline(rdb)
		if err != nil {
			rdb.Close()
			return nil, fmt.Errorf("cache: autopipeline: %w", err)
		}
		s.ap = ap
		s.pipelineFrom = opts.PipelineFrom
	}
	return s, nil
}

// newClient builds the go-redis client for opts.Mode. Every mode reads and
// writes on masters only: a GETDEL must never run on a replica, and a
// replica read could show a secret already taken on the master.
func newClient(opts Options) (redis.UniversalClient, error) {
	// The parsers' messages can quote the URL, password included: never
	// pass them on.
	bad := fmt.Errorf("cache: REDIS_URL is not a valid URL for REDIS_MODE=%s", opts.Mode)
	roots, err := loadCAs(opts.TLSCAFile)
	if err != nil {
		return nil, err
	}
	trust := func(c *tls.Config) {
		if c != nil && roots != nil {
			c.RootCAs = roots
		}
	}
	switch opts.Mode {
	case "", ModeSingle:
		o, err := redis.ParseURL(opts.URL)
		if err != nil {
			return nil, bad
		}
		applyLimits(o, opts.Timeout)
		trust(o.TLSConfig)
		return redis.NewClient(o), nil
	case ModeSentinel:
		o, err := redis.ParseFailoverURL(opts.URL)
		if err != nil || o.MasterName == "" {
			return nil, fmt.Errorf("%w (sentinel: add ?master_name=NAME)", bad)
		}
		// The user info serves the sentinels and, unless ?username= or
		// ?password= name the master's own, the master too.
		if o.Username == "" {
			o.Username = o.SentinelUsername
		}
		if o.Password == "" {
			o.Password = o.SentinelPassword
		}
		if opts.SentinelPassword != "" {
			o.SentinelPassword = opts.SentinelPassword
		}
		o.RouteByLatency, o.RouteRandomly, o.ReplicaOnly = false, false, false
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = opts.Timeout, opts.Timeout, opts.Timeout, opts.Timeout
		o.ContextTimeoutEnabled, o.MaxRetries, o.DisableIdentity = true, -1, true
		trust(o.TLSConfig)
		return redis.NewFailoverClient(o), nil
	case ModeCluster:
		o, err := redis.ParseClusterURL(opts.URL)
		if err != nil {
			return nil, bad
		}
		o.ReadOnly, o.RouteByLatency, o.RouteRandomly = false, false, false
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = opts.Timeout, opts.Timeout, opts.Timeout, opts.Timeout
		o.ContextTimeoutEnabled, o.MaxRetries, o.DisableIdentity = true, -1, true
		trust(o.TLSConfig)
		return redis.NewClusterClient(o), nil
	}
	return nil, fmt.Errorf("cache: REDIS_MODE %q: want single, sentinel or cluster", opts.Mode)
}

// loadCAs reads a PEM bundle; nil for no file.
func loadCAs(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cache: REDIS_TLS_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cache: REDIS_TLS_CA_FILE %s holds no PEM certificate", path)
	}
	return pool, nil
}

func asyncAutoPipeline(rdb redis.UniversalClient) (*redis.AutoPipeliner, error) {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.AsyncAutoPipeline()
	case *redis.ClusterClient:
		return c.AsyncAutoPipelineWithOptions(clusterAutoPipelineOptions())
	}
	return nil, fmt.Errorf("no autopipeliner for %T", rdb)
}

// applyLimits sets what every client of ours needs, whatever the URL said.
func applyLimits(o *redis.Options, timeout time.Duration) {
	o.DialTimeout = timeout
	o.ReadTimeout = timeout
	o.WriteTimeout = timeout
	o.PoolTimeout = timeout
	o.ContextTimeoutEnabled = true
	// go-redis re-sends a command after a timeout or EOF by default. For a
	// GETDEL that could consume a secret on the first try and answer "not
	// found" on the second, so no command is ever re-sent: an unknown
	// outcome is reported as an error and the client sees 503.
	o.MaxRetries = -1
	o.DisableIdentity = true
}

// clusterAutoPipelineOptions: the deferred face on a cluster shards by node
// and needs Unordered; commands of one request are never reordered anyway,
// since each request sends one command and waits for it.
func clusterAutoPipelineOptions() *redis.AutoPipelineOptions {
	o := redis.DefaultAutoPipelineOptions()
	o.Unordered = true
	return o
}

// openEmbedded starts an in-process, Redis-compatible store: miniredis with
// TTLs running on the wall clock, reached through in-memory pipes, so no port
// is opened and nothing outside this process can touch it.
func openEmbedded(timeout time.Duration, logger *slog.Logger) (*Store, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true) // miniredis otherwise moves time only when told
	var pw [16]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return nil, fmt.Errorf("cache: embedded password: %w", err)
	}
	password := hex.EncodeToString(pw[:])
	m.RequireAuth(password)
	ro := &redis.Options{
		Addr:     "embedded",
		Password: password,
		Dialer:   func(context.Context, string, string) (net.Conn, error) { return m.Dial() },
		Protocol: 2,
	}
	applyLimits(ro, timeout)
	logger.Warn("using the EMBEDDED store: in-process, one process only, nothing survives a restart; set REDIS_URL for anything but a laptop")
	return newStore(redis.NewClient(ro), timeout, m), nil
}

// Redacted returns rawURL fit for a log: the password of the user info and
// the value of every query parameter that can carry a credential
// (password, username, sentinel_password, …) are replaced. A URL that does
// not parse is not echoed at all.
func Redacted(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "[unparsable]"
	}
	q := u.Query()
	for k := range q {
		if credentialParam(k) {
			q[k] = []string{"xxxxx"}
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// credentialParam says whether a query parameter of a Redis URL may hold a
// credential.
func credentialParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "user", "secret", "token", "auth", "key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// SetLogger sends go-redis's own messages to l. go-redis has one logger for
// the whole process, so the program sets it once, at start.
func SetLogger(l *slog.Logger) { redis.SetLogger(redisLogger{l}) }

// redisLogger adapts slog to go-redis's logger interface.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
