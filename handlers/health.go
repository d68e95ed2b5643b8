package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Healthz says the process serves requests.
func (h *Handler) Healthz(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }

// Readyz says the database answers and the usage figures exist.
func (h *Handler) Readyz(c echo.Context) error {
	if err := h.Store.Ping(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database: "+err.Error()+"\n")
	}
	if h.Usage.Get() == nil {
		return c.String(http.StatusServiceUnavailable, "usage is being computed\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
