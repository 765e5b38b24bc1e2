package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Operator listeners — metrics (METRICS_ADDR) and Go's profiler
// (PPROF_ADDR) — are for the people running readonce, never for its users:
// each on its own address, built the one way below, with net/http (they see
// a request a minute, not thousands a second).

// operator is one running operator listener.
type operator struct {
	addr string // as bound: a :0 port resolved
	srv  *http.Server
}

// startOperator listens on addr and serves h there until closed.
func startOperator(name, addr string, h http.Handler, log *slog.Logger) (*operator, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("operator listener stopped", "listener", name, "error", err)
		}
	}()
	return &operator{addr: ln.Addr().String(), srv: srv}, nil
}

func (o *operator) close(ctx context.Context) { _ = o.srv.Shutdown(ctx) }

// metricsMux serves the registry at /metrics and nothing else.
func metricsMux(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// pprofMux serves Go's profiler: for measuring a live process.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
