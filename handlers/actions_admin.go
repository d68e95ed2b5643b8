package handlers

// The namespace admin pages: settings (contacts, threshold, ladder) and
// members (role bindings). Both need the admin role in the namespace; a
// namespace the user cannot see answers 404 like its other pages.

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

// refused renders a 403 page saying what is missing.
func (h *Handler) refused(c echo.Context, err error) error {
	p := h.page(c, "Forbidden", home())
	return render(c, http.StatusForbidden, views.ViewError(views.ErrorPage{Page: p, Status: http.StatusForbidden,
		Message: forbiddenText(principal(c), err)}))
}

// adminNamespace checks that ns exists, is visible and that the user is its
// admin; ok false means the answer has been written.
func (h *Handler) adminNamespace(c echo.Context) (store.Namespace, bool, error) {
	name := c.Param("ns")
	if err := store.ValidateNamespace(name); err != nil || !canSee(c, name) {
		return store.Namespace{}, false, h.notFound(c, "namespace "+name, name)
	}
	ns, err := h.Store.GetNamespace(c.Request().Context(), name)
	if err != nil {
		return ns, false, h.failWith(c, "namespace "+name, err, name)
	}
	if err := formNeed(c, name, store.RoleAdmin); err != nil {
		return ns, false, h.refused(c, err)
	}
	return ns, true, nil
}

func adminCrumbs(ns, label string) []views.Crumb {
	return []views.Crumb{home(), {Label: ns, Href: views.NamespaceHref(ns)}, {Label: label}}
}

func (h *Handler) settingsPage(c echo.Context, ns store.Namespace) views.SettingsPage {
	m := views.SettingsPage{Page: h.page(c, ns.Name+" settings", adminCrumbs(ns.Name, "Settings")...), Namespace: ns.Name,
		Contacts: strings.Join(ns.ContactList(), ", "), Threshold: "default", DefaultThreshold: h.Threshold,
		DefaultLadder: strings.Join(store.DefaultLadder, ", ")}
	if ns.ThresholdBytes != nil {
		m.Threshold = format.SizeInput(*ns.ThresholdBytes)
		m.ThresholdBytes = *ns.ThresholdBytes
	}
	if ns.Ladder != "" {
		m.Ladder = strings.Join(strings.Split(ns.Ladder, ","), ", ")
	}
	def := h.policy()
	m.DefaultKeepTagRevisions, m.DefaultKeepYoungerThan = fmt.Sprint(def.KeepTagRevisions), durationInput(def.KeepYoungerThan)
	if ns.PruneKeepTagRevisions != nil {
		m.KeepTagRevisions = fmt.Sprint(*ns.PruneKeepTagRevisions)
	}
	if ns.PruneKeepYoungerThan != nil {
		m.KeepYoungerThan = durationInput(time.Duration(*ns.PruneKeepYoungerThan) * time.Second)
	}
	if rules, err := h.Store.RetentionRules(c.Request().Context(), ns.Name); err == nil {
		m.Rules = store.RulesText(rules)
	} else {
		h.Log.Error("reading retention rules failed", "namespace", ns.Name, "err", err)
	}
	return m
}

// Settings is GET /ns/{ns}/settings.
func (h *Handler) Settings(c echo.Context) error {
	ns, ok, err := h.adminNamespace(c)
	if !ok {
		return err
	}
	m := h.settingsPage(c, ns)
	m.Saved = c.QueryParam("saved") == "1"
	m.Unchanged = c.QueryParam("saved") == "0"
	m.RulesSaved = c.QueryParam("saved") == "rules"
	m.RulesUnchanged = c.QueryParam("saved") == "rules0"
	return render(c, http.StatusOK, views.ViewSettings(m))
}

