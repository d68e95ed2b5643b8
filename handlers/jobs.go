package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

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
	return render(c, http.StatusOK, views.ViewJobs(m))
}
