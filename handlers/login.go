package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/format"
	"layerwise/store"
	"layerwise/views"
)

// SessionTTL is how long a login lasts.
const SessionTTL = 12 * time.Hour

// SafeNext keeps a post-login redirect on this site: it returns next when
// it is a clean path on this origin and "/" otherwise. Browsers drop tabs
// and newlines from a Location and read a backslash as "/", so a tab or a
// backslash between two slashes leaves the site as "//evil.com" does:
// anything but printable ASCII, a backslash, "//" anywhere, a scheme or a
// host is refused, not cleaned up.
func SafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.Contains(next, "//") || len(next) > 2048 {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}

// LoginForm is GET /login.
func (h *Handler) LoginForm(c echo.Context) error {
	p := h.page(c, "Log in", views.Crumb{Label: "Log in"})
	return render(c, http.StatusOK, views.ViewLogin(views.LoginPage{Page: p, SSO: h.SSO, Next: SafeNext(c.QueryParam("next"))}))
}

// Login is POST /login: check the password, start a new session (a fresh
// token, so a session fixed before login is worthless) and go on.
func (h *Handler) Login(c echo.Context) error {
	ctx := c.Request().Context()
	name, password := strings.TrimSpace(c.FormValue("name")), c.FormValue("password")
	next := SafeNext(c.FormValue("next"))
	keys := []string{"user:" + name, "ip:" + c.RealIP()}
	if h.Limiter != nil {
		if wait := h.Limiter.Wait(keys...); wait > 0 {
			p := h.page(c, "Log in", views.Crumb{Label: "Log in"})
			c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			msg := fmt.Sprintf("Too many failed logins: try again in %s.", format.Duration(wait.Round(time.Second)))
			return render(c, http.StatusTooManyRequests, views.ViewLogin(views.LoginPage{Page: p, SSO: h.SSO, Error: msg, Next: next, Name: name}))
		}
	}
	u, err := h.Store.Authenticate(ctx, name, password)
	if err != nil && errors.Is(err, store.ErrBadCredentials) && h.Limiter != nil {
		h.Limiter.Fail(keys...)
	}
	if err != nil {
		status := http.StatusUnauthorized
		msg := "Unknown user or wrong password."
		switch {
		case errors.Is(err, store.ErrBadCredentials):
		case errors.Is(err, store.ErrDisabled):
			status, msg = http.StatusForbidden, "This account is disabled; ask a platform admin to enable it again."
		default:
			h.Log.Error("login failed", "err", err)
			status, msg = http.StatusInternalServerError, "Logging in failed on our side; try again."
		}
		p := h.page(c, "Log in", views.Crumb{Label: "Log in"})
		return render(c, status, views.ViewLogin(views.LoginPage{Page: p, SSO: h.SSO, Error: msg, Next: next, Name: name}))
	}
	if h.Limiter != nil {
		h.Limiter.Succeed(keys...)
	}
	if old := ReadCookie(c, SessionCookie); old != "" {
		_ = h.Store.DeleteSession(ctx, old)
	}
	token, err := h.Store.CreateSession(ctx, u.ID, SessionTTL)
	if err != nil {
		return h.fail(c, "login", err)
	}
	SetCookie(c, SessionCookie, token, int(SessionTTL.Seconds()), http.SameSiteLaxMode)
	h.Log.Info("login", "user", u.Name)
	return c.Redirect(http.StatusSeeOther, next)
}

// Logout is POST /logout.
func (h *Handler) Logout(c echo.Context) error {
	if old := ReadCookie(c, SessionCookie); old != "" {
		_ = h.Store.DeleteSession(c.Request().Context(), old)
	}
	SetCookie(c, SessionCookie, "", -1, http.SameSiteLaxMode)
	return c.Redirect(http.StatusSeeOther, "/login")
}
