package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/readonce/readonce/internal/apitest"
	"github.com/readonce/readonce/internal/logbuf"
	"github.com/readonce/readonce/seal"
)

// program is readonce started through run, as main would start it.
type program struct {
	addr string
	api  *apitest.Client
	logs *logbuf.Buffer
	stop context.CancelFunc
	done chan error
}

func start(t *testing.T, env map[string]string) *program { return startLogging(t, env, nil) }

// startLogging is start with the logs also copied to also (when not nil).
func startLogging(t *testing.T, env map[string]string, also io.Writer) *program {
	t.Helper()
	env["PORT"], env["HOST"], env["LOG_FORMAT"], env["LOG_LEVEL"] = "0", "127.0.0.1", "json", "debug"
	ctx, cancel := context.WithCancel(context.Background())
	p := &program{logs: &logbuf.Buffer{}, stop: cancel, done: make(chan error, 1)}
	var w io.Writer = p.logs
	if also != nil {
		w = io.MultiWriter(p.logs, also)
	}
	go func() { p.done <- run(ctx, nil, env, io.Discard, w) }()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	apitest.WaitFor(t, 10*time.Second, "readonce to listen", func() bool {
		select {
		case err := <-p.done:
			t.Fatalf("run returned before listening: %v\n%s", err, p.logs)
		default:
		}
		for _, line := range p.logs.Lines() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "readonce listening" {
				p.addr = rec.Addr
				return true
			}
		}
		return false
	})
	p.api = apitest.New("http://"+p.addr, nil)
	return p
}

func (p *program) url(path string) string { return "http://" + p.addr + path }

func (p *program) create(t *testing.T, content string) (key string) {
	t.Helper()
	return p.api.Create(t, content)
}

func (p *program) reveal(t *testing.T, key string) (int, string) {
	t.Helper()
	r := p.api.Do(t, "GET", "/api/v1/secrets/"+key, "")
	return r.Status, r.TryJSON().Str("content")
}

func TestRunEndToEnd(t *testing.T) {
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey})
	content := "end-to-end canary 7c1f"
	key := p.create(t, content)
	if status, got := p.reveal(t, key); status != 200 || got != content {
		t.Fatalf("reveal: got %d %q", status, got)
	}
	if status, _ := p.reveal(t, key); status != 404 {
		t.Fatalf("second reveal: got %d, want 404", status)
	}

	p.stop()
	if err := <-p.done; err != nil {
		t.Fatalf("run after SIGTERM: %v", err)
	}
	p.done <- nil // for Cleanup

	logs := p.logs.String()
	for _, line := range p.logs.Lines() {
		if !json.Valid([]byte(line)) {
			t.Errorf("a log line is not JSON: %q", line)
		}
	}
	raw, _ := base64.RawURLEncoding.DecodeString(key)
	for _, s := range []string{key, content, hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw), strongKey} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain secret material %q", s)
		}
	}
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no clean stop in the logs")
	}
}

