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
	compare := fs.String("compare", "", "name=URL,name=URL: two targets run in alternation; ratios are second/first")
	rounds := fs.Int("rounds", 3, "alternations per profile in compare mode")
	pids := fs.String("pids", "", "comma-separated PIDs of the targets, in order, to report their peak RSS")
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
		if len(targets) != 2 {
			return errors.New("-compare takes exactly two targets")
		}
	case *target != "":
		targets = []namedTarget{{name: "target", url: strings.TrimRight(*target, "/")}}
		*rounds = 1
	default:
		return errors.New("give -target URL or -compare a=URL,b=URL")
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
		p, err := loadProfile(strings.TrimSpace(path))
		if err != nil {
			return err
		}
		fmt.Printf("\n### %s (%s): %s\n", p.Name, p.Mode, p.Description)
		var ratios, p99s, cpus []float64
		for round := 1; round <= *rounds; round++ {
			var pair []Result
			for _, t := range targets {
				res, err := runOnce(ctx, p, t)
				if err != nil {
					return err
				}
				printResult(os.Stdout, res)
				violations += res.Violations
				pair = append(pair, res)
				all = append(all, res)
			}
			if len(pair) == 2 && pair[0].RPS > 0 && pair[0].All.P99 > 0 {
				r, q := pair[1].RPS/pair[0].RPS, pair[1].All.P99/pair[0].All.P99
				ratios, p99s = append(ratios, r), append(p99s, q)
				fmt.Printf("\n  round %d: %s/%s throughput ×%.2f, p99 ×%.2f", round, targets[1].name, targets[0].name, r, q)
				if pair[0].CPUPerRequest > 0 && pair[1].CPUPerRequest > 0 {
					c := pair[1].CPUPerRequest / pair[0].CPUPerRequest
					cpus = append(cpus, c)
					fmt.Printf(", CPU per request ×%.2f", c)
				}
				fmt.Println()
			}
		}
		if len(ratios) > 0 {
			fmt.Printf("\n== %s: %s vs %s over %d alternating rounds: throughput ×%.2f (median; min %.2f, max %.2f), p99 ×%.2f (median)\n",
				p.Name, targets[1].name, targets[0].name, len(ratios), median(ratios), slices.Min(ratios), slices.Max(ratios), median(p99s))
			if len(cpus) > 0 {
				fmt.Printf("   CPU per request ×%.2f (median)\n", median(cpus))
			}
		}
		if ctx.Err() != nil {
			break
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

func runOnce(ctx context.Context, p *Profile, t namedTarget) (Result, error) {
	r := newRunner(p, t.url)
	if err := r.prefill(ctx); err != nil {
		return Result{}, fmt.Errorf("%s: %w", t.name, err)
	}
	done := make(chan struct{})
	go progress(os.Stderr, t.name, p.totalDuration(), r, done)
	started := time.Now()
	cpu0 := 0.0
	if t.pid > 0 {
		cpu0 = cpuSeconds(t.pid)
	}
	var st []*stats
	if p.openLoop() {
		st = r.openLoop(ctx)
	} else {
		st = r.closedLoop(ctx)
	}
	took := time.Since(started)
	close(done)
	res := summarize(p, t.name, started, took, st, r)
	if t.pid > 0 {
		res.PeakRSS = peakRSS(t.pid)
		res.CPUSeconds = cpuSeconds(t.pid) - cpu0
		if res.Requests > 0 {
			res.CPUPerRequest = res.CPUSeconds / float64(res.Requests) * 1e6
		}
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
