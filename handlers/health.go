package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Healthz says the process serves requests.
func (h *Handler) Healthz(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }

// Readyz says the database answers (the usage figures are stored: there is
// no first computation to wait for).
func (h *Handler) Readyz(c echo.Context) error {
	if err := h.Store.Ping(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database: "+err.Error()+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
