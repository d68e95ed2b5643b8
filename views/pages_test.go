package views

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

func TestLayout(t *testing.T) {
	loggedIn := page("api")
	loggedIn.Query = "payments/a"
	anon := page("Log in")
	anon.User, anon.CSRF, anon.Crumbs = "", "", nil
	anon.UsageAt = time.Time{}

	t.Run("logged in", func(t *testing.T) {
		doc, _ := render(t, ViewSearch(SearchPage{Page: loggedIn}))
		if got := text(doc.Find("title")); got != "api · Layerwise" {
			t.Errorf("title = %q", got)
		}
		if doc.Find(`link[rel="stylesheet"][href="/static/style.css"]`).Length() != 1 {
			t.Error("no stylesheet link")
		}
		if doc.Find(`link[rel="icon"][href="/static/favicon.svg"]`).Length() != 1 {
			t.Error("no favicon link")
		}
		if s := doc.Find(`script[src="/static/htmx.min.js"]`); s.Length() != 1 || s.AttrOr("defer", "x") == "x" {
			t.Error("want <script src=/static/htmx.min.js defer>")
		}
		if a := doc.Find("header a.brand"); a.AttrOr("href", "") != "/" || !strings.Contains(text(a), "Layerwise") {
			t.Errorf("brand link = %q %q", a.AttrOr("href", ""), text(a))
		}
		for _, href := range []string{"/", "/jobs"} {
			if doc.Find(`nav.mainnav a[href="`+href+`"]`).Length() != 1 {
				t.Errorf("no navigation link to %s", href)
			}
		}
		form := doc.Find(`header form[action="/search"]`)
		if form.AttrOr("method", "") != "get" {
			t.Errorf("search form method = %q", form.AttrOr("method", ""))
		}
		q := form.Find(`input[name="q"]`)
		if q.AttrOr("value", "") != "payments/a" || q.AttrOr("placeholder", "") != "namespace, stream, tag or sha256:…" || q.AttrOr("aria-label", "") == "" {
			t.Errorf("search input: value %q placeholder %q aria-label %q", q.AttrOr("value", ""), q.AttrOr("placeholder", ""), q.AttrOr("aria-label", ""))
		}
		logout := doc.Find(`form[action="/logout"]`)
		if logout.AttrOr("method", "") != "post" {
			t.Fatalf("want a POST /logout form")
		}
		if v := logout.Find(`input[type="hidden"][name="_csrf"]`).AttrOr("value", ""); v != "tok-123" {
			t.Errorf("logout _csrf = %q, want tok-123", v)
		}
		if logout.Find("button").Length() != 1 {
			t.Error("logout form has no button")
		}
		if !strings.Contains(text(doc.Find("header")), "alice") {
			t.Error("user name not shown")
		}
		if doc.Find(`a[href="/login"]`).Length() != 0 {
			t.Error("a logged-in user sees a Log in link")
		}
		foot := doc.Find("footer time")
		if text(foot) != "3 minutes ago" || foot.AttrOr("title", "") != "2026-11-23 11:57:00 UTC" {
			t.Errorf("footer time = %q title %q", text(foot), foot.AttrOr("title", ""))
		}
		if !strings.Contains(text(doc.Find("footer")), "reclaimable bytes planned 3 minutes ago") {
			t.Errorf("footer = %q", text(doc.Find("footer")))
		}
		build := doc.Find("footer p.build")
		if got, want := text(build), "Layerwise v1.2.0 · commit 83aeb84a1b2c"; got != want {
			t.Errorf("footer build = %q, want %q", got, want)
		}
		if got, want := build.AttrOr("title", ""), "commit 83aeb84a1b2c3d4e5f60718293a4b5c6d7e8f901, 2026-12-02T13:31:00Z, go1.26.8"; got != want {
			t.Errorf("footer build title = %q, want %q", got, want)
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		doc, _ := render(t, ViewLogin(LoginPage{Page: anon}))
		if doc.Find(`form[action="/logout"]`).Length() != 0 {
			t.Error("anonymous page has a logout form")
		}
		if a := doc.Find(`header a[href="/login"]`); text(a) != "Log in" {
			t.Errorf("want a Log in link, got %q", text(a))
		}
		if doc.Find(`nav[aria-label="breadcrumb"]`).Length() != 0 {
			t.Error("breadcrumbs without crumbs")
		}
		if got := text(doc.Find("footer")); !strings.Contains(got, "reclaimable bytes not planned yet") {
			t.Errorf("footer = %q", got)
		}
	})

	t.Run("breadcrumbs", func(t *testing.T) {
		p := page("x")
		p.Crumbs = []Crumb{
			{Label: "Overview", Href: "/"},
			{Label: "payments", Href: NamespaceHref("payments")},
			{Label: hostileStream, Href: StreamHref("payments", hostileStream)},
			{Label: hostileStream + ":latest", Href: "/should-not-link"},
		}
		doc, _ := render(t, ViewError(ErrorPage{Page: p, Status: 500}))
		nav := doc.Find(`nav[aria-label="breadcrumb"]`)
		items := nav.Find("li")
		if items.Length() != 4 {
			t.Fatalf("crumbs = %d, want 4", items.Length())
		}
		if got := items.Eq(2).Find("a").AttrOr("href", ""); got != StreamHref("payments", hostileStream) {
			t.Errorf("crumb href = %q", got)
		}
		if text(items.Eq(2)) != hostileStream {
			t.Errorf("crumb text = %q, want the name as typed", text(items.Eq(2)))
		}
		last := items.Last()
		if last.Find("a").Length() != 0 || last.AttrOr("aria-current", "") != "page" {
			t.Error("the last crumb must be plain text with aria-current=page")
		}
		if doc.Find("img[onerror], img[src='x']").Length() != 0 || doc.Find("img").Length() != 1 {
			t.Errorf("hostile crumb created an element: %d img", doc.Find("img").Length())
		}
	})
}

func TestOverview(t *testing.T) {
	doc, _ := render(t, ViewOverview(overviewFixture()))
	main := doc.Find("main")
	for _, want := range []string{"226.6 MiB", "42 blobs", "3.0 GiB", "2 images referenced by tags have no layer data", "1 over threshold"} {
		if !strings.Contains(text(main), want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if main.Find("svg.spark").Length() != 1 {
		t.Error("no sparkline for a 3-point trend")
	}
	rows := main.Find("table.ranking tbody tr")
	if rows.Length() != 2 {
		t.Fatalf("ranking rows = %d", rows.Length())
	}
	cases := []struct {
		row        int
		href, size string
		width      string
		over       bool
	}{
		{0, "/ns/payments", "60.0 GiB", "100.000%", true},
		{1, "/ns/web", "15.0 GiB", "25.000%", false},
	}
	for _, c := range cases {
		r := rows.Eq(c.row)
		if got := r.Find("th a").AttrOr("href", ""); got != c.href {
			t.Errorf("row %d href = %q, want %q", c.row, got, c.href)
		}
		if !strings.Contains(text(r), c.size) {
			t.Errorf("row %d lacks %q: %q", c.row, c.size, text(r))
		}
		if got := r.Find("rect.bar-fill").AttrOr("width", ""); got != c.width {
			t.Errorf("row %d bar width %q, want %q", c.row, got, c.width)
		}
		if got := r.Find(".badge:contains('over threshold')").Length() == 1; got != c.over {
			t.Errorf("row %d over threshold badge: %v, want %v", c.row, got, c.over)
		}
		// 50 GiB on a scale where 60 GiB is the full bar.
		if got := r.Find("rect.bar-mark").AttrOr("x", ""); got != "83.333%" {
			t.Errorf("row %d threshold mark at %q, want 83.333%%", c.row, got)
		}
		if !strings.Contains(text(r), "of 50.0 GiB") {
			t.Errorf("row %d does not show the threshold: %q", c.row, text(r))
		}
	}
	if got := main.Find(`nav.pager a[rel="next"]`).AttrOr("href", ""); got != "/?page=2" {
		t.Errorf("pager next = %q", got)
	}
	if !strings.Contains(text(main.Find("nav.pager")), "Page 1 of 3") {
		t.Errorf("pager = %q", text(main.Find("nav.pager")))
	}
	jobs := main.Find("table.jobs tbody tr")
	if jobs.Length() != 2 {
		t.Fatalf("job rows = %d", jobs.Length())
	}
	prune := jobs.Eq(0)
	if text(prune.Find(".badge")) != "ok" || !strings.Contains(text(prune), "freed 1.0 GiB") || !strings.Contains(text(prune), "0 0 * * *") {
		t.Errorf("prune row = %q", text(prune))
	}
	if tm := prune.Find("time").Last(); text(tm) != "in 12 hours" || tm.AttrOr("title", "") != "2026-11-24 00:00:00 UTC" {
		t.Errorf("next run = %q (%q)", text(tm), tm.AttrOr("title", ""))
	}
	if !strings.Contains(text(jobs.Eq(1)), "never run") {
		t.Errorf("report row = %q", text(jobs.Eq(1)))
	}
}

// Before the first prune plan the figures still show (they are stored);
// the footer says the reclaimable ones are not planned yet.
func TestOverviewBeforeThePlan(t *testing.T) {
	m := overviewFixture()
	m.Page.UsageAt = time.Time{}
	doc, _ := render(t, ViewOverview(m))
	if !strings.Contains(text(doc.Find("main")), Size(m.RegistryBytes)) {
		t.Errorf("the registry's size is missing: %q", text(doc.Find("main")))
	}
	if got := text(doc.Find("footer")); !strings.Contains(got, "reclaimable bytes not planned yet") {
		t.Errorf("footer = %q", got)
	}
}

func TestNamespace(t *testing.T) {
	m := namespaceFixture()
	doc, _ := render(t, ViewNamespace(m))
	main := doc.Find("main")
	for _, want := range []string{"60.0 GiB", "10.0 GiB", "1.0 GiB", "50.0 GiB", "over threshold", "team@example.com", "120% of 50.0 GiB"} {
		if !strings.Contains(text(main.Find("section.figures, p.contacts")), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if main.Find("svg.usage-chart polyline").Length() != 3 {
		t.Error("no usage chart of three lines")
	}
	if got := text(main.Find(".week-change")); !strings.Contains(got, "+10.0 GiB") || !strings.Contains(got, "+20.0% since the snapshot of") {
		t.Errorf("week-over-week change %q", got)
	}
	form := main.Find("form.filter")
	attrs := map[string]string{
		"method": "get", "action": "/ns/payments", "hx-get": "/ns/payments", "hx-target": "#streams",
		"hx-push-url": "true", "hx-trigger": "input changed delay:300ms, submit",
	}
	for k, want := range attrs {
		if got := form.AttrOr(k, ""); got != want {
			t.Errorf("filter form %s = %q, want %q", k, got, want)
		}
	}
	if got := form.Find(`input[name="q"]`).AttrOr("value", ""); got != "ap" {
		t.Errorf("filter value = %q", got)
	}
	if got := form.Find(`input[type="hidden"][name="sort"]`).AttrOr("value", ""); got != "size" {
		t.Errorf("hidden sort = %q", got)
	}
	table := main.Find("table#streams")
	if table.Length() != 1 || table.ParentFiltered(".table-wrap").Length() != 1 {
		t.Fatal("want table#streams inside a .table-wrap")
	}
	for col, want := range m.SortHrefs {
		if table.Find(`thead a[href="`+want+`"]`).Length() != 1 {
			t.Errorf("no sort link for %s", col)
		}
	}
	sorted := table.Find("th[aria-sort]")
	if sorted.Length() != 1 || sorted.AttrOr("aria-sort", "") != "descending" || !strings.Contains(text(sorted), "Size") {
		t.Errorf("aria-sort marks %d headers (%q)", sorted.Length(), text(sorted))
	}
	rows := table.Find("tbody tr")
	if rows.Length() != 2 {
		t.Fatalf("rows = %d", rows.Length())
	}
	api := rows.Eq(0)
	if api.Find("th a").AttrOr("href", "") != "/ns/payments/is/api" {
		t.Errorf("stream link = %q", api.Find("th a").AttrOr("href", ""))
	}
	for _, want := range []string{"1.5 GiB", "512.0 MiB", "5 days ago"} {
		if !strings.Contains(text(api), want) {
			t.Errorf("api row lacks %q: %q", want, text(api))
		}
	}
	if api.Find("time").AttrOr("title", "") != "2026-11-18 12:00:00 UTC" {
		t.Errorf("updated title = %q", api.Find("time").AttrOr("title", ""))
	}
	if got := rows.Eq(1).Find("rect.bar-fill").AttrOr("width", ""); got != "50.000%" {
		t.Errorf("app bar = %q", got)
	}
	if !strings.Contains(text(rows.Eq(1)), "…") || !strings.Contains(text(rows.Eq(1)), "no history") {
		t.Errorf("app row = %q", text(rows.Eq(1)))
	}
	if table.Find(`a[rel="prev"]`).AttrOr("href", "") != "/ns/payments?page=1" || table.Find(`a[rel="next"]`).AttrOr("href", "") != "/ns/payments?page=3" {
		t.Error("pager links missing from the streams table")
	}

	t.Run("fragment", func(t *testing.T) {
		_, html := render(t, NamespaceStreams(m))
		if !strings.HasPrefix(strings.TrimSpace(html), `<table id="streams"`) || strings.Contains(html, "<html") || strings.Contains(html, "<header") {
			t.Errorf("fragment should be the table alone: %.80s…", html)
		}
	})

	t.Run("one snapshot, under threshold, empty filter result", func(t *testing.T) {
		m := namespaceFixture()
		m.Trend = m.Trend[:1]
		m.Chart.Points = m.Chart.Points[2:]
		m.Chart.WeekAgo = time.Time{}
		m.Over = false
		m.Bytes = 10 << 30
		m.Streams = nil
		m.Filter = "zz"
		m.Pager = Pager{Page: 1, Pages: 1}
		doc, _ := render(t, ViewNamespace(m))
		if doc.Find("svg.usage-chart").Length() != 0 || !strings.Contains(text(doc.Find("section.usage-time")), "No usage snapshots yet") {
			t.Error("a chart of one point")
		}
		if got := text(doc.Find(".week-change")); !strings.Contains(got, "no snapshot yet") {
			t.Errorf("week change without a snapshot: %q", got)
		}
		if doc.Find(".badge:contains('over threshold')").Length() != 0 || doc.Find(".badge:contains('under threshold')").Length() != 1 {
			t.Error("want 'under threshold', not 'over threshold'")
		}
		if !strings.Contains(text(doc.Find("#streams")), "No stream name contains “zz”") {
			t.Errorf("empty result = %q", text(doc.Find("#streams")))
		}
	})
}

func TestStream(t *testing.T) {
	m := streamFixture()
	doc, _ := render(t, ViewStream(m))
	main := doc.Find("main")
	if got := text(main.Find("code.pullspec").First()); got != "image-registry.svc:5000/payments/api" {
		t.Errorf("pull spec = %q", got)
	}
	if !strings.Contains(text(main), "registry.example.com/payments/api") {
		t.Error("public pull spec missing")
	}
	if got := text(main.Find("ul.kv .v")); got != hostileLabel {
		t.Errorf("label value = %q, want it as text", got)
	}
	if main.Find("script").Length() != 0 {
		t.Error("a label created a script element")
	}
	describe := defs(main.Find("dl.describe"))
	for k, v := range map[string]string{"Size": "300.0 MiB every blob counted once", "Exclusive": "… being computed", "Created": "1 year ago", "Annotations": "<none>", "Unique images": "2"} {
		if describe[k] != v {
			t.Errorf("%s = %q, want %q", k, describe[k], v)
		}
	}
	sum := 0.0
	for _, w := range widths(t, main.Find("svg.stack rect.seg")) {
		sum += w
	}
	if sum < 99.9 || sum > 100.1 {
		t.Errorf("stream bar widths add up to %.3f", sum)
	}
	if got := main.Find("ul.legend li").Length(); got != 4 {
		t.Errorf("legend entries = %d", got)
	}
	if !strings.Contains(text(main.Find("ul.legend")), "150.0 MiB") {
		t.Errorf("legend = %q", text(main.Find("ul.legend")))
	}

	tags := main.Find("table.tags tbody tr")
	if tags.Length() != 2 {
		t.Fatalf("tags = %d", tags.Length())
	}
	badges := func(s *goquery.Selection) []string {
		var out []string
		s.Find("th .badge").Each(func(_ int, b *goquery.Selection) { out = append(out, text(b)) })
		return out
	}
	cases := []struct {
		i      int
		name   string
		badges []string
	}{
		{0, "latest", []string{"scheduled", "insecure", "import failed"}},
		{1, "prod", []string{"reference", "tracking", "not in spec"}},
	}
	for _, c := range cases {
		tag := tags.Eq(c.i)
		if a := tag.Find("th a.tag-name"); text(a) != c.name || a.AttrOr("href", "") != TagHref("payments", "api", c.name) {
			t.Errorf("tag %d heading = %q %q", c.i, text(a), a.AttrOr("href", ""))
		}
		if got := badges(tag); !reflect.DeepEqual(got, c.badges) {
			t.Errorf("tag %s badges = %q, want %q", c.name, got, c.badges)
		}
	}
	// One row a tag: its current image, size, when it moved, its source,
	// and a link to its history.
	latest := tags.Eq(0)
	cell := func(label string) string { return text(latest.Find(fmt.Sprintf(`[data-label=%q]`, label))) }
	for label, want := range map[string]string{"Current image": "sha256:aaaaaaaaaaaa", "Size": "200.0 MiB", "Updated": "3 hours ago",
		"Source": "updates automatically from registry quay.io/acme/api:latest Import failed: NotFound manifest unknown", "History": "2 revisions"} {
		if got := cell(label); got != want {
			t.Errorf("latest's %s = %q, want %q", label, got, want)
		}
	}
	if a := latest.Find("a.digest"); a.AttrOr("href", "") != ImageHref(dA) || a.AttrOr("title", "") != dA {
		t.Errorf("current image link %q title %q", a.AttrOr("href", ""), a.AttrOr("title", ""))
	}
	if tags.Eq(1).Find(".import-error").Length() != 0 {
		t.Error("import error on a tag without an import error")
	}
	if got := text(tags.Eq(1).Find(`[data-label="Current image"]`)); got != "none" {
		t.Errorf("prod, with no history, shows %q as its image", got)
	}
	if main.Find("table.history").Length() != 0 {
		t.Error("the stream page lists histories in full")
	}
}

// checkHistory checks the rendering of tagFixture's history.
func checkHistory(t *testing.T, rows *goquery.Selection) {
	t.Helper()
	if rows.Length() != 2 {
		t.Fatalf("history rows = %d", rows.Length())
	}
	cur, old := rows.Eq(0), rows.Eq(1)
	if text(cur.Find(".badge")) != "current" || old.Find(".badge:contains('current')").Length() != 0 {
		t.Error("only the first revision is marked current")
	}
	if a := cur.Find("a.digest"); a.AttrOr("href", "") != ImageHref(dA) || text(a) != "sha256:aaaaaaaaaaaa" {
		t.Errorf("current digest link = %q %q", a.AttrOr("href", ""), text(a))
	}
	if !strings.Contains(text(cur), "200.0 MiB") || !strings.Contains(text(cur), "3 hours ago") {
		t.Errorf("current row = %q", text(cur))
	}
	if text(old.Find("time")) != "4 months ago" || old.Find("time").AttrOr("title", "") != "2026-07-21 12:00:00 UTC" {
		t.Errorf("old age = %q (%q)", text(old.Find("time")), old.Find("time").AttrOr("title", ""))
	}
	if !strings.Contains(text(old), "size unknown") {
		t.Errorf("old row lacks 'size unknown': %q", text(old))
	}
	if old.Find(".badge:contains('would be pruned')").Length() != 1 || cur.Find(".badge:contains('would be pruned')").Length() != 0 {
		t.Error("'would be pruned' only on the prunable revision")
	}
}

func TestTag(t *testing.T) {
	doc, _ := render(t, ViewTag(tagPageFixture()))
	main := doc.Find("main")
	if a := main.Find("h1 a"); a.AttrOr("href", "") != "/ns/payments/is/api" {
		t.Errorf("stream link = %q", a.AttrOr("href", ""))
	}
	if got := text(main.Find("p.headline")); got != "3 layers, 3.0 MiB" {
		t.Errorf("headline = %q", got)
	}
	if !strings.Contains(text(main.Find(".alert-danger")), "manifest unknown") {
		t.Error("import error missing")
	}
	meta := defs(main.Find("dl.meta"))
	want := map[string]string{
		"Entrypoint": "/bin/api", "Command": "<none>", "User": "<none>", "Working dir": "<none>", "Ports": "<none>",
		"Platform": "linux/amd64", "Size": "3.0 MiB counted once", "Built": "3 hours ago",
		"Labels": "org.opencontainers.image.title=" + hostileLabel,
	}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("%s = %q, want %q", k, meta[k], v)
		}
	}
	env := main.Find("pre.env")
	if env.Length() != 1 || !strings.Contains(env.Text(), "PATH=/usr/bin\nGREETING="+hostileLabel) {
		t.Errorf("environment = %q", env.Text())
	}
	sum := 0.0
	for _, w := range widths(t, main.Find("svg.stack rect.seg")) {
		sum += w
	}
	if main.Find("svg.stack rect.seg").Length() != 3 || sum < 99.9 || sum > 100.1 {
		t.Errorf("layer bar: %d segments adding up to %.3f", main.Find("svg.stack rect.seg").Length(), sum)
	}
	rows := main.Find("table.layers tbody tr")
	if rows.Length() != 4 {
		t.Fatalf("layer rows = %d, want 3 layers and the config", rows.Length())
	}
	cases := []struct {
		row               int
		pos, href, size   string
		shares, width     string
		dup, config, hasB bool
	}{
		{0, "1", BlobHref(dL1), "2.0 MiB", "shared by 3 images · 2 streams · 1 namespace", "66.667%", false, false, true},
		{1, "2", BlobHref(dL2), "1020.0 KiB", "shared by 1 image · 1 stream · 1 namespace", "33.203%", false, false, true},
		{2, "3", BlobHref(dL1), "2.0 MiB", "shared by 3 images · 2 streams · 1 namespace", "", true, false, false},
		{3, "config", BlobHref(dCfg), "4.0 KiB", "shared by 1 image · 1 stream · 1 namespace", "0.130%", false, true, true},
	}
	for _, c := range cases {
		r := rows.Eq(c.row)
		cells := r.Find("td")
		if text(cells.Eq(0)) != c.pos {
			t.Errorf("row %d position = %q", c.row, text(cells.Eq(0)))
		}
		if got := cells.Eq(1).Find("a.digest").AttrOr("href", ""); got != c.href {
			t.Errorf("row %d link = %q, want %q", c.row, got, c.href)
		}
		if text(cells.Eq(3)) != c.size {
			t.Errorf("row %d size = %q, want %q", c.row, text(cells.Eq(3)), c.size)
		}
		if !strings.Contains(text(cells.Eq(4)), c.shares) {
			t.Errorf("row %d shares = %q", c.row, text(cells.Eq(4)))
		}
		if got := cells.Eq(3).Find("rect.bar-fill").AttrOr("width", ""); got != c.width {
			t.Errorf("row %d bar = %q, want %q", c.row, got, c.width)
		}
		if got := strings.Contains(text(r), "listed again, counted once"); got != c.dup {
			t.Errorf("row %d duplicate note %v, want %v", c.row, got, c.dup)
		}
		if got := cells.Eq(1).Find(".badge:contains('config')").Length() == 1; got != c.config {
			t.Errorf("row %d config badge %v", c.row, got)
		}
	}
	checkHistory(t, main.Find("table.history tbody tr"))

	t.Run("no image", func(t *testing.T) {
		m := tagPageFixture()
		m.Image = nil
		doc, _ := render(t, ViewTag(m))
		main := doc.Find("main")
		if !strings.Contains(text(main), "This tag has no image yet.") || !strings.Contains(text(main), "manifest unknown") {
			t.Errorf("no-image page = %q", text(main))
		}
		if main.Find("table.layers").Length() != 0 {
			t.Error("layers table without an image")
		}
	})

	t.Run("manifest list", func(t *testing.T) {
		m := tagPageFixture()
		m.Image = listFixture()
		doc, _ := render(t, ViewTag(m))
		main := doc.Find("main")
		if got := text(main.Find("p.headline")); got != "Manifest list of 2 platforms, 5.0 MiB" {
			t.Errorf("headline = %q", got)
		}
		rows := main.Find("table.platforms tbody tr")
		if rows.Length() != 2 {
			t.Fatalf("platform rows = %d", rows.Length())
		}
		if !strings.Contains(text(rows.Eq(0)), "linux/amd64") || !strings.Contains(text(rows.Eq(0)), "3.0 MiB") {
			t.Errorf("amd64 row = %q", text(rows.Eq(0)))
		}
		if !strings.Contains(text(rows.Eq(1)), "linux/arm64/v8") || !strings.Contains(text(rows.Eq(1)), "size unknown") {
			t.Errorf("arm64 row = %q", text(rows.Eq(1)))
		}
		if rows.Eq(1).Find("a").AttrOr("href", "") != ImageHref(dL2) {
			t.Error("platform digest link")
		}
	})

	t.Run("unknown size", func(t *testing.T) {
		m := tagPageFixture()
		m.Image.Known = false
		doc, _ := render(t, ViewTag(m))
		if got := text(doc.Find("p.headline")); got != "3 layers, size unknown" {
			t.Errorf("headline = %q", got)
		}
		if doc.Find("svg.stack").Length() != 0 {
			t.Error("stacked bar for an image of unknown size")
		}
	})
}

func TestImage(t *testing.T) {
	doc, _ := render(t, ViewImage(imagePageFixture()))
	main := doc.Find("main")
	if !strings.Contains(text(main.Find("h1")), "sha256:aaaaaaaaaaaa") {
		t.Errorf("h1 = %q", text(main.Find("h1")))
	}
	if got := text(main.Find("p.headline")); got != "3 layers, 3.0 MiB" {
		t.Errorf("headline = %q", got)
	}
	if main.Find("table.layers tbody tr").Length() != 4 {
		t.Error("layers table")
	}
	rows := main.Find("table.holders tbody tr")
	if rows.Length() != 2 {
		t.Fatalf("holders = %d", rows.Length())
	}
	cases := []struct {
		row        int
		href, text string
		state, age string
	}{
		{0, "/ns/payments/istag/api:latest", "payments/api:latest", "current", "3 hours ago"},
		{1, "/ns/web/istag/front:v1", "web/front:v1", "in history", "4 weeks ago"},
	}
	for _, c := range cases {
		r := rows.Eq(c.row)
		if a := r.Find("th a"); a.AttrOr("href", "") != c.href || text(a) != c.text {
			t.Errorf("holder %d = %q %q", c.row, a.AttrOr("href", ""), text(a))
		}
		if text(r.Find("td").Eq(0)) != c.state || text(r.Find("time")) != c.age {
			t.Errorf("holder %d = %q", c.row, text(r))
		}
	}
	if main.Find(`a[href="`+ImageHref(dB)+`"]`).Length() != 1 {
		t.Error("manifest list link missing")
	}
}

func TestBlob(t *testing.T) {
	doc, _ := render(t, ViewBlob(blobPageFixture()))
	main := doc.Find("main")
	if got := text(main.Find("p.headline")); got != "Shared by 3 images in 2 streams of 1 namespace." {
		t.Errorf("sentence = %q", got)
	}
	if !strings.Contains(text(main.Find("dl")), "2.0 MiB") || !strings.Contains(text(main.Find("dl")), dL1) {
		t.Errorf("facts = %q", text(main.Find("dl")))
	}
	links := []string{"/ns/payments", "/ns/payments/is/api", "/ns/payments/is/app", ImageHref(dA), ImageHref(dCfg)}
	for _, href := range links {
		if main.Find(`a[href="`+href+`"]`).Length() != 1 {
			t.Errorf("no link to %s", href)
		}
	}
	if text(main.Find(`a[href="`+ImageHref(dCfg)+`"]`).Next()) != "config" {
		t.Error("config badge missing")
	}
	if !strings.Contains(text(main), "and 1 more image") {
		t.Error("'and 1 more image' missing")
	}
	one := blobPageFixture()
	one.Shares.Images, one.Shares.Streams = 1, 1
	one.More = 0
	doc, _ = render(t, ViewBlob(one))
	if got := text(doc.Find("p.headline")); got != "Shared by 1 image in 1 stream of 1 namespace." {
		t.Errorf("singular sentence = %q", got)
	}
	if strings.Contains(text(doc.Find("main")), "more image") {
		t.Error("'more images' with More = 0")
	}
}

func TestSearchNotFoundErrorLogin(t *testing.T) {
	t.Run("search", func(t *testing.T) {
		p := page("Search")
		p.Query = "api"
		doc, _ := render(t, ViewSearch(SearchPage{Page: p, Results: []Result{
			{Kind: "stream", Label: "payments/api", Href: "/ns/payments/is/api"},
			{Kind: "tag", Label: "payments/api:latest", Href: "/ns/payments/istag/api:latest"},
		}}))
		items := doc.Find("ul.results li")
		if items.Length() != 2 || items.Eq(1).Find("a").AttrOr("href", "") != "/ns/payments/istag/api:latest" || text(items.Eq(0).Find(".badge")) != "Image stream" {
			t.Errorf("results = %q", text(items))
		}
		if !strings.Contains(text(doc.Find("h1")), "“api”") {
			t.Errorf("h1 = %q", text(doc.Find("h1")))
		}
	})
	t.Run("search, nothing found", func(t *testing.T) {
		p := page("Search")
		p.Query = "zzz"
		doc, _ := render(t, ViewSearch(SearchPage{Page: p}))
		if !strings.Contains(text(doc.Find("main")), "Nothing matches “zzz”") {
			t.Errorf("main = %q", text(doc.Find("main")))
		}
	})
	t.Run("not found", func(t *testing.T) {
		p := page("Not found")
		p.Query = "payments/apii"
		doc, _ := render(t, ViewNotFound(NotFoundPage{Page: p, What: "image stream payments/apii",
			Suggestions: []Result{{Kind: "stream", Label: "payments/api", Href: "/ns/payments/is/api"}}}))
		main := doc.Find("main")
		if !strings.Contains(text(main), "There is no image stream payments/apii.") {
			t.Errorf("main = %q", text(main))
		}
		if main.Find(`ul.results a[href="/ns/payments/is/api"]`).Length() != 1 {
			t.Error("suggestion missing")
		}
		if main.Find(`a[href="/"]`).Length() != 1 {
			t.Error("no link back to the overview")
		}
		if main.Find(`form[action="/search"] input[name="q"]`).AttrOr("value", "") != "payments/apii" {
			t.Error("no search box with the query")
		}
	})
	t.Run("error", func(t *testing.T) {
		doc, _ := render(t, ViewError(ErrorPage{Page: page("Forbidden"), Status: 403, Message: "you need the editor role in payments"}))
		if text(doc.Find("main h1")) != "Forbidden" || !strings.Contains(text(doc.Find("main")), "you need the editor role in payments") {
			t.Errorf("main = %q", text(doc.Find("main")))
		}
	})
	t.Run("login", func(t *testing.T) {
		p := page("Log in")
		p.User = ""
		doc, _ := render(t, ViewLogin(LoginPage{Page: p, Error: "wrong name or password", Next: "/ns/payments", Name: "bob"}))
		form := doc.Find(`main form[action="/login"]`)
		if form.AttrOr("method", "") != "post" {
			t.Fatal("want a POST /login form")
		}
		fields := map[string]string{"_csrf": "tok-123", "next": "/ns/payments", "name": "bob"}
		for name, want := range fields {
			if got := form.Find(`input[name="`+name+`"]`).AttrOr("value", ""); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if form.Find(`input[name="password"][type="password"]`).Length() != 1 {
			t.Error("no password field")
		}
		if alert := form.Find(`[role="alert"]`); text(alert) != "wrong name or password" {
			t.Errorf("alert = %q", text(alert))
		}
		doc, _ = render(t, ViewLogin(LoginPage{Page: p}))
		if doc.Find(`[role="alert"]`).Length() != 0 {
			t.Error("alert without an error")
		}
	})
}

// TestNoInlineCode holds every page to the CSP: no inline script, no style
// attribute or element, no event handler attributes.
func TestNoInlineCode(t *testing.T) {
	pages := allPages()
	for name, c := range poisonedPages() {
		pages["hostile "+name] = c
	}
	for name, c := range pages {
		t.Run(name, func(t *testing.T) {
			doc, html := render(t, c)
			if n := doc.Find("[style]").Length(); n > 0 {
				t.Errorf("%d elements with a style attribute", n)
			}
			if n := doc.Find("style").Length(); n > 0 {
				t.Errorf("%d <style> elements", n)
			}
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				if src := s.AttrOr("src", ""); src != "/static/htmx.min.js" && src != "/static/copy.js" || strings.TrimSpace(s.Text()) != "" {
					t.Errorf("inline or foreign script: %q %q", s.AttrOr("src", ""), s.Text())
				}
			})
			if n := doc.Find("script").Length(); n > 2 {
				t.Errorf("%d script elements", n)
			}
			doc.Find("img").Each(func(_ int, s *goquery.Selection) {
				if s.AttrOr("src", "") != "/static/favicon.svg" {
					t.Errorf("foreign img: %q", s.AttrOr("src", ""))
				}
			})
			doc.Find("*").Each(func(_ int, s *goquery.Selection) {
				for _, a := range s.Nodes[0].Attr {
					if strings.HasPrefix(strings.ToLower(a.Key), "on") {
						t.Errorf("event handler attribute %s=%q on <%s>", a.Key, a.Val, goquery.NodeName(s))
					}
					if (a.Key == "href" || a.Key == "action" || a.Key == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
						t.Errorf("javascript: URL in %s", a.Key)
					}
				}
			})
			if strings.Contains(html, "<script>") {
				t.Error("inline <script> in the output")
			}
			if strings.HasPrefix(name, "hostile ") {
				// The hostile text is there, as text.
				// Which strings land in shown fields depends on the order of
				// the models' fields (poison deals them round robin): any
				// of them will do.
				body, shown := doc.Find("body").Text(), false
				for _, h := range hostile {
					shown = shown || strings.Contains(body, h)
				}
				if !shown {
					t.Error("hostile strings are not shown as text")
				}
			}
		})
	}
}

// poisonedPages are allPages with every string of every model replaced by
// hostile text, so that each place a string lands is checked for escaping.
func poisonedPages() map[string]templ.Component {
	ov, ns, st, tg, im, bl := overviewFixture(), namespaceFixture(), streamFixture(), tagPageFixture(), imagePageFixture(), blobPageFixture()
	list := tagPageFixture()
	list.Image = listFixture()
	sr := SearchPage{Page: page("s"), Results: []Result{{Kind: "x", Label: "y", Href: "/z"}}}
	nf := NotFoundPage{Page: page("n"), What: "w", Suggestions: []Result{{Kind: "x", Label: "y", Href: "/z"}}}
	er := ErrorPage{Page: page("e"), Status: 500, Message: "m"}
	lg := LoginPage{Page: page("l"), Error: "e", Next: "/n", Name: "n"}
	n := 0
	for _, v := range []any{&ov, &ns, &st, &tg, &im, &bl, &list, &sr, &nf, &er, &lg} {
		poison(reflect.ValueOf(v).Elem(), &n)
	}
	return map[string]templ.Component{
		"overview": ViewOverview(ov), "namespace": ViewNamespace(ns), "fragment": NamespaceStreams(ns),
		"stream": ViewStream(st), "tag": ViewTag(tg), "list": ViewTag(list), "image": ViewImage(im),
		"blob": ViewBlob(bl), "search": ViewSearch(sr), "not found": ViewNotFound(nf), "error": ViewError(er),
		"login": ViewLogin(lg),
	}
}

var hostile = []string{
	hostileLabel, hostileStream, `javascript:alert(1)`, `' onmouseover='alert(1)`,
	`<style>body{display:none}</style>`, `</title><script>alert(1)</script>`, `<svg onload=alert(1)>`,
}

func poison(v reflect.Value, n *int) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(hostile[*n%len(hostile)])
			*n++
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				poison(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			poison(v.Elem(), n)
		}
	case reflect.Slice:
		if v.Len() == 0 && v.Type().Elem().Kind() == reflect.String && v.CanSet() {
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		}
		for i := 0; i < v.Len(); i++ {
			poison(v.Index(i), n)
		}
	case reflect.Map:
		if v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String {
			for _, k := range v.MapKeys() {
				v.SetMapIndex(k, reflect.ValueOf(hostile[*n%len(hostile)]))
				*n++
			}
		}
	}
}

// defs reads a <dl> as term → description.
func defs(dl *goquery.Selection) map[string]string {
	m := map[string]string{}
	dl.Find("dt").Each(func(_ int, dt *goquery.Selection) { m[text(dt)] = text(dt.Next()) })
	return m
}
