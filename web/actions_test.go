package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"layerwise/store"
	"layerwise/store/storetest"
	"layerwise/views"
)

// The browser's actions, driven through the real forms: the test reads a
// page, takes a form's fields (CSRF token included) and posts them as a
// browser would, with and without htmx.

// actAs creates a user (password "pw-NAME") with role bindings such as
// "payments=editor" and returns a client logged in as them.
func actAs(t *testing.T, ts *testServer, name string, bindings ...string) *http.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.store.CreateUser(ctx, name, "pw-"+name, false); err != nil {
		t.Fatal(err)
	}
	for _, b := range bindings {
		ns, r, _ := strings.Cut(b, "=")
		role, err := store.ParseRole(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.store.AddRoleBinding(ctx, ns, name, role); err != nil {
			t.Fatal(err)
		}
	}
	c := ts.client(t)
	if resp := ts.login(t, c, name, "pw-"+name); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: %d", name, resp.StatusCode)
	}
	return c
}

// actForm finds the form posting to action on a page and returns its
// fields; it fails the test when there is none.
func actForm(t *testing.T, d *goquery.Document, action string) url.Values {
	t.Helper()
	f := d.Find(fmt.Sprintf(`form[action=%q]`, action))
	if f.Length() == 0 {
		var have []string
		d.Find("form[method=post]").Each(func(_ int, s *goquery.Selection) { have = append(have, s.AttrOr("action", "")) })
		t.Fatalf("no form posting to %s; the page has %q", action, have)
	}
	f = f.First()
	if f.AttrOr("method", "") != "post" {
		t.Fatalf("form %s has method %q", action, f.AttrOr("method", ""))
	}
	v := url.Values{}
	f.Find("input").Each(func(_ int, in *goquery.Selection) {
		name := in.AttrOr("name", "")
		switch in.AttrOr("type", "text") {
		case "checkbox":
			if _, on := in.Attr("checked"); on {
				v.Set(name, in.AttrOr("value", "on"))
			}
		default:
			v.Set(name, in.AttrOr("value", ""))
		}
	})
	if v.Get("_csrf") == "" {
		t.Fatalf("form %s has no CSRF token", action)
	}
	return v
}

// actCSRF is the CSRF token of any form on a page.
func actCSRF(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	return m[1]
}

type actResult struct {
	status   int
	location string
	body     string
	header   http.Header
}

// actPost posts a form, as htmx when hx is set.
func actPost(t *testing.T, ts *testServer, c *http.Client, path string, form url.Values, hx bool) actResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if hx {
		req.Header.Set("HX-Request", "true")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return actResult{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header}
}

func (r actResult) String() string {
	return fmt.Sprintf("%d %s\n%s", r.status, r.location, firstLines(squash(mainText(r.body)), 30))
}

// mainText is the text of <main>, or of the whole fragment.
func mainText(body string) string {
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		return body
	}
	if m := d.Find("main"); m.Length() > 0 {
		return m.Text()
	}
	return d.Text()
}

func actExpect(t *testing.T, r actResult, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %s\nwant status %d", what, r, status)
	}
}

// actHistory is a tag's history, newest first (nil when there is no such tag).
func actHistory(t *testing.T, ts *testServer, ns, stream, tag string) []string {
	t.Helper()
	tg := actTag(t, ts, ns, stream, tag)
	if tg == nil {
		return nil
	}
	out := []string{}
	for _, it := range tg.Items {
		out = append(out, it.Image)
	}
	return out
}

