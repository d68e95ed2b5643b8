package handlers

// Operations from the browser, for platform admins: run a scheduled job
// now, prune with its plan shown first, this week's e-mails. Runs go
// through change.Service (audited) to the scheduler, which never overlaps
// a job with itself, here or on another replica.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// runWait is how long a form waits for a run it started before answering
// "still running": the demo's jobs take well under a second.
const runWait = 15 * time.Second

// canRun says whether the request may run jobs and whether job runs here.
func (h *Handler) canRun(c echo.Context, job string) bool {
	p := principal(c)
	return p != nil && p.PlatformAdmin && h.Runner != nil && h.Runner.Has(job)
}

// runControl is the button of a job, for those who may press it.
func (h *Handler) runControl(c echo.Context, job string) *views.RunControl {
	if !h.canRun(c, job) {
		return nil
	}
	csrf, _ := c.Get(CSRFKey).(string)
	r := &views.RunControl{Href: views.JobRunHref(job), Label: "Run now", CSRF: csrf}
	switch job {
	case "prune":
		r.Href, r.Label, r.Confirm = views.PruneConfirmHref, "Prune now…", true
	case "weekly-report":
		r.Label = "Send this week's reports"
	case "sync":
		r.Label = "Sync now"
	case "import":
		r.Label = "Import now"
	case "usage-snapshot":
		r.Label = "Take a snapshot now"
	}
	return r
}

// runFlash reads how a run started by hand went (?ran=JOB&outcome=…).
func (h *Handler) runFlash(c echo.Context) *views.RunFlash {
	job, outcome := c.QueryParam("ran"), c.QueryParam("outcome")
	if job == "" || !seesAll(c) || h.Runner == nil || !h.Runner.Has(job) {
		return nil
	}
	switch outcome {
	case "done", "running", "skipped":
	default:
		return nil
	}
	f := &views.RunFlash{Job: job, Outcome: outcome}
	if outcome == "done" {
		if runs, err := h.Store.JobRunsOf(c.Request().Context(), job, 1); err == nil && len(runs) == 1 {
			f.Run = &runs[0]
		}
	}
	return f
}

// startRun runs job through the Service and waits a little for it; the
// answer is the redirect's outcome.
func (h *Handler) startRun(c echo.Context, job string) (string, error) {
	done, err := h.Change.RunJob(c.Request().Context(), principal(c), h.Runner, job)
	if err != nil {
		return "", err
	}
	t := time.NewTimer(runWait)
	defer t.Stop()
	select {
	case ran := <-done:
		if !ran {
			return "skipped", nil
		}
		return "done", nil
	case <-t.C:
		return "running", nil
	case <-c.Request().Context().Done():
		return "running", nil
	}
}

// RunJobForm is POST /jobs/{job}/run. Prune is confirmed on its own page.
func (h *Handler) RunJobForm(c echo.Context) error {
	job := c.Param("job")
	if job == "prune" {
		return c.Redirect(http.StatusSeeOther, views.PruneConfirmHref)
	}
	outcome, err := h.startRun(c, job)
	if err != nil {
		return h.opFailed(c, err)
	}
	v := url.Values{"ran": {job}, "outcome": {outcome}}
	return c.Redirect(http.StatusSeeOther, "/jobs?"+v.Encode()+"#sched-heading")
}

// opFailed answers a refused or failed operation with a page saying why.
func (h *Handler) opFailed(c echo.Context, err error) error {
	status, msg := formStatus(c, err)
	if status == http.StatusInternalServerError {
		h.Log.Error("operation failed", "path", c.Request().URL.Path, "err", err)
	}
	p := h.page(c, "Jobs", home(), views.Crumb{Label: "Jobs", Href: "/jobs"})
	return render(c, status, views.ViewError(views.ErrorPage{Page: p, Status: status, Message: msg}))
}

// planFingerprint names a plan by what it removes, so that a confirmation
// applies only the plan that was shown.
func planFingerprint(p *store.PrunePlan) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d %d %d %d\n", len(p.Revisions), len(p.Images), p.Blobs, p.BytesFreed)
	for _, r := range p.Revisions {
		fmt.Fprintf(h, "%s/%s:%s@%d %s\n", r.Namespace, r.Stream, r.Tag, r.Position, r.Image)
	}
	for _, d := range p.Images {
		fmt.Fprintln(h, d)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// PruneConfirm is GET /prune/confirm: the plan a run now applies.
func (h *Handler) PruneConfirm(c echo.Context) error { return h.pruneConfirm(c, false) }

func (h *Handler) pruneConfirm(c echo.Context, changed bool) error {
	if !seesAll(c) || principal(c) == nil {
		return h.refused(c, fmt.Errorf("only a platform admin may prune"))
	}
	if !h.canRun(c, "prune") {
		return h.opFailed(c, fmt.Errorf("no prune job is scheduled in this server (--no-jobs or an empty --prune-schedule); run `layerwise prune --confirm` instead: %w", store.ErrNotFound))
	}
	plan, err := h.visiblePlan(c)
	if err != nil {
		return h.fail(c, "prune", err)
	}
	m := views.PruneConfirmPage{Page: h.page(c, "Prune now", home(), views.Crumb{Label: "Prune", Href: "/prune"}, views.Crumb{Label: "Prune now"}),
		Plan: plan, Fingerprint: planFingerprint(plan), Changed: changed}
	status := http.StatusOK
	if changed {
		status = http.StatusConflict
	}
	return render(c, status, views.ViewPruneConfirm(m))
}

// PruneRun is POST /prune/run (plan: the fingerprint confirmed): it runs
// the prune job now, if the plan is still the one shown.
func (h *Handler) PruneRun(c echo.Context) error {
	p := principal(c)
	if p == nil || !p.PlatformAdmin {
		// The Service refuses too; say it the same way before reading the plan.
		_, err := h.Change.RunJob(c.Request().Context(), p, h.Runner, "prune")
		return h.opFailed(c, err)
	}
	plan, err := h.visiblePlan(c)
	if err != nil {
		return h.fail(c, "prune", err)
	}
	if c.FormValue("plan") != planFingerprint(plan) {
		return h.pruneConfirm(c, true)
	}
	outcome, err := h.startRun(c, "prune")
	if err != nil {
		return h.opFailed(c, err)
	}
	v := url.Values{"ran": {"prune"}, "outcome": {outcome}}
	return c.Redirect(http.StatusSeeOther, "/prune?"+v.Encode()+"#plan-heading")
}

// dueReports are the namespaces the request sees at or over their
// threshold, biggest first.
func (h *Handler) dueReports(c echo.Context) ([]views.DueReport, error) {
	var only []string
	if sc := scopeOf(c); sc != nil {
		only = append([]string{}, sc.Namespaces...)
	}
	ranked, err := h.Store.ReadNamespaces(c.Request().Context(), store.NamespaceQuery{Order: "size", Only: only, DefaultThreshold: h.Threshold})
	if err != nil {
		return nil, err
	}
	nss, err := h.Store.ListNamespaces(c.Request().Context())
	if err != nil {
		return nil, err
	}
	byName := map[string]store.Namespace{}
	for _, n := range nss {
		byName[n.Name] = n
	}
	var out []views.DueReport
	for _, n := range ranked.Rows {
		if n.Over() {
			out = append(out, views.DueReport{Namespace: n.Name, Bytes: n.Bytes, Threshold: n.Threshold, Contacts: len(byName[n.Name].ContactList())})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	return out, nil
}
