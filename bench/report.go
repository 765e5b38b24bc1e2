package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// stats are the latency histograms (microseconds) and outcomes of one
// worker; workers' stats are merged at the end.
type stats struct {
	mu     *sync.Mutex // set when goroutines share these stats (open loop)
	hist   map[string]*hdrhistogram.Histogram
	errors map[string]int64 // "create 503", "reveal timeout"
}

func newStats() *stats {
	return &stats{hist: map[string]*hdrhistogram.Histogram{}, errors: map[string]int64{}}
}

func (s *stats) h(op string) *hdrhistogram.Histogram {
	h, ok := s.hist[op]
	if !ok {
		h = hdrhistogram.New(1, 60_000_000, 3) // 1 µs .. 60 s
		s.hist[op] = h
	}
	return h
}

func (s *stats) observe(op string, d time.Duration) {
	if s.mu != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	_ = s.h(op).RecordValue(max(d.Microseconds(), 1))
}

// record counts one request: its latency from start, and its outcome when
// it is not the one a healthy server gives.
func (s *stats) record(op string, start time.Time, status int, err error) {
	s.observe(op, time.Since(start))
	if s.mu != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	switch {
	case err != nil:
		s.errors[op+" "+errKind(err)]++
	case status >= 400 && !(status == 404 && (op == "unknown" || op == "recheck")) && !(status == 422 && op == "hostile422") &&
		!(status == 403 && (op == "wrong passphrase" || op == "flood guess")):
		s.errors[fmt.Sprintf("%s %d", op, status)]++
	}
}

func (s *stats) merge(o *stats) {
	for op, h := range o.hist {
		s.h(op).Merge(h)
	}
	for k, v := range o.errors {
		s.errors[k] += v
	}
}

// Result is one run, as written to the JSON result file.
type Result struct {
	Profile    string              `json:"profile"`
	Target     string              `json:"target"`
	Started    time.Time           `json:"started"`
	Seconds    float64             `json:"seconds"`
	Requests   int64               `json:"requests"`
	RPS        float64             `json:"requests_per_second"`
	Ops        map[string]OpResult `json:"operations"`
	All        OpResult            `json:"all_requests"`
	Errors     map[string]int64    `json:"errors"`
	Violations int64               `json:"violations"`
	FirstBad   []string            `json:"first_violations,omitempty"`
	PeakRSS    int64               `json:"peak_rss_bytes,omitempty"`
	// CPUSeconds is the target process's user+system CPU during the run;
	// per request it is the least noisy cost figure on a shared machine.
	CPUSeconds    float64 `json:"cpu_seconds,omitempty"`
	CPUPerRequest float64 `json:"cpu_us_per_request,omitempty"`
	// RedisCPUPerRequest is the Redis process's CPU during the run, per
	// request (targets run one at a time, so it is this target's).
	RedisCPUPerRequest float64 `json:"redis_cpu_us_per_request,omitempty"`
	VUs                int     `json:"vus,omitempty"`
}

// TotalCPU is server and Redis CPU per request, in µs.
func (r Result) TotalCPU() float64 { return r.CPUPerRequest + r.RedisCPUPerRequest }

// OpResult is one operation's throughput and latency, in milliseconds.
type OpResult struct {
	Count int64   `json:"count"`
	RPS   float64 `json:"per_second"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func opResult(h *hdrhistogram.Histogram, secs float64) OpResult {
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return OpResult{
		Count: h.TotalCount(), RPS: float64(h.TotalCount()) / secs,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
}

func summarize(p *Profile, target string, started time.Time, took time.Duration, all []*stats, r *runner) Result {
	total := newStats()
	for _, s := range all {
		total.merge(s)
	}
	secs := took.Seconds()
	res := Result{Profile: p.Name, Target: target, Started: started, Seconds: secs, Ops: map[string]OpResult{},
		Errors: total.errors, Violations: r.violations.Load(), FirstBad: r.firstBad}
	every := hdrhistogram.New(1, 60_000_000, 3)
	for op, h := range total.hist {
		res.Ops[op] = opResult(h, secs)
		if op != "pair" && !strings.HasSuffix(op, " trip") && !strings.HasPrefix(op, "flood") { // a pair or trip is requests already counted; the flood is not the profile's
			every.Merge(h)
		}
	}
	res.All = opResult(every, secs)
	res.Requests, res.RPS = res.All.Count, res.All.RPS
	return res
}

func printResult(w io.Writer, r Result) {
	fmt.Fprintf(w, "\n%s → %s: %d requests in %.1fs = %.0f req/s", r.Profile, r.Target, r.Requests, r.Seconds, r.RPS)
	if r.PeakRSS > 0 {
		fmt.Fprintf(w, ", peak RSS %.1f MiB", float64(r.PeakRSS)/(1<<20))
	}
	if r.CPUPerRequest > 0 {
		fmt.Fprintf(w, ", %.1f µs CPU/request", r.CPUPerRequest)
		if r.RedisCPUPerRequest > 0 {
			fmt.Fprintf(w, " + Redis %.1f = %.1f", r.RedisCPUPerRequest, r.TotalCPU())
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %-8s %9s %9s %8s %8s %8s %8s %8s\n", "op", "count", "per sec", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms")
	ops := make([]string, 0, len(r.Ops))
	for op := range r.Ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range append(ops, "all") {
		o, ok := r.Ops[op]
		if op == "all" {
			o, ok = r.All, true
		}
		if ok {
			fmt.Fprintf(w, "  %-8s %9d %9.0f %8.2f %8.2f %8.2f %8.2f %8.2f\n", op, o.Count, o.RPS, o.P50, o.P90, o.P99, o.P999, o.Max)
		}
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, r.Errors[k]))
		}
		fmt.Fprintf(w, "  errors: %s\n", strings.Join(parts, ", "))
	}
	if r.Violations > 0 {
		fmt.Fprintf(w, "  CORRECTNESS VIOLATIONS: %d\n", r.Violations)
		for _, v := range r.FirstBad {
			fmt.Fprintf(w, "    - %s\n", v)
		}
	}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// progress draws a bar on stderr for runs longer than a few seconds.
func progress(w io.Writer, label string, total time.Duration, r *runner, done <-chan struct{}) {
	if total < 3*time.Second {
		return
	}
	start := time.Now()
	var last int64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", 78))
			return
		case <-tick.C:
			frac := min(time.Since(start).Seconds()/total.Seconds(), 1)
			n := r.requests.Load()
			bar := strings.Repeat("=", int(frac*30)) + ">" + strings.Repeat(" ", 30-int(frac*30))
			fmt.Fprintf(w, "\r%-14.14s [%s] %3.0f%% %8.0f req/s", label, bar, frac*100, float64(n-last))
			last = n
		}
	}
}

// cpuSeconds is the process's user+system CPU time so far.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	var utime, stime float64
	fmt.Sscanf(f[11], "%g", &utime)
	fmt.Sscanf(f[12], "%g", &stime)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}
