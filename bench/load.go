package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/readonce/readonce/client"
)

// entry is a secret the harness created and may reveal later.
type entry struct {
	key     string
	content []byte
	receipt string // its receipt token, when created with one
}

// runner drives one profile against one target.
type runner struct {
	p      *Profile
	base   string
	client *fasthttp.Client

	pool       chan entry // created secrets waiting for a reveal
	weights    []float64  // cumulative, in the order of operations
	sizeCum    []float64
	requests   atomic.Int64 // HTTP requests answered, for progress
	ops        atomic.Int64 // operations started, for the request bound
	violations atomic.Int64

	mu        sync.Mutex
	firstBad  []string
	shared    *stats // open loop: one set of histograms under mu
	seq       atomic.Uint64
	stopEarly atomic.Bool
	// unchecked: the target answers a constant (bench/floor); its answers
	// are counted and timed, never judged.
	unchecked bool
	flooded   bool // run the profile's flood beside its users
	// plainTook is how long the profile's own users ran: a flood's last
	// requests, waiting at the server's gate, do not stretch it.
	plainTook time.Duration
}

func newRunner(p *Profile, base string) *runner {
	conns := p.VUs
	if p.openLoop() {
		conns = p.MaxInFlight
	}
	if p.Flood != nil {
		conns += p.Flood.VUs // the flood's users have connections of their own
	}
	r := &runner{
		p:    p,
		base: base,
		client: &fasthttp.Client{
			MaxConnsPerHost:          conns,
			ReadTimeout:              10 * time.Second,
			WriteTimeout:             10 * time.Second,
			MaxIdleConnDuration:      time.Minute,
			NoDefaultUserAgentHeader: true,
		},
		pool: make(chan entry, max(p.Pool, 100_000)),
	}
	var acc float64
	for _, op := range operations {
		acc += p.Mix[op]
		r.weights = append(r.weights, acc)
	}
	acc = 0
	for i := range p.PayloadSizes {
		w := 1.0
		if len(p.PayloadWeights) > 0 {
			w = p.PayloadWeights[i]
		}
		acc += w
		r.sizeCum = append(r.sizeCum, acc)
	}
	return r
}

func (r *runner) violation(format string, args ...any) {
	if r.unchecked {
		return
	}
	r.violations.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.firstBad) < 10 {
		r.firstBad = append(r.firstBad, fmt.Sprintf(format, args...))
	}
}

