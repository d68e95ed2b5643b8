package web

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"layerwise/store"
)

// metrics are the server's Prometheus collectors, on their own registry.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	jobRuns   *prometheus.CounterVec
	jobTime   *prometheus.HistogramVec
	panics    *prometheus.CounterVec
	nsBytes   *prometheus.GaugeVec
	regBytes  prometheus.Gauge
	reclaimMe prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layerwise_http_requests_total",
		Help: "HTTP requests by route, method and status code."}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "layerwise_http_request_duration_seconds",
		Help: "HTTP request latency by route.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}},
		[]string{"route"})
	m.jobRuns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layerwise_job_runs_total",
		Help: "Scheduled job runs by job and status (ok, failed)."}, []string{"job", "status"})
	m.jobTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "layerwise_job_duration_seconds",
		Help: "Scheduled job run time.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"job"})
	m.panics = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layerwise_panics_total",
		Help: "Panics recovered in background work (jobs, the usage computation), by job."}, []string{"job"})
	m.nsBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layerwise_namespace_bytes",
		Help: "Registry bytes of a namespace, shared layers counted once."}, []string{"namespace"})
	m.regBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "layerwise_registry_bytes",
		Help: "Registry bytes, every blob counted once."})
	m.reclaimMe = prometheus.NewGauge(prometheus.GaugeOpts{Name: "layerwise_registry_reclaimable_bytes",
		Help: "Bytes the prune policy would free."})
	m.reg.MustRegister(m.requests, m.latency, m.jobRuns, m.jobTime, m.panics, m.nsBytes, m.regBytes, m.reclaimMe,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// middleware counts requests by route pattern (not raw path: bounded labels).
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if he, ok := err.(*echo.HTTPError); ok {
			status = he.Code
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return err
	}
}

func (m *metrics) usage(u *store.Usage) {
	m.regBytes.Set(float64(u.Registry.Bytes))
	m.reclaimMe.Set(float64(u.Registry.ReclaimableBytes))
	m.nsBytes.Reset()
	for _, n := range u.Namespaces {
		m.nsBytes.WithLabelValues(n.Name).Set(float64(n.Bytes))
	}
}

func (m *metrics) panicked(job string) { m.panics.WithLabelValues(job).Inc() }

func (m *metrics) job(name, status string, d time.Duration) {
	m.jobRuns.WithLabelValues(name, status).Inc()
	m.jobTime.WithLabelValues(name).Observe(d.Seconds())
}
