// Package handlers holds the echo handlers: HTML pages now, form actions
// and the JSON API as they land. Each page fills a views model from the
// store (the usage figures too: stored by every write) and renders one templ component.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"layerwise/buildinfo"
	"layerwise/change"
	"layerwise/jobs"
	"layerwise/jobs/registry"
	"layerwise/store"
	"layerwise/views"
)

// JobLister lists the scheduled jobs; nil when jobs are off.
type JobLister interface {
	Statuses() []JobInfo
}

// JobInfo is a scheduled job as the overview shows it.
type JobInfo struct {
	Name     string
	Schedule string
	Words    string // the schedule in words; "" when there are none
	Next     time.Time
}

// Handler serves the pages.
type Handler struct {
	Store *store.Store
	Jobs  JobLister
	// Runner starts jobs by hand (the scheduler); nil when jobs are off.
	Runner change.JobRunner
	// MailConfigured: a mail server is set, so weekly-report can send.
	MailConfigured bool
	Log            *slog.Logger
	Threshold      int64 // the global report threshold (LAYERWISE_REPORT_THRESHOLD)
	Reports        jobs.ReportSettings
	// Change makes every change (role check, transaction, audit event,
	// write-through); nil serves pages only (read-only tests).
	Change   *change.Service
	Importer registry.Fetcher // reads images from registries; nil: importing answers 501
	Limiter  *LoginLimiter    // nil: no limit
	SSO      bool             // OpenID Connect login is offered
	// Policy is the global prune policy (namespaces may override it); the
	// zero value means store.DefaultPolicy.
	Policy *store.Policy
	// Build is the running binary, named in every page's footer.
	Build buildinfo.Info

	pages pageCache // pages' reads, dropped by every change (PagesChanged)
	Now   func() time.Time
}

// Context keys the web middleware sets.
const (
	UserKey      = "user"      // the logged-in user's name, string
	CSRFKey      = "csrf"      // the CSRF token for forms, string
	PrincipalKey = "principal" // *store.Principal; absent while no account exists
)

// principal is who is asking; nil in an install without accounts, where
// everything is readable and nothing can be changed.
func principal(c echo.Context) *store.Principal {
	p, _ := c.Get(PrincipalKey).(*store.Principal)
	return p
}

// canSee says whether the request may read a namespace: users see only
// the namespaces they hold a role in.
func canSee(c echo.Context, ns string) bool {
	p := principal(c)
	return p == nil || p.Can(ns, store.RoleViewer)
}

// scopeOf is what the request may read (nil: everything): the one rule
// for reads that name digests, which belong to no namespace of their own.
func scopeOf(c echo.Context) *store.Scope { return principal(c).Scope() }

// seesFunc says which namespaces the reader sees; nil: every one.
func seesFunc(c echo.Context) func(ns string) bool {
	sc := scopeOf(c)
	if sc == nil {
		return nil
	}
	return sc.Sees
}

// seesAll is true for platform admins and installs without accounts.
func seesAll(c echo.Context) bool {
	p := principal(c)
	return p == nil || p.PlatformAdmin
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now().UTC()
}

func (h *Handler) page(c echo.Context, title string, crumbs ...views.Crumb) views.Page {
	p := views.Page{Title: title, Crumbs: crumbs, Now: h.now(), Build: h.Build}
	p.User, _ = c.Get(UserKey).(string)
	p.CSRF, _ = c.Get(CSRFKey).(string)
	if pr := principal(c); pr != nil {
		p.Admin = pr.PlatformAdmin
	}
	// Bytes are read as of now; reclaimable figures are the stored plan's.
	p.UsageAt, _ = cached(c.Request().Context(), h, "plan-time", func() (time.Time, error) { return h.Store.PlanComputedAt(c.Request().Context()) })
	return p
}

func home() views.Crumb { return views.Crumb{Label: "Overview", Href: "/"} }

// render writes a component with a status; rendering into a buffer first
// means a template error becomes a clean 500, not half a page.
// The buffer comes from templ's pool: pages are tens of KiB, and a fresh
// buffer per request was much of the garbage behind GC tail latency.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// isHTMX tells a request from htmx that wants a fragment; a history
// restore (the back button) wants the whole page.
func isHTMX(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-History-Restore-Request") != "true"
}

// fail turns store errors into pages: not found → the helpful 404,
// invalid → 400, anything else → 500 (logged, not shown).
func (h *Handler) fail(c echo.Context, what string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return h.notFound(c, what)
	case errors.Is(err, store.ErrInvalid):
		p := h.page(c, "Bad request", home())
		return render(c, http.StatusBadRequest, views.ViewError(views.ErrorPage{Page: p, Status: http.StatusBadRequest, Message: err.Error()}))
	case errors.Is(err, context.Canceled):
		return err
	}
	h.Log.Error("page failed", "path", c.Request().URL.Path, "err", err)
	p := h.page(c, "Error", home())
	return render(c, http.StatusInternalServerError, views.ViewError(views.ErrorPage{Page: p, Status: http.StatusInternalServerError,
		Message: "Something went wrong on our side; the error is in the server log."}))
}

// notFound renders the helpful 404 with near matches for what was asked.
func (h *Handler) notFound(c echo.Context, what string, query ...string) error {
	p := h.page(c, "Not found", home())
	m := views.NotFoundPage{Page: p, What: what}
	for _, q := range query {
		// A typo ("apii") matches nothing; shorter and shorter prefixes
		// find the near names.
		for len(q) >= 3 {
			hits, err := h.Store.Search(c.Request().Context(), q, 10, scopeOf(c))
			if err != nil || len(hits) > 0 {
				m.Suggestions = append(m.Suggestions, h.results(c.Request().Context(), hits)...)
				break
			}
			q = q[:len(q)-1]
		}
	}
	return render(c, http.StatusNotFound, views.ViewNotFound(m))
}

// NotFound is echo's handler for unknown URLs.
func (h *Handler) NotFound(c echo.Context) error {
	return h.notFound(c, "page at "+c.Request().URL.Path)
}

func kvs(m map[string]string) []views.KV {
	out := make([]views.KV, 0, len(m))
	for k, v := range m {
		out = append(out, views.KV{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func fraction(part, whole int64) float64 {
	if whole <= 0 || part <= 0 {
		return 0
	}
	f := float64(part) / float64(whole)
	if f > 1 {
		return 1
	}
	return f
}
