// Command bench load-tests a readonce-compatible API at any base URL with
// the profiles in bench/profiles/, and compares two targets fairly by
// running them in alternation (A B A B …) on the same, noisy machine.
//
//	go run ./bench -target http://127.0.0.1:8000 -profile bench/profiles/pair.json
//	go run ./bench -compare baseline=http://127.0.0.1:8001,readonce=http://127.0.0.1:8000 -rounds 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"
)

type namedTarget struct {
	name, url string
	pid       int
	unchecked bool // bench/floor: answers a constant
	flooded   bool // run beside the profile's flood of passphrase guessers
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	profiles := fs.String("profile", "bench/profiles/pair.json", "comma-separated profile files")
	target := fs.String("target", "", "base URL to load (one target)")
	compare := fs.String("compare", "", "name=URL,name=URL[,…]: targets run in alternation; ratios are the last one's to each other")
	rounds := fs.Int("rounds", 3, "alternations per profile in compare mode")
	pids := fs.String("pids", "", "comma-separated PIDs of the targets, in order (the floor first when given), for peak RSS and CPU")
	floor := fs.String("floor", "", "URL of bench/floor, the HTTP floor: run first in every alternation, answers never judged")
	redisPID := fs.Int("redis-pid", 0, "PID of the Redis the targets use, for its CPU per request")
	settle := fs.Duration("settle", 6*time.Second, "pause before each run after the first: a reveal's tombstone lives 2×REDIS_TIMEOUT+1 s (5 s by default), and a run that starts while the last one's expire loads Redis for it")
	vusList := fs.String("vus", "", "comma-separated virtual-user counts: run each closed-loop profile at each (a concurrency sweep)")
	out := fs.String("out", "", "write all results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var targets []namedTarget
	switch {
	case *compare != "":
		for _, nv := range strings.Split(*compare, ",") {
			name, url, ok := strings.Cut(nv, "=")
			if !ok {
				return fmt.Errorf("-compare: %q is not name=URL", nv)
			}
			targets = append(targets, namedTarget{name: name, url: strings.TrimRight(url, "/")})
		}
		if len(targets) < 2 {
			return errors.New("-compare takes two targets or more (the last is the one compared)")
		}
	case *target != "":
		targets = []namedTarget{{name: "target", url: strings.TrimRight(*target, "/")}}
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "rounds" })
		if !given {
			*rounds = 1
		}
	default:
		return errors.New("give -target URL or -compare a=URL,b=URL")
	}
	if *floor != "" {
		targets = append([]namedTarget{{name: "floor", url: strings.TrimRight(*floor, "/"), unchecked: true}}, targets...)
	}
	if *pids != "" {
		for i, s := range strings.Split(*pids, ",") {
			if i < len(targets) {
				targets[i].pid, _ = strconv.Atoi(strings.TrimSpace(s))
			}
		}
	}

	var all []Result
	violations := int64(0)
	for _, path := range strings.Split(*profiles, ",") {
		base, err := loadProfile(strings.TrimSpace(path))
		if err != nil {
			return err
		}
		for _, p := range sweep(base, *vusList) {
			res, err := alternate(ctx, p, withFlood(p, targets), *rounds, *redisPID, *settle)
			all = append(all, res...)
			for _, r := range res {
				violations += r.Violations
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	if *out != "" {
		if err := writeJSON(*out, all); err != nil {
			return err
		}
	}
	if violations > 0 {
		return fmt.Errorf("%d CORRECTNESS VIOLATIONS: answers broke the contract (listed above)", violations)
	}
	return nil
}

// sweep is the profile at each of the VU counts in list ("" or an
// open-loop profile: the profile as it is).
func sweep(p *Profile, list string) []*Profile {
	if list == "" || p.openLoop() {
		return []*Profile{p}
	}
	var out []*Profile
	for _, v := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			continue
		}
		q := *p
		q.VUs, q.Name = n, fmt.Sprintf("%s@%d", p.Name, n)
		out = append(out, &q)
	}
	return out
}

// withFlood doubles each target of a flood profile: idle, then flooded
// (the last one is compared with the others).
func withFlood(p *Profile, targets []namedTarget) []namedTarget {
	if p.Flood == nil {
		return targets
	}
	var out []namedTarget
	for _, t := range targets {
		idle, flooded := t, t
		idle.name, flooded.name, flooded.flooded = t.name+" idle", t.name+" flooded", true
		out = append(out, idle, flooded)
	}
	return out
}

