package handlers

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// auditActions are the actions change.Service and the jobs record,
// offered in the filter (any other name can still be typed).
var auditActions = []string{
	"tag.set", "tag.alias", "tag.promote", "tag.rollback", "tag.delete", "tag.scheduled", "tag.import",
	"image.pin", "image.unpin", "namespace.settings", "rolebinding.add", "rolebinding.remove",
	"stream.create", "stream.delete", "dump.import", "user.add", "token.create", "token.revoke",
	"registry.push", "registry.delete", "stream.sync", "prune.apply",
}

// AuditEventJSON is one event of GET /audit?format=json.
type AuditEventJSON struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Namespace string    `json:"namespace"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Before    string    `json:"before"`
	After     string    `json:"after"`
}

// AuditJSON is GET /audit?format=json.
type AuditJSON struct {
	Events []AuditEventJSON `json:"events"`
	Limit  int              `json:"limit"`
}

func wantsJSON(c echo.Context) bool {
	if c.QueryParam("format") == "json" {
		return true
	}
	accept := c.Request().Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// visibleAudit reads the audit log as the user may see it: platform admins
// (and installs without accounts) everything; others the events of the
// namespaces they hold a role in, and their own events outside any
// namespace (their tokens).
func (h *Handler) visibleAudit(c echo.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	if f.Namespace != "" && !canSee(c, f.Namespace) {
		return nil, nil
	}
	if !seesAll(c) {
		p := principal(c)
		sc := &store.AuditScope{Actor: p.User}
		for ns, role := range p.Roles {
			if role >= store.RoleViewer {
				sc.Namespaces = append(sc.Namespaces, ns)
			}
		}
		f.Scope = sc
	}
	return h.Store.AuditLog(c.Request().Context(), f)
}

// auditJSON is the JSON answer of /audit and /api/v1/audit.
func auditJSON(events []store.AuditEvent, limit int) AuditJSON {
	out := AuditJSON{Events: make([]AuditEventJSON, 0, len(events)), Limit: limit}
	for _, e := range events {
		out.Events = append(out.Events, AuditEventJSON{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Namespace: e.Namespace,
			Action: e.Action, Target: e.Target, Before: e.Before, After: e.After})
	}
	return out
}

// Audit is GET /audit: the audit log, filtered by namespace, actor and
// action; JSON with ?format=json or Accept: application/json.
func (h *Handler) Audit(c echo.Context) error {
	ctx := c.Request().Context()
	f := store.AuditFilter{Namespace: strings.TrimSpace(c.QueryParam("namespace")), Actor: strings.TrimSpace(c.QueryParam("actor")),
		Action: strings.TrimSpace(c.QueryParam("action")), Limit: 200}
	if n, err := strconv.Atoi(c.QueryParam("limit")); err == nil && n > 0 && n <= 1000 {
		f.Limit = n
	}
	events, err := h.visibleAudit(c, f)
	if err != nil {
		return h.fail(c, "the audit log", err)
	}
	c.Response().Header().Add("Vary", "Accept")
	if wantsJSON(c) {
		return c.JSON(http.StatusOK, auditJSON(events, f.Limit))
	}
	m := views.AuditPage{Page: h.page(c, "Audit log", home(), views.Crumb{Label: "Audit log"}),
		Namespace: f.Namespace, Actor: f.Actor, Action: f.Action, Actions: auditActions, Limit: f.Limit}
	if seesAll(c) {
		nss, err := h.Store.ListNamespaces(ctx)
		if err != nil {
			return h.fail(c, "the audit log", err)
		}
		for _, n := range nss {
			m.Namespaces = append(m.Namespaces, n.Name)
		}
	} else {
		for ns, role := range principal(c).Roles {
			if role >= store.RoleViewer {
				m.Namespaces = append(m.Namespaces, ns)
			}
		}
		sort.Strings(m.Namespaces)
	}
	if f.Namespace != "" && canSee(c, f.Namespace) && !slices.Contains(m.Namespaces, f.Namespace) {
		m.Namespaces = append(m.Namespaces, f.Namespace)
	}
	for _, e := range events {
		row := views.AuditRow{At: e.At, Actor: e.Actor, Namespace: e.Namespace, Action: e.Action, Target: e.Target,
			Before: e.Before, After: e.After}
		if e.Namespace != "" {
			row.NamespaceHref = views.NamespaceHref(e.Namespace)
		}
		if strings.HasPrefix(e.Action, "tag.") && e.Action != "tag.delete" {
			if ref, err := store.ParseTagRef(e.Target, e.Namespace); err == nil && ref.Namespace == e.Namespace {
				row.TargetHref = views.TagHref(ref.Namespace, ref.Stream, ref.Tag)
			}
		}
		if ns, digest, ok := strings.Cut(e.Target, "@"); ok && strings.HasPrefix(e.Action, "image.") && ns == e.Namespace && store.ValidateDigest(digest) == nil {
			row.TargetHref = views.ImageHref(digest)
		}
		m.Events = append(m.Events, row)
	}
	return render(c, http.StatusOK, views.ViewAudit(m))
}
