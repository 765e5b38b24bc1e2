//go:build integration

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/readonce/readonce/internal/apitest"
	"github.com/readonce/readonce/internal/faultproxy"
	"github.com/readonce/readonce/internal/logbuf"
	"github.com/readonce/readonce/internal/redistest"
)

// faultSuite collects every log line and every secret of the fault tests,
// so that the last check can prove no secret reached a log.
type faultSuite struct {
	logs    logbuf.Buffer
	mu      sync.Mutex
	secrets []string
}

func (s *faultSuite) remember(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = append(s.secrets, secrets...)
}

// client is what the fault and scale tests call readonce with: the one API
// client, remembering every secret it handles for the suite's log check.
type client struct {
	*apitest.Client
	s *faultSuite
}

func newClient(base string, s *faultSuite) *client {
	return &client{Client: apitest.New(base, nil), s: s}
}

// result is one answer with its body decoded (empty when it is not JSON).
type result struct {
	*apitest.Response
	body apitest.Object
}

func (c *client) do(method, path, body string) result {
	r := c.Send(method, path, body)
	return result{r, r.TryJSON()}
}

func (c *client) create(content string) result {
	c.s.remember(content)
	b, _ := json.Marshal(map[string]string{"content": content})
	r := c.do("POST", "/api/v1/secrets/", string(b))
	if key := r.body.Str("access_key"); key != "" {
		c.s.remember(key)
	}
	return r
}

func (c *client) reveal(key string) result { return c.do("GET", "/api/v1/secrets/"+key, "") }

func startOn(t *testing.T, s *faultSuite, redisURL string, extra ...string) (*program, *client) {
	env := map[string]string{"REDIS_URL": redisURL, "SECRET_KEY": strongKey, "REDIS_TIMEOUT": "500ms"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	p := startLogging(t, env, &s.logs)
	return p, newClient("http://"+p.addr, s)
}

func TestIntegrationFaults(t *testing.T) {
	s := &faultSuite{}
	redis := redistest.Start(t)

	t.Run("redis down at start, then up", func(t *testing.T) { redisDownAtStart(t, s, redis) })
	t.Run("redis frozen under load", func(t *testing.T) { redisFrozen(t, s, redis) })
	t.Run("claim reply dropped", func(t *testing.T) { claimReplyDropped(t, s, redis) })
	t.Run("claim held past the timeout", func(t *testing.T) { claimReplyFrozen(t, s, redis) })
	t.Run("SET reply dropped", func(t *testing.T) { setReplyDropped(t, s, redis) })
	t.Run("connection resets under mixed load", func(t *testing.T) { resetsUnderLoad(t, s, redis) })
	t.Run("SIGTERM with requests in flight", func(t *testing.T) { sigtermInFlight(t, s, redis) })

	// Last: no access key and no content used above is in any log line.
	logs := s.logs.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.secrets) < 50 || !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("the log check has too little to look at: %d secrets, %d bytes of logs", len(s.secrets), len(logs))
	}
	for _, secret := range s.secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("a log line contains a secret (%d chars)", len(secret))
		}
	}
}

func redisDownAtStart(t *testing.T, s *faultSuite, redis *redistest.Server) {
	proxy := faultproxy.Start(t, redis.Addr)
	proxy.SetDown(true)
	_, c := startOn(t, s, "redis://"+proxy.Addr())

	for name, r := range map[string]result{
		"ready":  c.do("GET", "/ready", ""),
		"create": c.create("created while redis is down"),
		"reveal": c.reveal(strings.Repeat("A", 43)),
	} {
		if r.Err != nil || r.Status != 503 || r.Header.Get("Retry-After") == "" || r.body["detail"] == nil {
			t.Errorf("%s with Redis down: got %d (Retry-After %q, body %v, %v), want 503 JSON with Retry-After", name, r.Status, r.Header.Get("Retry-After"), r.body, r.Err)
		}
	}
	if r := c.do("GET", "/health", ""); r.Status != 200 {
		t.Errorf("liveness failed with Redis down: %d", r.Status)
	}

	proxy.SetDown(false)
	up := time.Now()
	apitest.WaitFor(t, 2*time.Second, "/ready after Redis came back", func() bool { return c.do("GET", "/ready", "").Status == 200 })
	t.Logf("ready %v after Redis came back", time.Since(up).Round(time.Millisecond))
	r := c.create("after recovery")
	if r.Status != 201 {
		t.Fatalf("create after recovery: %d", r.Status)
	}
	if got := c.reveal(r.body.String(t, "access_key")); got.Status != 200 || got.body["content"] != "after recovery" {
		t.Errorf("reveal after recovery: %d %v", got.Status, got.body)
	}
}

