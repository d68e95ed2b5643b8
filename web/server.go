// Package web is the echo server: routes, middleware (logging, recover,
// metrics, security headers, CSRF, sessions), embedded static files and
// graceful shutdown.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"layerwise/handlers"
	"layerwise/jobs"
	"layerwise/jobs/mail"
	"layerwise/jobs/openshift"
	"layerwise/jobs/registry"
	"layerwise/static"
	"layerwise/store"
)

// Config is what serve sets.
type Config struct {
	Addr             string
	Threshold        int64 // global report threshold in bytes
	Policy           store.Policy
	SnapshotSchedule string
	ReportSchedule   string
	Reports          jobs.ReportSettings
	Sender           mail.Sender // nil: no mail server configured
	NoJobs           bool
	// Auth is local, oidc or proxy (LAYERWISE_AUTH).
	Auth            string
	OIDC            OIDCConfig
	TrustedProxies  []netip.Prefix
	ShutdownTimeout time.Duration
	// RegistryAuthFile is a .dockerconfigjson for imports (LAYERWISE_REGISTRY_AUTH_FILE).
	RegistryAuthFile string
	// RegistryURL is the managed registry (LAYERWISE_REGISTRY_URL): the
	// webhook reads pushes back from it, the sync job walks it, and
	// tag, promote and rollback are written through to it.
	RegistryURL string
	// WebhookToken is the bearer token of registry notifications
	// (LAYERWISE_WEBHOOK_TOKEN); "" turns the webhook off (503).
	WebhookToken string
	// SyncSchedule is when the sync job runs (LAYERWISE_SYNC_SCHEDULE);
	// the job exists only with RegistryURL or OpenShiftURL.
	SyncSchedule string
	// OpenShiftURL and OpenShiftTokenFile name a cluster to sync image
	// streams and images from (LAYERWISE_OPENSHIFT_URL / _TOKEN_FILE).
	OpenShiftURL       string
	OpenShiftTokenFile string
	// ImportSchedule re-imports scheduled tags (LAYERWISE_IMPORT_SCHEDULE);
	// "" runs no import job.
	ImportSchedule string
	// Import tunes the scheduled import (workers, backoff).
	Import jobs.ImportSettings
	// PruneSchedule is the nightly prune (LAYERWISE_PRUNE_SCHEDULE); "" runs none.
	PruneSchedule string
}

// Server is the dashboard with its jobs and usage cache.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	echo    *echo.Echo
	usage   *jobs.UsageCache
	sched   *jobs.Scheduler
	ops     *handlers.Ops
	fetcher *registry.Client
	metrics *metrics
	oidc    *oidcLogin
	// accounts is set once any account exists (then pages need a login).
	accounts atomic.Bool
	limiter  *handlers.LoginLimiter
	managed  *registry.Managed // nil without RegistryURL
}