func actTag(t *testing.T, ts *testServer, ns, stream, tag string) *store.TagSnapshot {
	t.Helper()
	st, err := ts.store.GetStream(context.Background(), store.StreamRef{Namespace: ns, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Tags {
		if st.Tags[i].Name == tag {
			return &st.Tags[i]
		}
	}
	return nil
}

// actDump is every table but sessions: a refused action changes nothing.
func actDump(t *testing.T, ts *testServer) string {
	t.Helper()
	d := storetest.Dump(t, ts.store)
	var b strings.Builder
	skip := false
	for _, line := range strings.SplitAfter(d, "\n") {
		if strings.HasPrefix(line, "== ") {
			skip = strings.HasPrefix(line, "== sessions ")
		}
		if !skip {
			b.WriteString(line)
		}
	}
	return b.String()
}

func actAudit(t *testing.T, ts *testServer, action string) []store.AuditEvent {
	t.Helper()
	evs, err := ts.store.AuditLog(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// actConfirm answers a confirmation page: it checks that the page asks,
// then posts its form (confirm=yes) as a browser would.
func actConfirm(t *testing.T, ts *testServer, c *http.Client, r actResult) actResult {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("want a confirmation page: %s", r)
	}
	d := doc(t, r.body)
	f := d.Find("form.confirm-form")
	if f.Length() != 1 || f.Find(`input[name=confirm]`).AttrOr("value", "") != "yes" {
		t.Fatalf("no confirmation form: %s", r)
	}
	return actPost(t, ts, c, f.AttrOr("action", ""), actForm(t, d, f.AttrOr("action", "")), false)
}

func isFragment(body string) bool {
	return !strings.Contains(body, "<html") && !strings.Contains(strings.ToLower(body), "<!doctype") && !strings.Contains(body, `class="site"`)
}

func TestActionPromote(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	const streamPath = "/ns/payments/is/api"
	latest := actHistory(t, ts, "payments", "api", "latest")
	testBefore := actHistory(t, ts, "payments", "api", "test")

	d := doc(t, ts.get(t, c, streamPath, http.StatusOK))
	promote := views.TagActionHref(views.TagHref("payments", "api", "latest"), "promote")
	f := actForm(t, d, promote)
	form := d.Find(fmt.Sprintf(`form[action=%q]`, promote))
	if got := squash(form.Find("button").Text()); got != "Promote to test" {
		t.Errorf("promote button %q, want \"Promote to test\"", got)
	}
	if got := form.Find(".digest").AttrOr("title", ""); got != latest[0] {
		t.Errorf("the promote button shows %q moving, latest is %s", got, latest[0])
	}
	if !strings.Contains(squash(form.Text()), views.ShortDigest(latest[0])) {
		t.Errorf("the promote button does not show the short digest: %q", squash(form.Text()))
	}
	if form.AttrOr("hx-post", "") != promote || form.AttrOr("hx-target", "") != "#tags" || form.AttrOr("hx-swap", "") != "outerHTML" {
		t.Errorf("promote form htmx attributes: post %q target %q swap %q", form.AttrOr("hx-post", ""), form.AttrOr("hx-target", ""), form.AttrOr("hx-swap", ""))
	}
	// prod is the last rung: no promote button.
	if d.Find(fmt.Sprintf(`form[action=%q]`, views.TagActionHref(views.TagHref("payments", "api", "prod"), "promote"))).Length() != 0 {
		t.Error("prod, the last rung, has a promote button")
	}

	// A plain form POST: 303 back to the stream page, which says what moved.
	r := actPost(t, ts, c, promote, f, false)
	actExpect(t, r, http.StatusSeeOther, "promote latest")
	if !strings.HasPrefix(r.location, streamPath+"?") || !strings.Contains(r.location, "done=promoted") || !strings.HasSuffix(r.location, "#tag-test") {
		t.Errorf("promote redirects to %q", r.location)
	}
	test := actHistory(t, ts, "payments", "api", "test")
	if test[0] != latest[0] || len(test) != len(testBefore)+1 {
		t.Fatalf("test history after promote: %q (was %q), want %s on top", test, testBefore, latest[0])
	}
	page := doc(t, ts.get(t, c, strings.SplitN(r.location, "#", 2)[0], http.StatusOK))
	if got := squash(page.Find("#tags .alert-ok").Text()); !strings.Contains(got, "Promoted latest → test") || !strings.Contains(got, views.ShortDigest(latest[0])) {
		t.Errorf("after the redirect the page says %q", got)
	}
	if page.Find("tr.changed#tag-test").Length() != 1 || !strings.Contains(squash(page.Find("#tag-test + tr.row-notice").Text()), "Promoted latest → test") {
		t.Error("the promoted tag is not marked as changed, or the notice is not under its row")
	}
	evs := actAudit(t, ts, "tag.promote")
	if len(evs) != 1 || evs[0].Actor != "demo" || evs[0].Target != "payments/api:test" || evs[0].Before != testBefore[0] || !strings.HasPrefix(evs[0].After, latest[0]) {
		t.Errorf("audit after promote: %+v", evs)
	}

	// prod is the last rung: the promotion asks first (also when sent by
	// htmx: the confirmation replaces the tags section), and nothing
	// changes until it is confirmed.
	d = doc(t, ts.get(t, c, streamPath, http.StatusOK))
	promoteTest := views.TagActionHref(views.TagHref("payments", "api", "test"), "promote")
	prodBefore := actHistory(t, ts, "payments", "api", "prod")
	ask := actPost(t, ts, c, promoteTest, actForm(t, d, promoteTest), true)
	actExpect(t, ask, http.StatusOK, "htmx promote test")
	if !isFragment(ask.body) || !strings.HasPrefix(strings.TrimSpace(ask.body), `<section id="tags"`) {
		t.Errorf("htmx promote answered with more than the tags section:\n%s", firstLines(ask.body, 5))
	}
	if got := squash(doc(t, ask.body).Find("h1").Text()); got != "Promote test to prod?" {
		t.Errorf("the confirmation asks %q", got)
	}
	if vary := strings.Join(ask.header.Values("Vary"), ", "); !strings.Contains(vary, "HX-Request") {
		t.Errorf("Vary = %q", vary)
	}
	if prod := actHistory(t, ts, "payments", "api", "prod"); strings.Join(prod, ",") != strings.Join(prodBefore, ",") {
		t.Fatal("prod changed before the promotion was confirmed")
	}
	r = actConfirm(t, ts, c, ask)
	actExpect(t, r, http.StatusSeeOther, "confirmed promote")
	if !strings.HasPrefix(r.location, streamPath+"?") || !strings.HasSuffix(r.location, "#tag-prod") {
		t.Errorf("the confirmed promotion redirects to %q", r.location)
	}
	frag := doc(t, ts.get(t, c, strings.SplitN(r.location, "#", 2)[0], http.StatusOK))
	if got := squash(frag.Find("#tag-prod + tr.row-notice .alert-ok").Text()); !strings.Contains(got, "Promoted test → prod") {
		t.Errorf("after the confirmed promotion the page says %q", got)
	}
	if prod := actHistory(t, ts, "payments", "api", "prod"); prod[0] != latest[0] {
		t.Errorf("prod after promote: %q", prod)
	}

	// From the tag page, htmx answers with the tag's body.
	tagPath := views.TagHref("payments", "fraud-worker", "latest")
	d = doc(t, ts.get(t, c, tagPath, http.StatusOK))
	promoteFW := views.TagActionHref(tagPath, "promote")
	f = actForm(t, d, promoteFW)
	if f.Get("back") != "latest" {
		t.Errorf("the tag page's form goes back to %q", f.Get("back"))
	}
	r = actPost(t, ts, c, promoteFW, f, true)
	actExpect(t, r, http.StatusOK, "htmx promote on the tag page")
	if !isFragment(r.body) || !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="tag-body"`) {
		t.Errorf("htmx promote on the tag page answered:\n%s", firstLines(r.body, 5))
	}
	r = actPost(t, ts, c, promoteFW, f, false)
	actExpect(t, r, http.StatusSeeOther, "promote again on the tag page")
	if !strings.HasPrefix(r.location, tagPath+"?") || !strings.Contains(r.location, "done=unchanged") {
		t.Errorf("a promotion that changes nothing redirects to %q", r.location)
	}
}

func TestActionRollback(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	tagPath := views.TagHref("payments", "api", "prod")
	before := actHistory(t, ts, "payments", "api", "prod")
	d := doc(t, ts.get(t, c, tagPath, http.StatusOK))
	rollback := views.TagActionHref(tagPath, "rollback")
	forms := d.Find(fmt.Sprintf(`table.history form[action=%q]`, rollback))
	// Every non-current entry with an image other than the current one.
	want := 0
	for _, dg := range before[1:] {
		if dg != "" && dg != before[0] {
			want++
		}
	}
	if forms.Length() != want || want == 0 {
		t.Fatalf("%d \"Make current\" buttons, want %d (history %q)", forms.Length(), want, before)
	}
	if d.Find("table.history tr.current form").Length() != 0 {
		t.Error("the current entry has a \"Make current\" button")
	}
	target := forms.Last().Find(`input[name=digest]`).AttrOr("value", "")
	f := actForm(t, d, rollback)
	f.Set("digest", target)
	// It asks first, saying what changes; nothing changes until confirmed.
	ask := actPost(t, ts, c, rollback, f, false)
	actExpect(t, ask, http.StatusOK, "make current")
	if got := squash(doc(t, ask.body).Find("section.confirm").Text()); !strings.Contains(got, "prod moves back from "+views.ShortDigest(before[0])) ||
		!strings.Contains(got, "The next prune") {
		t.Errorf("the confirmation says %q", got)
	}
	if got := actHistory(t, ts, "payments", "api", "prod"); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Fatal("the rollback happened before it was confirmed")
	}
	r := actConfirm(t, ts, c, ask)
	actExpect(t, r, http.StatusSeeOther, "confirmed make current")
	if !strings.HasPrefix(r.location, tagPath+"?") || !strings.Contains(r.location, "done=rolledback") || !strings.HasSuffix(r.location, "#history") {
		t.Errorf("rollback redirects to %q", r.location)
	}
	after := actHistory(t, ts, "payments", "api", "prod")
	if after[0] != target || len(after) != len(before)+1 {
		t.Fatalf("prod after rollback: %q (was %q), want %s on top", after, before, target)
	}
	if evs := actAudit(t, ts, "tag.rollback"); len(evs) != 1 || evs[0].Before != before[0] || evs[0].After != target {
		t.Errorf("audit after rollback: %+v", evs)
	}
	page := doc(t, ts.get(t, c, strings.SplitN(r.location, "#", 2)[0], http.StatusOK))
	if got := squash(page.Find("section#history > .alert-ok").Text()); !strings.Contains(got, "Rolled back prod") {
		t.Errorf("after the rollback the history says %q", got)
	}
	if got := page.Find("table.history tr.current.changed a.digest").AttrOr("title", ""); got != target {
		t.Errorf("the new entry marked changed is %q, want %s", got, target)
	}
	// The spec names the image made current, as `oc tag api@sha256:… api:prod`
	// sets it: the page and `get is -o json` say where prod points.
	if spec := actTag(t, ts, "payments", "api", "prod").From; spec == nil || *spec != (store.ObjectRef{Kind: store.KindImageStreamImage, Name: "api@" + target}) {
		t.Errorf("prod's spec after the rollback: %+v, want ImageStreamImage api@%s", spec, target)
	}
	if src := page.Find("#tag-body p.source"); !strings.Contains(squash(src.Text()), "tagged from api@"+views.ShortDigest(target)) ||
		src.Find(".digest").AttrOr("title", "") != target {
		t.Errorf("the tag page does not say prod is tagged from api@%s: %q", target, squash(src.Text()))
	}

	// Confirmed through htmx: the tag's body, with the new top entry.
	d = doc(t, ts.get(t, c, tagPath, http.StatusOK))
	f = actForm(t, d, rollback)
	f.Set("confirm", "yes")
	r = actPost(t, ts, c, rollback, f, true)
	actExpect(t, r, http.StatusOK, "htmx make current")
	if !isFragment(r.body) || !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="tag-body"`) {
		t.Error("htmx rollback answered with more than the tag's body")
	}
	now := actHistory(t, ts, "payments", "api", "prod")
	if now[0] != f.Get("digest") {
		t.Errorf("prod after htmx rollback: %q, want %s on top", now, f.Get("digest"))
	}
	frag := doc(t, r.body)
	if got := frag.Find("table.history tr.current.changed a.digest").AttrOr("title", ""); got != now[0] {
		t.Errorf("the fragment marks %q current, want %s", got, now[0])
	}

	// An image that is not in the history: nothing to confirm, refused at
	// the top (no button is that entry's).
	f.Set("digest", "sha256:"+strings.Repeat("0", 64))
	f.Del("confirm")
	r = actPost(t, ts, c, rollback, f, false)
	actExpect(t, r, http.StatusNotFound, "rollback to a foreign image")
	if got := squash(doc(t, r.body).Find("#tag-body > .alert-danger").Text()); !strings.Contains(got, "is not in the history of payments/api:prod") {
		t.Errorf("rollback error shown as %q", got)
	}
}

// TestActionRollbackKeepsATrackingSource: "Make current" on a tag that
// tracks another tag keeps that source, and the page says so before and
// after.
func TestActionRollbackKeepsATrackingSource(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	ctx := context.Background()
	latest := actHistory(t, ts, "payments", "api", "latest")
	if _, err := ts.store.SetTag(ctx, store.Source{Kind: store.KindImageStreamTag, Namespace: "payments", Stream: "api", Tag: "latest"},
		store.TagRef{Namespace: "payments", Stream: "api", Tag: "stable"}, store.TagOptions{Alias: true}); err != nil {
		t.Fatal(err)
	}
	// Give stable an older image of the stream, as a rollback target.
	old := ""
	for _, dg := range actHistory(t, ts, "payments", "api", "prod") {
		if dg != "" && dg != latest[0] {
			old = dg
			break
		}
	}
	if _, err := ts.store.MapImage(ctx, "payments", "api", "stable", store.ImageSnapshot{Digest: old}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.store.MapImage(ctx, "payments", "api", "stable", store.ImageSnapshot{Digest: latest[0]}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	tagPath := views.TagHref("payments", "api", "stable")
	d := doc(t, ts.get(t, c, tagPath, http.StatusOK))
	if got := squash(d.Find("p.keeps-source").Text()); !strings.Contains(got, "keeps this tag's source — tracks latest") {
		t.Errorf("the tag page says %q about rolling back a tracking tag", got)
	}
	rollback := views.TagActionHref(tagPath, "rollback")
	f := actForm(t, d, rollback)
	f.Set("digest", old)
	ask := actPost(t, ts, c, rollback, f, false)
	if got := squash(doc(t, ask.body).Find("section.confirm").Text()); !strings.Contains(got, "stable keeps its source (tracks api:latest)") {
		t.Errorf("the confirmation says %q about a tracking tag", got)
	}
	r := actConfirm(t, ts, c, ask)
	actExpect(t, r, http.StatusSeeOther, "make current")
	if !strings.Contains(r.location, "done=rolledbackkept") {
		t.Errorf("rollback redirects to %q", r.location)
	}
	page := doc(t, ts.get(t, c, r.location, http.StatusOK))
	if got := squash(page.Find(".alert-ok").Text()); !strings.Contains(got, "keeps its source") {
		t.Errorf("after the rollback the page says %q", got)
	}
	tag := actTag(t, ts, "payments", "api", "stable")
	if tag.From == nil || *tag.From != (store.ObjectRef{Kind: store.KindImageStreamTag, Name: "api:latest"}) || tag.Items[0].Image != old {
		t.Errorf("stable after the rollback: from %+v, current %s", tag.From, tag.Items[0].Image)
	}
}

func TestActionAddDeleteSchedule(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	streamPath := views.StreamHref("payments", "api")
	add := views.AddTagHref("payments", "api")
	latest := actHistory(t, ts, "payments", "api", "latest")

	// A copy of latest.
	d := doc(t, ts.get(t, c, streamPath, http.StatusOK))
	f := actForm(t, d, add)
	f.Set("source", "latest")
	f.Set("tag", "candidate")
	r := actPost(t, ts, c, add, f, false)
	actExpect(t, r, http.StatusSeeOther, "add a copy")
	if !strings.Contains(r.location, "done=tagged") || !strings.HasSuffix(r.location, "#add-tag") {
		t.Errorf("add redirects to %q", r.location)
	}
	// Said at the form, the new tag marked in the table.
	added := doc(t, ts.get(t, c, strings.SplitN(r.location, "#", 2)[0], http.StatusOK))
	if got := squash(added.Find("section.add-tag .alert-ok").Text()); !strings.Contains(got, "Tagged candidate") {
		t.Errorf("after adding, the form says %q", got)
	}
	if added.Find("tr.changed#tag-candidate").Length() != 1 || added.Find(".changed").Length() != 1 {
		t.Error("the new tag is not the one marked")
	}
	cand := actTag(t, ts, "payments", "api", "candidate")
	if cand == nil || cand.Items[0].Image != latest[0] || cand.From == nil || cand.From.Kind != store.KindImageStreamImage {
		t.Fatalf("candidate after add: %+v", cand)
	}

	// An alias that tracks latest (htmx).
	f.Set("source", "api:latest")
	f.Set("tag", "edge")
	f.Set("alias", "on")
	r = actPost(t, ts, c, add, f, true)
	actExpect(t, r, http.StatusOK, "add an alias")
	edge := actTag(t, ts, "payments", "api", "edge")
	if edge == nil || edge.From == nil || edge.From.Kind != store.KindImageStreamTag || edge.Items[0].Image != latest[0] {
		t.Fatalf("edge after add: %+v", edge)
	}
	if got := squash(doc(t, r.body).Find("tr#tag-edge td.source").Text()); got != "tracks latest" {
		t.Errorf("edge's source reads %q", got)
	}

	// An alias across streams is refused next to the form, fields kept.
	f.Set("source", "ledger:latest")
	f.Set("tag", "ledger-alias")
	before := actDump(t, ts)
	r = actPost(t, ts, c, add, f, false)
	actExpect(t, r, http.StatusBadRequest, "alias across streams")
	d = doc(t, r.body)
	if got := squash(d.Find("section.add-tag .field-error").Text()); !strings.Contains(got, "cannot set alias across different Image Streams") {
		t.Errorf("alias across streams: error next to the form %q\n%s", got, r)
	}
	if v := d.Find(`section.add-tag input[name=source]`).AttrOr("value", ""); v != "ledger:latest" {
		t.Errorf("the typed source is not kept: %q", v)
	}
	if _, on := d.Find(`section.add-tag input[name=alias]`).Attr("checked"); !on {
		t.Error("the alias box is not kept checked")
	}
	if actDump(t, ts) != before {
		t.Error("a refused alias changed the database")
	}
	// A missing source.
	f.Del("alias")
	f.Set("source", "nope:latest")
	r = actPost(t, ts, c, add, f, false)
	actExpect(t, r, http.StatusBadRequest, "add from a missing tag")
	if got := squash(doc(t, r.body).Find("section.add-tag .field-error").Text()); !strings.Contains(got, "not found") {
		t.Errorf("missing source: %q", got)
	}

	// An external image, scheduled.
	f.Set("source", "quay.io/acme/tool:1.0")
	f.Set("tag", "tool")
	f.Set("scheduled", "on")
	r = actPost(t, ts, c, add, f, false)
	actExpect(t, r, http.StatusSeeOther, "add an external image")
	if tool := actTag(t, ts, "payments", "api", "tool"); tool == nil || !tool.Scheduled || tool.From.Kind != store.KindDockerImage {
		t.Fatalf("tool after add: %+v", tool)
	}

	// Toggle scheduled import off, then on again with htmx.
	toolHref := views.TagHref("payments", "api", "tool")
	schedule := views.TagActionHref(toolHref, "scheduled")
	d = doc(t, ts.get(t, c, toolHref, http.StatusOK))
	f = actForm(t, d, schedule)
	if f.Get("scheduled") != "off" {
		t.Fatalf("a scheduled tag's toggle asks for %q", f.Get("scheduled"))
	}
	r = actPost(t, ts, c, schedule, f, false)
	actExpect(t, r, http.StatusSeeOther, "scheduled off")
	if actTag(t, ts, "payments", "api", "tool").Scheduled {
		t.Fatal("still scheduled")
	}
	d = doc(t, ts.get(t, c, toolHref, http.StatusOK))
	f = actForm(t, d, schedule)
	if f.Get("scheduled") != "on" {
		t.Fatalf("an unscheduled tag's toggle asks for %q", f.Get("scheduled"))
	}
	r = actPost(t, ts, c, schedule, f, true)
	actExpect(t, r, http.StatusOK, "htmx scheduled on")
	if !actTag(t, ts, "payments", "api", "tool").Scheduled {
		t.Fatal("not scheduled again")
	}
	if !strings.Contains(squash(doc(t, r.body).Find(".alert-ok").Text()), "Scheduled import is on for tool") {
		t.Errorf("scheduled fragment: %s", r)
	}
	// latest is no external image: no toggle, and a forged one is refused.
	latestSched := views.TagActionHref(views.TagHref("payments", "api", "latest"), "scheduled")
	if d.Find(fmt.Sprintf(`form[action=%q]`, latestSched)).Length() != 0 {
		t.Error("latest has a scheduled toggle")
	}
	f.Set("back", "latest")
	r = actPost(t, ts, c, latestSched, f, false)
	actExpect(t, r, http.StatusBadRequest, "schedule a pushed tag")
	if got := squash(doc(t, r.body).Find("#tag-actions .field-error").Text()); !strings.Contains(got, "only tags from an external image") {
		t.Errorf("scheduling latest: %q", got)
	}

	// Delete, with the confirmation naming the tag.
	candHref := views.TagHref("payments", "api", "candidate")
	del := views.TagActionHref(candHref, "delete")
	d = doc(t, ts.get(t, c, candHref, http.StatusOK))
	box := d.Find(fmt.Sprintf(`form[action=%q]`, del))
	if !strings.Contains(squash(box.Find("label").Text()), "Type candidate to delete") {
		t.Errorf("delete confirmation reads %q", squash(box.Find("label").Text()))
	}
	f = actForm(t, d, del)
	f.Set("confirm", "latest")
	r = actPost(t, ts, c, del, f, false)
	actExpect(t, r, http.StatusBadRequest, "delete with the wrong name")
	dd := doc(t, r.body)
	if got := squash(dd.Find("details.danger-zone .field-error").Text()); !strings.Contains(got, "type candidate to confirm") {
		t.Errorf("wrong confirmation: %q", got)
	}
	if _, open := dd.Find("details.danger-zone").Attr("open"); !open {
		t.Error("the delete box is closed after its error")
	}
	if actTag(t, ts, "payments", "api", "candidate") == nil {
		t.Fatal("deleted without confirmation")
	}
	f.Set("confirm", "candidate")
	r = actPost(t, ts, c, del, f, false)
	actExpect(t, r, http.StatusSeeOther, "delete")
	if !strings.HasPrefix(r.location, streamPath+"?") || !strings.Contains(r.location, "done=deleted") {
		t.Errorf("delete redirects to %q", r.location)
	}
	if actTag(t, ts, "payments", "api", "candidate") != nil {
		t.Fatal("candidate still exists")
	}
	if evs := actAudit(t, ts, "tag.delete"); len(evs) != 1 || evs[0].Target != "payments/api:candidate" {
		t.Errorf("audit after delete: %+v", evs)
	}

	// Delete from the tag's own page goes back to the stream; with htmx by
	// HX-Redirect.
	d = doc(t, ts.get(t, c, toolHref, http.StatusOK))
	delTool := views.TagActionHref(toolHref, "delete")
	f = actForm(t, d, delTool)
	f.Set("confirm", "tool")
	r = actPost(t, ts, c, delTool, f, true)
	actExpect(t, r, http.StatusOK, "htmx delete on the tag page")
	if hx := r.header.Get("HX-Redirect"); !strings.HasPrefix(hx, streamPath+"?") {
		t.Errorf("HX-Redirect %q", hx)
	}

	// Deleting a tag that does not exist.
	nosuch := views.TagActionHref(views.TagHref("payments", "api", "nosuch"), "delete")
	f.Set("confirm", "nosuch")
	f.Set("back", "")
	r = actPost(t, ts, c, nosuch, f, false)
	actExpect(t, r, http.StatusNotFound, "delete an unknown tag")
	if got := squash(doc(t, r.body).Find("#tags .alert-danger").Text()); !strings.Contains(got, "payments/api:nosuch not found") {
		t.Errorf("unknown tag: %q", got)
	}
}

func TestActionErrorsAndCSRF(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	streamPath := views.StreamHref("payments", "api")
	body := ts.get(t, c, streamPath, http.StatusOK)
	token := actCSRF(t, body)

	// Promote from the last rung: said in words, nothing changed.
	before := actDump(t, ts)
	prodPromote := views.TagActionHref(views.TagHref("payments", "api", "prod"), "promote")
	r := actPost(t, ts, c, prodPromote, url.Values{"_csrf": {token}}, false)
	actExpect(t, r, http.StatusBadRequest, "promote prod")
	if got := squash(doc(t, r.body).Find("#tags .alert-danger").Text()); !strings.Contains(got, `"prod" has no next step on the promotion ladder latest → test → prod`) {
		t.Errorf("promote from the last rung: %q", got)
	}
	// A promotion whose source moved since the page was loaded: 409.
	latestPromote := views.TagActionHref(views.TagHref("payments", "api", "latest"), "promote")
	r = actPost(t, ts, c, latestPromote, url.Values{"_csrf": {token}, "to": {"test"}, "digest": {"sha256:" + strings.Repeat("1", 64)}}, true)
	actExpect(t, r, http.StatusConflict, "stale promote")
	if got := squash(doc(t, r.body).Find("tr#tag-latest + tr.row-notice .field-error").Text()); !strings.Contains(got, "has moved to") {
		t.Errorf("stale promote: %q", got)
	}
	if actDump(t, ts) != before {
		t.Error("a refused promotion changed the database")
	}

	// A wrong CSRF token and a missing one: 403 and nothing changed.
	r = actPost(t, ts, c, latestPromote, url.Values{"_csrf": {"forged"}, "to": {"test"}}, false)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "reload the page") {
		t.Errorf("forged CSRF token: %s", r)
	}
	for _, path := range []string{latestPromote, views.AddTagHref("payments", "api"), "/ns/payments/settings", "/ns/payments/members", "/tokens",
		views.TagActionHref(views.TagHref("payments", "api", "prod"), "rollback")} {
		r := actPost(t, ts, c, path, url.Values{"tag": {"x"}, "source": {"latest"}, "name": {"x"}, "to": {"test"}}, false)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "csrf") && !strings.Contains(r.body, "reload the page") {
			t.Errorf("POST %s without a CSRF token: %s", path, r)
		}
	}
	if actDump(t, ts) != before {
		t.Error("a POST without a CSRF token changed the database")
	}

	// GET on an action changes nothing either.
	resp, err := c.Get(ts.URL + latestPromote)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || actDump(t, ts) != before {
		t.Errorf("GET %s: %d", latestPromote, resp.StatusCode)
	}
}

func TestViewerSeesNoActionsAndIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ann := actAs(t, ts, "ann", "payments=viewer")
	ed := actAs(t, ts, "ed", "payments=editor")
	streamPath := views.StreamHref("payments", "api")
	tagPath := views.TagHref("payments", "api", "latest")

	for _, path := range []string{streamPath, tagPath} {
		d := doc(t, ts.get(t, ann, path, http.StatusOK))
		for _, sel := range []string{`form[action*=promote]`, `form[action*=rollback]`, `form[action*=delete]`, `form[action*=scheduled]`,
			`form[action$="/tags"]`, `[hx-post]`, `details.danger-zone`} {
			if n := d.Find(sel).Length(); n != 0 {
				t.Errorf("viewer on %s sees %d %s", path, n, sel)
			}
		}
		e := doc(t, ts.get(t, ed, path, http.StatusOK))
		editorForms := []string{`form[action*=promote]`, `form[action$="/tags"]`}
		if path == tagPath {
			editorForms = append(editorForms, `form[action*=rollback]`, `form[action*=delete]`)
		}
		for _, sel := range editorForms {
			if e.Find(sel).Length() == 0 {
				t.Errorf("editor on %s sees no %s", path, sel)
			}
		}
	}
	// The namespace page: no admin links for viewers and editors.
	if n := doc(t, ts.get(t, ed, "/ns/payments", http.StatusOK)).Find(`a[href="/ns/payments/settings"]`).Length(); n != 0 {
		t.Error("an editor sees the settings link")
	}

	// Forged posts with the viewer's own valid CSRF token: 403, nothing changed.
	token := actCSRF(t, ts.get(t, ann, streamPath, http.StatusOK))
	latest := actHistory(t, ts, "payments", "api", "latest")
	old := actHistory(t, ts, "payments", "api", "prod")
	forged := []struct {
		path string
		form url.Values
	}{
		{views.TagActionHref(tagPath, "promote"), url.Values{"to": {"test"}, "digest": {latest[0]}}},
		{views.TagActionHref(views.TagHref("payments", "api", "prod"), "rollback"), url.Values{"digest": {old[len(old)-1]}}},
		{views.TagActionHref(tagPath, "delete"), url.Values{"confirm": {"latest"}}},
		{views.TagActionHref(views.TagHref("payments", "legacy-gateway", "2.3"), "scheduled"), url.Values{"scheduled": {"off"}}},
		{views.AddTagHref("payments", "api"), url.Values{"source": {"latest"}, "tag": {"forged"}}},
		{"/ns/payments/settings", url.Values{"contacts": {"evil@example.com"}, "threshold": {"1GiB"}, "ladder": {"latest,prod"}}},
		{"/ns/payments/members", url.Values{"user": {"ann"}, "role": {"admin"}}},
		{"/ns/payments/members/remove", url.Values{"user": {"ed"}}},
	}
	before := actDump(t, ts)
	for _, f := range forged {
		f.form.Set("_csrf", token)
		for _, hx := range []bool{false, true} {
			r := actPost(t, ts, ann, f.path, f.form, hx)
			if r.status != http.StatusForbidden {
				t.Errorf("viewer POST %s (htmx %v): %s", f.path, hx, r)
				continue
			}
			if txt := squash(mainText(r.body)); !strings.Contains(txt, "You need the") {
				t.Errorf("viewer POST %s: the refusal reads %q", f.path, firstLines(txt, 3))
			}
		}
	}
	if after := actDump(t, ts); after != before {
		t.Errorf("forged viewer POSTs changed the database:\n%s", actDiff(before, after))
	}
	// An editor copying from a namespace where they are no editor: 403.
	edToken := actCSRF(t, ts.get(t, ed, streamPath, http.StatusOK))
	r0 := actPost(t, ts, ed, views.AddTagHref("payments", "api"), url.Values{"_csrf": {edToken}, "source": {"ml/trainer:latest"}, "tag": {"stolen"}}, false)
	actExpect(t, r0, http.StatusForbidden, "copy from ml")
	if got := squash(doc(t, r0.body).Find("section.add-tag .field-error").Text()); !strings.Contains(got, "You need the editor role in namespace ml") {
		t.Errorf("copy from ml: %q", got)
	}
	if after := actDump(t, ts); after != before {
		t.Errorf("a refused cross-namespace copy changed the database:\n%s", actDiff(before, after))
	}

	// A namespace the user cannot see: 404, as its pages.
	r := actPost(t, ts, ann, views.TagActionHref(views.TagHref("ml", "trainer", "latest"), "promote"), url.Values{"_csrf": {token}}, false)
	actExpect(t, r, http.StatusNotFound, "promote in a hidden namespace")
	r = actPost(t, ts, ed, "/ns/ml/settings", url.Values{"_csrf": {actCSRF(t, ts.get(t, ed, streamPath, http.StatusOK))}}, false)
	actExpect(t, r, http.StatusNotFound, "settings of a hidden namespace")

	// Without accounts the dashboard is read-only: no forms, and a POST
	// with a valid CSRF token (the login form's) is refused.
	open := newTestServer(t, false)
	oc := open.client(t)
	d := doc(t, open.get(t, oc, streamPath, http.StatusOK))
	if n := d.Find("form[method=post]").Length(); n != 0 {
		t.Errorf("anonymous stream page has %d POST forms", n)
	}
	m := csrfRe.FindStringSubmatch(open.get(t, oc, "/login", http.StatusOK))
	if m == nil {
		t.Fatal("no CSRF field in the login form")
	}
	csrf := m[1]
	before = actDump(t, open)
	r = actPost(t, open, oc, views.TagActionHref(tagPath, "promote"), url.Values{"_csrf": {csrf}}, false)
	actExpect(t, r, http.StatusForbidden, "anonymous promote")
	if !strings.Contains(squash(mainText(r.body)), "Nobody is logged in") {
		t.Errorf("anonymous promote: %s", r)
	}
	if actDump(t, open) != before {
		t.Error("an anonymous POST changed the database")
	}
}

func TestSettingsPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	nadia := actAs(t, ts, "nadia", "payments=admin")
	ed := actAs(t, ts, "ed", "payments=editor")
	ctx := context.Background()

	nsPage := doc(t, ts.get(t, nadia, "/ns/payments", http.StatusOK))
	if nsPage.Find(`a[href="/ns/payments/settings"]`).Length() == 0 || nsPage.Find(`a[href="/ns/payments/members"]`).Length() == 0 {
		t.Error("the namespace page has no settings and members links for its admin")
	}
	d := doc(t, ts.get(t, nadia, "/ns/payments/settings", http.StatusOK))
	f := actForm(t, d, "/ns/payments/settings")
	if f.Get("threshold") != "default" {
		t.Errorf("threshold field %q, want default", f.Get("threshold"))
	}
	f.Set("contacts", "pay@example.com, oncall@example.com")
	f.Set("threshold", "60GiB")
	f.Set("ladder", "latest, qa, prod")
	r := actPost(t, ts, nadia, "/ns/payments/settings", f, false)
	actExpect(t, r, http.StatusSeeOther, "save settings")
	if r.location != "/ns/payments/settings?saved=1" {
		t.Errorf("save redirects to %q", r.location)
	}
	ns, _ := ts.store.GetNamespace(ctx, "payments")
	if ns.Contacts != "pay@example.com,oncall@example.com" || ns.ThresholdBytes == nil || *ns.ThresholdBytes != 60<<30 || ns.Ladder != "latest,qa,prod" {
		t.Fatalf("namespace after save: %+v", ns)
	}
	d = doc(t, ts.get(t, nadia, r.location, http.StatusOK))
	if d.Find(".alert-ok").Length() != 1 || actForm(t, d, "/ns/payments/settings").Get("threshold") != "60GiB" {
		t.Errorf("after saving: %q", squash(d.Find("main").Text()))
	}
	// The ladder drives the promote buttons.
	d = doc(t, ts.get(t, nadia, "/ns/payments/is/api", http.StatusOK))
	if got := squash(d.Find(`form[action$="api:latest/promote"] button`).Text()); got != "Promote to qa" {
		t.Errorf("latest's promote button after the ladder change: %q", got)
	}
	if evs := actAudit(t, ts, "namespace.settings"); len(evs) != 1 || !strings.Contains(evs[0].Before, "threshold=default") ||
		!strings.Contains(evs[0].After, "ladder=latest,qa,prod") {
		t.Errorf("audit after settings: %+v", evs)
	}

	// Errors next to their field, the typed values kept, nothing changed.
	d = doc(t, ts.get(t, nadia, "/ns/payments/settings", http.StatusOK))
	before := actDump(t, ts)
	for field, c := range map[string]struct{ bad, says string }{
		"threshold": {"lots", "write a number with a unit"},
		"contacts":  {"not-an-address", "is not an e-mail address"},
		"ladder":    {"latest", "needs at least two tags"},
	} {
		g := actForm(t, d, "/ns/payments/settings")
		g.Set(field, c.bad)
		r := actPost(t, ts, nadia, "/ns/payments/settings", g, false)
		actExpect(t, r, http.StatusBadRequest, "bad "+field)
		e := doc(t, r.body)
		in := e.Find("#set-" + field)
		if in.AttrOr("value", "") != c.bad || in.AttrOr("aria-invalid", "") != "true" {
			t.Errorf("bad %s: field %q invalid=%q", field, in.AttrOr("value", ""), in.AttrOr("aria-invalid", ""))
		}
		if got := squash(in.NextAllFiltered(".field-error").First().Text()); !strings.Contains(got, c.says) {
			t.Errorf("bad %s: error next to the field %q, want %q", field, got, c.says)
		}
	}
	if after := actDump(t, ts); after != before {
		t.Errorf("refused settings changed the database:\n%s", actDiff(before, after))
	}
	// "default" clears the threshold; an empty ladder clears the namespace's
	// own, so it follows the platform's default ladder (not a copy of it).
	g := actForm(t, d, "/ns/payments/settings")
	g.Set("threshold", "default")
	g.Set("ladder", "")
	actExpect(t, actPost(t, ts, nadia, "/ns/payments/settings", g, false), http.StatusSeeOther, "clear threshold")
	if ns, _ := ts.store.GetNamespace(ctx, "payments"); ns.ThresholdBytes != nil || ns.Ladder != "" {
		t.Errorf("after clearing: threshold %v ladder %q", ns.ThresholdBytes, ns.Ladder)
	}

	// A non-admin: 403 on the page and on the POST, nothing changed.
	ts.get(t, ed, "/ns/payments/settings", http.StatusForbidden)
	before = actDump(t, ts)
	r = actPost(t, ts, ed, "/ns/payments/settings", url.Values{"_csrf": {actCSRF(t, ts.get(t, ed, "/", http.StatusOK))},
		"contacts": {""}, "threshold": {"1GiB"}, "ladder": {""}}, false)
	actExpect(t, r, http.StatusForbidden, "editor saves settings")
	if !strings.Contains(squash(mainText(r.body)), "You need the admin role in namespace payments") {
		t.Errorf("editor refused with %q", squash(mainText(r.body)))
	}
	if actDump(t, ts) != before {
		t.Error("an editor's settings POST changed the database")
	}
}

func TestMembersPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	nadia := actAs(t, ts, "nadia", "payments=admin")
	ed := actAs(t, ts, "ed", "payments=editor")
	if _, err := ts.store.CreateUser(context.Background(), "vic", "pw-vic", false); err != nil {
		t.Fatal(err)
	}
	members := func() map[string]string {
		list, err := ts.store.Members(context.Background(), "payments")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, mb := range list {
			m[mb.User] = mb.Role
		}
		return m
	}
	d := doc(t, ts.get(t, nadia, "/ns/payments/members", http.StatusOK))
	var rows []string
	d.Find("table.members tbody tr").Each(func(_ int, tr *goquery.Selection) {
		rows = append(rows, squash(tr.Find("th").Text())+"="+tr.Find("select option[selected]").AttrOr("value", ""))
	})
	if strings.Join(rows, " ") != "ed=editor nadia you=admin" {
		t.Errorf("members listed: %q", rows)
	}

	// Add vic as an editor, make her a viewer, remove her.
	add := actForm(t, d, "/ns/payments/members")
	add.Set("user", "vic")
	add.Set("role", "editor")
	// The first form posting there is a row's "Change"; use the add form's fields.
	add = url.Values{"_csrf": {add.Get("_csrf")}, "user": {"vic"}, "role": {"editor"}}
	r := actPost(t, ts, nadia, "/ns/payments/members", add, false)
	actExpect(t, r, http.StatusSeeOther, "add vic")
	if members()["vic"] != "editor" {
		t.Fatalf("members after add: %v", members())
	}
	if got := squash(doc(t, ts.get(t, nadia, r.location, http.StatusOK)).Find(".alert-ok").Text()); got != "vic is now an editor in payments." {
		t.Errorf("after adding: %q", got)
	}
	add.Set("role", "viewer")
	actExpect(t, actPost(t, ts, nadia, "/ns/payments/members", add, false), http.StatusSeeOther, "vic to viewer")
	if members()["vic"] != "viewer" {
		t.Fatalf("members after change: %v", members())
	}
	r = actPost(t, ts, nadia, "/ns/payments/members/remove", url.Values{"_csrf": {add.Get("_csrf")}, "user": {"vic"}}, false)
	actExpect(t, r, http.StatusSeeOther, "remove vic")
	if _, ok := members()["vic"]; ok {
		t.Fatalf("members after remove: %v", members())
	}
	if n := len(actAudit(t, ts, "rolebinding.add")) + len(actAudit(t, ts, "rolebinding.remove")); n != 3 {
		t.Errorf("%d role binding audit events, want 3", n)
	}
	// The audit log says what each change replaced, newest first.
	var trail []string
	for _, a := range []string{"rolebinding.remove", "rolebinding.add"} {
		for _, ev := range actAudit(t, ts, a) {
			if ev.Target == "vic" {
				trail = append(trail, ev.Before+" → "+ev.After)
			}
		}
	}
	if want := []string{"viewer → none", "editor → viewer", "none → editor"}; !slices.Equal(trail, want) {
		t.Errorf("role changes of vic in the audit log: %q, want %q", trail, want)
	}

	// A user who does not exist: a clear error next to the add form.
	before := actDump(t, ts)
	r = actPost(t, ts, nadia, "/ns/payments/members", url.Values{"_csrf": {add.Get("_csrf")}, "user": {"ghost"}, "role": {"editor"}}, false)
	actExpect(t, r, http.StatusBadRequest, "add a ghost")
	e := doc(t, r.body)
	if got := squash(e.Find("form.add-member + .field-error").Text()); !strings.Contains(got, "There is no account named “ghost”") {
		t.Errorf("ghost: %q", got)
	}
	if e.Find("#member-user").AttrOr("value", "") != "ghost" {
		t.Error("the typed user name is not kept")
	}
	r = actPost(t, ts, nadia, "/ns/payments/members", url.Values{"_csrf": {add.Get("_csrf")}, "user": {"vic"}, "role": {"owner"}}, false)
	actExpect(t, r, http.StatusBadRequest, "a bad role")
	if actDump(t, ts) != before {
		t.Error("refused member changes changed the database")
	}

	// An editor: 403 on the page and the POSTs, nothing changed.
	ts.get(t, ed, "/ns/payments/members", http.StatusForbidden)
	token := actCSRF(t, ts.get(t, ed, "/", http.StatusOK))
	for _, p := range []string{"/ns/payments/members", "/ns/payments/members/remove"} {
		r := actPost(t, ts, ed, p, url.Values{"_csrf": {token}, "user": {"ed"}, "role": {"admin"}}, false)
		actExpect(t, r, http.StatusForbidden, "editor POST "+p)
	}
	if actDump(t, ts) != before {
		t.Error("an editor's member POSTs changed the database")
	}
}

