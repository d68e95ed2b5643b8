package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"layerwise/change"
	"layerwise/jobs"
	"layerwise/jobs/openshift"
	"layerwise/store"
	"layerwise/web"
)

func (c *cli) cmdServe(ctx context.Context, args []string) error {
	f := c.newFlags("serve", false)
	addr := f.String("addr", c.env("LAYERWISE_ADDR", "127.0.0.1:8080"), "listen address (LAYERWISE_ADDR)")
	demo := f.Bool("demo", false, "fill an empty database with demo data and create the platform admin demo/demo (loopback only)")
	noJobs := f.Bool("no-jobs", false, "serve pages only; run no scheduled jobs")
	ms := c.mailFlags(f)
	report := f.String("report-schedule", c.env("LAYERWISE_REPORT_SCHEDULE", "0 7 * * 1"), "weekly usage e-mails (LAYERWISE_REPORT_SCHEDULE)")
	snapshot := f.String("snapshot-schedule", c.env("LAYERWISE_SNAPSHOT_SCHEDULE", "@daily"), "usage snapshot schedule (LAYERWISE_SNAPSHOT_SCHEDULE)")
	auth := f.String("auth", c.env("LAYERWISE_AUTH", "local"), "local, oidc or proxy (LAYERWISE_AUTH)")
	issuer := f.String("oidc-issuer", c.env("LAYERWISE_OIDC_ISSUER", ""), "OpenID Connect issuer URL (LAYERWISE_OIDC_ISSUER)")
	clientID := f.String("oidc-client-id", c.env("LAYERWISE_OIDC_CLIENT_ID", ""), "OpenID Connect client ID (LAYERWISE_OIDC_CLIENT_ID)")
	secretFile := f.String("oidc-client-secret-file", c.env("LAYERWISE_OIDC_CLIENT_SECRET_FILE", ""), "file holding the client secret (LAYERWISE_OIDC_CLIENT_SECRET_FILE)")
	proxies := f.String("trusted-proxies", c.env("LAYERWISE_TRUSTED_PROXIES", ""), "CIDRs of the reverse proxies whose X-Forwarded-For/-Proto (and, in proxy mode, -User/-Groups) are believed (LAYERWISE_TRUSTED_PROXIES)")
	authFile := f.String("registry-auth-file", c.env("LAYERWISE_REGISTRY_AUTH_FILE", ""), "a .dockerconfigjson file with registry credentials for imports (LAYERWISE_REGISTRY_AUTH_FILE)")
	syncSchedule := f.String("sync-schedule", c.env("LAYERWISE_SYNC_SCHEDULE", "@hourly"), "full sync of the managed registry and the OpenShift cluster (LAYERWISE_SYNC_SCHEDULE)")
	registryURL := f.String("registry-url", c.env("LAYERWISE_REGISTRY_URL", ""), "the managed registry, e.g. http://127.0.0.1:5000; prune deletes dropped manifests there (LAYERWISE_REGISTRY_URL)")
	// Tokens: a literal value, or a file (a mounted Secret) that wins.
	webhookToken, metricsToken := c.env("LAYERWISE_WEBHOOK_TOKEN", ""), c.env("LAYERWISE_METRICS_TOKEN", "")
	// The alert webhook's URL holds its secret (Slack's and Teams' do).
	alertHook := c.env("LAYERWISE_ALERT_WEBHOOK_URL", "")
	alertHookFile := f.String("alert-webhook-url-file", c.env("LAYERWISE_ALERT_WEBHOOK_URL_FILE", ""),
		"file holding the URL that also gets threshold alerts as Slack/Teams-style JSON (LAYERWISE_ALERT_WEBHOOK_URL_FILE; or the URL in LAYERWISE_ALERT_WEBHOOK_URL)")
	webhookTokenFile := f.String("webhook-token-file", c.env("LAYERWISE_WEBHOOK_TOKEN_FILE", ""),
		"file holding the bearer token of registry notifications (LAYERWISE_WEBHOOK_TOKEN_FILE; or the token in LAYERWISE_WEBHOOK_TOKEN)")
	metricsAddr := f.String("metrics-addr", c.env("LAYERWISE_METRICS_ADDR", ""), "serve /metrics on this address alone, e.g. 127.0.0.1:9090, and not on --addr (LAYERWISE_METRICS_ADDR)")
	metricsTokenFile := f.String("metrics-token-file", c.env("LAYERWISE_METRICS_TOKEN_FILE", ""),
		"file holding the bearer token /metrics needs (LAYERWISE_METRICS_TOKEN_FILE; or the token in LAYERWISE_METRICS_TOKEN); with no token and no --metrics-addr /metrics is off")
	openshiftURL := f.String("openshift-url", c.env("LAYERWISE_OPENSHIFT_URL", ""), "an OpenShift API to sync image streams and images from (LAYERWISE_OPENSHIFT_URL)")
	openshiftToken := f.String("openshift-token-file", c.env("LAYERWISE_OPENSHIFT_TOKEN_FILE", ""), "file holding the OpenShift API token (LAYERWISE_OPENSHIFT_TOKEN_FILE)")
	importSettings := c.importFlags(f)
	pruneSchedule := f.String("prune-schedule", c.env("LAYERWISE_PRUNE_SCHEDULE", "0 0 * * *"), "nightly prune (LAYERWISE_PRUNE_SCHEDULE)")
	planSchedule := f.String("plan-schedule", c.env("LAYERWISE_PLAN_SCHEDULE", "@every 10m"),
		"recompute the prune plan's figures (reclaimable bytes, prunable marks) shown on pages; also after policy changes and prunes (LAYERWISE_PLAN_SCHEDULE)")
	verifySchedule := f.String("verify-schedule", c.env("LAYERWISE_VERIFY_SCHEDULE", "30 3 * * *"),
		"check every stored usage figure against a full recomputation; a difference fails the run on /jobs (LAYERWISE_VERIFY_SCHEDULE; empty: never)")
	policy := c.policyFlags(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("serve: unexpected argument %q", pos[0])
	}
	set, err := ms.reportSettings(*addr)
	if err != nil {
		return err
	}
	sender, err := ms.sender()
	if err != nil {
		return err
	}
	p, err := policy()
	if err != nil {
		return err
	}
	if *demo && !loopback(*addr) {
		return usagef("serve --demo creates the account demo/demo, so it only listens on a loopback address (127.0.0.1 or [::1]), not %q", *addr)
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	trusted, err := web.ParseCIDRs(*proxies)
	if err != nil {
		return usagef("--trusted-proxies: %v", err)
	}
	cfg := web.Config{Addr: *addr, Threshold: set.Threshold, Policy: p, SnapshotSchedule: *snapshot, NoJobs: *noJobs,
		Reports: set, ReportSchedule: *report, Auth: *auth, TrustedProxies: trusted, RegistryAuthFile: *authFile,
		PruneSchedule: *pruneSchedule, PlanSchedule: *planSchedule, VerifySchedule: *verifySchedule,
		OIDC: web.OIDCConfig{Issuer: *issuer, ClientID: *clientID, RedirectURL: strings.TrimRight(set.BaseURL, "/") + "/auth/oidc/callback"}}
	cfg.RegistryURL, cfg.SyncSchedule = *registryURL, *syncSchedule
	cfg.OpenShiftURL, cfg.OpenShiftTokenFile = *openshiftURL, *openshiftToken
	if cfg.WebhookToken, err = secretValue(webhookToken, *webhookTokenFile, "the webhook token (--webhook-token-file, LAYERWISE_WEBHOOK_TOKEN_FILE)"); err != nil {
		return err
	}
	if cfg.MetricsToken, err = secretValue(metricsToken, *metricsTokenFile, "the metrics token (--metrics-token-file, LAYERWISE_METRICS_TOKEN_FILE)"); err != nil {
		return err
	}
	cfg.MetricsAddr = *metricsAddr
	if cfg.AlertWebhookURL, err = secretValue(alertHook, *alertHookFile, "the alert webhook URL (--alert-webhook-url-file, LAYERWISE_ALERT_WEBHOOK_URL_FILE)"); err != nil {
		return err
	}
	if _, err := jobs.ParseWebhookURL(cfg.AlertWebhookURL); err != nil {
		return usagef("%v", err)
	}
	if cfg.OpenShiftURL != "" && cfg.OpenShiftTokenFile == "" {
		return usagef("--openshift-url needs --openshift-token-file (LAYERWISE_OPENSHIFT_TOKEN_FILE)")
	}
	if err := importSettings(&cfg, *demo); err != nil {
		return err
	}
	if *secretFile != "" {
		if cfg.OIDC.ClientSecret, err = readSecretFile("the OIDC client secret (LAYERWISE_OIDC_CLIENT_SECRET_FILE)", *secretFile); err != nil {
			return err
		}
	}
	// Bind before the database is touched and before anything says where
	// to log in: a taken port fails here (the flags were checked above).
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if *demo {
		pol := p
		p, err := f.principal(ctx, s)
		if err != nil {
			return err
		}
		loaded, err := loadDemo(ctx, change.New(s, nil), p, log, pol)
		if err != nil {
			return err
		}
		if !loaded {
			db := store.Redact(*f.db)
			fmt.Fprintf(c.stdout, "Reusing the existing database %s and its data: the demo data is loaded only into an empty one.\n", db)
			fmt.Fprintf(c.stdout, "To start fresh, stop the server and remove %s, or start on another file: LAYERWISE_DB=demo2.db layerwise serve --demo\n", db)
		}
	}
	if sender != nil {
		cfg.Sender = sender
	} else if !*noJobs {
		log.Warn("no mail server (LAYERWISE_SMTP_HOST): the weekly report job will fail until one is set")
	}
	srv, err := web.New(cfg, s, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Layerwise on http://%s/ (database %s)\n", ln.Addr(), store.Redact(*f.db))
	if s.Dialect() == "sqlite" {
		log.Info("database is SQLite: serve it from one process; for several replicas use PostgreSQL (LAYERWISE_DB=postgres://…)")
	}
	if *demo {
		fmt.Fprintln(c.stdout, "Log in as demo / demo.")
	}
	return srv.RunOn(ctx, ln)
}

// listen binds the dashboard's address; a refusal says how to pick another.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("cannot listen on %s: the address is already in use (another Layerwise, or another program); "+
			"pick another port with --addr, e.g. --addr %s (or LAYERWISE_ADDR)", addr, nextPort(addr))
	}
	return nil, fmt.Errorf("cannot listen on %s: %w; pick another address with --addr (or LAYERWISE_ADDR), e.g. --addr 127.0.0.1:8081", addr, err)
}

