// Package apitest is the one way readonce's tests talk to the API: a client
// over net/http (on a real socket or an in-memory listener), typed access to
// JSON answers that fails with the body instead of panicking, the "exactly
// one reader wins" race, and WaitFor for the conditions a test must poll.
package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Client calls the API as a user's HTTP client would.
type Client struct {
	Base string // scheme://host[:port], no trailing slash
	HTTP *http.Client
	// Check, when set, sees every request and its response: the server
	// suite validates each against the OpenAPI document here.
	Check func(req *http.Request, r *Response)
}

// New returns a client of base; dial, when not nil, replaces the network
// (an in-memory listener's Dial).
func New(base string, dial func() (net.Conn, error)) *Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 2000, DisableCompression: true}
	if dial != nil {
		tr.DialContext = func(context.Context, string, string) (net.Conn, error) { return dial() }
	}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{
		Transport: tr,
		Timeout:   15 * time.Second,
		// The API never redirects; a test must see a 3xx if one comes.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Response is one answer, or the transport error that stood in its way.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Took   time.Duration
	Err    error // the request got no answer at all
}

// Send makes one request; headers are name, value pairs ("Host" sets the
// Host header). A transport error is in Response.Err: Send never fails a
// test, so fault tests can count failures.
func (c *Client) Send(method, path, body string, headers ...string) *Response {
	start := time.Now()
	req, err := http.NewRequest(method, c.Base+path, strings.NewReader(body))
	if err != nil {
		return &Response{Err: err}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header[http.CanonicalHeaderKey(headers[i])] = append(req.Header[http.CanonicalHeaderKey(headers[i])], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return &Response{Err: err, Took: time.Since(start)}
	}
	defer resp.Body.Close()
	r := &Response{Status: resp.StatusCode, Header: resp.Header}
	r.Body, r.Err = io.ReadAll(resp.Body)
	r.Took = time.Since(start)
	if c.Check != nil && r.Err == nil {
		c.Check(req, r)
	}
	return r
}

// Do is Send for tests that expect an answer: a transport error fails t.
func (c *Client) Do(t testing.TB, method, path, body string, headers ...string) *Response {
	t.Helper()
	r := c.Send(method, path, body, headers...)
	if r.Err != nil {
		t.Fatalf("%s %s: %v", method, path, r.Err)
	}
	return r
}

// Create posts content (with ttl_hours when given) and returns the access
// key; anything but 201 fails t.
func (c *Client) Create(t testing.TB, content string, ttlHours ...int) string {
	t.Helper()
	body := map[string]any{"content": content}
	if len(ttlHours) > 0 {
		body["ttl_hours"] = ttlHours[0]
	}
	b, _ := json.Marshal(body)
	r := c.Do(t, "POST", "/api/v1/secrets/", string(b))
	if r.Status != 201 {
		t.Fatalf("create: status %d, body %s", r.Status, r.Body)
	}
	return r.JSON(t).String(t, "access_key")
}

// Reveal reads a secret once.
func (c *Client) Reveal(key string) *Response { return c.Send("GET", "/api/v1/secrets/"+key, "") }

// JSON decodes the body as an object; anything else fails t with the body.
func (r *Response) JSON(t testing.TB) Object {
	t.Helper()
	var m Object
	if err := json.Unmarshal(r.Body, &m); err != nil || m == nil {
		t.Fatalf("body is not a JSON object (status %d): %q", r.Status, r.Body)
	}
	return m
}

// TryJSON decodes the body as an object, or returns an empty one: for
// fault tests, where an answer may be anything.
func (r *Response) TryJSON() Object {
	var m Object
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Object is a decoded JSON object whose typed accessors fail the test,
// showing the object, instead of panicking.
type Object map[string]any

// String is a string member; absent or of another type fails t.
func (o Object) String(t testing.TB, name string) string {
	t.Helper()
	s, ok := o[name].(string)
	if !ok {
		t.Fatalf("%q is not a string member of %v", name, map[string]any(o))
	}
	return s
}

// Str is a string member, or "" when absent or of another type.
func (o Object) Str(name string) string { s, _ := o[name].(string); return s }

// Number is a number member; absent or of another type fails t.
func (o Object) Number(t testing.TB, name string) float64 {
	t.Helper()
	n, ok := o[name].(float64)
	if !ok {
		t.Fatalf("%q is not a number member of %v", name, map[string]any(o))
	}
	return n
}

// List is an array member; absent or of another type fails t.
func (o Object) List(t testing.TB, name string) []any {
	t.Helper()
	l, ok := o[name].([]any)
	if !ok {
		t.Fatalf("%q is not an array member of %v", name, map[string]any(o))
	}
	return l
}

// Object is an object member; absent or of another type fails t.
func (o Object) Object(t testing.TB, name string) Object {
	t.Helper()
	m, ok := o[name].(map[string]any)
	if !ok {
		t.Fatalf("%q is not an object member of %v", name, map[string]any(o))
	}
	return m
}

// ExactlyOne releases n attempts at once and fails t unless exactly one got
// 200 and every other 404 (an attempt returns the status it got). It
// returns how many got each status.
func ExactlyOne(t testing.TB, n int, attempt func() int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			status := attempt()
			mu.Lock()
			counts[status]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if counts[200] != 1 || counts[200]+counts[404] != n {
		t.Errorf("%d concurrent attempts: %v (status → count); want exactly one 200 and the rest 404", n, counts)
	}
	return counts
}

// WaitFor polls cond until it holds, failing t with what after timeout.
// It is for real processes (redis-server, the binary), which have no clock
// to fast-forward.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Eventually(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// Eventually polls cond until it holds or timeout passes, and says which.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
}

// String makes a Response readable in failure messages.
func (r *Response) String() string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}