// alternate runs p against every target in turn, rounds times, and prints
// the last target's ratios to each of the others: throughput, p50, p99,
// and server+Redis CPU per request.
func alternate(ctx context.Context, p *Profile, targets []namedTarget, rounds, redisPID int, settle time.Duration) ([]Result, error) {
	fmt.Printf("\n### %s (%s, %d users): %s\n", p.Name, p.Mode, p.VUs, p.Description)
	subject := len(targets) - 1
	type ratios struct{ rps, p50, p99, cpu []float64 }
	byRef := make([]ratios, subject)
	var all []Result
	for round := 1; round <= rounds; round++ {
		var got []Result
		for i, t := range targets {
			if round > 1 || i > 0 {
				// Each run pays for its own Redis work only: the tombstones
				// of the run before (a quarter of a million at these rates)
				// expire first, not on the next target's Redis CPU.
				select {
				case <-ctx.Done():
					return all, ctx.Err()
				case <-time.After(settle):
				}
			}
			res, err := runOnce(ctx, p, t, redisPID)
			if err != nil {
				return all, err
			}
			res.VUs = p.VUs
			printResult(os.Stdout, res)
			got = append(got, res)
			all = append(all, res)
		}
		s := got[subject]
		for i := range subject {
			ref := got[i]
			if ref.RPS <= 0 || ref.All.P99 <= 0 || ref.All.P50 <= 0 {
				continue
			}
			r := &byRef[i]
			r.rps, r.p50, r.p99 = append(r.rps, s.RPS/ref.RPS), append(r.p50, s.All.P50/ref.All.P50), append(r.p99, s.All.P99/ref.All.P99)
			fmt.Printf("\n  round %d: %s/%s throughput ×%.2f, p50 ×%.2f, p99 ×%.2f", round, targets[subject].name, ref.Target,
				s.RPS/ref.RPS, s.All.P50/ref.All.P50, s.All.P99/ref.All.P99)
			if ref.TotalCPU() > 0 && s.TotalCPU() > 0 {
				r.cpu = append(r.cpu, s.TotalCPU()/ref.TotalCPU())
				fmt.Printf(", CPU per request (server+Redis) ×%.2f", s.TotalCPU()/ref.TotalCPU())
			}
			fmt.Println()
		}
	}
	for i, r := range byRef {
		if len(r.rps) == 0 {
			continue
		}
		fmt.Printf("\n== %s: %s vs %s over %d rounds (medians): throughput ×%.2f (min %.2f, max %.2f), p50 ×%.2f, p99 ×%.2f",
			p.Name, targets[subject].name, targets[i].name, len(r.rps), median(r.rps), slices.Min(r.rps), slices.Max(r.rps), median(r.p50), median(r.p99))
		if len(r.cpu) > 0 {
			fmt.Printf(", CPU per request ×%.2f", median(r.cpu))
		}
		fmt.Println()
	}
	return all, nil
}

func runOnce(ctx context.Context, p *Profile, t namedTarget, redisPID int) (Result, error) {
	r := newRunner(p, t.url)
	r.unchecked, r.flooded = t.unchecked, t.flooded
	if err := r.prefill(ctx); err != nil {
		return Result{}, fmt.Errorf("%s: %w", t.name, err)
	}
	done := make(chan struct{})
	go progress(os.Stderr, t.name, p.totalDuration(), r, done)
	started := time.Now()
	cpu0, redis0 := 0.0, 0.0
	if t.pid > 0 {
		cpu0 = cpuSeconds(t.pid)
	}
	if redisPID > 0 {
		redis0 = cpuSeconds(redisPID)
	}
	var st []*stats
	if p.openLoop() {
		st = r.openLoop(ctx)
	} else {
		st = r.closedLoop(ctx)
	}
	took := time.Since(started)
	if r.plainTook > 0 {
		took = r.plainTook
	}
	close(done)
	res := summarize(p, t.name, started, took, st, r)
	if t.pid > 0 {
		res.PeakRSS = peakRSS(t.pid)
		res.CPUSeconds = cpuSeconds(t.pid) - cpu0
		if res.Requests > 0 {
			res.CPUPerRequest = res.CPUSeconds / float64(res.Requests) * 1e6
		}
	}
	if redisPID > 0 && res.Requests > 0 {
		res.RedisCPUPerRequest = (cpuSeconds(redisPID) - redis0) / float64(res.Requests) * 1e6
	}
	return res, nil
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
