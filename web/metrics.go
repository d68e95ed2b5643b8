package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"layerwise/buildinfo"
	"layerwise/handlers"
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
	// read reads the stored usage for the gauges (nil: they stay 0).
	read func(context.Context) (*store.Usage, error)
}

func newMetrics(build buildinfo.Info) *metrics {
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
		Help: "Panics recovered in background work (jobs, threshold checks, pull recording), by job."}, []string{"job"})
	m.nsBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layerwise_namespace_bytes",
		Help: "Registry bytes of a namespace, shared layers counted once."}, []string{"namespace"})
	m.regBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "layerwise_registry_bytes",
		Help: "Registry bytes, every blob counted once."})
	m.reclaimMe = prometheus.NewGauge(prometheus.GaugeOpts{Name: "layerwise_registry_reclaimable_bytes",
		Help: "Bytes the prune policy would free."})
	m.reg.MustRegister(m.requests, m.latency, m.jobRuns, m.jobTime, m.panics, m.nsBytes, m.regBytes, m.reclaimMe, buildInfo(build),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// buildInfo is layerwise_build_info: always 1, its labels name the build
// (the go_build_info convention), so a dashboard can show what runs where.
func buildInfo(b buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layerwise_build_info",
		Help: "Always 1; the labels say which build of Layerwise runs."}, []string{"version", "commit", "date", "goversion"})
	g.WithLabelValues(b.Version, b.Commit, b.Date, b.GoVersion).Set(1)
	return g
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
		m.requests.WithLabelValues(route, methodLabel(c.Request().Method), strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return err
	}
}

// methodLabel keeps the method label bounded: a client can send any
// token as a method, and every new label value is a new time series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// handler serves the collectors. /metrics names every namespace with its
// bytes, so the main address serves it only to the bearer of
// LAYERWISE_METRICS_TOKEN (and not at all when LAYERWISE_METRICS_ADDR is
// set); LAYERWISE_METRICS_ADDR serves it to whoever reaches that address,
// or to the token's bearer when a token is set too.
func (m *metrics) handler(token string) http.Handler {
	prom := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" && !handlers.BearerIs(r, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="layerwise metrics"`)
			http.Error(w, "/metrics needs Authorization: Bearer <LAYERWISE_METRICS_TOKEN>", http.StatusUnauthorized)
			return
		}
		m.usage(r.Context())
		prom.ServeHTTP(w, r)
	})
}

// route is /metrics on the main address: 404 unless a token is set and
// no metrics address.
func (m *metrics) route(cfg Config) echo.HandlerFunc {
	switch {
	case cfg.MetricsAddr != "":
		return func(c echo.Context) error {
			return c.String(http.StatusNotFound, "/metrics is served on LAYERWISE_METRICS_ADDR, not here\n")
		}
	case cfg.MetricsToken == "":
		return func(c echo.Context) error {
			return c.String(http.StatusNotFound, "/metrics is off: set LAYERWISE_METRICS_TOKEN to serve it here to that bearer token, "+
				"or LAYERWISE_METRICS_ADDR to serve it on an address of its own\n")
		}
	}
	return echo.WrapHandler(m.handler(cfg.MetricsToken))
}

// mux is what LAYERWISE_METRICS_ADDR serves: /metrics and nothing else.
func (m *metrics) mux(token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler(token))
	return mux
}

// usage sets the usage gauges from the stored figures (indexed reads, on
// each scrape); when they cannot be read the gauges keep their last
// values (the database's own failure shows on every page and /readyz).
func (m *metrics) usage(ctx context.Context) {
	if m.read == nil {
		return
	}
	u, err := m.read(ctx)
	if err != nil {
		return
	}
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
