package server

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/readonce/readonce/auth"
)

// metrics are the server's Prometheus series. Every label value comes from
// a fixed set (route templates, methods, statuses, error kinds): no label
// can ever hold an access key or a path.
type metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	created      prometheus.Counter
	revealed     prometheus.Counter
	burned       *prometheus.CounterVec
	receiptReads prometheus.Counter
	notFound     prometheus.Counter
	storeErrors  *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec

	wrongPassphrases prometheus.Counter
	passphraseBusy   prometheus.Counter

	// createdVia counts creates by how the creator proved itself (none,
	// api_token, jwt, oidc): never by who. Children made once, off the
	// hot path.
	createdVia map[string]prometheus.Counter

	// series caches the child of each (route, method, status): the label
	// set is small and fixed, and WithLabelValues hashes on every call.
	series sync.Map // seriesKey → requestSeries
}

type seriesKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry() // counted, never exposed
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "readonce_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "readonce_http_request_duration_seconds", Help: "HTTP request latency by route template and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		created:      prometheus.NewCounter(prometheus.CounterOpts{Name: "readonce_secrets_created_total", Help: "Secrets stored."}),
		revealed:     prometheus.NewCounter(prometheus.CounterOpts{Name: "readonce_secrets_revealed_total", Help: "Secrets revealed (and destroyed)."}),
		burned:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "readonce_secrets_burned_total", Help: "Secrets destroyed unread, by what did it: access_key or receipt (a burn), attempts (the last wrong passphrase)."}, []string{"via"}),
		receiptReads: prometheus.NewCounter(prometheus.CounterOpts{Name: "readonce_receipt_reads_total", Help: "Receipts read."}),
		notFound:     prometheus.NewCounter(prometheus.CounterOpts{Name: "readonce_secrets_not_found_total", Help: "Reveals answered 404: unknown, expired, already read or malformed."}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "readonce_store_errors_total", Help: "Failed Redis calls by operation and kind (timeout, connection, oom, readonly, reply).",
		}, []string{"op", "kind"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "readonce_rate_limited_total", Help: "Requests answered 429, by limit.",
		}, []string{"limit"}),
	}
	m.wrongPassphrases = prometheus.NewCounter(prometheus.CounterOpts{Name: "readonce_passphrase_wrong_total", Help: "Wrong passphrases counted against protected secrets."})
	m.passphraseBusy = prometheus.NewCounter(prometheus.CounterOpts{Name: "readonce_passphrase_busy_total", Help: "Passphrase checks refused (503) because every Argon2 slot stayed taken."})
	createdBy := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "readonce_secrets_created_by_auth_total", Help: "Secrets stored, by how the creator authenticated: none, api_token, jwt or oidc (never by identity).",
	}, []string{"method"})
	m.createdVia = map[string]prometheus.Counter{}
	for _, method := range []string{"none", auth.MethodAPIToken, auth.MethodJWT, auth.MethodOIDC} {
		m.createdVia[method] = createdBy.WithLabelValues(method)
	}
	reg.MustRegister(m.requests, m.duration, m.created, m.revealed, m.burned, m.receiptReads, m.notFound, m.storeErrors, m.rateLimited,
		m.wrongPassphrases, m.passphraseBusy, createdBy)
	return m
}

// created counts one create, and how its creator authenticated.
func (m *metrics) createdBy(method string) {
	if c, ok := m.createdVia[method]; ok {
		c.Inc()
	}
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	k := seriesKey{route, method, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, requestSeries{
			count:    m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route, method),
		})
	}
	rs := v.(requestSeries)
	rs.count.Inc()
	rs.duration.Observe(d.Seconds())
}

func (m *metrics) storeError(op string, err error) {
	kind := "unknown"
	var k StoreError
	if errors.As(err, &k) {
		kind = k.ErrorKind()
	}
	m.storeErrors.WithLabelValues(op, kind).Inc()
}

// methodLabel keeps the method label to a fixed set.
func methodLabel(m []byte) string {
	for _, known := range [...]string{"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"} {
		if string(m) == known { // compared without a copy; the constant is returned
			return known
		}
	}
	return "other"
}
