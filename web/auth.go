package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/handlers"
	"layerwise/store"
)

// principalFromSession resolves the session cookie, if any.
func (srv *Server) principalFromSession(c echo.Context) *store.Principal {
	session := handlers.ReadCookie(c, handlers.SessionCookie)
	if session == "" {
		return nil
	}
	ctx := c.Request().Context()
	u, err := srv.store.SessionUser(ctx, session)
	if err != nil {
		return nil
	}
	p, err := srv.store.LoadPrincipal(ctx, u)
	if err != nil {
		srv.log.Error("cannot load roles", "user", u.Name, "err", err)
		return nil
	}
	return p
}

// principalFromToken resolves "Authorization: Bearer TOKEN"; ok is false
// when a token was given but is not valid.
func (srv *Server) principalFromToken(c echo.Context) (p *store.Principal, given, ok bool) {
	h := c.Request().Header.Get("Authorization")
	if h == "" {
		return nil, false, true
	}
	scheme, token, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return nil, true, false
	}
	ctx := c.Request().Context()
	u, err := srv.store.TokenUser(ctx, strings.TrimSpace(token))
	if err != nil {
		return nil, true, false
	}
	p, err = srv.store.LoadPrincipal(ctx, u)
	if err != nil {
		return nil, true, false
	}
	return p, true, true
}

func setPrincipal(c echo.Context, p *store.Principal) {
	c.Set(handlers.PrincipalKey, p)
	c.Set(handlers.UserKey, p.User)
}

// requireLogin attaches the session's user and, once accounts exist, sends
// anonymous visitors to the login page. Without any account (a fresh
// install) the dashboard is open and read-only.
func (srv *Server) requireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := srv.principalFromProxy(c); p != nil {
			setPrincipal(c, p)
			return next(c)
		}
		if p := srv.principalFromSession(c); p != nil {
			setPrincipal(c, p)
			return next(c)
		}
		// Accounts are never all deleted, so once some exist the count
		// need not be read again.
		if !srv.accounts.Load() {
			n, err := srv.store.CountUsers(c.Request().Context())
			if err != nil {
				return err
			}
			if n == 0 {
				return next(c)
			}
			srv.accounts.Store(true)
		}
		return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
}
