package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/docs"
	"layerwise/handlers"
)

// apiRoutes are the JSON API of docs/REFERENCE.md under /api/v1.
//
// Authentication runs in a Pre middleware (apiGate): before the global
// CSRF middleware, so that a bad credential is answered 401 rather than
// "missing CSRF token", and around it, so that every error on an API path
// — CSRF, body limit, unknown route, method — is written as
// {"error": "…"} and never as the pages' text or HTML. The group middleware
// runs the same authentication again should a request reach an API route
// without the gate (it is a no-op when the gate ran).
func (srv *Server) apiRoutes(e *echo.Echo, h *handlers.Handler) {
	e.Pre(srv.apiGate)
	api := e.Group("/api/v1", srv.apiAuth)
	openAPI := docs.OpenAPI()
	api.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI) })
	api.GET("/usage", h.APIUsage)
	api.GET("/namespaces/:ns/usage", h.APINamespaceUsage)
	api.GET("/images", h.APIImages)
	api.GET("/images/:name", h.APIImage)
	api.GET("/images/:name/referrers", h.APIImageReferrers)
	api.GET("/imagestreams", h.APIAllImageStreams)
	api.GET("/namespaces/:ns/imagestreams", h.APIImageStreams)
	api.GET("/namespaces/:ns/imagestreams/:name", h.APIImageStream)
	api.GET("/namespaces/:ns/imagestreamtags/:nametag", h.APIGetTag)
	api.PUT("/namespaces/:ns/imagestreamtags/:nametag", h.APIPutTag)
	api.DELETE("/namespaces/:ns/imagestreamtags/:nametag", h.APIDeleteTag)
	api.POST("/namespaces/:ns/imagestreams/:name/promote", h.APIPromote)
	api.POST("/namespaces/:ns/imagestreams/:name/rollback", h.APIRollback)
	api.POST("/namespaces/:ns/imagestreamimports", h.APIImport)
	api.GET("/prune/plan", h.APIPrunePlan)
	api.GET("/namespaces/:ns/pins", h.APIPins)
	api.PUT("/namespaces/:ns/pins/:digest", h.APIPin)
	api.DELETE("/namespaces/:ns/pins/:digest", h.APIUnpin)
	api.GET("/namespaces/:ns/retentionrules", h.APIRetentionRules)
	api.PUT("/namespaces/:ns/retentionrules", h.APIPutRetentionRules)
	api.GET("/audit", h.APIAudit)
	inFlight := srv.cfg.WebhookInFlight
	if inFlight <= 0 {
		inFlight = DefaultWebhookInFlight
	}
	wh := &handlers.Webhook{Registry: srv.managed, Token: srv.cfg.WebhookToken, Change: srv.change, Log: srv.log, Pulls: srv.pulls,
		Slots: make(chan struct{}, inFlight)}
	api.POST("/registry/events", wh.Events)
	api.RouteNotFound("", h.APINotFound)
	api.RouteNotFound("/*", h.APINotFound)
}

// DefaultWebhookInFlight is how many notification envelopes one replica
// handles at once: writes take turns on one writer anyway, so more slots
// only hold more fetched pushes in memory. Envelopes of 50 pushes at 1× on
// SQLite: 16 slots 74.9 pushes/s at 326 MiB RSS, 4 slots 78.5 pushes/s at
// 177 MiB (docs/PERFORMANCE.md, session 5).
const DefaultWebhookInFlight = 4

// apiAuthKey marks a request whose API credentials were checked.
const apiAuthKey = "layerwise.apiAuth"

// apiWebhookPath carries the registry's own bearer token (LAYERWISE_WEBHOOK_TOKEN),
// not an API token.
const apiWebhookPath = "/api/v1/registry/events"

// apiDescriptionPath is the API's OpenAPI document: public, like the
// README that describes the same API; it holds no data.
const apiDescriptionPath = "/api/v1/openapi.json"

func isAPIPath(p string) bool { return p == "/api" || strings.HasPrefix(p, "/api/") }