func redisFrozen(t *testing.T, s *faultSuite, redis *redistest.Server) {
	const timeout = 500 * time.Millisecond
	_, c := startOn(t, s, redis.URL())
	var keys []string
	for i := range 20 {
		r := c.create(fmt.Sprintf("frozen-%d-%d", i, time.Now().UnixNano()))
		if r.Status != 201 {
			t.Fatalf("setup create: %d", r.Status)
		}
		keys = append(keys, r.body.String(t, "access_key"))
	}
	// Warm up at the same concurrency, so the server's worker pool and the
	// Redis pool are as large before the freeze as during it.
	var warm sync.WaitGroup
	for range 40 {
		warm.Go(func() { c.do("GET", "/ready", "") })
	}
	warm.Wait()
	c.HTTP.CloseIdleConnections()
	baseline := settledGoroutines(0)

	redis.Pause()
	paused := true
	defer func() {
		if paused {
			redis.Resume()
		}
	}()
	var wg sync.WaitGroup
	results := make([]result, 40)
	for i := range results {
		wg.Go(func() {
			if i%2 == 0 {
				results[i] = c.create(fmt.Sprintf("during-freeze-%d-%d", i, time.Now().UnixNano()))
			} else {
				results[i] = c.reveal(keys[i/2])
			}
		})
	}
	wg.Wait()
	redis.Resume()
	paused = false

	var slowest time.Duration
	for i, r := range results {
		slowest = max(slowest, r.Took)
		if r.Err != nil || r.Status != 503 {
			t.Errorf("request %d with Redis frozen: got %d, %v; want 503", i, r.Status, r.Err)
		}
		if r.Took > timeout+time.Second {
			t.Errorf("request %d took %v with REDIS_TIMEOUT=%v", i, r.Took, timeout)
		}
	}
	t.Logf("slowest request while frozen: %v (REDIS_TIMEOUT %v)", slowest.Round(time.Millisecond), timeout)

	c.HTTP.CloseIdleConnections()
	if after := settledGoroutines(baseline); after > baseline+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before the freeze, %d after (a leak):\n%s", baseline, after, buf[:runtime.Stack(buf, true)])
	} else {
		t.Logf("goroutines: %d before the freeze, %d after", baseline, after)
	}
	if r := c.create("after the thaw"); r.Status != 201 {
		t.Errorf("create after the thaw: %d", r.Status)
	}
	// Every reveal in flight during the freeze answered 503; its claim (if
	// one was sent) reached Redis late and claimed nothing: every secret
	// is still there, for exactly one reader.
	for i, key := range keys {
		if r := c.reveal(key); r.Status != 200 || r.body["content"] == nil {
			t.Errorf("secret %d, revealed in vain during the freeze: now %d, want 200", i, r.Status)
		}
		if r := c.reveal(key); r.Status != 404 {
			t.Errorf("secret %d revealed twice: %d", i, r.Status)
		}
	}
}

// settledGoroutines waits (up to 10 s) for the goroutine count to reach
// target, or to stop falling, and returns it.
func settledGoroutines(target int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		m := runtime.NumGoroutine()
		if (target > 0 && m <= target) || (target == 0 && m == n) {
			return m
		}
		n = m
	}
	return n
}

// claimThroughProxy starts readonce behind a fault proxy, loads the claim
// script (one reveal), and creates the secret the test will reveal.
func claimThroughProxy(t *testing.T, s *faultSuite, redis *redistest.Server, content string) (*faultproxy.Proxy, *client, string) {
	proxy := faultproxy.Start(t, redis.Addr)
	_, c := startOn(t, s, "redis://"+proxy.Addr())
	c.reveal(c.create("loads the claim script").body.String(t, "access_key"))
	return proxy, c, c.create(content).body.String(t, "access_key")
}

// claimReplyDropped: Redis runs the claim, the connection closes before
// the reply. The claim is re-sent with its id, learns it won, and the
// reader gets the secret once (before the claim primitive: 503, and the
// secret burnt).
func claimReplyDropped(t *testing.T, s *faultSuite, redis *redistest.Server) {
	proxy, c, key := claimThroughProxy(t, s, redis, "reply lost on the way back")
	before := proxy.Count("EVALSHA")
	proxy.DropReplies("EVALSHA", 1)
	if got := c.reveal(key); got.Status != 200 || got.body["content"] != "reply lost on the way back" {
		t.Errorf("dropped claim reply: got %d %v, want 200 and the content", got.Status, got.body)
	}
	if n := proxy.Count("EVALSHA") - before; n != 2 {
		t.Errorf("the proxy saw %d claims for one request, want 2 (the lost one, the re-send)", n)
	}
	if got := c.reveal(key); got.Status != 404 {
		t.Errorf("second reader: %d, want 404", got.Status)
	}
}

// claimReplyFrozen: the read goes through, the claim is held past
// REDIS_TIMEOUT. The reveal answers 503; the claim reaches Redis late and
// claims nothing, so the secret then reveals, once.
func claimReplyFrozen(t *testing.T, s *faultSuite, redis *redistest.Server) {
	proxy, c, key := claimThroughProxy(t, s, redis, "held in a frozen network")
	proxy.Hold("EVALSHA", 900*time.Millisecond) // REDIS_TIMEOUT is 500ms
	before := proxy.Answered("EVALSHA")
	if got := c.reveal(key); got.Status != 503 {
		t.Errorf("reveal with its claim held: %d, want 503", got.Status)
	}
	// Redis runs the held claim after the request gave up, and must refuse it.
	apitest.WaitFor(t, 5*time.Second, "Redis to answer the held claim", func() bool { return proxy.Answered("EVALSHA") > before })
	proxy.Hold("EVALSHA", 0)
	if got := c.reveal(key); got.Status != 200 || got.body["content"] != "held in a frozen network" {
		t.Errorf("after the freeze: %d %v, want the secret", got.Status, got.body)
	}
	if got := c.reveal(key); got.Status != 404 {
		t.Errorf("second reader: %d, want 404", got.Status)
	}
}

