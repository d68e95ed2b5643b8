package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// tokensPage lists the logged-in user's tokens.
func (h *Handler) tokensPage(c echo.Context, user string) (views.TokensPage, error) {
	m := views.TokensPage{Page: h.page(c, "API tokens", home(), views.Crumb{Label: "API tokens"})}
	list, err := h.Store.Tokens(c.Request().Context(), user)
	if err != nil {
		return m, err
	}
	now := h.now()
	for _, t := range list {
		m.Tokens = append(m.Tokens, views.TokenRow{ID: t.ID, Name: t.Name, Created: t.CreatedAt, Expires: t.ExpiresAt,
			Revoked: t.RevokedAt, Expired: t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)})
	}
	return m, nil
}

// tokenUser is the logged-in user; "" (and a page written) when nobody is.
func (h *Handler) tokenUser(c echo.Context) (string, error) {
	p := principal(c)
	if p == nil {
		pg := h.page(c, "API tokens", home(), views.Crumb{Label: "API tokens"})
		return "", render(c, http.StatusForbidden, views.ViewError(views.ErrorPage{Page: pg, Status: http.StatusForbidden,
			Message: "API tokens belong to accounts, and nobody is logged in: create an account with `layerwise user add`, then log in."}))
	}
	return p.User, nil
}

// Tokens is GET /tokens.
func (h *Handler) Tokens(c echo.Context) error {
	user, err := h.tokenUser(c)
	if user == "" {
		return err
	}
	m, err := h.tokensPage(c, user)
	if err != nil {
		return h.fail(c, "your API tokens", err)
	}
	if c.QueryParam("done") == "revoked" {
		m.Done = "Token revoked: it no longer works."
	}
	return render(c, http.StatusOK, views.ViewTokens(m))
}

// parseTTL reads "720h", "90d" or "" (never).
func parseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "never" {
		return 0, nil
	}
	bad := fmt.Errorf("expiry %q: write a duration such as 720h or 90d, or leave it empty for no expiry", s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 36500 {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return 0, bad
		}
	}
	if d < time.Minute {
		return 0, fmt.Errorf("expiry %q is shorter than a minute; write e.g. 720h", s)
	}
	return d, nil
}

// CreateToken is POST /tokens: the new token is shown on the answer, once.
func (h *Handler) CreateToken(c echo.Context) error {
	user, err := h.tokenUser(c)
	if user == "" {
		return err
	}
	ctx := c.Request().Context()
	name, expires := strings.TrimSpace(c.FormValue("name")), strings.TrimSpace(c.FormValue("expires"))
	failed := func(status int, msg string) error {
		m, err := h.tokensPage(c, user)
		if err != nil {
			return h.fail(c, "your API tokens", err)
		}
		m.Name, m.Expires, m.Error = name, expires, msg
		return render(c, status, views.ViewTokens(m))
	}
	ttl, err := parseTTL(expires)
	if err != nil {
		return failed(http.StatusBadRequest, err.Error())
	}
	token, row, err := h.Change.CreateToken(ctx, principal(c), user, name, ttl)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return failed(http.StatusBadRequest, err.Error())
		}
		return h.fail(c, "a new API token", err)
	}
	m, err := h.tokensPage(c, user)
	if err != nil {
		return h.fail(c, "your API tokens", err)
	}
	m.NewToken, m.NewTokenName = token, row.Name
	// The one page that shows the secret must not be kept anywhere.
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.ViewTokens(m))
}

// RevokeToken is POST /tokens/{id}/revoke.
func (h *Handler) RevokeToken(c echo.Context) error {
	user, err := h.tokenUser(c)
	if user == "" {
		return err
	}
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return h.notFound(c, "API token "+c.Param("id"))
	}
	if err := h.Change.RevokeToken(ctx, principal(c), user, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			m, lerr := h.tokensPage(c, user)
			if lerr != nil {
				return h.fail(c, "your API tokens", lerr)
			}
			m.RevokeError = "That token is not one of yours, or it was already revoked."
			return render(c, http.StatusNotFound, views.ViewTokens(m))
		}
		return h.fail(c, "revoking an API token", err)
	}
	return c.Redirect(http.StatusSeeOther, "/tokens?done=revoked")
}