// apiGate authenticates API requests and writes every API error as JSON.
func (srv *Server) apiGate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !isAPIPath(req.URL.Path) {
			return next(c)
		}
		// Answers about a caller's namespaces are not for shared caches.
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		err := srv.apiAuthenticate(c)
		if err != nil {
			// The routed chain (its security headers and request log) does
			// not run: do both here.
			h := c.Response().Header()
			h.Set(echo.HeaderXContentTypeOptions, "nosniff")
			h.Set(echo.HeaderXFrameOptions, "DENY")
			h.Set(echo.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
			h.Set(echo.HeaderReferrerPolicy, "same-origin")
			srv.log.Info("api request refused", "method", req.Method, "path", req.URL.Path, "err", err.Error())
		} else {
			err = next(c)
		}
		if err == nil || c.Response().Committed {
			return err
		}
		srv.writeAPIError(c, err)
		return nil
	}
}

// apiAuth is the group middleware: authentication, unless the gate did it.
func (srv *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := srv.apiAuthenticate(c); err != nil {
			return err
		}
		return next(c)
	}
}

// apiAuthenticate finds the caller: a bearer token, else (in proxy mode)
// the trusted proxy's X-Forwarded-User, else the session cookie. A token
// that is given but not valid is 401 whatever else the request carries;
// no credentials are 401 once an account exists. Without any account (a
// fresh install) reads are open and changes refused, as on the pages.
func (srv *Server) apiAuthenticate(c echo.Context) error {
	if done, _ := c.Get(apiAuthKey).(bool); done {
		return nil
	}
	c.Set(apiAuthKey, true)
	req := c.Request()
	if req.URL.Path == apiWebhookPath || req.URL.Path == apiDescriptionPath && req.Method == http.MethodGet {
		return nil
	}
	p, given, ok := srv.principalFromToken(c)
	if given && !ok {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="layerwise", error="invalid_token"`)
		return &handlers.APIError{Status: http.StatusUnauthorized,
			Message: `invalid credentials: the API token is unknown, expired or revoked, its account is disabled, or the Authorization header is not "Bearer TOKEN" ` +
				`(create a token with layerwise token create)`}
	}
	if p == nil {
		p = srv.principalFromProxy(c) // only in proxy mode, only from a trusted peer
	}
	if p == nil {
		p = srv.principalFromSession(c)
	}
	if p != nil {
		setPrincipal(c, p)
		return nil
	}
	n, err := srv.store.CountUsers(req.Context())
	if err != nil {
		return err
	}
	if n > 0 {
		return &handlers.APIError{Status: http.StatusUnauthorized,
			Message: "authentication required: send Authorization: Bearer TOKEN (create one with layerwise token create) or log in"}
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return nil
	}
	return &handlers.APIError{Status: http.StatusForbidden, Message: handlers.NoAccountsMessage}
}

// writeAPIError writes err as {"error": "…"} with its status.
func (srv *Server) writeAPIError(c echo.Context, err error) {
	req := c.Request()
	status, msg := http.StatusInternalServerError, "internal error; see the server log"
	var ae *handlers.APIError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, msg = ae.Status, ae.Message
	case errors.As(err, &he):
		status, msg = he.Code, fmt.Sprint(he.Message)
		switch {
		case he == errCSRF:
			msg = "missing or invalid CSRF token: a call authenticated by the session cookie must send the token of the session's pages " +
				"in X-CSRF-Token; scripts should use Authorization: Bearer TOKEN instead"
		case he.Code == http.StatusNotFound:
			msg = "no such API endpoint: " + req.Method + " " + req.URL.Path + " (the endpoints are described in /api/v1/openapi.json)"
		case he.Code == http.StatusMethodNotAllowed:
			msg = "method " + req.Method + " is not allowed on " + req.URL.Path
		case he.Code == http.StatusRequestEntityTooLarge:
			msg = "the request body is larger than 1 MiB"
		case he.Code == http.StatusUnauthorized:
			msg = "authentication required: " + msg
		}
	default:
		srv.log.Error("api request failed", "method", req.Method, "path", req.URL.Path, "err", err)
	}
	if werr := handlers.WriteAPIError(c, status, msg); werr != nil {
		srv.log.Error("writing an API error failed", "path", req.URL.Path, "err", werr)
	}
}
