package web

import (
	"github.com/labstack/echo/v4"

	"layerwise/handlers"
)

// actionRoutes are the browser's form actions (tag, promote, roll back,
// delete, settings, members, tokens, audit).
func (srv *Server) actionRoutes(pages *echo.Group, h *handlers.Handler) {}
