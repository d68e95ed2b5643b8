package web

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"layerwise/jobs"
	"layerwise/store"
)

// box is the rendered width and height of the first element sel selects.
func (b *cdpTab) box(sel string) (w, h float64) {
	b.t.Helper()
	r := bEval[[]float64](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return [0, 0]; const r = e.getBoundingClientRect(); return [r.width, r.height] })()`, sel))
	return r[0], r[1]
}

// TestBrowserOperationsTrendsAndAccounts drives issue 16's items 2 to 4 in
// Chromium as the platform admin demo: the overview's sparklines and its
// link to ml's e-mail, whose plan says plainly that no plan reaches ml's
// threshold; ml's usage chart; /jobs with its warning and schedules in
// words; "Prune now…" through its confirmation; an account added and
// disabled on the accounts page.
func TestBrowserOperationsTrendsAndAccounts(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	ts := newTestServerWith(t, true, func(c *Config) { c.ReportSchedule, c.PruneSchedule = "0 7 * * 1", "0 0 * * *" })
	ctx := context.Background()
	gib := int64(1 << 30)
	if err := ts.store.SetNamespace(ctx, "ml", store.NamespaceSettings{ThresholdBytes: &gib}); err != nil {
		t.Fatal(err)
	}
	ts.srv.Versions().Poll(ctx)
	u, _, err := ts.store.ReadUsageSummary(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.SeedDemoTrend(ctx, ts.store, u, ts.store.Now()); err != nil {
		t.Fatal(err)
	}
	b := newCDPTab(t, exe, ts.URL)
	b.login("demo", "demo")

	// 1. Overview: a visible sparkline in every row, and ml's e-mail.
	b.open("/")
	if n := bEval[int](b, `document.querySelectorAll("table.ranking tbody tr").length`); n != len(u.Namespaces) {
		t.Fatalf("%d rows", n)
	}
	drawn := bEval[int](b, `[...document.querySelectorAll("table.ranking tbody tr svg.rowspark")].filter(s => s.getBoundingClientRect().width > 40).length`)
	if drawn != len(u.Namespaces) {
		t.Errorf("%d of %d rows show a sparkline", drawn, len(u.Namespaces))
	}
	b.screenshot("overview-trends")
	b.follow(`a.report-link[href="/ns/ml/report"]`)
	b.expectPath("/ns/ml/report")
	if body := b.text("body"); !strings.Contains(body, "No plan gets ml under its threshold of 1.0 GiB") {
		t.Errorf("ml's e-mail has no plain no-plan sentence: %.400s", body)
	}

	// 2. ml's page: the chart across the page, the change since last week.
	b.open("/ns/ml")
	if w, h := b.box("svg.usage-chart"); w < 400 || h < 100 {
		t.Errorf("the usage chart is %.0f×%.0f px", w, h)
	}
	if got := b.text(".week-change"); !strings.Contains(got, "since the snapshot of") {
		t.Errorf("week change %q", got)
	}
	b.screenshot("namespace-chart")

	// 3. /jobs: the mail warning, schedules in words; prune confirmed.
	b.open("/jobs")
	if w := b.text(".smtp-warning"); !strings.Contains(w, "weekly-report cannot send") {
		t.Errorf("no SMTP warning: %q", w)
	}
	if !strings.Contains(b.text("table.jobs"), "Mondays at 07:00") {
		t.Errorf("schedules not in words: %q", b.text("table.jobs"))
	}
	b.follow(`a[data-job="prune"]`)
	b.expectPath("/prune/confirm")
	if s := b.text(".prune-summary"); !strings.HasPrefix(s, "This removes ") {
		t.Fatalf("confirmation %q", s)
	}
	b.screenshot("prune-confirm")
	b.follow(`form.confirm-form button[type=submit]`)
	if p := b.path(); !strings.HasPrefix(p, "/prune?outcome=done&ran=prune") {
		t.Fatalf("after confirming: at %s", p)
	}
	if f := b.text(".run-flash"); !strings.Contains(f, "prune ran.") {
		t.Errorf("flash %q", f)
	}
	if plan, _ := ts.store.PlanPrune(ctx, store.DefaultPolicy, nil); len(plan.Revisions) != 0 {
		t.Errorf("%d revisions still to prune", len(plan.Revisions))
	}

	// 4. Accounts: reached from the menu; add, then disable.
	b.follow(`nav.mainnav a[href="/accounts"]`)
	b.do("fill in the new account",
		chromedp.SendKeys(chromedp.ID("account-name"), "erin"),
		chromedp.SendKeys(chromedp.ID("account-password"), "erin-pass-1"))
	b.follow(`form.add-account button[type=submit]`)
	if row := b.text("#user-erin"); !strings.Contains(row, "Account erin added.") || !strings.Contains(row, "active") {
		t.Fatalf("erin's row %q", row)
	}
	b.follow(`#user-erin form[action="/accounts/erin/disable"] button`)
	if row := b.text("#user-erin"); !strings.Contains(row, "disabled") || !strings.Contains(row, "Enable erin") {
		t.Errorf("erin's row after disabling %q", row)
	}
	b.screenshot("accounts")
	if _, err := ts.store.Authenticate(ctx, "erin", "erin-pass-1"); err == nil {
		t.Error("erin, disabled, can log in")
	}
}
