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
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"layerwise/buildinfo"
	"layerwise/change"
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
	Auth string
	OIDC OIDCConfig
	// TrustedProxies (LAYERWISE_TRUSTED_PROXIES) are the only peers whose
	// X-Forwarded-For, -Proto and (in proxy mode) -User/-Groups count.
	TrustedProxies  Proxies
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
	// WebhookInFlight bounds the notification envelopes handled at once
	// (0: DefaultWebhookInFlight); more are answered 503 with Retry-After,
	// which registries retry, so a burst waits in the registries' queues
	// and not in this process's memory.
	WebhookInFlight int
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
	// ImportAllow (LAYERWISE_IMPORT_ALLOW) lists the non-public CIDRs and
	// hosts that imports may read from (registry.ParseDestinations); the
	// managed registry is always allowed.
	ImportAllow string
	// PruneSchedule is the nightly prune (LAYERWISE_PRUNE_SCHEDULE); "" runs none.
	PruneSchedule string
	// PlanSchedule recomputes the stored prune plan figures
	// (LAYERWISE_PLAN_SCHEDULE; "" means every 10 minutes).
	PlanSchedule string
	// VerifySchedule checks the stored usage figures against the full pass
	// (LAYERWISE_VERIFY_SCHEDULE); "" runs none.
	VerifySchedule string
	// MetricsToken (LAYERWISE_METRICS_TOKEN) is the bearer token /metrics
	// needs; MetricsAddr (LAYERWISE_METRICS_ADDR) is a listen address that
	// serves /metrics alone, and then the main address does not. With
	// neither, /metrics is not served (404).
	MetricsToken string
	MetricsAddr  string
	// AlertWebhookURL (LAYERWISE_ALERT_WEBHOOK_URL) also gets the
	// threshold alerts; "": e-mail only.
	AlertWebhookURL string
}

