package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/store"
	"layerwise/views"
)

const perPage = 50

// trendWindow is how far back sparklines look.
const trendWindow = 90 * 24 * time.Hour

// pageNumber reads ?page=N (1-based), clamped to the pages there are.
func pageNumber(c echo.Context, total int) (page, pages int) {
	pages = (total + perPage - 1) / perPage
	if pages < 1 {
		pages = 1
	}
	page, _ = strconv.Atoi(c.QueryParam("page"))
	if page < 1 {
		page = 1
	}
	if page > pages {
		page = pages
	}
	return page, pages
}

func pager(c echo.Context, page, pages, total int) views.Pager {
	p := views.Pager{Page: page, Pages: pages, Total: total}
	link := func(n int) string {
		q := c.QueryParams()
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		return c.Request().URL.Path + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevHref = link(page - 1)
	}
	if page < pages {
		p.NextHref = link(page + 1)
	}
	return p
}

func points(snaps []store.UsageSnapshot) []views.Point {
	out := make([]views.Point, len(snaps))
	for i, s := range snaps {
		out[i] = views.Point{At: s.TakenAt, Bytes: s.Bytes}
	}
	return out
}

// threshold is a namespace's own threshold or the global default.
func (h *Handler) threshold(ns store.Namespace) int64 {
	return ns.Threshold(h.Threshold)
}

// Overview is "/": the registry total and the namespaces ranked by usage.
func (h *Handler) Overview(c echo.Context) error {
	ctx := c.Request().Context()
	m := views.Overview{Page: h.page(c, "Overview", views.Crumb{Label: "Overview"})}
	head, err := cached(ctx, h, "usage-head", func() (store.UsageHead, error) { return h.Store.ReadUsageHead(ctx) })
	if err != nil {
		return h.fail(c, "usage", err)
	}
	var only []string
	if seesAll(c) {
		m.RegistryBytes, m.RegistryBlobs = head.Registry.Bytes, head.Registry.Blobs
		m.ReclaimableBytes, m.UnknownImages = head.Registry.ReclaimableBytes, head.Registry.UnknownImages
	} else {
		// Not the registry's figures: they count other namespaces.
		m.Scoped = true
		only = scopeOf(c).Namespaces
		if only == nil {
			only = []string{}
		}
		sum, err := h.scopedSum(c)
		if err != nil {
			return h.fail(c, "usage", err)
		}
		m.RegistryBytes, m.ReclaimableBytes = sum.Bytes, sum.ReclaimableBytes
	}
	m.Sort = c.QueryParam("sort")
	if _, ok := store.NamespaceOrders[m.Sort]; !ok {
		m.Sort = "size"
	}
	m.SortHrefs = map[string]string{}
	for k := range store.NamespaceOrders {
		m.SortHrefs[k] = "/?sort=" + k
	}
	// One page of the namespaces the user sees, ordered and cut in SQL,
	// with the count, those over their threshold and the biggest over all.
	want, _ := strconv.Atoi(c.QueryParam("page"))
	q := store.NamespaceQuery{Order: m.Sort, Only: only, DefaultThreshold: h.Threshold, Offset: (max(want, 1) - 1) * perPage, Limit: perPage}
	read := func(q store.NamespaceQuery) (store.NamespaceRanking, error) {
		return cached(ctx, h, fmt.Sprintf("ranking\x00%s\x00%d\x00%s", q.Order, q.Offset, strings.Join(q.Only, ",")), func() (store.NamespaceRanking, error) {
			return h.Store.ReadNamespaces(ctx, q)
		})
	}
	ranked, err := read(q)
	if err != nil {
		return h.fail(c, "namespaces", err)
	}
	page, pages := pageNumber(c, ranked.Total)
	if page != max(want, 1) { // asked past the end: the last page
		q.Offset = (page - 1) * perPage
		if ranked, err = read(q); err != nil {
			return h.fail(c, "namespaces", err)
		}
	}
	m.NamespaceCount, m.OverCount = ranked.Total, ranked.Over
	m.Pager = pager(c, page, pages, ranked.Total)
	for _, n := range ranked.Rows {
		m.Namespaces = append(m.Namespaces, views.NamespaceBar{Name: n.Name, Streams: n.StreamCount, Bytes: n.Bytes,
			ExclusiveBytes: n.ExclusiveBytes, ReclaimableBytes: n.ReclaimableBytes, ThresholdBytes: n.Threshold,
			Over: n.Over(), Fraction: fraction(n.Bytes, ranked.Biggest)})
	}
	if err := h.rowTrends(c, m.Namespaces); err != nil {
		return h.fail(c, "trends", err)
	}
	if sc := scopeOf(c); sc != nil {
		m.Scoped = true
		m.Trend, _ = h.trendOf(ctx, sc.Namespaces)
	} else {
		m.Trend, _ = h.trend(ctx, "")
	}
	m.Jobs, err = h.jobStatuses(c)
	if err != nil {
		return h.fail(c, "jobs", err)
	}
	return render(c, http.StatusOK, views.ViewOverview(m))
}