// nextPort is addr with the port after its own (127.0.0.1:8081 for
// 127.0.0.1:8080), an example of another address to try.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n <= 0 || n >= 65535 {
		return "127.0.0.1:8081"
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// secretValue is a credential given as a value or, winning, as a file
// (what names it in an error: the flag and the variable).
func secretValue(value, file, what string) (string, error) {
	if file == "" {
		return strings.TrimSpace(value), nil
	}
	return readSecretFile(what, file)
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadDemo fills an empty database with the embedded demo registry, moved in
// time so that its newest entry is an hour old, with twelve weeks of usage
// history (jobs.SeedDemoTrend, computed with the serve's policy), and makes
// sure demo/demo exists. A database that already has data keeps it (loaded
// is false). The changes go through the Service as p (the operator running
// serve --demo), audited like any.
func loadDemo(ctx context.Context, svc *change.Service, p *store.Principal, log *slog.Logger, policy store.Policy) (loaded bool, err error) {
	s := svc.Store
	nss, err := s.ListNamespaces(ctx)
	if err != nil {
		return false, err
	}
	if len(nss) == 0 {
		loaded = true
		shift, err := demoShift(s.Now())
		if err != nil {
			return false, err
		}
		sum, err := svc.ImportDump(ctx, p, "demo data", bytes.NewReader(openshift.DemoData()), openshift.Options{DefaultNamespace: "default", Shift: shift, Now: s.Now()})
		if err != nil {
			return false, fmt.Errorf("load demo data: %w", err)
		}
		log.Info("demo data loaded", "streams", sum.Streams, "images", sum.Images)
		// Demo thresholds low enough that the overview shows a namespace over
		// its threshold and one under it, with report contacts.
		gib := int64(1 << 30)
		settings := map[string]store.NamespaceSettings{
			"ml":       {ThresholdBytes: &gib, Contacts: []string{"ml-platform@example.com"}},
			"payments": {Contacts: []string{"payments-team@example.com", "oncall-payments@example.com"}},
		}
		for ns, set := range settings {
			if _, err := svc.SetNamespace(ctx, p, ns, set); err != nil {
				return false, fmt.Errorf("demo settings of %s: %w", ns, err)
			}
		}
		// The demo's plan now, so its reclaimable figures show at once.
		if _, err := s.ComputePlanSummary(ctx, policy); err != nil {
			return false, err
		}
		u, _, err := s.ReadUsageSummary(ctx, 0)
		if err != nil {
			return false, err
		}
		n, err := jobs.SeedDemoTrend(ctx, s, u, s.Now())
		if err != nil {
			return false, err
		}
		log.Info("demo usage history written", "weeks", jobs.DemoWeeks, "snapshots", n)
	}
	if _, err := svc.CreateUser(ctx, p, "demo", "demo", true); err != nil && !errors.Is(err, store.ErrExists) {
		return false, fmt.Errorf("create the demo account: %w", err)
	}
	return loaded, nil
}

// demoShift moves the demo's newest timestamp to an hour ago.
func demoShift(now time.Time) (time.Duration, error) {
	objs, err := openshift.Decode("demo data", bytes.NewReader(openshift.DemoData()), openshift.Options{})
	if err != nil {
		return 0, err
	}
	var newest time.Time
	for _, o := range objs {
		if o.Stream == nil {
			continue
		}
		for _, t := range o.Stream.Tags {
			for _, it := range t.Items {
				if it.Created.After(newest) {
					newest = it.Created
				}
			}
		}
	}
	if newest.IsZero() {
		return 0, nil
	}
	return now.Add(-time.Hour).Sub(newest).Truncate(time.Second), nil
}