// New wires the server; nothing runs until Run.
func New(cfg Config, s *store.Store, log *slog.Logger) (*Server, error) {
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	switch cfg.Auth {
	case "", "local", "proxy":
	case "oidc":
		if cfg.OIDC.Issuer == "" || cfg.OIDC.ClientID == "" {
			return nil, fmt.Errorf("LAYERWISE_AUTH=oidc needs LAYERWISE_OIDC_ISSUER and LAYERWISE_OIDC_CLIENT_ID")
		}
	default:
		return nil, fmt.Errorf("LAYERWISE_AUTH %q must be local, oidc or proxy", cfg.Auth)
	}
	if cfg.Auth == "proxy" && len(cfg.TrustedProxies) == 0 {
		return nil, fmt.Errorf("LAYERWISE_AUTH=proxy needs LAYERWISE_TRUSTED_PROXIES (the proxy's addresses); otherwise anyone could send X-Forwarded-User")
	}
	srv := &Server{cfg: cfg, store: s, log: log, metrics: newMetrics(), limiter: handlers.NewLoginLimiter(5, 5*time.Minute)}
	if cfg.Auth == "oidc" {
		srv.oidc = &oidcLogin{cfg: cfg.OIDC}
	}
	srv.usage = jobs.NewUsageCache(s, cfg.Policy, log)
	srv.usage.OnRefresh = srv.metrics.usage
	srv.usage.OnPanic = srv.metrics.panicked
	if cfg.RegistryURL != "" {
		m, err := registry.NewManaged(cfg.RegistryURL, cfg.RegistryAuthFile)
		if err != nil {
			return nil, err
		}
		srv.managed = m
	}
	srv.ops = &handlers.Ops{Store: s, Changed: srv.usage.Invalidate}
	srv.fetcher = registry.NewFetcher(cfg.RegistryAuthFile)
	mirror, err := registry.NewMirror(cfg.RegistryURL, srv.fetcher)
	if err != nil {
		return nil, err
	}
	srv.ops.Mirror = mirror
	if !cfg.NoJobs {
		list := []jobs.Job{jobs.SnapshotJob(s, srv.usage, cfg.SnapshotSchedule)}
		if cfg.ReportSchedule != "" {
			list = append(list, jobs.ReportJob(s, srv.usage, cfg.Sender, cfg.Reports, cfg.ReportSchedule))
		}
		if sync := srv.syncSettings(); sync.Registry != nil || sync.OpenShift != nil {
			list = append(list, jobs.SyncJob(s, sync))
		}
		if cfg.ImportSchedule != "" {
			im := jobs.NewImporter(s, srv.fetcher, cfg.Import, log)
			im.Changed = srv.ops.Refresh
			list = append(list, jobs.ImportJob(im, cfg.ImportSchedule))
		}
		if cfg.PruneSchedule != "" {
			set := jobs.PruneSettings{Policy: cfg.Policy}
			if cfg.RegistryURL != "" {
				d, err := registry.NewDeleter(cfg.RegistryURL, cfg.RegistryAuthFile)
				if err != nil {
					return nil, err
				}
				set.Registry = d
			}
			list = append(list, jobs.PruneJob(s, set, cfg.PruneSchedule, srv.ops.Refresh))
		}
		sched, err := jobs.NewScheduler(s, log, list)
		if err != nil {
			return nil, err
		}
		sched.OnRun = srv.metrics.job
		sched.OnPanic = srv.metrics.panicked
		srv.sched = sched
	}
	srv.echo = srv.routes()
	return srv, nil
}

// syncSettings are the sync job's: the managed registry and the cluster.
func (srv *Server) syncSettings() jobs.SyncSettings {
	set := jobs.SyncSettings{Schedule: srv.cfg.SyncSchedule, Registry: srv.managed, Changed: srv.ops.Refresh}
	if set.Schedule == "" {
		set.Schedule = "@hourly"
	}
	if srv.cfg.OpenShiftURL != "" {
		set.OpenShift = &openshift.Cluster{URL: srv.cfg.OpenShiftURL, TokenFile: srv.cfg.OpenShiftTokenFile}
	}
	return set
}

// Handler is the HTTP handler (tests serve it with httptest).
func (srv *Server) Handler() http.Handler { return srv.echo }

// Usage is the usage cache (tests wait for it).
func (srv *Server) Usage() *jobs.UsageCache { return srv.usage }

type jobList struct{ s *jobs.Scheduler }

func (j jobList) Statuses() []handlers.JobInfo {
	var out []handlers.JobInfo
	for _, st := range j.s.Statuses() {
		out = append(out, handlers.JobInfo{Name: st.Name, Schedule: st.Schedule, Next: st.Next})
	}
	return out
}

