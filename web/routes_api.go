package web

import (
	"github.com/labstack/echo/v4"

	"layerwise/handlers"
)

// apiRoutes are the JSON API of CONTRACT.md under /api/v1.
func (srv *Server) apiRoutes(e *echo.Echo, h *handlers.Handler) {}