func TestRunEmbeddedStore(t *testing.T) {
	p := start(t, map[string]string{})
	if !strings.Contains(p.logs.String(), "EMBEDDED") {
		t.Errorf("the embedded store was not announced:\n%s", p.logs)
	}
	key := p.create(t, "laptop")
	if status, got := p.reveal(t, key); status != 200 || got != "laptop" {
		t.Fatalf("reveal on the embedded store: got %d %q", status, got)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for _, env := range []map[string]string{
		{"APP_ENV": "production"},
		{"APP_ENV": "production", "REDIS_URL": "redis://127.0.0.1:1", "SECRET_KEY": "changeme"},
		{"REDIS_URL": "redis://127.0.0.1:1"},
		{"PORT": "eighty"},
	} {
		env["HOST"] = "127.0.0.1"
		var logs bytes.Buffer
		err := run(context.Background(), nil, env, io.Discard, &logs)
		if err == nil {
			t.Errorf("%v: run started", env)
			continue
		}
		if strings.Contains(logs.String(), "listening") {
			t.Errorf("%v: listened before refusing", env)
		}
	}
	if err := run(context.Background(), []string{"frobnicate"}, map[string]string{}, io.Discard, io.Discard); err == nil {
		t.Error("an unknown command was accepted")
	}
}

// A request in flight when the stop signal comes must complete.
func TestRunDrainsInFlight(t *testing.T) {
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey})
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// A first request on this connection proves the server is serving it.
	if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health on the kept-alive connection: %v", err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	body := `{"content":"sent during shutdown"}`
	// Expect: 100-continue makes the server say when it has read the
	// headers: from then on the request is in flight.
	head := "POST /api/v1/secrets/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("want 100 Continue, got %q, %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}
	p.stop()
	// Wait until shutdown has begun (the listener is closed), then finish.
	for deadline := time.Now().Add(5 * time.Second); ; {
		probe, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			break
		}
		probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after the stop signal")
		}
		runtime.Gosched()
	}
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request was cut off: %v", err)
	}
	if resp.StatusCode != 201 {
		t.Errorf("in-flight request: got %d, want 201", resp.StatusCode)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		p.done <- nil
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after draining")
	}
}

// Storage alone is useless: a full dump of Redis holds no access key and
// no plaintext, and SECRET_KEY without the access keys opens nothing.
func TestStoreDumpRevealsNothing(t *testing.T) {
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey})
	keys := map[string]string{}
	for i := range 100 {
		content := "plaintext-canary-" + strconv.Itoa(i) + "-" + strings.Repeat("q", i%7)
		keys[p.create(t, content)] = content
	}

	var dump bytes.Buffer
	stored := map[string][]byte{}
	for _, k := range m.Keys() {
		v, err := m.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		stored[k] = []byte(v)
		dump.WriteString(k + "\n" + v + "\n")
	}
	if len(stored) != 100 {
		t.Fatalf("store holds %d keys, want 100", len(stored))
	}
	for key, content := range keys {
		raw, _ := base64.RawURLEncoding.DecodeString(key)
		for _, s := range [][]byte{[]byte(key), raw, []byte(hex.EncodeToString(raw)), []byte(content), []byte("plaintext-canary")} {
			if bytes.Contains(dump.Bytes(), s) {
				t.Fatalf("the dump contains secret material (%d bytes)", len(s))
			}
		}
	}

	// An attacker with the dump and SECRET_KEY, but no URL: every guess fails.
	sealer, err := seal.New([]byte(strongKey))
	if err != nil {
		t.Fatal(err)
	}
	for lookupKey, blob := range stored {
		for range 3 {
			guess, _ := sealer.NewAccessKey()
			if _, _, _, err := sealer.Open(guess, lookupKey, blob); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("a guessed access key opened a secret")
			}
		}
		suffix := strings.TrimPrefix(lookupKey, "readonce:v1:")
		if _, _, _, err := sealer.Open(suffix, lookupKey, blob); !errors.Is(err, seal.ErrOpen) {
			t.Fatalf("the lookup key opened its own secret")
		}
	}
	// With the URL it opens, so the failures above are not a broken test.
	for key, content := range keys {
		if status, got := p.reveal(t, key); status != 200 || got != content {
			t.Fatalf("reveal: got %d %q, want %q", status, got, content)
		}
		break
	}
}