// Server is the dashboard with its jobs.
type Server struct {
	cfg      Config
	store    *store.Store
	log      *slog.Logger
	echo     *echo.Echo
	versions *jobs.DataVersions
	pulls    *jobs.PullRecorder
	alerts   *jobs.Alerter // nil with NoJobs
	sched    *jobs.Scheduler
	change   *change.Service
	fetcher  *registry.Client
	metrics  *metrics
	oidc     *oidcLogin
	// accounts is set once any account exists (then pages need a login).
	accounts atomic.Bool
	limiter  *handlers.LoginLimiter
	managed  *registry.Managed // nil without RegistryURL
	build    buildinfo.Info    // this binary, for the footer and /metrics
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
	if cfg.Reports.Policy == nil {
		// The reports' plans count tonight's prune with the server's policy.
		p := cfg.Policy
		cfg.Reports.Policy = &p
	}
	build := buildinfo.Read()
	srv := &Server{cfg: cfg, store: s, log: log, build: build, metrics: newMetrics(build), limiter: handlers.NewLoginLimiter(5, 5*time.Minute)}
	if cfg.Auth == "oidc" {
		srv.oidc = &oidcLogin{cfg: cfg.OIDC}
	}
	srv.versions = jobs.NewDataVersions(s, log)
	// The usage gauges read the stored figures on each scrape.
	srv.metrics.read = func(ctx context.Context) (*store.Usage, error) {
		u, _, err := s.ReadUsageSummary(ctx, 0)
		return u, err
	}
	if !cfg.NoJobs {
		// Threshold alerts: checked after every change to the data (a
		// change that crosses a threshold alerts at once) and daily.
		hook, err := jobs.ParseWebhookURL(cfg.AlertWebhookURL)
		if err != nil {
			return nil, err
		}
		srv.alerts = jobs.NewAlerter(s, cfg.Sender, jobs.AlertSettings{Threshold: cfg.Threshold, BaseURL: cfg.Reports.BaseURL, WebhookURL: hook}, log)
		srv.versions.OnChange = srv.alerts.Notify
	}
	srv.pulls = jobs.NewPullRecorder(s, log)
	if cfg.RegistryURL != "" {
		m, err := registry.NewManaged(cfg.RegistryURL, cfg.RegistryAuthFile)
		if err != nil {
			return nil, err
		}
		srv.managed = m
	}
	var err error
	srv.fetcher = registry.NewFetcher(cfg.RegistryAuthFile)
	if srv.fetcher.Destinations, err = importDestinations(cfg); err != nil {
		return nil, err
	}
	if srv.managed != nil {
		// Imports from the managed registry record what it stores.
		srv.fetcher.ManagedHost = srv.managed.Host
	}
	mirror, err := registry.NewMirror(cfg.RegistryURL, srv.fetcher)
	if err != nil {
		return nil, err
	}
	// Every change goes through one Service; a change made through it
	// drops cached pages (routes registers that) and asks for a threshold
	// check. The stored figures are up to date when it commits.
	srv.change = change.New(s, mirror)
	if srv.alerts != nil {
		srv.change.OnChange(srv.alerts.Notify)
	}
	if cfg.OpenShiftURL != "" {
		// The configured cluster's in-use read holds prune until it first
		// succeeds; another cluster's records and state go.
		if err := s.RegisterInUseCluster(context.Background(), (&openshift.Cluster{URL: cfg.OpenShiftURL}).Source()); err != nil {
			return nil, fmt.Errorf("record the cluster whose images in use prune keeps: %w", err)
		}
	}
	if !cfg.NoJobs {
		list := []jobs.Job{jobs.SnapshotJob(s, cfg.SnapshotSchedule), jobs.AlertJob(srv.alerts, "@daily")}
		// The prune plan's figures on their schedule and after policy
		// changes (and prunes); the stored figures checked nightly.
		plan := cfg.PlanSchedule
		if plan == "" {
			plan = "@every 10m"
		}
		list = append(list, jobs.PlanSummary(s, cfg.Policy, plan))
		if cfg.VerifySchedule != "" {
			list = append(list, jobs.VerifyUsage(s, cfg.VerifySchedule))
		}
		if cfg.ReportSchedule != "" {
			list = append(list, jobs.ReportJob(s, cfg.Sender, cfg.Reports, cfg.ReportSchedule))
		}
		if sync := srv.syncSettings(); sync.Registry != nil || sync.OpenShift != nil {
			list = append(list, jobs.SyncJob(s, sync))
		}
		if cfg.ImportSchedule != "" {
			im := jobs.NewImporter(s, srv.fetcher, cfg.Import, log)
			im.Changed = srv.change.Notify
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
			list = append(list, jobs.PruneJob(s, set, cfg.PruneSchedule, func() {
				srv.change.Notify()
				srv.replan()
			}))
		}
		sched, err := jobs.NewScheduler(s, log, list)
		if err != nil {
			return nil, err
		}
		sched.OnRun = srv.metrics.job
		sched.OnPanic = srv.metrics.panicked
		srv.sched = sched
		srv.change.OnPolicyChange(srv.replan)
	}
	srv.echo = srv.routes()
	return srv, nil
}

// replan recomputes the stored prune plan figures now, in the background
// (a run already going is not doubled: the scheduler skips it).
func (srv *Server) replan() {
	if srv.sched != nil {
		srv.sched.Trigger(jobs.PlanSummaryJob, "") //nolint:errcheck // skipped when running; the schedule catches up
	}
}