// SaveRetentionRules is POST /ns/{ns}/settings/rules: the rules, one per
// line (store.ParseRetentionRules); a refused rule is shown with the text
// as typed.
func (h *Handler) SaveRetentionRules(c echo.Context) error {
	ns, ok, err := h.adminNamespace(c)
	if !ok {
		return err
	}
	m := h.settingsPage(c, ns)
	m.Rules = c.FormValue("rules")
	rules, err := store.ParseRetentionRules(m.Rules)
	changed := false
	if err == nil {
		changed, err = h.Change.SetRetentionRules(c.Request().Context(), principal(c), ns.Name, rules)
	}
	if err != nil {
		status, msg := formStatus(c, err)
		if status == http.StatusInternalServerError {
			h.Log.Error("saving retention rules failed", "namespace", ns.Name, "err", err)
		}
		m.RulesError, m.RulesErrorField = msg, "rules"
		return render(c, status, views.ViewSettings(m))
	}
	saved := "?saved=rules#rules"
	if !changed {
		saved = "?saved=rules0#rules" // "nothing changed"
	}
	return c.Redirect(http.StatusSeeOther, views.NamespaceSettingsHref(ns.Name)+saved)
}

// SaveSettings is POST /ns/{ns}/settings.
func (h *Handler) SaveSettings(c echo.Context) error {
	ns, ok, err := h.adminNamespace(c)
	if !ok {
		return err
	}
	m := h.settingsPage(c, ns)
	m.Contacts, m.Threshold, m.Ladder = c.FormValue("contacts"), strings.TrimSpace(c.FormValue("threshold")), c.FormValue("ladder")
	failed := func(field string, status int, msg string) error {
		m.Error, m.ErrorField = msg, field
		return render(c, status, views.ViewSettings(m))
	}
	m.KeepTagRevisions, m.KeepYoungerThan = strings.TrimSpace(c.FormValue("keep_tag_revisions")), strings.TrimSpace(c.FormValue("keep_younger_than"))
	set, field, err := store.SettingsInput{Contacts: &m.Contacts, Threshold: &m.Threshold, Ladder: &m.Ladder,
		KeepTagRevisions: &m.KeepTagRevisions, KeepYoungerThan: &m.KeepYoungerThan}.Parse()
	if err != nil {
		return failed(field, http.StatusBadRequest, err.Error())
	}
	changed, err := h.Change.SetNamespace(c.Request().Context(), principal(c), ns.Name, set)
	if err != nil {
		status, msg := formStatus(c, err)
		field := ""
		switch text := err.Error(); {
		case !errors.Is(err, store.ErrInvalid):
		case strings.Contains(text, "contact"):
			field = "contacts"
		case strings.Contains(text, "ladder"):
			field = "ladder"
		}
		if status == http.StatusInternalServerError {
			h.Log.Error("saving settings failed", "namespace", ns.Name, "err", err)
		}
		return failed(field, status, msg)
	}
	saved := "?saved=1"
	if !changed {
		saved = "?saved=0" // "nothing changed"
	}
	return c.Redirect(http.StatusSeeOther, views.NamespaceSettingsHref(ns.Name)+saved)
}

var grantable = []string{store.RoleViewer.String(), store.RoleEditor.String(), store.RoleAdmin.String()}

func (h *Handler) membersPage(c echo.Context, ns string) (views.MembersPage, error) {
	m := views.MembersPage{Page: h.page(c, ns+" members", adminCrumbs(ns, "Members")...), Namespace: ns,
		Roles: grantable, AddRole: store.RoleViewer.String()}
	list, err := h.Store.Members(c.Request().Context(), ns)
	if err != nil {
		return m, err
	}
	me := ""
	if p := principal(c); p != nil {
		me = p.User
	}
	for _, mb := range list {
		m.Members = append(m.Members, views.Member{User: mb.User, Role: mb.Role, Self: mb.User == me})
	}
	return m, nil
}