func (srv *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	h := &handlers.Handler{Store: srv.store, Usage: srv.usage, Log: srv.log, Threshold: srv.cfg.Threshold, Reports: srv.cfg.Reports,
		Ops: srv.ops, Limiter: srv.limiter, SSO: srv.oidc != nil, Importer: srv.fetcher, Policy: &srv.cfg.Policy}
	if srv.sched != nil {
		h.Jobs = jobList{srv.sched}
	}
	e.HTTPErrorHandler = srv.errorHandler(h)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		srv.log.Error("panic in handler", "path", c.Request().URL.Path, "err", err, "stack", string(stack))
		return err
	}}))
	e.Use(srv.logRequests)
	e.Use(srv.metrics.middleware)
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ContentSecurityPolicy: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
		ReferrerPolicy:        "same-origin",
	}))
	e.Use(middleware.BodyLimit("1M"))
	e.Use(middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "form:_csrf,header:X-CSRF-Token",
		CookieName:     "layerwise_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteStrictMode,
		ContextKey:     handlers.CSRFKey,
		Skipper: func(c echo.Context) bool {
			// Probes and metrics carry no forms; a bearer token is not sent
			// by browsers on their own, so token calls need no CSRF token.
			// Cookie-authenticated API calls still do (X-CSRF-Token).
			switch c.Path() {
			case "/healthz", "/readyz", "/metrics", "/api/v1/registry/events":
				return true
			}
			return strings.HasPrefix(c.Request().URL.Path, "/api/") &&
				strings.HasPrefix(strings.ToLower(c.Request().Header.Get("Authorization")), "bearer ")
		},
	}))

	e.GET("/healthz", h.Healthz)
	e.GET("/readyz", h.Readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(srv.metrics.reg, promhttp.HandlerOpts{Registry: srv.metrics.reg})))
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticFiles())))
	e.GET("/favicon.ico", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/static/favicon.svg") })
	e.GET("/login", h.LoginForm)
	e.POST("/login", h.Login)
	e.POST("/logout", h.Logout)
	if srv.oidc != nil {
		e.GET("/auth/oidc/start", srv.oidcStart)
		e.GET("/auth/oidc/callback", srv.oidcCallback)
	}

	pages := e.Group("", srv.requireLogin)
	pages.GET("/", h.Overview)
	pages.GET("/ns/:ns", h.Namespace)
	pages.GET("/ns/:ns/report", h.ReportPreview)
	pages.GET("/ns/:ns/is/:name", h.Stream)
	pages.GET("/ns/:ns/istag/:nametag", h.Tag)
	pages.GET("/images/:digest", h.Image)
	pages.GET("/blobs/:digest", h.Blob)
	pages.GET("/search", h.Search)
	pages.GET("/jobs", h.JobsPage)
	pages.GET("/prune", h.PrunePage)
	srv.actionRoutes(pages, h)
	srv.apiRoutes(e, h)
	e.RouteNotFound("/*", func(c echo.Context) error { return srv.requireLogin(h.NotFound)(c) })
	return e
}

// staticFiles serves the embedded assets with a day of caching.
func staticFiles() http.Handler {
	fs := http.FileServer(http.FS(static.FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fs.ServeHTTP(w, r)
	})
}

func (srv *Server) errorHandler(h *handlers.Handler) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			if he.Code == http.StatusNotFound {
				_ = h.NotFound(c)
				return
			}
			msg := fmt.Sprint(he.Message)
			if he.Code == http.StatusForbidden && msg == "invalid csrf token" || he.Code == http.StatusBadRequest && strings.HasPrefix(msg, "missing csrf token") {
				msg = "The form expired or did not come from this site: reload the page and try again."
				he.Code = http.StatusForbidden
			}
			_ = c.String(he.Code, msg+"\n")
			return
		}
		srv.log.Error("request failed", "path", c.Request().URL.Path, "err", err)
		_ = c.String(http.StatusInternalServerError, "internal error; see the server log\n")
	}
}

// logRequests logs one line per request; no headers, cookies or bodies.
func (srv *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if he, ok := err.(*echo.HTTPError); ok {
			status = he.Code
		}
		user, _ := c.Get(handlers.UserKey).(string)
		srv.log.Info("request", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status,
			"duration", time.Since(start).Round(time.Microsecond), "user", user)
		return err
	}
}

// Run serves until ctx ends, then shuts down gracefully: stop accepting,
// finish requests in flight, stop the scheduler.
func (srv *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", srv.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.cfg.Addr, err)
	}
	return srv.Serve(ctx, ln)
}

// Serve is Run on a listener the caller made.
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error {
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go srv.usage.Run(bg)
	if srv.sched != nil {
		srv.sched.Start()
	}
	hs := &http.Server{Handler: srv.echo, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	srv.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	srv.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), srv.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if srv.sched != nil {
		srv.sched.Stop(sctx)
	}
	stopBG()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	srv.log.Info("stopped")
	return nil
}
