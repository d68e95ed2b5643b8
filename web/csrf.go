package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/handlers"
)

// errCSRF answers a change whose CSRF token is missing or not this
// browser's.
var errCSRF = echo.NewHTTPError(http.StatusForbidden,
	"The form expired or did not come from this site: reload the page and try again.")

// csrf guards every change a browser can be made to send (POST, PUT,
// DELETE, …): it must carry, in the form field _csrf or the X-CSRF-Token
// header, the token of the pages this browser was shown. The token is an
// HMAC keyed by the browser's session cookie, so one user's token is
// worthless with another's session and nobody can work it out without
// the session's secret. A browser without a session (the login form)
// gets a random cookie of its own (layerwise_csrf) to key the token
// instead; in proxy mode that key is also bound to the forwarded user.
// Any replica can check a token: no server-side state.
func (srv *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if srv.csrfExempt(c) {
			return next(c)
		}
		token := srv.csrfToken(c)
		c.Set(handlers.CSRFKey, token)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return next(c)
		}
		got := c.Request().Header.Get("X-CSRF-Token")
		if got == "" {
			got = c.FormValue("_csrf")
		}
		if got == "" || !hmac.Equal([]byte(got), []byte(token)) {
			return errCSRF
		}
		return next(c)
	}
}

// csrfExempt: probes and metrics carry no forms; a bearer token is not
// sent by browsers on their own, so token calls need no CSRF token.
// Cookie-authenticated API calls still do (X-CSRF-Token).
func (srv *Server) csrfExempt(c echo.Context) bool {
	switch c.Path() {
	case "/healthz", "/readyz", "/metrics", apiWebhookPath:
		return true
	}
	return strings.HasPrefix(c.Request().URL.Path, "/api/") &&
		strings.HasPrefix(strings.ToLower(c.Request().Header.Get("Authorization")), "bearer ")
}

// csrfToken is the browser's token: keyed by its session cookie, else by
// its own CSRF cookie, which is made on first sight.
func (srv *Server) csrfToken(c echo.Context) string {
	key, bind := handlers.ReadCookie(c, handlers.SessionCookie), "session"
	if key == "" {
		key, bind = handlers.ReadCookie(c, handlers.CSRFCookie), "browser"
		if key == "" {
			key = randomString()
			handlers.SetCookie(c, handlers.CSRFCookie, key, 0, http.SameSiteStrictMode)
		}
		if srv.cfg.Auth == "proxy" && srv.cfg.TrustedProxies.TrustsPeer(c.Request()) {
			bind += "\x00" + strings.TrimSpace(c.Request().Header.Get("X-Forwarded-User"))
		}
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("layerwise csrf\x00" + bind))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// markHTTPS records whether the browser talks HTTPS to us (for cookies):
// an https base URL, TLS, or X-Forwarded-Proto from a trusted proxy.
func (srv *Server) markHTTPS(next echo.HandlerFunc) echo.HandlerFunc {
	base := strings.HasPrefix(strings.ToLower(strings.TrimSpace(srv.cfg.Reports.BaseURL)), "https://")
	return func(c echo.Context) error {
		r := c.Request()
		c.Set(handlers.HTTPSKey, base || r.TLS != nil || srv.cfg.TrustedProxies.ForwardedHTTPS(r))
		return next(c)
	}
}