func setReplyDropped(t *testing.T, s *faultSuite, redis *redistest.Server) {
	proxy := faultproxy.Start(t, redis.Addr)
	_, c := startOn(t, s, "redis://"+proxy.Addr())
	for range 5 {
		proxy.DropReplies("SET", 1)
		if r := c.create("set reply lost"); r.Status == 201 || r.Status != 503 {
			t.Errorf("dropped SET reply: got %d, want 503 (never 201 unconfirmed)", r.Status)
		}
	}
	if r := c.create("set reply kept"); r.Status != 201 {
		t.Errorf("after the drops: %d", r.Status)
	}
}

func resetsUnderLoad(t *testing.T, s *faultSuite, redis *redistest.Server) {
	proxy := faultproxy.Start(t, redis.Addr)
	_, c := startOn(t, s, "redis://"+proxy.Addr())
	stop := make(chan struct{})
	var resets sync.WaitGroup
	resets.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
				proxy.ResetAll()
			}
		}
	})

	var statuses sync.Map
	var revealed, wrong atomic.Int64
	var workers sync.WaitGroup
	deadline := time.Now().Add(3 * time.Second)
	for w := range 8 {
		workers.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				content := fmt.Sprintf("worker-%d-secret-%d-%d", w, i, time.Now().UnixNano())
				r := c.create(content)
				count(&statuses, "create", r)
				if r.Status != 201 {
					continue
				}
				got := c.reveal(r.body.String(t, "access_key"))
				count(&statuses, "reveal", got)
				if got.Status == 200 {
					revealed.Add(1)
					if got.body["content"] != content {
						wrong.Add(1)
					}
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	resets.Wait()

	if wrong.Load() != 0 {
		t.Fatalf("%d reveals returned another request's secret", wrong.Load())
	}
	statuses.Range(func(k, v any) bool {
		t.Logf("%s: %d", k, v.(*atomic.Int64).Load())
		op, code, _ := strings.Cut(k.(string), " ")
		if !(op == "create" && (code == "201" || code == "503")) && !(op == "reveal" && (code == "200" || code == "503")) {
			t.Errorf("unexpected outcome under resets: %s × %d (a 404 here would mean a re-sent GETDEL)", k, v.(*atomic.Int64).Load())
		}
		return true
	})
	if revealed.Load() < 10 {
		t.Errorf("only %d reveals succeeded: the test proved little", revealed.Load())
	}
}

func count(m *sync.Map, op string, r result) {
	key := fmt.Sprintf("%s %d", op, r.Status)
	if r.Err != nil {
		key = op + " transport-error"
	}
	v, _ := m.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func sigtermInFlight(t *testing.T, s *faultSuite, redis *redistest.Server) {
	bin := filepath.Join(t.TempDir(), "readonce")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	proxy := faultproxy.Start(t, redis.Addr)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "HOST=127.0.0.1", "LOG_FORMAT=json", "REDIS_URL=redis://"+proxy.Addr(),
		"SECRET_KEY="+strongKey, "REDIS_TIMEOUT=2s", "SHUTDOWN_TIMEOUT=10s")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var procLog bytes.Buffer
	addrc := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			procLog.WriteString(line + "\n")
			s.logs.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "readonce listening" {
				addrc <- rec.Addr
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the binary did not start")
	}
	c := newClient("http://"+addr, s)

	// Every command is slow, so all requests are in flight together (with
	// autopipelining they may share one connection: the delays add up).
	proxy.SetDelay(100 * time.Millisecond)
	const n = 12
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = c.create(fmt.Sprintf("in-flight-%d-%d", i, time.Now().UnixNano())) })
	}
	apitest.WaitFor(t, 5*time.Second, fmt.Sprintf("all %d requests to reach Redis", n), func() bool { return proxy.Count("SET") >= n })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	err := cmd.Wait()
	<-logDone

	var ok201 int
	for i, r := range results {
		switch {
		case r.Err != nil:
			t.Errorf("request %d in flight at SIGTERM was cut off: %v", i, r.Err)
		case r.Status == 201:
			ok201++
		case r.Status != 503:
			t.Errorf("request %d in flight at SIGTERM: %d, want 201 or 503", i, r.Status)
		}
	}
	if err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0\n%s", err, procLog.String())
	}
	if strings.Contains(procLog.String(), "panic") {
		t.Errorf("the process panicked:\n%s", procLog.String())
	}
	t.Logf("%d of %d in-flight creates completed with 201 during the drain", ok201, n)
}
