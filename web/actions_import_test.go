package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"layerwise/store"
	"layerwise/views"
)

// TestImportNowButton: an editor adds a tag from a registry image with
// "Add and import now" on the stream page, then re-imports it with the
// tag page's "Import now": the same digest changes nothing, a new one adds
// an entry and moves the alias that tracks the tag, a registry that is
// down is reported next to the button and on the tag and stream pages
// while the image stays. Viewers get no button and are refused.
func TestImportNowButton(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	editor := actAs(t, ts, "eddie", "payments=editor")
	viewer := actAs(t, ts, "viola", "payments=viewer")
	reg := newImportRegistry(t, "", "")
	d1 := reg.push(t, "payments/tool:1")
	from := reg.host + "/payments/tool:1"
	streamPath := views.StreamHref("payments", "api")
	toolHref := views.TagHref("payments", "api", "tool")
	importHref := views.TagActionHref(toolHref, "import")

	// The stream page's add form imports at once.
	d := doc(t, ts.get(t, editor, streamPath, http.StatusOK))
	if got := squash(d.Find(`section.add-tag button[name=import][value=now]`).Text()); got != "Add and import now" {
		t.Fatalf("add form button %q", got)
	}
	f := actForm(t, d, views.AddTagHref("payments", "api"))
	f.Set("source", from)
	f.Set("tag", "tool")
	f.Set("import", "now")
	r := actPost(t, ts, editor, views.AddTagHref("payments", "api"), f, false)
	actExpect(t, r, http.StatusSeeOther, "add and import now")
	if got := actHistory(t, ts, "payments", "api", "tool"); len(got) != 1 || got[0] != d1 {
		t.Fatalf("history after add and import: %v, want [%s]", got, d1)
	}
	if evs := actAudit(t, ts, "tag.import"); len(evs) != 1 || evs[0].Actor != "eddie" || evs[0].Target != "payments/api:tool" {
		t.Errorf("audit %+v", evs)
	}
	alias := store.Source{Kind: store.KindImageStreamTag, Namespace: "payments", Stream: "api", Tag: "tool"}
	if _, err := ts.store.SetTag(t.Context(), alias, store.TagRef{Namespace: "payments", Stream: "api", Tag: "tool-stable"}, store.TagOptions{Alias: true}); err != nil {
		t.Fatal(err)
	}

	// A stream tag cannot be imported.
	f.Set("source", "latest")
	f.Set("tag", "other")
	r = actPost(t, ts, editor, views.AddTagHref("payments", "api"), f, false)
	actExpect(t, r, http.StatusBadRequest, "import a stream tag")
	if got := squash(doc(t, r.body).Find("section.add-tag .field-error").Text()); !strings.Contains(got, "only an image from a registry") {
		t.Errorf("stream tag import: %q", got)
	}

	// The tag page's button; the same digest changes nothing.
	d = doc(t, ts.get(t, editor, toolHref, http.StatusOK))
	if got := squash(d.Find(`form[action="` + importHref + `"] button`).Text()); got != "Import now" {
		t.Fatalf("tag page import button %q", got)
	}
	f = actForm(t, d, importHref)
	r = actPost(t, ts, editor, importHref, f, false)
	actExpect(t, r, http.StatusSeeOther, "import unchanged")
	page := squash(mainText(ts.get(t, editor, r.location, http.StatusOK)))
	if !strings.Contains(page, "Imported tool: the registry still has "+views.ShortDigest(d1)+"; nothing changed.") {
		t.Errorf("unchanged import page: %s", firstLines(page, 5))
	}
	if got := actHistory(t, ts, "payments", "api", "tool"); len(got) != 1 {
		t.Errorf("an unchanged import added history: %v", got)
	}

	// A new image upstream: htmx gets the tag body with the news.
	d2 := reg.push(t, "payments/tool:1")
	r = actPost(t, ts, editor, importHref, f, true)
	actExpect(t, r, http.StatusOK, "import changed (htmx)")
	if !isFragment(r.body) || !strings.Contains(squash(mainText(r.body)), "Imported tool: the registry had a new image, "+views.ShortDigest(d2)+" is now current.") {
		t.Errorf("htmx answer: %s", r)
	}
	if got := actHistory(t, ts, "payments", "api", "tool"); len(got) != 2 || got[0] != d2 || got[1] != d1 {
		t.Errorf("history %v, want [%s %s]", got, d2, d1)
	}
	if got := actHistory(t, ts, "payments", "api", "tool-stable"); len(got) == 0 || got[0] != d2 {
		t.Errorf("the alias did not follow: %v", got)
	}

	// Without the CSRF token nothing happens.
	noCSRF := actPost(t, ts, editor, importHref, url.Values{"back": {"tool"}}, false)
	actExpect(t, noCSRF, http.StatusForbidden, "import without a CSRF token")

	// Viewers see no button and are refused.
	d = doc(t, ts.get(t, viewer, toolHref, http.StatusOK))
	if d.Find(`form[action="`+importHref+`"]`).Length() != 0 {
		t.Error("a viewer sees Import now")
	}
	before := actDump(t, ts)
	f.Set("_csrf", actCSRF(t, ts.get(t, viewer, toolHref, http.StatusOK)))
	r = actPost(t, ts, viewer, importHref, f, false)
	actExpect(t, r, http.StatusForbidden, "viewer import")
	if actDump(t, ts) != before {
		t.Error("a refused import changed the database")
	}

	// A tag without an external source has no button and is refused.
	latestImport := views.TagActionHref(views.TagHref("payments", "api", "latest"), "import")
	f = actForm(t, doc(t, ts.get(t, editor, toolHref, http.StatusOK)), importHref)
	r = actPost(t, ts, editor, latestImport, f, false)
	actExpect(t, r, http.StatusBadRequest, "import a pushed tag")
	if !strings.Contains(r.body, "has no external image (DockerImage) to import from") {
		t.Errorf("pushed tag: %s", r)
	}

	// The registry goes down: 502 next to the button, the failure on the
	// tag and stream pages, the image kept.
	reg.srv.Close()
	r = actPost(t, ts, editor, importHref, f, false)
	actExpect(t, r, http.StatusBadGateway, "import from a registry that is down")
	d = doc(t, r.body)
	if got := squash(d.Find(`.tag-actions .field-error`).Text()); !strings.Contains(got, "cannot read from registry "+reg.host) {
		t.Errorf("error next to the button: %q", got)
	}
	for _, path := range []string{toolHref, streamPath} {
		d = doc(t, ts.get(t, editor, path, http.StatusOK))
		box, want := d.Find(`.alert-danger`), "keeps its current image"
		if path == streamPath {
			box, want = d.Find(`tr#tag-tool .import-error`), "Import failed"
		}
		if got := squash(box.Text()); !strings.Contains(got, "cannot read from registry") || !strings.Contains(got, want) {
			t.Errorf("%s: import failure box %q", path, got)
		}
	}
	if got := actHistory(t, ts, "payments", "api", "tool"); len(got) != 2 || got[0] != d2 {
		t.Errorf("history after a failed import %v", got)
	}
}