// importDestinations is where the server's imports (API, forms, the
// scheduled import, write-through) may connect: public addresses,
// LAYERWISE_IMPORT_ALLOW, and the managed registry.
func importDestinations(cfg Config) (*registry.Destinations, error) {
	d, err := registry.ParseDestinations(cfg.ImportAllow)
	if err != nil {
		return nil, err
	}
	if cfg.RegistryURL != "" {
		host, insecure, err := registry.ParseRegistryURL(cfg.RegistryURL)
		if err != nil {
			return nil, err
		}
		hosts := []string{host}
		if _, _, err := net.SplitHostPort(host); err != nil {
			// No port: HTTPS, and for an http:// URL plain HTTP too.
			hosts = []string{net.JoinHostPort(host, "443")}
			if insecure {
				hosts = append(hosts, net.JoinHostPort(host, "80"))
			}
		}
		for _, h := range hosts {
			if err := d.TrustHost(h); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// syncSettings are the sync job's: the managed registry and the cluster.
func (srv *Server) syncSettings() jobs.SyncSettings {
	set := jobs.SyncSettings{Schedule: srv.cfg.SyncSchedule, Registry: srv.managed, Changed: func() { srv.change.Notify(); srv.replan() }}
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

// Versions polls the database's data version (tests poll it by hand).
func (srv *Server) Versions() *jobs.DataVersions { return srv.versions }

// Alerts is the threshold alerter (nil with NoJobs).
func (srv *Server) Alerts() *jobs.Alerter { return srv.alerts }

// Pulls is the pull notifications' queue (tests flush it).
func (srv *Server) Pulls() *jobs.PullRecorder { return srv.pulls }

type jobList struct{ s *jobs.Scheduler }

func (j jobList) Statuses() []handlers.JobInfo {
	var out []handlers.JobInfo
	for _, st := range j.s.Statuses() {
		out = append(out, handlers.JobInfo{Name: st.Name, Schedule: st.Schedule, Words: st.Words, Next: st.Next})
	}
	return out
}

func (srv *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The client address (the login limiter's key) is the peer's unless a
	// trusted proxy forwarded the request: X-Forwarded-For is anyone's to write.
	e.IPExtractor = srv.cfg.TrustedProxies.ClientIP
	h := &handlers.Handler{Store: srv.store, Log: srv.log, Threshold: srv.cfg.Threshold, Reports: srv.cfg.Reports,
		Change: srv.change, Limiter: srv.limiter, SSO: srv.oidc != nil, Importer: srv.fetcher, Policy: &srv.cfg.Policy, Build: srv.build}
	if srv.sched != nil {
		h.Jobs, h.Runner = jobList{srv.sched}, srv.sched
	}
	h.MailConfigured = srv.cfg.Sender != nil
	srv.change.OnChange(h.PagesChanged)
	e.HTTPErrorHandler = srv.errorHandler(h)
	// First of all: cookie names and flags depend on it, and the API gate
	// (another Pre middleware) reads the session cookie.
	e.Pre(srv.markHTTPS)
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
	e.Use(srv.csrf)
	e.Use(h.OneVersionPerRequest)

	e.GET("/healthz", h.Healthz)
	e.GET("/readyz", h.Readyz)
	e.GET("/metrics", srv.metrics.route(srv.cfg))
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
			_ = c.String(he.Code, fmt.Sprint(he.Message)+"\n")
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
// finish requests in flight, stop the scheduler. With MetricsAddr it also
// serves /metrics there.
func (srv *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", srv.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.cfg.Addr, err)
	}
	return srv.RunOn(ctx, ln)
}

// RunOn is Run on a listener the caller bound already (serve binds before
// it prints where to log in), with the metrics address of the
// configuration.
func (srv *Server) RunOn(ctx context.Context, ln net.Listener) error {
	var mln net.Listener
	var err error
	if srv.cfg.MetricsAddr != "" {
		if mln, err = net.Listen("tcp", srv.cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (LAYERWISE_METRICS_ADDR): %w", srv.cfg.MetricsAddr, err)
		}
	}
	return srv.serve(ctx, ln, mln)
}

// Serve is Run on a listener the caller made (and no metrics address).
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error { return srv.serve(ctx, ln, nil) }

func (srv *Server) serve(ctx context.Context, ln, mln net.Listener) error {
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go srv.versions.Run(bg)
	if srv.alerts != nil {
		go srv.alerts.Run(bg)
	}
	pullsDone := make(chan struct{})
	go func() {
		defer close(pullsDone)
		srv.pulls.Run(bg) // records what waits when bg ends
	}()
	if srv.sched != nil {
		srv.sched.Start()
		// Reclaimable bytes from the start, not after the first period.
		srv.replan()
	}
	servers := []*http.Server{{Handler: srv.echo, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}}
	listeners := []net.Listener{ln}
	if mln != nil {
		servers = append(servers, &http.Server{Handler: srv.metrics.mux(srv.cfg.MetricsToken), ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second})
		listeners = append(listeners, mln)
	}
	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	srv.log.Info("serving", "addr", ln.Addr().String())
	switch {
	case mln != nil:
		srv.log.Info("serving /metrics", "addr", mln.Addr().String())
	case srv.cfg.MetricsToken == "":
		srv.log.Info("/metrics is off: set LAYERWISE_METRICS_TOKEN or LAYERWISE_METRICS_ADDR to serve it")
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		srv.log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), srv.cfg.ShutdownTimeout)
	defer cancel()
	var err error
	for _, hs := range servers {
		err = errors.Join(err, hs.Shutdown(sctx))
	}
	if srv.sched != nil {
		srv.sched.Stop(sctx)
	}
	stopBG()
	<-pullsDone
	if serveErr != nil {
		return serveErr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	srv.log.Info("stopped")
	return nil
}