func TestAuditPage(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	ann := actAs(t, ts, "ann", "payments=viewer")
	// Changes in payments and in ml (ml/trainer:test already holds latest's
	// image: promoting latest there would change nothing and be no event).
	for _, p := range []struct{ ns, stream, tag string }{{"payments", "api", "latest"}, {"ml", "trainer", "test"}} {
		page := views.StreamHref(p.ns, p.stream)
		promote := views.TagActionHref(views.TagHref(p.ns, p.stream, p.tag), "promote")
		f := actForm(t, doc(t, ts.get(t, c, page, http.StatusOK)), promote)
		r := actPost(t, ts, c, promote, f, false)
		if p.tag == "test" { // to prod, the last rung: confirmed
			r = actConfirm(t, ts, c, r)
		}
		actExpect(t, r, http.StatusSeeOther, "promote in "+p.ns)
	}
	f := actForm(t, doc(t, ts.get(t, c, "/ns/payments/settings", http.StatusOK)), "/ns/payments/settings")
	f.Set("threshold", "10GiB")
	actExpect(t, actPost(t, ts, c, "/ns/payments/settings", f, false), http.StatusSeeOther, "settings")
	testNow := actHistory(t, ts, "payments", "api", "test")

	d := doc(t, ts.get(t, c, "/audit", http.StatusOK))
	if d.Find(`nav.mainnav a[href="/audit"]`).Length() != 1 || d.Find(`nav.mainnav a[href="/tokens"]`).Length() != 1 {
		t.Error("no Audit and Tokens links in the header")
	}
	rows := d.Find("table.audit tbody tr")
	if rows.Length() != 3 {
		t.Fatalf("%d audit rows, want 3:\n%s", rows.Length(), squash(d.Find("main").Text()))
	}
	var promoteRow *goquery.Selection
	rows.Each(func(_ int, tr *goquery.Selection) {
		if strings.Contains(tr.Text(), "payments/api:test") {
			promoteRow = tr
		}
	})
	if promoteRow == nil {
		t.Fatal("no row for the promotion of payments/api:test")
	}
	cells := promoteRow.Find("td")
	if squash(cells.Eq(1).Text()) != "demo" || squash(cells.Eq(2).Text()) != "payments" || squash(cells.Eq(3).Text()) != "tag.promote" {
		t.Errorf("promote row: %q", squash(promoteRow.Text()))
	}
	if tm := cells.Eq(0).Find("time"); !strings.HasSuffix(tm.AttrOr("title", ""), "UTC") || squash(tm.Text()) == "" {
		t.Errorf("time cell: %q title %q", squash(tm.Text()), tm.AttrOr("title", ""))
	}
	change := cells.Eq(5)
	before, after := change.Find(".before .digest"), change.Find(".after .digest")
	if before.AttrOr("title", "") != testNow[1] || after.AttrOr("title", "") != testNow[0] ||
		squash(change.Text()) != views.ShortDigest(testNow[1])+" → became "+views.ShortDigest(testNow[0])+" from :latest" {
		t.Errorf("before → after: %q (%q → %q), want %s → %s", squash(change.Text()), before.AttrOr("title", ""), after.AttrOr("title", ""), testNow[1], testNow[0])
	}
	if cells.Eq(4).Find("a").AttrOr("href", "") != views.TagHref("payments", "api", "test") {
		t.Error("the target does not link to the tag")
	}

	// Filters.
	count := func(c *http.Client, q string) int {
		return doc(t, ts.get(t, c, "/audit?"+q, http.StatusOK)).Find("table.audit tbody tr:not(:has(td.empty))").Length()
	}
	for q, want := range map[string]int{"action=tag.promote": 2, "namespace=ml": 1, "namespace=payments&action=namespace.settings": 1,
		"actor=demo": 3, "actor=ann": 0, "action=tag.delete": 0} {
		if got := count(c, q); got != want {
			t.Errorf("/audit?%s: %d rows, want %d", q, got, want)
		}
	}
	// A viewer of payments sees only payments.
	for q, want := range map[string]int{"": 2, "namespace=ml": 0, "action=tag.promote": 1} {
		if got := count(ann, q); got != want {
			t.Errorf("ann: /audit?%s: %d rows, want %d", q, got, want)
		}
	}

	// JSON, by query or by Accept.
	var out struct {
		Events []struct {
			At                                              time.Time
			Actor, Namespace, Action, Target, Before, After string
		} `json:"events"`
	}
	body := ts.get(t, c, "/audit?format=json&action=tag.promote&namespace=payments", http.StatusOK)
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("audit JSON: %v\n%s", err, body)
	}
	if len(out.Events) != 1 || out.Events[0].Target != "payments/api:test" || out.Events[0].Before != testNow[1] || out.Events[0].At.IsZero() {
		t.Errorf("audit JSON: %+v", out.Events)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/audit?namespace=ml", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := ann.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || strings.TrimSpace(string(b)) != `{"events":[],"limit":200}` {
		t.Errorf("ann's JSON for ml: %s %s", resp.Header.Get("Content-Type"), b)
	}
}

func TestTokensPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ann := actAs(t, ts, "ann", "payments=viewer")
	ctx := context.Background()
	d := doc(t, ts.get(t, ann, "/tokens", http.StatusOK))
	if !strings.Contains(squash(d.Find("table.tokens").Text()), "You have no API tokens.") {
		t.Errorf("tokens page: %q", squash(d.Find("main").Text()))
	}
	f := actForm(t, d, "/tokens")

	// Bad input is said next to the form.
	f.Set("name", "ci")
	f.Set("expires", "soon")
	r := actPost(t, ts, ann, "/tokens", f, false)
	actExpect(t, r, http.StatusBadRequest, "bad expiry")
	if got := squash(doc(t, r.body).Find("form.token-form .alert-danger").Text()); !strings.Contains(got, "write a duration such as 720h") {
		t.Errorf("bad expiry: %q", got)
	}
	f.Set("name", " ")
	f.Set("expires", "")
	actExpect(t, actPost(t, ts, ann, "/tokens", f, false), http.StatusBadRequest, "no name")

	// Create: the token is shown once, with a warning, and works.
	f.Set("name", "ci-payments")
	f.Set("expires", "720h")
	r = actPost(t, ts, ann, "/tokens", f, false)
	actExpect(t, r, http.StatusOK, "create a token")
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on the page showing the token", cc)
	}
	e := doc(t, r.body)
	token := squash(e.Find(".new-token p.token code").Text())
	if !strings.HasPrefix(token, store.TokenPrefix) || !strings.Contains(e.Find(".new-token").Text(), "shown only this once") {
		t.Fatalf("new token %q in %q", token, squash(e.Find(".new-token").Text()))
	}
	u, err := ts.store.TokenUser(ctx, token)
	if err != nil || u.Name != "ann" {
		t.Fatalf("the new token: %v %v", u.Name, err)
	}
	list := ts.get(t, ann, "/tokens", http.StatusOK)
	if strings.Contains(list, token) {
		t.Error("the token is shown again")
	}
	d = doc(t, list)
	row := d.Find("table.tokens tbody tr")
	if row.Length() != 1 || squash(row.Find("th").Text()) != "ci-payments" || !strings.Contains(squash(row.Text()), "active") ||
		!strings.Contains(squash(row.Find("td").Eq(1).Text()), "in 4 weeks") && !strings.Contains(squash(row.Find("td").Eq(1).Text()), "in 30 days") {
		t.Logf("token row: %q", squash(row.Text()))
	}
	if evs := actAudit(t, ts, "token.create"); len(evs) != 1 || evs[0].Actor != "ann" || strings.Contains(fmt.Sprint(evs[0]), token) {
		t.Errorf("audit of token creation: %+v", evs)
	}

	// Another user cannot revoke it.
	bob := actAs(t, ts, "bob")
	revoke := row.Find("form").AttrOr("action", "")
	if !strings.HasPrefix(revoke, "/tokens/") || !strings.HasSuffix(revoke, "/revoke") {
		t.Fatalf("revoke form posts to %q", revoke)
	}
	r = actPost(t, ts, bob, revoke, url.Values{"_csrf": {actCSRF(t, ts.get(t, bob, "/tokens", http.StatusOK))}}, false)
	actExpect(t, r, http.StatusNotFound, "bob revokes ann's token")
	if _, err := ts.store.TokenUser(ctx, token); err != nil {
		t.Fatal("bob revoked ann's token")
	}

	// Revoke: it stops working.
	r = actPost(t, ts, ann, revoke, actForm(t, d, revoke), false)
	actExpect(t, r, http.StatusSeeOther, "revoke")
	if _, err := ts.store.TokenUser(ctx, token); err == nil {
		t.Fatal("the revoked token still works")
	}
	d = doc(t, ts.get(t, ann, r.location, http.StatusOK))
	if !strings.Contains(squash(d.Find("table.tokens tbody tr").Text()), "revoked") || d.Find(".alert-ok").Length() != 1 {
		t.Errorf("after revoking: %q", squash(d.Find("main").Text()))
	}
	if d.Find(`form[action$="/revoke"]`).Length() != 0 {
		t.Error("a revoked token can be revoked again")
	}
}

// actDiff lists the lines of b not in a and of a not in b.
func actDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
