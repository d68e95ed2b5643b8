package handlers

import (
	"context"
	"layerwise/format/jsonlist"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

// Who sees which plan: a platform admin (and an install without accounts)
// sees the whole plan, images no tag references included; anyone else sees
// the plan of the namespaces they hold a role in: those namespaces'
// revisions, the images and blobs their removal frees and those bytes
// (counted once). Only platform admins run prune (the CLI or the job).

func (h *Handler) policy() store.Policy {
	if h.Policy != nil {
		return *h.Policy
	}
	return store.DefaultPolicy
}

// visiblePlan is the plan as the caller may see it.
func (h *Handler) visiblePlan(c echo.Context) (*store.PrunePlan, error) {
	return h.visiblePlanWith(c, store.PlanOptions{})
}

// visiblePlanWith is visiblePlan with options (the kept revisions).
func (h *Handler) visiblePlanWith(c echo.Context, opt store.PlanOptions) (*store.PrunePlan, error) {
	var filter *store.PlanFilter
	key := "*"
	if !seesAll(c) {
		p := principal(c)
		filter = &store.PlanFilter{Namespaces: []string{}}
		for ns, role := range p.Roles {
			if role >= store.RoleViewer {
				filter.Namespaces = append(filter.Namespaces, ns)
			}
		}
		sort.Strings(filter.Namespaces)
		key = strings.Join(filter.Namespaces, ",")
	}
	// Cached until the data changes (a change here, or the usage
	// fingerprint moving after a change elsewhere).
	if opt.Kept {
		key += ":kept"
	}
	return cached(c.Request().Context(), h, "prune-plan:"+key, func() (*store.PrunePlan, error) {
		return h.Store.PlanPruneWith(c.Request().Context(), h.policy(), filter, opt)
	})
}

// namespacePlan is one visible namespace's plan with its kept revisions
// (the /prune page's detail).
func (h *Handler) namespacePlan(c echo.Context, ns string) (*store.PrunePlan, error) {
	return cached(c.Request().Context(), h, "prune-plan-ns:"+ns, func() (*store.PrunePlan, error) {
		return h.Store.PlanPruneWith(c.Request().Context(), h.policy(), &store.PlanFilter{Namespaces: []string{ns}}, store.PlanOptions{Kept: true})
	})
}

// planJSON is a plan whose kept revisions are streamed after its lists.
type planJSON struct {
	*store.PrunePlan
	Kept []store.PruneRevision `json:"kept"`
}

// APIPrunePlan is GET /api/v1/prune/plan: `prune -o json`, a dry run;
// ?kept=true adds every kept revision with its reason (prune --show-kept).
func (h *Handler) APIPrunePlan(c echo.Context) error {
	var opt store.PlanOptions
	switch c.QueryParam("kept") {
	case "", "false", "0":
	case "true", "1":
		opt.Kept = true
	default:
		return h.apiFail(c, apiErrorf(http.StatusBadRequest, "kept=%q: want kept=true or kept=false", c.QueryParam("kept")))
	}
	p, err := h.visiblePlanWith(c, opt)
	if err != nil {
		return h.apiFail(c, err)
	}
	// The plan is cached and shared: stream its lists from a copy without them.
	head := *p
	head.Revisions, head.Images, head.Kept = nil, nil, nil
	lists := []jsonlist.List{
		{Key: "revisions", Len: len(p.Revisions), Item: func(i int) any { return p.Revisions[i] }},
		{Key: "images", Len: len(p.Images), Item: func(i int) any { return p.Images[i] }}}
	if !opt.Kept {
		return writeJSONLists(c, &head, lists...)
	}
	return writeJSONLists(c, planJSON{PrunePlan: &head}, append(lists,
		jsonlist.List{Key: "kept", Len: len(p.Kept), Item: func(i int) any { return p.Kept[i] }})...)
}

// PrunePage is "/prune": what the next run removes, grouped by namespace
// and stream, and the past runs.
func (h *Handler) PrunePage(c echo.Context) error {
	ctx := c.Request().Context()
	m := views.PrunePage{Page: h.page(c, "Prune", home(), views.Crumb{Label: "Prune"}), All: seesAll(c),
		Run: h.runControl(c, "prune"), Flash: h.runFlash(c)}
	var err error
	if m.Plan, err = h.visiblePlan(c); err != nil {
		return h.fail(c, "prune", err)
	}
	// One namespace's revisions at a time: the whole plan of a large
	// registry is hundreds of thousands of rows.
	detail := c.QueryParam("ns")
	if detail == "" && len(m.Plan.Namespaces) == 1 {
		detail = m.Plan.Namespaces[0].Name
	}
	for i := range m.Plan.Namespaces {
		if n := &m.Plan.Namespaces[i]; n.Name == detail {
			m.Detail = n
		}
	}
	if m.Detail != nil {
		m.DetailRevisions = map[string][]store.PruneRevision{}
		images := map[string]bool{}
		for _, r := range m.Plan.Revisions {
			if r.Namespace == detail {
				m.DetailRevisions[r.Stream] = append(m.DetailRevisions[r.Stream], r)
				images[r.Image] = r.Referrers > 0
			}
		}
		m.DetailReferrers = map[string][]store.PruneReferrer{}
		for _, r := range m.Plan.Referrers {
			if !r.Orphaned && images[r.Subject] {
				m.DetailReferrers[r.Subject] = append(m.DetailReferrers[r.Subject], r)
			}
		}
	}
	for _, r := range m.Plan.Referrers {
		if r.Orphaned {
			m.OrphanCount++
			if len(m.Orphans) < views.MaxOrphansShown {
				m.Orphans = append(m.Orphans, r)
			}
		}
	}
	// What the detail namespace keeps, and why (its own plan: the whole
	// registry's kept revisions would be most of its history).
	if detail != "" && store.ValidateNamespace(detail) == nil && canSee(c, detail) {
		np, err := h.namespacePlan(c, detail)
		if err != nil {
			return h.fail(c, "prune", err)
		}
		m.DetailKept = np.Kept
		if rules, err := h.Store.RetentionRules(ctx, detail); err == nil {
			for _, r := range rules {
				m.DetailRules = append(m.DetailRules, r.String())
			}
		}
		if m.Detail == nil && len(np.Kept) > 0 {
			m.Detail = &store.PruneNamespace{Name: detail, Streams: []store.PruneStream{}}
		}
	}
	if m.InUse, err = h.Store.InUseReads(ctx); err != nil {
		return h.fail(c, "prune", err)
	}
	if m.Runs, err = h.Store.JobRunsOf(ctx, "prune", 30); err != nil {
		return h.fail(c, "prune", err)
	}
	m.Runs = runsFor(c, m.Runs)
	if h.Jobs != nil {
		for _, j := range h.Jobs.Statuses() {
			if j.Name == "prune" {
				m.Schedule, m.Next = j.Schedule, j.Next
			}
		}
	}
	pins, err := h.Store.Pins(ctx, "", "")
	if err != nil {
		return h.fail(c, "prune", err)
	}
	for _, p := range pins {
		if canSee(c, p.Namespace) {
			m.Pins = append(m.Pins, p)
		}
	}
	return render(c, http.StatusOK, views.ViewPrune(m))
}

// PinForm is POST /ns/{ns}/istag/{name}:{tag}/pin (image, note).
func (h *Handler) PinForm(c echo.Context) error { return h.pinForm(c, true) }

// UnpinForm is POST /ns/{ns}/istag/{name}:{tag}/unpin (image).
func (h *Handler) UnpinForm(c echo.Context) error { return h.pinForm(c, false) }

func (h *Handler) pinForm(c echo.Context, pin bool) error {
	ref, b, ae, ok, err := h.tagForm(c, "pin", "image")
	if !ok {
		return err
	}
	digest := ae.Digest
	if digest == "" {
		return h.formFailed(c, b, ae, formInvalid("choose the image to pin"), views.AddTagForm{})
	}
	code := "pinned"
	if pin {
		var changed bool
		changed, err = h.Change.Pin(c.Request().Context(), principal(c), ref.Namespace, digest, c.FormValue("note"))
		if !changed {
			code = "samepin"
		}
	} else {
		code = "unpinned"
		err = h.Change.Unpin(c.Request().Context(), principal(c), ref.Namespace, digest)
	}
	if err != nil {
		return h.formFailed(c, b, ae, err, views.AddTagForm{})
	}
	via := "pin"
	if !pin {
		via = "unpin"
	}
	return h.formOK(c, b, formDone{code: code, tag: ref.Tag, image: digest, via: via})
}

// pinsOfTag are the namespace's pins of the images in a tag's history.
func (h *Handler) pinsOfTag(ctx context.Context, ns string, t views.TagView) (map[string]store.PinInfo, error) {
	pins, err := cached(ctx, h, "pins\x00"+ns, func() ([]store.PinInfo, error) { return h.Store.Pins(ctx, ns, "") })
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, r := range t.History {
		in[r.Image] = true
	}
	out := map[string]store.PinInfo{}
	for _, p := range pins {
		if in[p.Image] {
			out[p.Image] = p
		}
	}
	return out, nil
}

type pinBody struct {
	Note string `json:"note"`
}

// APIPins is GET /api/v1/namespaces/{ns}/pins.
func (h *Handler) APIPins(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	pins, err := h.Store.Pins(c.Request().Context(), ns, "")
	if err != nil {
		return h.apiFail(c, err)
	}
	if pins == nil {
		pins = []store.PinInfo{}
	}
	return c.JSON(http.StatusOK, map[string]any{"pins": pins})
}

// APIPin is PUT /api/v1/namespaces/{ns}/pins/{digest} {"note": "…"}.
func (h *Handler) APIPin(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ns, store.RoleEditor); err != nil {
		return h.apiFail(c, err)
	}
	var body pinBody
	if c.Request().ContentLength != 0 {
		if err := apiDecode(c, &body); err != nil {
			return h.apiFail(c, err)
		}
	}
	digest := apiParam(c, "digest")
	if _, err := h.Change.Pin(c.Request().Context(), principal(c), ns, digest, body.Note); err != nil {
		return h.apiFail(c, err)
	}
	pins, err := h.Store.Pins(c.Request().Context(), ns, digest)
	if err != nil || len(pins) == 0 {
		return h.apiFail(c, err)
	}
	return c.JSON(http.StatusOK, pins[0])
}

// APIUnpin is DELETE /api/v1/namespaces/{ns}/pins/{digest}.
func (h *Handler) APIUnpin(c echo.Context) error {
	ns, err := apiNamespace(c)
	if err != nil {
		return h.apiFail(c, err)
	}
	if err := apiNeed(c, ns, store.RoleEditor); err != nil {
		return h.apiFail(c, err)
	}
	if err := h.Change.Unpin(c.Request().Context(), principal(c), ns, apiParam(c, "digest")); err != nil {
		return h.apiFail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}
