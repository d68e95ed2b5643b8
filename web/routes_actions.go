package web

import (
	"github.com/labstack/echo/v4"

	"layerwise/handlers"
)

// actionRoutes are the browser's form actions (tag, promote, roll back,
// delete, settings, members, tokens, audit). They sit in the pages group
// (a login once accounts exist); every POST has passed the CSRF check, and
// each handler changes through change.Service, which checks the role. GET never changes anything.
func (srv *Server) actionRoutes(pages *echo.Group, h *handlers.Handler) {
	pages.POST("/ns/:ns/is/:name/tags", h.AddTag)
	pages.POST("/ns/:ns/istag/:nametag/promote", h.PromoteTag)
	pages.POST("/ns/:ns/istag/:nametag/rollback", h.RollbackTag)
	pages.POST("/ns/:ns/istag/:nametag/delete", h.DeleteTagForm)
	pages.POST("/ns/:ns/istag/:nametag/scheduled", h.ScheduleTag)
	pages.POST("/ns/:ns/istag/:nametag/import", h.ImportTag)
	pages.POST("/ns/:ns/istag/:nametag/pin", h.PinForm)
	pages.POST("/ns/:ns/istag/:nametag/unpin", h.UnpinForm)

	pages.GET("/ns/:ns/settings", h.Settings)
	pages.POST("/ns/:ns/settings", h.SaveSettings)
	pages.POST("/ns/:ns/settings/rules", h.SaveRetentionRules)
	pages.GET("/ns/:ns/members", h.Members)
	pages.POST("/ns/:ns/members", h.SetMember)
	pages.POST("/ns/:ns/members/remove", h.RemoveMember)

	pages.GET("/audit", h.Audit)
	pages.GET("/tokens", h.Tokens)
	pages.POST("/tokens", h.CreateToken)
	pages.POST("/tokens/:id/revoke", h.RevokeToken)
}