func (h *Handler) jobStatuses(c echo.Context) ([]views.JobStatus, error) {
	last, err := h.Store.LastJobRuns(c.Request().Context())
	if err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	var out []views.JobStatus
	seen := map[string]bool{}
	if h.Jobs != nil {
		for _, j := range h.Jobs.Statuses() {
			js := views.JobStatus{Name: j.Name, Schedule: j.Schedule, Words: j.Words}
			if !j.Next.IsZero() {
				next := j.Next
				js.Next = &next
			}
			if r, ok := last[j.Name]; ok {
				r := runsFor(c, []store.JobRun{r})[0]
				js.Last = &r
			}
			seen[j.Name] = true
			out = append(out, js)
		}
	}
	// Jobs that ran elsewhere (another process, the CLI) still show.
	var rest []string
	for name := range last {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		r := runsFor(c, []store.JobRun{last[name]})[0]
		out = append(out, views.JobStatus{Name: name, Schedule: "not scheduled here", Last: &r})
	}
	return out, nil
}

// scopedSum is the figures of the namespaces the request sees, summed:
// what the overview and GET /api/v1/usage show a user who is not a
// platform admin instead of the registry's. A sum, not counted once: the
// stored figures are per namespace, not the blob sets a union over any set
// of namespaces would need, so a blob two of the user's namespaces share
// counts in each; with one namespace the sum is exact. The labels say so.
func (h *Handler) scopedSum(c echo.Context) (store.RegistryUsage, error) {
	var sum store.RegistryUsage
	only := []string{}
	if sc := scopeOf(c); sc != nil {
		only = sc.Namespaces
	}
	rows, err := cached(c.Request().Context(), h, "scoped\x00"+strings.Join(only, ","), func() (store.NamespaceRanking, error) {
		return h.Store.ReadNamespaces(c.Request().Context(), store.NamespaceQuery{Only: only})
	})
	if err != nil {
		return sum, err
	}
	for _, n := range rows.Rows {
		sum.Bytes += n.Bytes
		sum.ReclaimableBytes += n.ReclaimableBytes
	}
	return sum, nil
}

// trendOf is the summed recent snapshots of a set of namespaces.
func (h *Handler) trendOf(ctx context.Context, namespaces []string) ([]views.Point, error) {
	return cached(ctx, h, "trendof\x00"+strings.Join(namespaces, ","), func() ([]views.Point, error) {
		snaps, err := h.Store.TrendOf(ctx, namespaces, h.now().Add(-trendWindow))
		return points(snaps), err
	})
}

// trend is a namespace's ("" = the registry's) recent snapshots.
func (h *Handler) trend(ctx context.Context, ns string) ([]views.Point, error) {
	return cached(ctx, h, "trend\x00"+ns, func() ([]views.Point, error) {
		snaps, err := h.Store.Trend(ctx, ns, h.now().Add(-trendWindow))
		return points(snaps), err
	})
}

// rowTrends fills each row's sparkline: its snapshots of the last 90 days
// (one query for the page), then today's usage.
func (h *Handler) rowTrends(c echo.Context, rows []views.NamespaceBar) error {
	if len(rows) == 0 {
		return nil
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	trends, err := cached(c.Request().Context(), h, "rowtrends\x00"+strings.Join(names, ","), func() (map[string][]store.UsageSnapshot, error) {
		return h.Store.NamespaceTrends(c.Request().Context(), names, h.now().Add(-trendWindow))
	})
	if err != nil {
		return err
	}
	now := h.now()
	for i := range rows {
		pts := points(trends[rows[i].Name])
		if len(pts) > 0 {
			pts = append(pts, views.Point{At: now, Bytes: rows[i].Bytes})
		}
		rows[i].Trend = pts
	}
	return nil
}
