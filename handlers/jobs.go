package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// JobsPage is "/jobs": what is scheduled and how recent runs went.
func (h *Handler) JobsPage(c echo.Context) error {
	m := views.JobsPage{Page: h.page(c, "Jobs", home(), views.Crumb{Label: "Jobs"})}
	var err error
	if m.Jobs, err = h.jobStatuses(c); err != nil {
		return h.fail(c, "jobs", err)
	}
	if m.Runs, err = h.Store.RecentJobRuns(c.Request().Context(), 100); err != nil {
		return h.fail(c, "jobs", err)
	}
	m.Runs = runsFor(c, m.Runs)
	for i := range m.Jobs {
		m.Jobs[i].Run = h.runControl(c, m.Jobs[i].Name)
		if m.Jobs[i].Name == "weekly-report" && m.Jobs[i].Schedule != "not scheduled here" {
			m.ReportScheduled = true
		}
	}
	m.MailConfigured = h.MailConfigured
	m.Flash = h.runFlash(c)
	if m.Due, err = h.dueReports(c); err != nil {
		return h.fail(c, "jobs", err)
	}
	return render(c, http.StatusOK, views.ViewJobs(m))
}

// runsFor is job runs as the request may read them: a run's message (the
// first failure of a sync names a repository, a report's an address) is
// about the whole registry, so only a platform admin reads it; others see
// status, times and counts.
func runsFor(c echo.Context, runs []store.JobRun) []store.JobRun {
	if seesAll(c) {
		return runs
	}
	out := make([]store.JobRun, len(runs))
	for i, r := range runs {
		r.Message = ""
		out[i] = r
	}
	return out
}
