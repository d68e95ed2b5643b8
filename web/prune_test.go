package web

import (
	"context"
	"fmt"
	"layerwise/views"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"layerwise/format"
	"layerwise/store"
)

type planJSON struct {
	DryRun    bool `json:"dryRun"`
	Revisions []struct {
		Namespace, Stream, Tag, Image, Created string
	} `json:"revisions"`
	Images     []string `json:"images"`
	Blobs      int      `json:"blobs"`
	BytesFreed int64    `json:"bytesFreed"`
	Namespaces []struct {
		Name       string `json:"name"`
		Revisions  int    `json:"revisions"`
		BytesFreed int64  `json:"bytesFreed"`
		Streams    []struct {
			Name string `json:"name"`
		} `json:"streams"`
	} `json:"namespaces"`
}

func (ts *testServer) plan(t *testing.T, token string) planJSON {
	t.Helper()
	var p planJSON
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/prune/plan", token: token}).decode(t, &p)
	return p
}

func TestPrunePlanAPIAndPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	root := ts.apiUser(t, "root", true)
	vic := ts.apiUser(t, "vic", false, "payments=viewer")
	before := ts.apiDump(t)

	all := ts.plan(t, root)
	if !all.DryRun || len(all.Revisions) == 0 || len(all.Namespaces) < 2 {
		t.Fatalf("admin plan: %d revisions in %d namespaces", len(all.Revisions), len(all.Namespaces))
	}
	// One definition of prunable: the plan frees what usage calls reclaimable.
	if all.BytesFreed != ts.usage.Registry.ReclaimableBytes {
		t.Errorf("plan frees %d, usage says %d reclaimable", all.BytesFreed, ts.usage.Registry.ReclaimableBytes)
	}
	var paymentsBytes int64
	for _, n := range all.Namespaces {
		if n.Name == "payments" {
			paymentsBytes = n.BytesFreed
		}
	}
	// A namespace viewer sees that namespace's part only.
	mine := ts.plan(t, vic)
	if len(mine.Revisions) == 0 || len(mine.Namespaces) != 1 || mine.BytesFreed != paymentsBytes {
		t.Errorf("viewer's plan: %d revisions, %d namespaces, %d bytes (payments frees %d)", len(mine.Revisions), len(mine.Namespaces), mine.BytesFreed, paymentsBytes)
	}
	for _, r := range mine.Revisions {
		if r.Namespace != "payments" {
			t.Errorf("viewer sees a revision of %s", r.Namespace)
		}
	}
	ts.apiMust(t, http.StatusUnauthorized, apiCall{method: "GET", path: "/api/v1/prune/plan"}).errorText(t)
	if ts.apiDump(t) != before {
		t.Error("reading the plan changed the database")
	}

	// The page: grouped by namespace and stream with bytes per namespace.
	c := ts.client(t)
	ts.login(t, c, "demo", "demo")
	body := ts.get(t, c, "/prune", http.StatusOK)
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	for _, n := range all.Namespaces {
		h := d.Find("#prune-ns-" + n.Name)
		if h.Length() == 0 || !strings.Contains(h.Text(), format.Size(n.BytesFreed)) {
			t.Errorf("/prune lacks namespace %s with %s: %q", n.Name, format.Size(n.BytesFreed), h.Text())
		}
	}
	if !strings.Contains(squash(d.Find("main").Text()), "freeing "+format.Size(all.BytesFreed)) {
		t.Errorf("/prune does not say it frees %s", format.Size(all.BytesFreed))
	}
	// The overview lists no revisions (a large registry has hundreds of
	// thousands); one namespace's page lists its revisions stream by stream.
	if n := d.Find("table.prune tbody tr:not(.group)").Length(); n != 0 && len(all.Namespaces) > 1 {
		t.Errorf("/prune lists %d revisions before a namespace is chosen", n)
	}
	for _, n := range all.Namespaces {
		d := doc(t, ts.get(t, c, views.PruneHref(n.Name), http.StatusOK))
		sec := d.Find("#prune-detail")
		if got := sec.Find("table.prune tbody tr:not(.group)").Length(); got != n.Revisions {
			t.Errorf("/prune?ns=%s lists %d revisions, the plan %d", n.Name, got, n.Revisions)
		}
		for _, st := range n.Streams {
			if !strings.Contains(sec.Find("tr.group").Text(), st.Name) {
				t.Errorf("/prune?ns=%s lacks stream %s", n.Name, st.Name)
			}
		}
		for _, r := range all.Revisions {
			if r.Namespace == n.Name && sec.Find(fmt.Sprintf("a[href=%q]", views.TagHref(r.Namespace, r.Stream, r.Tag))).Length() == 0 {
				t.Errorf("/prune?ns=%s lacks the revision of %s/%s:%s", n.Name, r.Namespace, r.Stream, r.Tag)
			}
		}
	}
	vc := actAs(t, ts, "val", "payments=viewer")
	vbody := ts.get(t, vc, "/prune", http.StatusOK)
	if strings.Contains(vbody, "prune-ns-web") || !strings.Contains(vbody, "prune-ns-payments") {
		t.Error("a payments viewer's /prune shows other namespaces or not payments")
	}
}

func TestPinsThroughTheAPIAndTheTagPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	root := ts.apiUser(t, "root", true)
	ed := ts.apiUser(t, "ed", false, "payments=editor")
	vic := ts.apiUser(t, "vic", false, "payments=viewer")
	other := ts.apiUser(t, "olga", false, "web=editor")
	var digest string
	for _, r := range ts.plan(t, root).Revisions {
		if r.Namespace == "payments" && r.Stream == "api" && r.Tag == "prod" {
			digest = r.Image
		}
	}
	if digest == "" {
		t.Fatal("no prunable revision of payments/api:prod in the demo data")
	}
	path := "/api/v1/namespaces/payments/pins/" + digest
	body := `{"note": "used by deployment api in prod"}`
	ts.apiMust(t, http.StatusForbidden, apiCall{method: "PUT", path: path, token: vic, body: body}).errorText(t)
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "PUT", path: path, token: other, body: body}).errorText(t)
	var pin struct{ Namespace, Image, Note, CreatedBy string }
	ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: path, token: ed, body: body}).decode(t, &pin)
	if pin.Note != "used by deployment api in prod" || pin.CreatedBy != "ed" || pin.Image != digest {
		t.Errorf("pin = %+v", pin)
	}
	for _, r := range ts.plan(t, root).Revisions {
		if r.Image == digest && r.Namespace == "payments" {
			t.Errorf("the plan still removes the pinned image from %s:%s", r.Stream, r.Tag)
		}
	}
	if ev := actAudit(t, ts, "image.pin"); len(ev) != 1 || ev[0].Actor != "ed" || !strings.Contains(ev[0].After, "used by deployment api") {
		t.Errorf("audit = %+v", ev)
	}

	// The tag page shows the pin with an Unpin button (editors).
	c := actAs(t, ts, "eve", "payments=editor")
	tagPath := "/ns/payments/istag/api:prod"
	page := ts.get(t, c, tagPath, http.StatusOK)
	if !strings.Contains(page, "used by deployment api in prod") || !strings.Contains(page, `title="pinned: prune never removes it"`) {
		t.Fatal("the tag page does not show the pin's note and the pinned revision")
	}
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(page))
	form := actForm(t, d, tagPath+"/unpin")
	r := actPost(t, ts, c, tagPath+"/unpin", form, false)
	actExpect(t, r, http.StatusSeeOther, "unpin")
	if pins, _ := ts.store.Pins(context.Background(), "payments", ""); len(pins) != 0 {
		t.Errorf("pins after unpin: %+v", pins)
	}
	// Pin again through the form (htmx): the fragment shows the note.
	page = ts.get(t, c, tagPath, http.StatusOK)
	d, _ = goquery.NewDocumentFromReader(strings.NewReader(page))
	form = actForm(t, d, tagPath+"/pin")
	form.Set("image", digest)
	form.Set("note", "canary in staging")
	r = actPost(t, ts, c, tagPath+"/pin", form, true)
	actExpect(t, r, http.StatusOK, "pin")
	if !strings.Contains(r.body, "canary in staging") || !strings.Contains(r.body, "Pinned ") {
		t.Errorf("pin fragment:\n%s", r)
	}
	// A viewer gets no pin form and is refused.
	vc := actAs(t, ts, "vera", "payments=viewer")
	if page := ts.get(t, vc, tagPath, http.StatusOK); strings.Contains(page, tagPath+"/pin\"") {
		t.Error("a viewer sees the pin form")
	}
	form.Set("_csrf", actCSRF(t, ts.get(t, vc, tagPath, http.StatusOK)))
	actExpect(t, actPost(t, ts, vc, tagPath+"/unpin", form, false), http.StatusForbidden, "viewer unpins")

	ts.apiMust(t, http.StatusNoContent, apiCall{method: "DELETE", path: path, token: ed})
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "DELETE", path: path, token: ed}).errorText(t)
	var list struct{ Pins []any }
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/pins", token: vic}).decode(t, &list)
	if len(list.Pins) != 0 {
		t.Errorf("pins = %v", list.Pins)
	}
}

