package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"layerwise/store"
)

// APIAudit is GET /api/v1/audit?namespace=&actor=&action=&limit=. Platform
// admins see every event; other users the events of the namespaces they
// hold any role in (viewer and up), and their own events outside any
// namespace — as the /audit page shows them. A namespace filter naming a
// namespace the caller cannot see is 404, like a missing one.
func (h *Handler) APIAudit(c echo.Context) error {
	f := store.AuditFilter{Namespace: c.QueryParam("namespace"), Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Limit: 200}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return WriteAPIError(c, http.StatusBadRequest, "limit must be a number from 1 to 1000")
		}
		f.Limit = n
	}
	if f.Namespace != "" && !canSee(c, f.Namespace) {
		return h.apiFail(c, apiNamespaceNotFound(f.Namespace))
	}
	events, err := h.visibleAudit(c, f)
	if err != nil {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, auditJSON(events, f.Limit))
}
