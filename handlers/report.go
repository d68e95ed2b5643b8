package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"layerwise/jobs"
	"layerwise/store"
	"layerwise/views"
)

// ReportPreview is "/ns/{ns}/report": exactly the HTML of the namespace's
// weekly e-mail, built from the stored usage.
func (h *Handler) ReportPreview(c echo.Context) error {
	ns := c.Param("ns")
	if err := store.ValidateNamespace(ns); err != nil || !canSee(c, ns) {
		return h.notFound(c, "namespace "+ns, ns)
	}
	if _, err := h.Store.GetNamespace(c.Request().Context(), ns); err != nil {
		return h.failWith(c, "namespace "+ns, err, ns)
	}
	set := h.Reports
	if set.Threshold == 0 {
		set.Threshold = h.Threshold
	}
	r, err := jobs.BuildReport(c.Request().Context(), h.Store, set, h.now(), ns)
	if err != nil {
		return h.failWith(c, "namespace "+ns, err, ns)
	}
	// The e-mail carries its styles inline, as mail clients need; this page
	// alone may use them. Still no script, no remote anything.
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	return render(c, http.StatusOK, views.ReportHTML(r))
}
