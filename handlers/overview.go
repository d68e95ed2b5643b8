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
	u := h.Usage.Get()
	// Namespace settings by name, once per data version.
	byName, err := cached(h, "namespaces", func() (map[string]store.Namespace, error) {
		nss, err := h.Store.ListNamespaces(ctx)
		out := make(map[string]store.Namespace, len(nss))
		for _, n := range nss {
			out[n.Name] = n
		}
		return out, err
	})
	if err != nil {
		return h.fail(c, "namespaces", err)
	}
	if u == nil {
		m.Computing = true
		m.NamespaceCount = len(byName)
	} else {
		if seesAll(c) {
			m.RegistryBytes, m.RegistryBlobs = u.Registry.Bytes, u.Registry.Blobs
			m.ReclaimableBytes, m.UnknownImages = u.Registry.ReclaimableBytes, u.Registry.UnknownImages
		} else {
			// Not the registry's figures: they count other namespaces.
			m.Scoped = true
			sum := scopedSum(c, u)
			m.RegistryBytes, m.ReclaimableBytes = sum.Bytes, sum.ReclaimableBytes
		}
		m.Sort = c.QueryParam("sort")
		if _, ok := namespaceOrders[m.Sort]; !ok {
			m.Sort = "size"
		}
		m.SortHrefs = map[string]string{}
		for k := range namespaceOrders {
			m.SortHrefs[k] = "/?sort=" + k
		}
		// Ranked once per data version and order, not per request.
		ranked, _ := cached(h, "ranking\x00"+m.Sort, func() ([]*store.NamespaceUsage, error) {
			r := make([]*store.NamespaceUsage, len(u.Namespaces))
			for i := range u.Namespaces {
				r[i] = &u.Namespaces[i]
			}
			less := namespaceOrders[m.Sort]
			sort.SliceStable(r, func(i, j int) bool {
				return less(nsRow{r[i], h.threshold(byName[r[i].Name])}, nsRow{r[j], h.threshold(byName[r[j].Name])})
			})
			return r, nil
		})
		// One pass: count what the user sees and build bars only for the
		// page shown (2,000 bars per request would be mostly garbage).
		visible := 0
		for _, n := range ranked {
			if !canSee(c, n.Name) {
				continue
			}
			visible++
			if th := h.threshold(byName[n.Name]); th > 0 && n.Bytes >= th {
				m.OverCount++
			}
		}
		m.NamespaceCount = visible
		page, pages := pageNumber(c, visible)
		m.Pager = pager(c, page, pages, visible)
		var biggest int64
		for _, n := range ranked {
			if canSee(c, n.Name) {
				biggest = max(biggest, n.Bytes)
			}
		}
		i := 0
		for _, n := range ranked {
			if !canSee(c, n.Name) {
				continue
			}
			if i >= (page-1)*perPage && i < page*perPage {
				th := h.threshold(byName[n.Name])
				m.Namespaces = append(m.Namespaces, views.NamespaceBar{Name: n.Name, Streams: len(n.Streams), Bytes: n.Bytes,
					ExclusiveBytes: n.ExclusiveBytes, ReclaimableBytes: n.ReclaimableBytes, ThresholdBytes: th,
					Over: th > 0 && n.Bytes >= th, Fraction: fraction(n.Bytes, biggest)})
			}
			i++
		}
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

// nsRow is a namespace's usage with its threshold, as the overview sorts it.
type nsRow struct {
	*store.NamespaceUsage
	threshold int64
}

// used is the share of its threshold a namespace uses (-1: no threshold).
func (n nsRow) used() float64 {
	if n.threshold <= 0 {
		return -1
	}
	return float64(n.Bytes) / float64(n.threshold)
}

// namespaceOrders are the overview's sort orders, one a column: names A–Z,
// the figures biggest first, the threshold by how much of it is used.
var namespaceOrders = map[string]func(a, b nsRow) bool{
	"name":        func(a, b nsRow) bool { return a.Name < b.Name },
	"size":        func(a, b nsRow) bool { return a.Bytes > b.Bytes },
	"exclusive":   func(a, b nsRow) bool { return a.ExclusiveBytes > b.ExclusiveBytes },
	"reclaimable": func(a, b nsRow) bool { return a.ReclaimableBytes > b.ReclaimableBytes },
	"threshold":   func(a, b nsRow) bool { return a.used() > b.used() },
	"streams":     func(a, b nsRow) bool { return len(a.Streams) > len(b.Streams) },
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
// usage pass keeps per-namespace figures, not the blob sets a union over
// any set of namespaces would need (millions of (namespace, blob) pairs on
// a large registry), so a blob two of the user's namespaces share counts
// in each; with one namespace the sum is exact. The labels say so.
func scopedSum(c echo.Context, u *store.Usage) store.RegistryUsage {
	var sum store.RegistryUsage
	for _, n := range u.Namespaces {
		if canSee(c, n.Name) {
			sum.Bytes += n.Bytes
			sum.ReclaimableBytes += n.ReclaimableBytes
		}
	}
	return sum
}

// trendOf is the summed recent snapshots of a set of namespaces.
func (h *Handler) trendOf(ctx context.Context, namespaces []string) ([]views.Point, error) {
	return cached(h, "trendof\x00"+strings.Join(namespaces, ","), func() ([]views.Point, error) {
		snaps, err := h.Store.TrendOf(ctx, namespaces, h.now().Add(-trendWindow))
		return points(snaps), err
	})
}

// trend is a namespace's ("" = the registry's) recent snapshots.
func (h *Handler) trend(ctx context.Context, ns string) ([]views.Point, error) {
	return cached(h, "trend\x00"+ns, func() ([]views.Point, error) {
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
	trends, err := cached(h, "rowtrends\x00"+strings.Join(names, ","), func() (map[string][]store.UsageSnapshot, error) {
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
