package handlers

// The accounts page: platform admins list accounts with their roles, add
// accounts, reset passwords, disable and enable accounts, each through
// change.Service (audited).

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// accountsAdmin checks that a platform admin asks; ok false means the
// answer has been written.
func (h *Handler) accountsAdmin(c echo.Context) (bool, error) {
	if p := principal(c); p == nil || !p.PlatformAdmin {
		return false, h.refused(c, fmt.Errorf("managing accounts needs a platform admin"))
	}
	return true, nil
}

func (h *Handler) accountsPage(c echo.Context) (views.AccountsPage, error) {
	m := views.AccountsPage{Page: h.page(c, "Accounts", home(), views.Crumb{Label: "Accounts"})}
	users, err := h.Store.ListUsers(c.Request().Context())
	if err != nil {
		return m, err
	}
	me := principal(c).User
	for _, u := range users {
		row := views.AccountRow{Name: u.Name, Admin: u.PlatformAdmin, HasPassword: u.HasPassword, Disabled: u.DisabledAt != nil,
			Self: u.Name == me, Created: u.CreatedAt, Tokens: u.Tokens}
		for _, r := range u.Roles {
			row.Roles = append(row.Roles, r.Namespace+": "+r.Role)
		}
		m.Users = append(m.Users, row)
	}
	return m, nil
}

// Accounts is GET /accounts.
func (h *Handler) Accounts(c echo.Context) error {
	if ok, err := h.accountsAdmin(c); !ok {
		return err
	}
	m, err := h.accountsPage(c)
	if err != nil {
		return h.fail(c, "accounts", err)
	}
	user := c.QueryParam("user")
	if store.ValidateUserName(user) == nil {
		switch c.QueryParam("done") {
		case "added":
			m.Done = "Account " + user + " added."
		case "password":
			m.Done = "Password of " + user + " reset; tell its owner."
		case "disabled":
			m.Done = user + " is disabled: logged out, tokens refused."
		case "enabled":
			m.Done = user + " is enabled again."
		case "same":
			m.Done = "Nothing changed."
		}
		if m.Done != "" {
			m.DoneUser = user
		}
	}
	return render(c, http.StatusOK, views.ViewAccounts(m))
}

// accountsFailed shows the page again with the reason next to the form of
// row (""  the add form).
func (h *Handler) accountsFailed(c echo.Context, row string, err error) error {
	status, msg := formStatus(c, err)
	if status == http.StatusInternalServerError {
		h.Log.Error("account change failed", "err", err)
	}
	m, lerr := h.accountsPage(c)
	if lerr != nil {
		return h.fail(c, "accounts", lerr)
	}
	m.Error, m.ErrorUser = upperFirst(msg), row
	if row == "" {
		m.AddName, m.AddAdmin = strings.TrimSpace(c.FormValue("name")), c.FormValue("admin") != ""
	}
	return render(c, status, views.ViewAccounts(m))
}

func accountDone(user, done string) string {
	v := url.Values{"done": {done}, "user": {user}}
	return views.AccountsHref + "?" + v.Encode() + "#user-" + user
}

// AddAccount is POST /accounts (name, password, admin).
func (h *Handler) AddAccount(c echo.Context) error {
	if ok, err := h.accountsAdmin(c); !ok {
		return err
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if _, err := h.Change.CreateUser(c.Request().Context(), principal(c), name, c.FormValue("password"), c.FormValue("admin") != ""); err != nil {
		return h.accountsFailed(c, "", err)
	}
	return c.Redirect(http.StatusSeeOther, accountDone(name, "added"))
}

// accountRow is the account a row's form names, if it exists.
func (h *Handler) accountRow(c echo.Context) (string, error) {
	name := c.Param("name")
	if err := store.ValidateUserName(name); err != nil {
		return "", err
	}
	if _, err := h.Store.GetUser(c.Request().Context(), name); err != nil {
		return "", err
	}
	return name, nil
}

// ResetAccountPassword is POST /accounts/{name}/password (password).
func (h *Handler) ResetAccountPassword(c echo.Context) error {
	if ok, err := h.accountsAdmin(c); !ok {
		return err
	}
	name, err := h.accountRow(c)
	if err == nil {
		err = h.Change.ResetPassword(c.Request().Context(), principal(c), name, c.FormValue("password"))
	}
	if err != nil {
		return h.accountsFailed(c, name, err)
	}
	return c.Redirect(http.StatusSeeOther, accountDone(name, "password"))
}

// DisableAccount is POST /accounts/{name}/disable.
func (h *Handler) DisableAccount(c echo.Context) error { return h.setDisabled(c, true) }

// EnableAccount is POST /accounts/{name}/enable.
func (h *Handler) EnableAccount(c echo.Context) error { return h.setDisabled(c, false) }

func (h *Handler) setDisabled(c echo.Context, disabled bool) error {
	if ok, err := h.accountsAdmin(c); !ok {
		return err
	}
	name, err := h.accountRow(c)
	changed := false
	if err == nil {
		changed, err = h.Change.SetUserDisabled(c.Request().Context(), principal(c), name, disabled)
	}
	if err != nil {
		return h.accountsFailed(c, name, err)
	}
	done := "enabled"
	if disabled {
		done = "disabled"
	}
	if !changed {
		done = "same"
	}
	return c.Redirect(http.StatusSeeOther, accountDone(name, done))
}