func TestNamespacePrunePolicyOverride(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	root := ts.apiUser(t, "root", true)
	count := func() int {
		n := 0
		for _, r := range ts.plan(t, root).Revisions {
			if r.Namespace == "payments" {
				n++
			}
		}
		return n
	}
	before := count()
	ed := actAs(t, ts, "ed", "payments=editor")
	ts.get(t, ed, "/ns/payments/settings", http.StatusForbidden)

	c := actAs(t, ts, "ada", "payments=admin")
	page := ts.get(t, c, "/ns/payments/settings", http.StatusOK)
	d, _ := goquery.NewDocumentFromReader(strings.NewReader(page))
	form := actForm(t, d, "/ns/payments/settings")
	form.Set("keep_younger_than", "four days")
	r := actPost(t, ts, c, "/ns/payments/settings", form, false)
	actExpect(t, r, http.StatusBadRequest, "bad duration")
	if !strings.Contains(r.body, "is not a duration such as 96h") {
		t.Errorf("no message for a bad duration:\n%s", r)
	}
	form.Set("keep_younger_than", "")
	form.Set("keep_tag_revisions", "1")
	actExpect(t, actPost(t, ts, c, "/ns/payments/settings", form, false), http.StatusSeeOther, "keep 1")
	if after := count(); after <= before {
		t.Errorf("payments keeps 1 revision now, but the plan removes %d revisions (was %d)", after, before)
	}
	ev := actAudit(t, ts, "namespace.settings")
	if len(ev) == 0 || !strings.Contains(ev[0].After, "keep-tag-revisions=1") {
		t.Errorf("audit = %+v", ev)
	}
	page = ts.get(t, c, "/ns/payments/settings", http.StatusOK)
	if !strings.Contains(page, `name="keep_tag_revisions" value="1"`) {
		t.Error("the settings page does not show the override")
	}
	_ = url.Values{}
}

func TestPruneJobRunsAndShows(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, true, func(c *Config) { c.PruneSchedule = "0 0 * * *" })
	ctx := context.Background()
	plan, err := ts.store.PlanPrune(ctx, store.DefaultPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	// While a CLI run holds the lease, the job does not run alongside it.
	if ok, err := ts.store.AcquireLease(ctx, "prune", "cli", time.Now().Add(store.LeaseTTL)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	ts.srv.sched.RunNow(ctx, "prune")
	runs, _ := ts.store.JobRunsOf(ctx, "prune", 5)
	if len(runs) != 1 || runs[0].Status != "failed" || !strings.Contains(runs[0].Message, "another prune run (cli") {
		t.Fatalf("overlapping run: %+v", runs)
	}
	if err := ts.store.ReleaseLease(ctx, "prune", "cli"); err != nil {
		t.Fatal(err)
	}
	ts.srv.sched.RunNow(ctx, "prune")
	runs, _ = ts.store.JobRunsOf(ctx, "prune", 5)
	if runs[0].Status != "ok" || runs[0].Count != int64(len(plan.Revisions)) || runs[0].BytesFreed != plan.BytesFreed {
		t.Errorf("run = %+v; plan had %d revisions, %d bytes", runs[0], len(plan.Revisions), plan.BytesFreed)
	}
	if ev := actAudit(t, ts, "prune.apply"); len(ev) != 1 || ev[0].Actor != "prune:job" {
		t.Errorf("audit = %+v", ev)
	}
	if p, _ := ts.store.PlanPrune(ctx, store.DefaultPolicy, nil); len(p.Revisions) != 0 {
		t.Errorf("after the run the plan still removes %d revisions", len(p.Revisions))
	}
	c := ts.client(t)
	ts.login(t, c, "demo", "demo")
	want := "deleted " + strconv.Itoa(len(plan.Revisions)) + " image stream revisions"
	for _, path := range []string{"/jobs", "/", "/prune"} {
		if body := ts.get(t, c, path, http.StatusOK); !strings.Contains(body, want) {
			t.Errorf("%s does not show the prune run (%q)", path, want)
		}
	}
}
