package handlers

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/store"
)

// APIAuditEvent is one audit record in the API.
type APIAuditEvent struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Namespace string    `json:"namespace"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Before    string    `json:"before"`
	After     string    `json:"after"`
}

// APIAuditList is GET /api/v1/audit's answer, newest first (the shape of
// GET /audit?format=json).
type APIAuditList struct {
	Events []APIAuditEvent `json:"events"`
	Limit  int             `json:"limit"`
}

// APIAudit is GET /api/v1/audit?namespace=&actor=&action=&limit=. Platform
// admins see every event; other users the events of the namespaces they
// hold any role in (viewer and up), and their own events outside any
// namespace — as the /audit page shows them. A namespace filter naming a
// namespace the caller cannot see is 404, like a missing one.
func (h *Handler) APIAudit(c echo.Context) error {
	ctx := c.Request().Context()
	f := store.AuditFilter{Namespace: c.QueryParam("namespace"), Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Limit: 200}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return WriteAPIError(c, http.StatusBadRequest, "limit must be a number from 1 to 1000")
		}
		f.Limit = n
	}
	if f.Namespace != "" && !canSee(c, f.Namespace) {
		return h.apiFail(c, apiNamespaceNotFound(f.Namespace))
	}
	var events []store.AuditEvent
	if f.Namespace != "" || seesAll(c) {
		var err error
		if events, err = h.Store.AuditLog(ctx, f); err != nil {
			return h.apiFail(c, err)
		}
	} else {
		// One query per namespace the user holds a role in: a handful.
		for ns, role := range principal(c).Roles {
			if role < store.RoleViewer {
				continue
			}
			nf := f
			nf.Namespace = ns
			evs, err := h.Store.AuditLog(ctx, nf)
			if err != nil {
				return h.apiFail(c, err)
			}
			events = append(events, evs...)
		}
		if p := principal(c); f.Actor == "" || f.Actor == p.User {
			own := f
			own.Actor = p.User
			evs, err := h.Store.AuditLog(ctx, own)
			if err != nil {
				return h.apiFail(c, err)
			}
			for _, ev := range evs {
				if ev.Namespace == "" {
					events = append(events, ev)
				}
			}
		}
		sort.Slice(events, func(i, j int) bool { return events[i].ID > events[j].ID })
		if len(events) > f.Limit {
			events = events[:f.Limit]
		}
	}
	out := APIAuditList{Events: make([]APIAuditEvent, 0, len(events)), Limit: f.Limit}
	for _, ev := range events {
		out.Events = append(out.Events, APIAuditEvent{ID: ev.ID, At: ev.At.UTC(), Actor: ev.Actor, Namespace: ev.Namespace,
			Action: ev.Action, Target: ev.Target, Before: ev.Before, After: ev.After})
	}
	return c.JSON(http.StatusOK, out)
}
