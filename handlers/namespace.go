package handlers

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/bytesum"
	"layerwise/store"
	"layerwise/views"
)

// Namespace is "/ns/{ns}": its streams with sizes, filter, sort and pages.
func (h *Handler) Namespace(c echo.Context) error {
	ctx := c.Request().Context()
	name := c.Param("ns")
	if err := store.ValidateNamespace(name); err != nil || !canSee(c, name) {
		return h.notFound(c, "namespace "+name, name)
	}
	ns, err := cached(ctx, h, "namespace\x00"+name, func() (store.Namespace, error) { return h.Store.GetNamespace(ctx, name) })
	if err != nil {
		return h.failWith(c, "namespace "+name, err, name)
	}
	m := views.NamespacePage{Page: h.page(c, name, home(), views.Crumb{Label: name}),
		Name: name, Contacts: ns.ContactList(), ThresholdBytes: h.threshold(ns),
		CanAdmin: principal(c).Can(name, store.RoleAdmin)}
	m.Filter = strings.TrimSpace(c.QueryParam("q"))
	m.Sort = c.QueryParam("sort")
	if _, ok := streamOrders[m.Sort]; !ok {
		m.Sort = "size"
	}
	// Cached under the data version this request read, as everything on
	// the page: a change on any replica shows on the next request.
	nu, err := cached(ctx, h, "namespace-usage\x00"+name, func() (store.NamespaceUsage, error) { return h.Store.ReadNamespaceUsage(ctx, name) })
	if err != nil {
		return h.failWith(c, "namespace "+name, err, name)
	}
	var rows []views.StreamRow
	{
		m.Bytes, m.ExclusiveBytes, m.ReclaimableBytes = nu.Bytes, nu.ExclusiveBytes, nu.ReclaimableBytes
		m.Over = m.ThresholdBytes > 0 && nu.Bytes >= m.ThresholdBytes
		m.StreamCount = len(nu.Streams)
		var biggest int64
		for _, st := range nu.Streams {
			biggest = max(biggest, st.Bytes)
		}
		signed, err := cached(ctx, h, "signatures\x00"+name, func() (map[string]store.StreamSigned, error) { return h.Store.StreamSignatures(ctx, name) })
		if err != nil {
			return h.fail(c, "namespace "+name, err)
		}
		filter := strings.ToLower(m.Filter)
		for _, st := range nu.Streams {
			if filter != "" && !strings.Contains(st.Name, filter) {
				continue
			}
			rows = append(rows, views.StreamRow{Name: st.Name, Href: views.StreamHref(name, st.Name), Tags: len(st.Tags),
				UniqueImages: st.UniqueImages, Bytes: st.Bytes, ExclusiveBytes: st.ExclusiveBytes, Updated: st.Updated,
				Fraction: fraction(st.Bytes, biggest), Signed: signed[st.Name].Signed, SignedOf: signed[st.Name].Tags})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return streamOrders[m.Sort](rows[i], rows[j]) })
	page, pages := pageNumber(c, len(rows))
	m.Pager = pager(c, page, pages, len(rows))
	m.Streams = rows[(page-1)*perPage : min(page*perPage, len(rows))]
	m.SortHrefs = map[string]string{}
	for s := range streamOrders {
		v := url.Values{"sort": {s}}
		if m.Filter != "" {
			v.Set("q", m.Filter)
		}
		m.SortHrefs[s] = views.NamespaceHref(name) + "?" + v.Encode()
	}
	m.Trend, _ = h.trend(ctx, name)
	if m.Chart, err = h.usageChart(c, ns, m); err != nil {
		return h.fail(c, "usage over time of "+name, err)
	}
	c.Response().Header().Add("Vary", "HX-Request")
	if isHTMX(c) {
		return render(c, http.StatusOK, views.NamespaceStreams(m))
	}
	return render(c, http.StatusOK, views.ViewNamespace(m))
}

// streamOrders are the namespace page's sort orders, one a column: names
// A–Z, the figures biggest first, the newest update first; ties keep the
// name order.
var streamOrders = map[string]func(a, b views.StreamRow) bool{
	"name":      func(a, b views.StreamRow) bool { return a.Name < b.Name },
	"tags":      func(a, b views.StreamRow) bool { return a.Tags > b.Tags },
	"images":    func(a, b views.StreamRow) bool { return a.UniqueImages > b.UniqueImages },
	"size":      func(a, b views.StreamRow) bool { return a.Bytes > b.Bytes },
	"exclusive": func(a, b views.StreamRow) bool { return a.ExclusiveBytes > b.ExclusiveBytes },
	"updated":   func(a, b views.StreamRow) bool { return a.Updated.After(b.Updated) },
}

// failWith is fail with search terms for the 404's suggestions.
func (h *Handler) failWith(c echo.Context, what string, err error, query ...string) error {
	if errorsIsNotFound(err) {
		return h.notFound(c, what, query...)
	}
	return h.fail(c, what, err)
}

// usageChart is the namespace's snapshots of the last 90 days, then
// today's figures, with the change since last week's snapshot (the rule
// the weekly e-mail uses: store.LastWeekSnapshots).
func (h *Handler) usageChart(c echo.Context, ns store.Namespace, m views.NamespacePage) (views.UsageChart, error) {
	ctx := c.Request().Context()
	ch := views.UsageChart{Threshold: m.ThresholdBytes}
	type trendData struct {
		snaps    []store.UsageSnapshot
		lastWeek map[int64]store.UsageSnapshot
	}
	d, err := cached(ctx, h, "chart\x00"+ns.Name, func() (trendData, error) {
		var d trendData
		var err error
		if d.snaps, err = h.Store.Trend(ctx, ns.Name, h.now().Add(-trendWindow)); err != nil {
			return d, err
		}
		d.lastWeek, err = h.Store.LastWeekSnapshots(ctx, h.now())
		return d, err
	})
	if err != nil {
		return ch, err
	}
	for _, s := range d.snaps {
		ch.Points = append(ch.Points, views.ChartPoint{At: s.TakenAt, Bytes: s.Bytes, Exclusive: s.ExclusiveBytes, Reclaimable: s.ReclaimableBytes})
	}
	ch.Points = append(ch.Points, views.ChartPoint{At: h.now(), Bytes: m.Bytes, Exclusive: m.ExclusiveBytes, Reclaimable: m.ReclaimableBytes, Live: true})
	if s, ok := d.lastWeek[ns.ID]; ok {
		ch.WeekChange, ch.WeekAgo, ch.WeekBytes = bytesum.Diff(m.Bytes, s.Bytes), s.TakenAt, s.Bytes
	}
	return ch, nil
}
