package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/readonce/readonce/cache"
)

// newRegistry holds every series the process exports: the server's, the
// Redis pool's, and the Go runtime's.
func newRegistry(store *cache.Store) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		poolCollector{store},
	)
	return reg
}

// poolCollector reads go-redis's pool counters at scrape time.
type poolCollector struct{ store *cache.Store }

var (
	poolHits     = prometheus.NewDesc("readonce_redis_pool_hits_total", "Pooled connections reused.", nil, nil)
	poolMisses   = prometheus.NewDesc("readonce_redis_pool_misses_total", "Connections dialled because none was idle.", nil, nil)
	poolTimeouts = prometheus.NewDesc("readonce_redis_pool_timeouts_total", "Waits for a connection that timed out.", nil, nil)
	poolTotal    = prometheus.NewDesc("readonce_redis_pool_connections", "Open connections to Redis.", nil, nil)
	poolIdle     = prometheus.NewDesc("readonce_redis_pool_idle_connections", "Idle connections to Redis.", nil, nil)
	poolStale    = prometheus.NewDesc("readonce_redis_pool_stale_connections_total", "Connections dropped as stale.", nil, nil)
)

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolHits, poolMisses, poolTimeouts, poolTotal, poolIdle, poolStale} {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.store.PoolStats()
	ch <- prometheus.MustNewConstMetric(poolHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(poolMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(poolTimeouts, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns))
	ch <- prometheus.MustNewConstMetric(poolStale, prometheus.CounterValue, float64(s.StaleConns))
}