// TestScheduledImportJob: serve's import job is on the scheduler; a run
// imports a changed scheduled tag, is recorded with its counts, and the
// pages show the new image and, after a failed run, the failure.
func TestScheduledImportJob(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, true, func(c *Config) { c.ImportSchedule = "@every 15m" })
	var found bool
	for _, st := range ts.srv.sched.Statuses() {
		found = found || (st.Name == "import" && st.Schedule == "@every 15m")
	}
	if !found {
		t.Fatalf("no import job: %+v", ts.srv.sched.Statuses())
	}
	editor := actAs(t, ts, "eddie", "payments=editor")
	reg := newImportRegistry(t, "", "")
	reg.push(t, "payments/tool:1")
	tok := ts.apiUser(t, "bot", false, "payments=editor")
	ts.apiMust(t, http.StatusOK, apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreamimports", token: tok,
		body: `{"tag": "api:tool", "from": "` + reg.host + `/payments/tool:1", "scheduled": true}`})
	toolHref := views.TagHref("payments", "api", "tool")
	ts.get(t, editor, toolHref, http.StatusOK) // the page is cached now

	d2 := reg.push(t, "payments/tool:1")
	if !ts.srv.sched.RunNow(t.Context(), "import") {
		t.Fatal("the import job did not run")
	}
	runs, err := ts.store.LastJobRuns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// (The demo data's scheduled tags from quay.io and others fail here:
	// there is no network.)
	if r := runs["import"]; r.Status != "ok" || r.Count < 1 || !strings.Contains(r.Message, "(1 changed, 0 unchanged") {
		t.Errorf("job run %+v", r)
	}
	if page := ts.get(t, editor, toolHref, http.StatusOK); !strings.Contains(page, d2) {
		t.Error("the tag page does not show the image the scheduled import brought")
	}

	reg.srv.Close()
	ts.srv.sched.RunNow(t.Context(), "import")
	runs, _ = ts.store.LastJobRuns(t.Context())
	if r := runs["import"]; r.Status != "ok" || !strings.Contains(r.Message, "1 failed") || !strings.Contains(r.Message, "backing off "+reg.host) {
		t.Errorf("failed job run %+v", r)
	}
	d := doc(t, ts.get(t, editor, views.StreamHref("payments", "api"), http.StatusOK))
	if got := squash(d.Find(`tr#tag-tool .import-error`).Text()); !strings.Contains(got, "cannot read from registry") {
		t.Errorf("stream page after a failed scheduled import: %q", got)
	}
}