func TestTokenCommandAndRequireAuth(t *testing.T) {
	m := miniredis.RunT(t)
	env := map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey, "ALGORITHM": "HS384", "ACCESS_TOKEN_EXPIRE_MINUTES": "5"}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "--subject", "deploy-bot"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out.String())
	if strings.Count(token, ".") != 2 {
		t.Fatalf("token: got %q, want a JWT", token)
	}
	if err := run(context.Background(), []string{"token"}, env, io.Discard, io.Discard); err == nil {
		t.Error("token without --subject was accepted")
	}
	if err := run(context.Background(), []string{"token", "--subject", "x"}, map[string]string{}, io.Discard, io.Discard); err == nil {
		t.Error("token with an ephemeral SECRET_KEY was accepted")
	}

	env["REQUIRE_AUTH"] = "true"
	p := start(t, env)
	post := func(auth string) int {
		req, _ := http.NewRequest("POST", p.url("/api/v1/secrets/"), strings.NewReader(`{"content":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(""); got != 401 {
		t.Errorf("no token: got %d, want 401", got)
	}
	if got := post("Bearer " + token); got != 201 {
		t.Errorf("token from `readonce token`: got %d, want 201", got)
	}
	if strings.Contains(p.logs.String(), token) {
		t.Error("the token reached the log")
	}
}

func TestMetricsAddr(t *testing.T) {
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"REDIS_URL": "redis://" + m.Addr(), "SECRET_KEY": strongKey, "METRICS_ADDR": "127.0.0.1:0"})
	var addr string
	for _, line := range p.logs.Lines() {
		var rec struct {
			Msg         string
			MetricsAddr string `json:"metrics_addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" {
			addr = rec.MetricsAddr
		}
	}
	if addr == "" {
		t.Fatalf("no metrics listener announced:\n%s", p.logs)
	}
	p.create(t, "counted")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"readonce_secrets_created_total 1", "readonce_redis_pool_connections", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics listener lacks %s", want)
		}
	}
	resp, err = http.Get(p.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/metrics still on the API port: %d", resp.StatusCode)
	}
}

func TestLogSinkFlushes(t *testing.T) {
	var out logbuf.Buffer
	s := newLogSink(&out, time.Hour)
	s.Write([]byte("one\n"))
	if out.String() != "" {
		t.Fatalf("written through before a flush: %q", out.String())
	}
	s.Close()
	if out.String() != "one\n" {
		t.Fatalf("Close did not flush: %q", out.String())
	}
	s = newLogSink(&out, 10*time.Millisecond)
	defer s.Close()
	s.Write([]byte("two\n"))
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "two"); {
		if time.Now().After(deadline) {
			t.Fatal("the interval flush never came")
		}
		runtime.Gosched()
	}
}

func TestHealthcheckCommand(t *testing.T) {
	p := start(t, map[string]string{})
	_, port, _ := net.SplitHostPort(p.addr)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck"}, map[string]string{"PORT": port}, &out, io.Discard); err != nil {
		t.Fatalf("healthcheck of a live server: %v", err)
	}
	if !strings.Contains(out.String(), "healthy") {
		t.Errorf("healthcheck output: %q", out.String())
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0") // a port with nothing behind it once closed
	_, dead, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	if err := run(context.Background(), []string{"healthcheck"}, map[string]string{"PORT": dead}, io.Discard, io.Discard); err == nil {
		t.Error("healthcheck of nothing succeeded")
	}
	var v bytes.Buffer
	if err := run(context.Background(), []string{"version"}, nil, &v, io.Discard); err != nil || !strings.HasPrefix(v.String(), "readonce ") {
		t.Errorf("version: %q %v", v.String(), err)
	}
}

// Start-up says loudly what an operator must fix: an http:// PUBLIC_URL in
// production (every link would send its key in clear), and a SECRET_KEY
// with surrounding whitespace (trimmed now; the untrimmed form still opens).
func TestStartupWarnings(t *testing.T) {
	m := miniredis.RunT(t)
	p := start(t, map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://" + m.Addr(), "REDIS_SKIP_POLICY_CHECK": "true",
		"SECRET_KEY": strongKey + "\n", "PUBLIC_URL": "http://secrets.example.com"})
	logs := p.logs.String()
	for _, want := range []string{"PUBLIC_URL is http:// in production", "surrounding whitespace"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no warning %q at start:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, strongKey) {
		t.Error("the warning quotes SECRET_KEY")
	}
}