// prefill creates the pool a reveal-only profile reveals from; it is not
// measured.
func (r *runner) prefill(ctx context.Context) error {
	if r.p.Pool == 0 {
		return nil
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	per := r.p.Pool / 64
	for range 64 {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
			s := newStats()
			for range per {
				if ctx.Err() != nil {
					return
				}
				e, ok := r.create(rng, s, time.Now())
				if !ok {
					failed.Add(1)
					continue
				}
				r.pool <- e
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("prefill: %d creates failed", failed.Load())
	}
	return nil
}

// closedLoop runs VUs users until the duration or request bound.
func (r *runner) closedLoop(ctx context.Context) []*stats {
	ctx, cancel := context.WithTimeout(ctx, r.p.Duration.Duration+time.Duration(boolInt(r.p.Duration.Duration == 0))*10*time.Minute)
	defer cancel()
	all := make([]*stats, r.p.VUs)
	var wg sync.WaitGroup
	var flood []*stats
	if r.flooded {
		flood = make([]*stats, r.p.Flood.VUs)
		for i := range flood {
			flood[i] = newStats()
			wg.Go(func() {
				rng := mrand.New(mrand.NewPCG(mrand.Uint64(), uint64(1000+i)))
				for ctx.Err() == nil && !r.stopEarly.Load() {
					r.floodOnce(rng, flood[i])
				}
			})
		}
	}
	var plain sync.WaitGroup
	began := time.Now()
	for i := range r.p.VUs {
		all[i] = newStats()
		plain.Go(func() {
			rng := mrand.New(mrand.NewPCG(mrand.Uint64(), uint64(i)))
			for ctx.Err() == nil && !r.stopEarly.Load() {
				if r.p.Requests > 0 && r.ops.Add(1) > int64(r.p.Requests) {
					return
				}
				r.operate(rng, all[i], time.Now())
			}
		})
	}
	plain.Wait()
	r.plainTook = time.Since(began)
	cancel() // the flood stops with the profile's users
	wg.Wait()
	return append(all, flood...)
}

// openLoop sends requests at each step's rate. A request's latency counts
// from when it should have started: if the server (or the in-flight bound)
// holds it back, that wait is part of its latency.
func (r *runner) openLoop(ctx context.Context) []*stats {
	r.shared = newStats()
	r.shared.mu = new(sync.Mutex) // one goroutine per request: share, under a lock
	sem := make(chan struct{}, r.p.MaxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	next := start
	for _, step := range r.p.Steps {
		interval := time.Second / time.Duration(step.Rate)
		end := next.Add(step.Duration.Duration)
		for ; next.Before(end) && ctx.Err() == nil; next = next.Add(interval) {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			intended := next
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				r.operate(globalRand{}, r.shared, intended)
			})
		}
	}
	wg.Wait()
	return []*stats{r.shared}
}

// rnd is what an operation draws from: a worker's own generator in a closed
// loop, the shared (goroutine-safe) one in an open loop.
type rnd interface {
	Float64() float64
	IntN(n int) int
}

type globalRand struct{}

func (globalRand) Float64() float64 { return mrand.Float64() }
func (globalRand) IntN(n int) int   { return mrand.IntN(n) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// operate runs one operation chosen by the mix. start is when it was meant
// to begin (now, in a closed loop).
func (r *runner) operate(rng rnd, s *stats, start time.Time) {
	x := rng.Float64() * r.weights[len(r.weights)-1]
	op := 0
	for op < len(r.weights)-1 && x >= r.weights[op] {
		op++
	}
	switch operations[op] {
	case "create":
		if e, ok := r.create(rng, s, start); ok && r.p.Mix["reveal"] > 0 {
			select {
			case r.pool <- e:
			default: // the pool is full: this one is never revealed
			}
		}
	case "reveal":
		select {
		case e := <-r.pool:
			r.reveal(rng, s, e, start)
		default:
			if r.p.Mode == "reveal" { // reveal-only and the pool is spent
				r.stopEarly.Store(true)
				return
			}
			r.create(rng, s, start) // nothing to reveal yet
		}
	case "pair":
		e, ok := r.create(rng, s, start)
		if ok {
			r.reveal(rng, s, e, time.Now())
			s.observe("pair", time.Since(start))
		}
	case "receipt":
		e, ok := r.createWith(rng, s, start, true)
		if ok {
			r.reveal(rng, s, e, time.Now())
			r.readReceipt(s, e, time.Now())
			s.observe("receipt trip", time.Since(start))
		}
	case "passphrase":
		r.passphraseTrip(rng, s, start)
	case "file":
		r.fileTrip(rng, s, start)
	case "e2e":
		r.e2eTrip(rng, s, start)
	case "hostile422":
		r.hostile(s, start)
	case "unknown":
		var k [32]byte
		_, _ = rand.Read(k[:])
		status, _, err := r.get("/api/v1/secrets/" + base64.RawURLEncoding.EncodeToString(k[:]))
		s.record("unknown", start, status, err)
		if err == nil && status != 404 {
			r.violation("unknown key answered %d, want 404", status)
		}
	}
}

// hostileBody is the attack found in review: a body of 78 000 unknown
// (empty-named) fields. It once got a 6.5 MB 422, and 50 such clients took
// the server to 2 GB.
var hostileBody = []byte(`{` + strings.Repeat(`"":1,`, 78000) + `"content":"a"}`)

// hostileAnswerLimit is the most a 422 to hostileBody may weigh.
const hostileAnswerLimit = 4096

func (r *runner) hostile(s *stats, start time.Time) {
	status, body, err := r.post("/api/v1/secrets/", hostileBody)
	s.record("hostile422", start, status, err)
	if err == nil && (status != 422 || len(body) > hostileAnswerLimit) {
		r.violation("hostile body answered %d with %d bytes, want 422 of at most %d", status, len(body), hostileAnswerLimit)
	}
}

func (r *runner) content(rng rnd) []byte {
	x := rng.Float64() * r.sizeCum[len(r.sizeCum)-1]
	i := 0
	for i < len(r.sizeCum)-1 && x >= r.sizeCum[i] {
		i++
	}
	size := r.p.PayloadSizes[i]
	// A unique prefix, so a response carrying another request's secret
	// cannot pass for the right one.
	b := strconv.AppendUint([]byte("s"), r.seq.Add(1), 36)
	b = append(b, '-')
	for len(b) < size {
		b = append(b, "abcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(36)])
	}
	return b[:size]
}

func (r *runner) create(rng rnd, s *stats, start time.Time) (entry, bool) {
	return r.createWith(rng, s, start, false)
}

// createWith creates one secret, with a receipt when asked (the harness then
// checks the 201 carries a token).
func (r *runner) createWith(rng rnd, s *stats, start time.Time, withReceipt bool) (entry, bool) {
	content := r.content(rng)
	// Contents are [a-z0-9-]: nothing to escape, so the body is built by
	// hand and the harness spends its CPU on load, not on encoding/json.
	body := make([]byte, 0, len(content)+48)
	body = append(body, `{"content":"`...)
	body = append(body, content...)
	body = append(body, `","ttl_hours":`...)
	body = strconv.AppendInt(body, int64(r.p.TTLHours), 10)
	if withReceipt {
		body = append(body, `,"receipt":true`...)
	}
	body = append(body, '}')
	status, answer, err := r.post("/api/v1/secrets/", body)
	s.record("create", start, status, err)
	if err != nil || status != 201 {
		return entry{}, false
	}
	key := field(answer, `"access_key":"`)
	if len(key) != 43 {
		r.violation("201 without a well-formed access_key: %.80q", answer)
		return entry{}, false
	}
	e := entry{key: key, content: content}
	if withReceipt {
		if e.receipt = field(answer, `"receipt_token":"`); len(e.receipt) != 43 {
			r.violation("a create with a receipt got no well-formed receipt_token: %.80q", answer)
			return entry{}, false
		}
	}
	return e, true
}

// passphraseTrip creates a protected secret, guesses wrong once (403 with
// 4 attempts left) and then right (200 with the content).
func (r *runner) passphraseTrip(rng rnd, s *stats, start time.Time) {
	pass := "pw-" + strconv.FormatUint(r.seq.Add(1), 36)
	e, ok := r.createProtected(rng, s, start, pass, "create with passphrase")
	if !ok {
		return
	}
	at := time.Now()
	status, body, err := r.post("/api/v1/secrets/"+e.key+"/reveal", []byte(`{"passphrase":"wrong"}`))
	s.record("wrong passphrase", at, status, err)
	if err == nil && status == 503 { // shed at the Argon2 gate: counted among the errors, nothing was tried
		return
	}
	if err == nil && (status != 403 || !bytes.Contains(body, []byte(`"attempts_left":4`))) {
		r.violation("a first wrong passphrase answered %d %.80q, want 403 with 4 attempts left", status, body)
	}
	at = time.Now()
	status, body, err = r.post("/api/v1/secrets/"+e.key+"/reveal", []byte(`{"passphrase":"`+pass+`"}`))
	s.record("reveal with passphrase", at, status, err)
	if err == nil && (status != 200 && status != 503 || status == 200 && field(body, `"content":"`) != string(e.content)) {
		r.violation("the right passphrase answered %d, want 200 with the content", status)
	}
	s.observe("passphrase trip", time.Since(start))
}

// fileTrip creates a file of a payload size and downloads it: the bytes
// must come back exactly, as an octet-stream.
func (r *runner) fileTrip(rng rnd, s *stats, start time.Time) {
	data := r.content(rng) // unique prefix: another request's file cannot pass for this one
	body := make([]byte, 0, base64.StdEncoding.EncodedLen(len(data))+64)
	body = append(body, `{"content_base64":"`...)
	body = base64.StdEncoding.AppendEncode(body, data)
	body = append(body, `","filename":"bench.bin","ttl_hours":1}`...)
	status, answer, err := r.post("/api/v1/secrets/", body)
	s.record("create file", start, status, err)
	if err != nil || status != 201 {
		return
	}
	key := field(answer, `"access_key":"`)
	at := time.Now()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(r.base + "/api/v1/secrets/" + key)
	req.Header.Set("Accept", "application/octet-stream")
	err = r.client.Do(req, resp)
	r.requests.Add(1)
	s.record("download", at, resp.StatusCode(), err)
	if err == nil && (resp.StatusCode() != 200 || !bytes.Equal(resp.Body(), data) || string(resp.Header.ContentType()) != "application/octet-stream") {
		r.violation("a download answered %d with %d bytes (want %d) as %q", resp.StatusCode(), len(resp.Body()), len(data), resp.Header.ContentType())
	}
	s.observe("file trip", time.Since(start))
}

// e2eTrip is a pair as the create page and `readonce send` make it: the
// harness encrypts (its CPU, not the server's), posts the ciphertext,
// reveals it and decrypts it with the link's key.
func (r *runner) e2eTrip(rng rnd, s *stats, start time.Time) {
	content := r.content(rng)
	ct, key, err := client.EncryptEndToEnd(client.Secret{Text: string(content)})
	if err != nil {
		r.violation("encrypting: %v", err)
		return
	}
	body := make([]byte, 0, base64.StdEncoding.EncodedLen(len(ct))+96)
	body = append(body, `{"content_base64":"`...)
	body = base64.StdEncoding.AppendEncode(body, ct)
	body = append(body, `","media_type":"`+client.EndToEndMediaType+`","ttl_hours":`...)
	body = strconv.AppendInt(body, int64(r.p.TTLHours), 10)
	body = append(body, '}')
	status, answer, err := r.post("/api/v1/secrets/", body)
	s.record("create e2e", start, status, err)
	if err != nil || status != 201 {
		return
	}
	at := time.Now()
	status, answer, err = r.get("/api/v1/secrets/" + field(answer, `"access_key":"`))
	s.record("reveal e2e", at, status, err)
	if err != nil || status != 200 {
		if status == 404 {
			r.violation("an end-to-end secret created moments ago was not found on its first reveal")
		}
		return
	}
	sealed, err := base64.StdEncoding.DecodeString(field(answer, `"content_base64":"`))
	got, derr := client.DecryptEndToEnd(key, sealed)
	if err != nil || derr != nil || got.Text != string(content) {
		r.violation("an end-to-end reveal did not decrypt to its secret (%v, %v)", err, derr)
		return
	}
	s.observe("e2e trip", time.Since(start))
}

// createProtected creates one secret with a passphrase ([a-z0-9-]: nothing
// to escape).
func (r *runner) createProtected(rng rnd, s *stats, start time.Time, pass, op string) (entry, bool) {
	content := r.content(rng)
	body := append([]byte(`{"content":"`), content...)
	body = append(append(append(body, `","passphrase":"`...), pass...), `","ttl_hours":1}`...)
	status, answer, err := r.post("/api/v1/secrets/", body)
	s.record(op, start, status, err)
	key := field(answer, `"access_key":"`)
	if err != nil || status != 201 {
		return entry{}, false
	}
	if len(key) != 43 || !bytes.Contains(answer, []byte(`"passphrase_required":true`)) {
		r.violation("a create with a passphrase answered %.80q", answer)
		return entry{}, false
	}
	return entry{key: key, content: content}, true
}

// floodOnce is one flooding user's cycle: a protected secret and four
// wrong guesses at it (never the fifth, which would destroy it). Each
// guess must be 403 — or 503/429 when the server sheds Argon2 work.
func (r *runner) floodOnce(rng rnd, s *stats) {
	e, ok := r.createProtected(rng, s, time.Now(), "flood-"+strconv.FormatUint(r.seq.Add(1), 36), "flood create")
	if !ok { // shed (503/429) or failed: counted among the errors
		return
	}
	for range 4 {
		at := time.Now()
		status, _, err := r.post("/api/v1/secrets/"+e.key+"/reveal", []byte(`{"passphrase":"wrong"}`))
		s.record("flood guess", at, status, err)
		if err == nil && status != 403 && status != 503 && status != 429 {
			r.violation("a flooding wrong guess answered %d, want 403 (or 503/429 when shed)", status)
		}
	}
}

// readReceipt reads the receipt of a secret just revealed: it must say so.
func (r *runner) readReceipt(s *stats, e entry, start time.Time) {
	status, body, err := r.get("/api/v1/receipts/" + e.receipt)
	s.record("receipt", start, status, err)
	if err == nil && (status != 200 || field(body, `"state":"`) != "revealed") {
		r.violation("the receipt of a revealed secret answered %d %.80q, want 200 revealed", status, body)
	}
}

func (r *runner) reveal(rng rnd, s *stats, e entry, start time.Time) {
	status, body, err := r.get("/api/v1/secrets/" + e.key)
	s.record("reveal", start, status, err)
	if err != nil || status != 200 {
		if status == 404 {
			r.violation("a secret created moments ago was not found on its first reveal")
		}
		return
	}
	if got := field(body, `"content":"`); got != string(e.content) {
		r.violation("reveal returned the wrong content (%d bytes, want %d)", len(got), len(e.content))
		return
	}
	if rng.Float64() < r.p.Recheck {
		again := time.Now()
		status, _, err := r.get("/api/v1/secrets/" + e.key)
		s.record("recheck", again, status, err)
		if err == nil && status != 404 {
			r.violation("a second reveal answered %d, want 404", status)
		}
	}
}

// post sends a JSON body and returns the answer (the body copied out).
func (r *runner) post(path string, body []byte) (int, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(r.base + path)
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	err := r.client.Do(req, resp)
	r.requests.Add(1)
	return resp.StatusCode(), bytes.Clone(resp.Body()), err
}

func (r *runner) get(path string) (int, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(r.base + path)
	err := r.client.Do(req, resp)
	r.requests.Add(1)
	return resp.StatusCode(), bytes.Clone(resp.Body()), err
}

// field returns the JSON string value after prefix (no escapes expected).
func field(body []byte, prefix string) string {
	i := bytes.Index(body, []byte(prefix))
	if i < 0 {
		return ""
	}
	rest := body[i+len(prefix):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// errKind names a transport error for the error table.
func errKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		return "connection closed"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connections"
	}
	return "transport"
}
