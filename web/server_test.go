package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/crypto/bcrypt"

	"layerwise/format"
	"layerwise/store"
	"layerwise/views"
)

func doc(t *testing.T, html string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// loggedIn is a server with the demo account and a client logged in to it.
func loggedIn(t *testing.T, extra ...string) (*testServer, *http.Client) {
	ts := newTestServer(t, true, extra...)
	c := ts.client(t)
	if resp := ts.login(t, c, "demo", "demo"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return ts, c
}

func TestPagesNeedALoginOnceAccountsExist(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	c := ts.client(t)
	resp, err := c.Get(ts.URL + "/ns/payments")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/ns/payments") {
		t.Fatalf("anonymous: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := ts.login(t, c, "demo", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp := ts.login(t, c, "demo", "demo"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(mustURL(t, ts.URL)) {
		if ck.Name == "layerwise_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie after login")
	}
	ts.get(t, c, "/ns/payments", http.StatusOK)

	// Without accounts the dashboard is open (a fresh install).
	open := newTestServer(t, false)
	open.get(t, open.client(t), "/ns/payments", http.StatusOK)
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSessionCookieAndLogout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	c := ts.client(t)
	resp := ts.login(t, c, "demo", "demo")
	var raw string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "layerwise_session=") {
			raw = v
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("session cookie %q lacks %s", raw, attr)
		}
	}
	page := ts.get(t, c, "/", http.StatusOK)
	tok := csrfRe.FindStringSubmatch(page)
	if tok == nil {
		t.Fatal("no logout form with a CSRF token on the overview")
	}
	// A forged logout (no token) is refused and changes nothing.
	resp, err := c.PostForm(ts.URL+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without CSRF token: %d", resp.StatusCode)
	}
	ts.get(t, c, "/", http.StatusOK)
	resp, err = c.PostForm(ts.URL+"/logout", url.Values{"_csrf": {tok[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if r, _ := c.Get(ts.URL + "/"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout the overview answers %d, want a redirect to login", r.StatusCode)
	}
}

func TestLoginNeedsCSRF(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	resp, err := ts.client(t).PostForm(ts.URL+"/login", url.Values{"name": {"demo"}, "password": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without CSRF token: %d", resp.StatusCode)
	}
}

func TestOverviewShowsUsageCountedOnce(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	d := doc(t, ts.get(t, c, "/", http.StatusOK))
	text := squash(d.Find("main").Text())
	if want := format.Size(ts.usage.Registry.Bytes); !strings.Contains(text, want) {
		t.Errorf("overview lacks the registry total %s: %s", want, text)
	}
	// Namespaces ranked by bytes, each with its size.
	var names []string
	d.Find("main table tbody tr").Each(func(_ int, tr *goquery.Selection) {
		if a := tr.Find("a[href^='/ns/']").First(); a.Length() > 0 {
			names = append(names, a.Text())
		}
	})
	if len(names) != len(ts.usage.Namespaces) {
		t.Fatalf("overview lists %v, want %d namespaces", names, len(ts.usage.Namespaces))
	}
	var prev int64 = 1 << 62
	for _, name := range names {
		n, _ := ts.usage.Namespace(name)
		if n.Bytes > prev {
			t.Errorf("%s (%d) ranked after a smaller namespace", name, n.Bytes)
		}
		prev = n.Bytes
		row := squash(d.Find("main table tbody tr:contains('" + name + "')").First().Text())
		for _, want := range []string{format.Size(n.Bytes), format.Size(n.ExclusiveBytes)} {
			if !strings.Contains(row, want) {
				t.Errorf("row of %s %q lacks %s", name, row, want)
			}
		}
	}
	// The demo's namespaces share base layers: the registry is less than their sum.
	var sum int64
	for _, n := range ts.usage.Namespaces {
		sum += n.Bytes
	}
	if ts.usage.Registry.Bytes >= sum {
		t.Errorf("registry %d not below the namespaces' sum %d", ts.usage.Registry.Bytes, sum)
	}
}

func TestNamespacePage(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	n, _ := ts.usage.Namespace("payments")
	d := doc(t, ts.get(t, c, "/ns/payments", http.StatusOK))
	rows := d.Find("#streams tbody tr")
	if rows.Length() != len(n.Streams) {
		t.Fatalf("%d rows, want %d streams", rows.Length(), len(n.Streams))
	}
	for _, st := range n.Streams {
		row := d.Find("#streams tbody tr:has(a[href='" + views.StreamHref("payments", st.Name) + "'])")
		text := squash(row.Text())
		for _, want := range []string{format.Size(st.Bytes), format.Size(st.ExclusiveBytes), fmt.Sprint(st.UniqueImages)} {
			if !strings.Contains(text, want) {
				t.Errorf("row of %s %q lacks %s", st.Name, text, want)
			}
		}
	}
	// Sorted by size by default; by name on request.
	first := d.Find("#streams tbody tr th a").First().Text()
	if first != "api" {
		t.Errorf("biggest stream first: got %s", first)
	}
	d = doc(t, ts.get(t, c, "/ns/payments?sort=name", http.StatusOK))
	var got []string
	d.Find("#streams tbody tr th a").Each(func(_ int, a *goquery.Selection) { got = append(got, a.Text()) })
	if strings.Join(got, ",") != "api,fraud-worker,ledger,legacy-gateway" {
		t.Errorf("sort=name gives %v", got)
	}
	// The filter, as a full page and as the htmx fragment.
	d = doc(t, ts.get(t, c, "/ns/payments?q=led", http.StatusOK))
	if n := d.Find("#streams tbody tr").Length(); n != 1 || !strings.Contains(d.Find("#streams tbody").Text(), "ledger") {
		t.Errorf("filter q=led shows %d rows", n)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/ns/payments?q=led", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "<html") || !strings.Contains(string(b), `id="streams"`) {
		t.Errorf("htmx request should get the table alone:\n%s", firstLines(string(b), 5))
	}
}

func TestStreamPageMatchesUsage(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	n, _ := ts.usage.Namespace("payments")
	var su store.StreamUsage
	for _, st := range n.Streams {
		if st.Name == "api" {
			su = st
		}
	}
	d := doc(t, ts.get(t, c, "/ns/payments/is/api", http.StatusOK))
	main := squash(d.Find("main").Text())
	for _, want := range []string{format.Size(su.Bytes), format.Size(su.ExclusiveBytes), "image-registry.openshift-image-registry.svc:5000/payments/api"} {
		if !strings.Contains(main, want) {
			t.Errorf("stream page lacks %q", want)
		}
	}
	// A row per tag: its current image with the size usage computed, and
	// its revision count linking to the history on the tag's page.
	for _, tg := range su.Tags {
		row := d.Find(fmt.Sprintf(`tr[id=%q]`, "tag-"+tg.Name))
		for _, r := range tg.Revisions {
			if !r.Current {
				continue
			}
			if got := row.Find(`[data-label="Current image"] a.digest`).AttrOr("title", ""); got != r.Image {
				t.Errorf("%s: current image %q, want %s", tg.Name, got, r.Image)
			}
			if got := squash(row.Find(`[data-label="Size"]`).Text()); got != format.Size(r.Bytes) {
				t.Errorf("%s: size %q, want %s", tg.Name, got, format.Size(r.Bytes))
			}
		}
		if got := squash(row.Find(`[data-label="History"] a`).Text()); got != bPlural(len(tg.Revisions), "revision") {
			t.Errorf("%s: history link %q, want %d revisions", tg.Name, got, len(tg.Revisions))
		}
	}
	// The ladder first (latest, test, prod), then oc's order: versions
	// newest first, the rest by name.
	var order []string
	d.Find("table.tags tbody th a.tag-name").Each(func(_ int, a *goquery.Selection) { order = append(order, a.Text()) })
	if len(order) != len(su.Tags) || strings.Join(order[:3], ",") != "latest,test,prod" {
		t.Errorf("tags shown in order %v", order)
	}
	want := append([]string(nil), order...)
	store.OrderTagsByLadder(want, func(s string) string { return s }, store.DefaultLadder)
	if strings.Join(want, ",") != strings.Join(order, ",") {
		t.Errorf("tags shown %v, the ladder's order is %v", order, want)
	}
	// The failed import is shown on its stream.
	g := squash(doc(t, ts.get(t, c, "/ns/payments/is/legacy-gateway", http.StatusOK)).Find("main").Text())
	for _, want := range []string{"NotFound", `dockerimage.image.openshift.io "quay.io/acme/legacy:2.3" not found`, "updates automatically from registry quay.io/acme/legacy:2.3"} {
		if !strings.Contains(g, want) {
			t.Errorf("legacy-gateway page lacks %q", want)
		}
	}
}

func TestTagImageAndBlobPages(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	st, err := ts.store.GetStream(context.Background(), store.StreamRef{Namespace: "payments", Stream: "api"})
	if err != nil {
		t.Fatal(err)
	}
	var cur string
	for _, tg := range st.Tags {
		if tg.Name == "latest" {
			cur = tg.Items[0].Image
		}
	}
	img, err := ts.store.GetImage(context.Background(), cur)
	if err != nil {
		t.Fatal(err)
	}
	d := doc(t, ts.get(t, c, "/ns/payments/istag/api:latest", http.StatusOK))
	headline := squash(d.Find(".headline").Text())
	if want := fmt.Sprintf("%d layers, %s", len(img.Layers), format.Size(img.Bytes)); headline != want {
		t.Errorf("headline %q, want %q", headline, want)
	}
	sh, err := ts.usage.Shares(context.Background(), ts.store, []string{img.Layers[0].Digest})
	if err != nil {
		t.Fatal(err)
	}
	first := sh[img.Layers[0].Digest]
	wantShares := fmt.Sprintf("shared by %d images", first.Images)
	if got := squash(d.Find("table.layers td.shares").First().Text()); !strings.HasPrefix(got, wantShares) {
		t.Errorf("first layer shares %q, want %q…", got, wantShares)
	}
	if first.Namespaces < 2 {
		t.Errorf("the base layer should be shared across namespaces: %+v", first)
	}
	// The image page lists the tags holding it; the blob page who shares it.
	ip := squash(doc(t, ts.get(t, c, views.ImageHref(cur), http.StatusOK)).Find("main").Text())
	if !strings.Contains(ip, "latest") || !strings.Contains(ip, "payments") {
		t.Errorf("image page does not list payments/api:latest: %s", ip)
	}
	bp := squash(doc(t, ts.get(t, c, views.BlobHref(img.Layers[0].Digest), http.StatusOK)).Find("main").Text())
	for _, want := range []string{img.Layers[0].Digest, format.Size(img.Layers[0].Size), fmt.Sprintf("%d images", first.Images), "payments"} {
		if !strings.Contains(bp, want) {
			t.Errorf("blob page lacks %q", want)
		}
	}
}

func TestHelpfulNotFound(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	for _, path := range []string{"/ns/nope", "/ns/payments/is/apii", "/ns/payments/istag/api:nope", "/ns/payments/istag/api",
		"/images/sha256:" + strings.Repeat("0", 64), "/blobs/sha256:" + strings.Repeat("1", 64), "/images/not-a-digest", "/no/such/page", "/ns/BAD_NAME"} {
		body := ts.get(t, c, path, http.StatusNotFound)
		text := squash(doc(t, body).Find("main").Text())
		if !strings.Contains(strings.ToLower(text), "not found") {
			t.Errorf("%s: 404 page says %q", path, text)
		}
	}
	// Near matches are offered.
	d := doc(t, ts.get(t, c, "/ns/payments/is/apii", http.StatusNotFound))
	if d.Find("main a[href='/ns/payments/is/api']").Length() == 0 {
		t.Errorf("404 for apii offers no link to api")
	}
}

func TestSearchJumps(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	st, _ := ts.store.GetStream(context.Background(), store.StreamRef{Namespace: "payments", Stream: "api"})
	digest := st.Tags[0].Items[0].Image
	cases := map[string]string{
		"payments":            "/ns/payments",
		"payments/api":        "/ns/payments/is/api",
		"payments/api:latest": "/ns/payments/istag/api:latest",
		digest:                views.ImageHref(digest),
	}
	for q, want := range cases {
		resp, err := c.Get(ts.URL + "/search?q=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("search %q: %d to %q, want %s", q, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	d := doc(t, ts.get(t, c, "/search?q=latest", http.StatusOK))
	if d.Find("main a[href='/ns/payments/istag/api:latest']").Length() == 0 {
		t.Errorf("search for latest does not list payments/api:latest")
	}
}

const hostile = `apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: evil
  namespace: payments
  labels:
    app: "<script>alert(1)</script>"
  annotations:
    note: "\"><img src=x onerror=alert(1)>"
`

func TestHostileInputIsEscaped(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t, hostile)
	body := ts.get(t, c, "/ns/payments/is/evil", http.StatusOK)
	d := doc(t, body)
	if d.Find("script:contains('alert')").Length() > 0 || d.Find("img[onerror]").Length() > 0 {
		t.Fatal("a label became markup")
	}
	text := d.Find("main").Text()
	for _, want := range []string{"<script>alert(1)</script>", `"><img src=x onerror=alert(1)>`} {
		if !strings.Contains(text, want) {
			t.Errorf("the label %q is not shown as text", want)
		}
	}
}

func TestHeadersHealthAndMetrics(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	resp, err := c.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
	} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Errorf("%s = %q, want %q", h, resp.Header.Get(h), want)
		}
	}
	if strings.Contains(resp.Header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Error("the CSP allows inline code")
	}
	anon := ts.client(t)
	ts.get(t, anon, "/healthz", http.StatusOK)
	ts.get(t, anon, "/readyz", http.StatusOK)
	ts.get(t, anon, "/static/style.css", http.StatusOK)
	// A request is counted after its response went out: poll briefly.
	var metrics string
	for i := 0; i < 50; i++ {
		metrics = ts.scrape(t)
		// The counter and the histogram are recorded one after the other.
		if strings.Contains(metrics, `route="/"`) && strings.Contains(metrics, `layerwise_http_request_duration_seconds_bucket{route="/",le=`) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, _ := ts.usage.Namespace("payments")
	for _, want := range []string{
		fmt.Sprintf(`layerwise_namespace_bytes{namespace="payments"} %s`, promFloat(n.Bytes)),
		`layerwise_http_requests_total{code="200",method="GET",route="/"}`,
		`layerwise_http_request_duration_seconds_bucket{route="/",le=`,
		fmt.Sprintf("layerwise_registry_bytes %s", promFloat(ts.usage.Registry.Bytes)),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func promFloat(n int64) string {
	return strings.Replace(fmt.Sprintf("%g", float64(n)), "e+", "e+", 1)
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	s.SetPasswordCost(bcrypt.MinCost) // seconds per hash under -race at the default cost
	defer s.Close()
	srv, err := New(Config{Addr: "127.0.0.1:0", SnapshotSchedule: "@daily", Policy: store.DefaultPolicy}, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(runCtx, ln) }()
	base := "http://" + ln.Addr().String()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in 5 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown within 10 s")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestJobsPage(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	if !ts.srv.sched.RunNow(context.Background(), "usage-snapshot") {
		t.Fatal("snapshot job did not run")
	}
	d := doc(t, ts.get(t, c, "/jobs", http.StatusOK))
	row := squash(d.Find("table.runs tbody tr").First().Text())
	// Registry + the demo's namespaces, one snapshot each.
	want := fmt.Sprintf("%d snapshots", len(ts.usage.Namespaces)+1)
	if !strings.Contains(row, "usage-snapshot") || !strings.Contains(row, "ok") || !strings.Contains(row, want) {
		t.Errorf("last run row %q", row)
	}
	snaps, err := ts.store.Trend(context.Background(), "payments", time.Now().Add(-time.Hour))
	if err != nil || len(snaps) != 1 {
		t.Fatalf("payments snapshots: %v %v", snaps, err)
	}
	n, _ := ts.usage.Namespace("payments")
	if snaps[0].Bytes != n.Bytes || snaps[0].ExclusiveBytes != n.ExclusiveBytes {
		t.Errorf("snapshot %+v does not match usage %d/%d", snaps[0], n.Bytes, n.ExclusiveBytes)
	}
	if !strings.Contains(ts.scrape(t), `layerwise_job_runs_total{job="usage-snapshot",status="ok"} 1`) {
		t.Error("job run not counted in /metrics")
	}
}

func TestReportPreviewIsTheEmail(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	resp, err := c.Get(ts.URL + "/ns/payments/report")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("preview: %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") {
		t.Errorf("preview CSP %q", csp)
	}
	n, _ := ts.usage.Namespace("payments")
	d := doc(t, string(body))
	text := squash(d.Text())
	for _, want := range []string{"Image registry usage for payments", format.Size(n.Bytes), format.Size(n.ExclusiveBytes), "oc delete imagestream"} {
		if !strings.Contains(text, want) {
			t.Errorf("preview lacks %q", want)
		}
	}
	if d.Find("script").Length() > 0 {
		t.Error("the e-mail preview has a script")
	}
	ts.get(t, c, "/ns/nope/report", http.StatusNotFound)
}

func TestUsersSeeOnlyTheirNamespaces(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ctx := context.Background()
	if _, err := ts.store.CreateUser(ctx, "ann", "ann-pass", false); err != nil {
		t.Fatal(err)
	}
	if err := ts.store.AddRoleBinding(ctx, "payments", "ann", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	c := ts.client(t)
	ts.login(t, c, "ann", "ann-pass")
	d := doc(t, ts.get(t, c, "/", http.StatusOK))
	var listed []string
	d.Find("main table tbody tr th a[href^='/ns/']").Each(func(_ int, a *goquery.Selection) { listed = append(listed, a.Text()) })
	if strings.Join(listed, ",") != "payments" {
		t.Errorf("ann sees %v on the overview, want only payments", listed)
	}
	ts.get(t, c, "/ns/payments/is/api", http.StatusOK)
	for _, path := range []string{"/ns/ml", "/ns/ml/is/trainer", "/ns/ml/istag/trainer:latest", "/ns/ml/report"} {
		ts.get(t, c, path, http.StatusNotFound)
	}
	ml, _ := ts.store.GetStream(ctx, store.StreamRef{Namespace: "ml", Stream: "trainer"})
	mlOnly := ml.Tags[0].Items[0].Image
	holders, _ := ts.store.ImageHolders(ctx, mlOnly, 100, nil)
	for _, h := range holders {
		if h.Namespace == "payments" {
			t.Skip("fixture: the trainer image is also in payments")
		}
	}
	ts.get(t, c, views.ImageHref(mlOnly), http.StatusNotFound)
	// A shared base layer: ann sees it, but only through payments.
	img, _ := ts.store.GetImage(ctx, ml.Tags[0].Items[0].Image)
	for _, l := range img.Layers {
		b, _ := ts.store.GetBlob(ctx, l.Digest, 100, nil)
		inPayments := false
		for _, ns := range b.Namespaces {
			inPayments = inPayments || ns == "payments"
		}
		if !inPayments || len(b.Namespaces) < 2 {
			continue
		}
		page := squash(doc(t, ts.get(t, c, views.BlobHref(l.Digest), http.StatusOK)).Find("main").Text())
		if strings.Contains(page, "ml/") || strings.Contains(page, "trainer") {
			t.Errorf("the blob page shows ml's streams to ann: %s", page)
		}
		break
	}
	// Search lists nothing of ml.
	body := ts.get(t, c, "/search?q=latest", http.StatusOK)
	if strings.Contains(body, "/ns/ml/") {
		t.Error("search shows ml to ann")
	}
}

// Pages read through a cache keyed by the data version: a change made
// elsewhere (the CLI) shows once the data version is read (every second); one made here
// shows at once.
func TestPageCacheFollowsTheDataVersion(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	ctx := context.Background()
	page := func() string { return ts.get(t, c, "/ns/payments/is/api", http.StatusOK) }
	if strings.Contains(page(), "hotfix") {
		t.Fatal("fixture already has a hotfix tag")
	}
	// As the CLI would, straight into the database.
	if _, err := ts.store.SetTag(ctx, store.Source{Kind: store.KindImageStreamTag, Namespace: "payments", Stream: "api", Tag: "latest"},
		store.TagRef{Namespace: "payments", Stream: "api", Tag: "hotfix"}, store.TagOptions{}); err != nil {
		t.Fatal(err)
	}
	ts.srv.Versions().Poll(ctx) // what the server does every second
	if !strings.Contains(page(), "hotfix") {
		t.Fatal("a change made elsewhere does not show after the data version is read")
	}
}

func TestNoSecretInTheLogs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ctx := context.Background()
	const password = "Tr0ub4dor-and-3-sekret"
	if _, err := ts.store.CreateUser(ctx, "sam", password, true); err != nil {
		t.Fatal(err)
	}
	token, _, err := ts.store.CreateToken(ctx, "sam", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.client(t)
	ts.login(t, c, "sam", password+"-wrong")
	ts.login(t, c, "sam", password)
	for _, tok := range []string{token, token + "x"} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/usage", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var session string
	for _, ck := range c.Jar.Cookies(mustURL(t, ts.URL)) {
		if ck.Name == "layerwise_session" {
			session = ck.Value
		}
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "user=sam") {
		t.Fatalf("the log does not show the login at all:\n%s", logs)
	}
	for name, secret := range map[string]string{"password": password, "token": token[3:], "session": session} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the log", name)
		}
	}
}