// Members is GET /ns/{ns}/members.
func (h *Handler) Members(c echo.Context) error {
	ns, ok, err := h.adminNamespace(c)
	if !ok {
		return err
	}
	m, err := h.membersPage(c, ns.Name)
	if err != nil {
		return h.fail(c, "members of "+ns.Name, err)
	}
	user, role := c.QueryParam("user"), c.QueryParam("role")
	if store.ValidateUserName(user) == nil {
		switch c.QueryParam("done") {
		case "set":
			if _, err := store.ParseRole(role); err == nil {
				m.Done = fmt.Sprintf("%s is now %s in %s.", user, article(role), ns.Name)
			}
		case "same":
			if _, err := store.ParseRole(role); err == nil {
				m.Done = fmt.Sprintf("%s was already %s in %s; nothing changed.", user, article(role), ns.Name)
			}
		case "removed":
			m.Done = fmt.Sprintf("%s no longer holds a role in %s.", user, ns.Name)
		}
	}
	return render(c, http.StatusOK, views.ViewMembers(m))
}

func article(role string) string {
	if strings.HasPrefix(role, "a") || strings.HasPrefix(role, "e") {
		return "an " + role
	}
	return "a " + role
}

// membersFailed re-renders the members page with an error next to the
// form that failed (row "" is the add form).
func (h *Handler) membersFailed(c echo.Context, ns, row, user, role string, status int, msg string) error {
	m, err := h.membersPage(c, ns)
	if err != nil {
		return h.fail(c, "members of "+ns, err)
	}
	m.Error, m.ErrorUser = msg, row
	if row == "" {
		m.AddUser, m.AddRole = user, role
	}
	return render(c, status, views.ViewMembers(m))
}

// SetMember is POST /ns/{ns}/members: give a user a role (replacing any).
func (h *Handler) SetMember(c echo.Context) error {
	ns, ok, err := h.adminNamespace(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	user, roleName := strings.TrimSpace(c.FormValue("user")), c.FormValue("role")
	row := ""
	for _, mb := range mustMembers(h, c, ns.Name) {
		if mb.User == user {
			row = user
		}
	}
	role, err := store.ParseRole(roleName)
	if err != nil {
		return h.membersFailed(c, ns.Name, row, user, roleName, http.StatusBadRequest, err.Error())
	}
	if user == "" {
		return h.membersFailed(c, ns.Name, row, user, roleName, http.StatusBadRequest, "Type the user name of the account to add.")
	}
	changed, err := h.Change.SetRole(ctx, principal(c), ns.Name, user, role)
	if err != nil {
		status, msg := formStatus(c, err)
		if status == http.StatusInternalServerError {
			h.Log.Error("setting a role failed", "namespace", ns.Name, "err", err)
		}
		return h.membersFailed(c, ns.Name, row, user, roleName, status, upperFirst(msg)+".")
	}
	done := "set"
	if !changed {
		done = "same"
	}
	v := url.Values{"done": {done}, "user": {user}, "role": {role.String()}}
	return c.Redirect(http.StatusSeeOther, views.NamespaceMembersHref(ns.Name)+"?"+v.Encode())
}

func mustMembers(h *Handler, c echo.Context, ns string) []store.Member {
	list, _ := h.Store.Members(c.Request().Context(), ns)
	return list
}

// RemoveMember is POST /ns/{ns}/members/remove.
func (h *Handler) RemoveMember(c echo.Context) error {
	ns, ok, err := h.adminNamespace(c)
	if !ok {
		return err
	}
	user := strings.TrimSpace(c.FormValue("user"))
	bound := false
	for _, mb := range mustMembers(h, c, ns.Name) {
		bound = bound || mb.User == user
	}
	if !bound {
		return h.membersFailed(c, ns.Name, "", "", "", http.StatusNotFound,
			fmt.Sprintf("“%s” holds no role in %s; nothing to remove.", user, ns.Name))
	}
	if _, err := h.Change.SetRole(c.Request().Context(), principal(c), ns.Name, user, store.RoleNone); err != nil {
		status, msg := formStatus(c, err)
		if status == http.StatusInternalServerError {
			h.Log.Error("removing a role failed", "namespace", ns.Name, "err", err)
		}
		return h.membersFailed(c, ns.Name, user, "", "", status, msg)
	}
	v := url.Values{"done": {"removed"}, "user": {user}}
	return c.Redirect(http.StatusSeeOther, views.NamespaceMembersHref(ns.Name)+"?"+v.Encode())
}

// durationInput writes a duration as a person types it: 96h, 90m, 1h30m.
func durationInput(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
