package views

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"layerwise/store"
)

func editableStream() StreamPage {
	m := streamFixture()
	m.Actions.CanEdit = true
	m.Tags[0].PromoteTo = "test"
	m.Tags[0].External = true
	return m
}

func editableTag() TagPage {
	m := tagPageFixture()
	m.Actions.CanEdit = true
	m.Tag.PromoteTo = "test"
	m.Tag.External = true
	m.Actions.Add.Source = "api:latest"
	return m
}

func actionPages() map[string]templ.Component {
	exp := ago(-30 * 24 * time.Hour)
	return map[string]templ.Component{
		"stream editable": ViewStream(editableStream()),
		"tag editable":    ViewTag(editableTag()),
		"settings": ViewSettings(SettingsPage{Page: page("settings"), Namespace: "payments", Contacts: "a@example.com",
			Threshold: "50GiB", DefaultThreshold: 50 << 30, Ladder: "latest, test, prod", DefaultLadder: "latest, test, prod",
			Error: "bad", ErrorField: "threshold"}),
		"members": ViewMembers(MembersPage{Page: page("members"), Namespace: "payments", Roles: []string{"viewer", "editor", "admin"},
			Members: []Member{{User: "alice", Role: "admin", Self: true}, {User: "bob", Role: "viewer"}}, Error: "e", AddUser: "ghost"}),
		"audit": ViewAudit(AuditPage{Page: page("audit"), Namespaces: []string{"payments"}, Actions: []string{"tag.promote"}, Limit: 200,
			Events: []AuditRow{{At: ago(time.Hour), Actor: "alice", Namespace: "payments", NamespaceHref: NamespaceHref("payments"),
				Action: "tag.promote", Target: "payments/api:test", TargetHref: TagHref("payments", "api", "test"), Before: dA, After: dB + " from :latest"}}}),
		"tokens": ViewTokens(TokensPage{Page: page("tokens"), NewToken: "lw_secret", NewTokenName: "ci",
			Tokens: []TokenRow{{ID: 1, Name: "ci", Created: ago(time.Minute), Expires: &exp}, {ID: 2, Name: "old", Created: ago(48 * time.Hour), Revoked: tp(ago(time.Hour))}}}),
	}
}

func TestActionsHiddenFromViewers(t *testing.T) {
	for name, c := range map[string]templ.Component{"stream": ViewStream(streamFixture()), "tag": ViewTag(tagPageFixture())} {
		doc, _ := render(t, c)
		if n := doc.Find(`main form[method="post"]`).Length(); n != 0 {
			t.Errorf("%s: a viewer sees %d POST forms", name, n)
		}
		if n := doc.Find(`[hx-post]`).Length(); n != 0 {
			t.Errorf("%s: a viewer sees %d htmx actions", name, n)
		}
	}
}

func TestActionForms(t *testing.T) {
	doc, _ := render(t, ViewStream(editableStream()))
	main := doc.Find("main")
	latest := main.Find("table.tags tr#tag-latest")
	promote := latest.Find(`form[action="/ns/payments/istag/api:latest/promote"]`)
	if text(promote.Find("button")) != "Promote to test" || promote.Find(`input[name=digest]`).AttrOr("value", "") != dA ||
		!strings.Contains(text(promote), "moves sha256:aaaaaaaaaaaa from latest to test") {
		t.Errorf("promote form: %q", text(promote))
	}
	// The stream page is a table of tags: the history and the other
	// controls are on each tag's page, a click away.
	for _, sel := range []string{`form[action$="/scheduled"]`, `form[action$="/rollback"]`, `form[action$="/delete"]`, "table.history"} {
		if n := main.Find(sel).Length(); n != 0 {
			t.Errorf("the stream page has %d %s", n, sel)
		}
	}
	if got := latest.Find(`a[href="/ns/payments/istag/api:latest#history"]`).Text(); got != "2 revisions" {
		t.Errorf("the history link reads %q", got)
	}
	if main.Find(`tr#tag-prod form[action$="/promote"]`).Length() != 0 {
		t.Error("prod has no next rung but a promote button")
	}
	if main.Find(`section#tags section.add-tag form[action="/ns/payments/is/api/tags"]`).Length() != 1 {
		t.Error("no add-a-tag form inside the tags section")
	}
	main.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
		action := f.AttrOr("action", "")
		if f.Find(`input[type=hidden][name=_csrf]`).AttrOr("value", "") != "tok-123" {
			t.Errorf("form %s has no CSRF token", action)
		}
		if f.AttrOr("hx-post", "") != action || f.AttrOr("hx-target", "") != "#tags" || f.AttrOr("hx-swap", "") != "outerHTML" {
			t.Errorf("form %s: hx-post %q hx-target %q hx-swap %q", action, f.AttrOr("hx-post", ""), f.AttrOr("hx-target", ""), f.AttrOr("hx-swap", ""))
		}
	})
	// A promotion to the ladder's last rung asks first: a plain form.
	last := editableStream()
	last.Tags[0].PromoteTo, last.Tags[0].PromoteConfirm = "prod", true
	ldoc, _ := render(t, ViewStream(last))
	lf := ldoc.Find(`tr#tag-latest form[action$="/promote"]`)
	if text(lf.Find("button")) != "Promote to prod…" || lf.AttrOr("hx-post", "") != "" {
		t.Errorf("last-rung promote: %q, hx-post %q", text(lf.Find("button")), lf.AttrOr("hx-post", ""))
	}

	tdoc, _ := render(t, ViewTag(editableTag()))
	tmain := tdoc.Find("main")
	if tmain.Find("#tag-body").Length() != 1 || tmain.Find(`form[hx-target="#tag-body"]`).Length() < 3 {
		t.Error("the tag page's forms do not target #tag-body")
	}
	if v := tmain.Find(`form[action$="/promote"] input[name=back]`).AttrOr("value", ""); v != "latest" {
		t.Errorf("the tag page's forms go back to %q", v)
	}
	if v := tmain.Find(`section.add-tag input[name=source]`).AttrOr("value", ""); v != "api:latest" {
		t.Errorf("the add form's source on the tag page is %q", v)
	}
	if tmain.Find(`form[action$="/scheduled"] input[name=scheduled]`).AttrOr("value", "") != "off" {
		t.Error("a scheduled external tag has no \"stop\" toggle")
	}
	rb := tmain.Find(`table.history form[action$="/rollback"]`)
	if rb.Length() != 1 || rb.AttrOr("hx-post", "") != "" {
		t.Errorf("%d \"Make current\" buttons (want 1, a plain form that asks first)", rb.Length())
	}
	if tmain.Find(`table.history tr.current form`).Length() != 0 {
		t.Error("the current entry has a button")
	}
	if !strings.Contains(text(tmain.Find("details.danger-zone label")), "Type latest to delete the tag and its 2 revisions") {
		t.Errorf("delete confirmation: %q", text(tmain.Find("details.danger-zone label")))
	}
}

// TestActionErrorsAndNotices: what an action did, or why it did not, is
// said next to the control that was used, and what changed is marked.
func TestActionErrorsAndNotices(t *testing.T) {
	m := editableStream()
	m.Actions.Error = &ActionError{Control: "promote", Tag: "latest", Message: "latest has moved"}
	doc, _ := render(t, StreamTags(m))
	if got := text(doc.Find("tr#tag-latest + tr.row-notice .field-error")); got != "latest has moved" {
		t.Errorf("promote error under its row: %q", got)
	}
	if doc.Find("#tags > .alert-danger").Length() != 0 {
		t.Error("an error shown next to its control is repeated at the top")
	}
	// A control the page does not have (prod is the last rung; delete is
	// on the tag page): the top.
	for _, e := range []*ActionError{{Control: "promote", Tag: "prod", Message: `"prod" has no next step`}, {Control: "delete", Tag: "latest", Message: `"prod" has no next step`}} {
		m.Actions.Error = e
		doc, _ = render(t, StreamTags(m))
		if got := text(doc.Find("#tags > .alert-danger")); got != `"prod" has no next step` {
			t.Errorf("an orphan %s error reads %q", e.Control, got)
		}
	}
	// A viewer's refusal: the top, no forms.
	v := streamFixture()
	v.Actions.Error = &ActionError{Control: "promote", Tag: "latest", Message: "You need the editor role"}
	doc, _ = render(t, StreamTags(v))
	if got := text(doc.Find("#tags > .alert-danger")); got != "You need the editor role" || doc.Find("form").Length() != 0 {
		t.Errorf("viewer refusal: %q", got)
	}

	stream := []struct {
		name, via, tag, notice, changed string
	}{
		{"promote: under the promoted tag's row", "promote", "prod", "tr#tag-prod + tr.row-notice .alert-ok", "tr#tag-prod.changed"},
		{"add: at the form, the new tag marked", "add", "prod", "section.add-tag .alert-ok", "tr#tag-prod.changed"},
		{"delete from the tag's page: on top", "delete", "gone", "#tags > .alert-ok", ""},
	}
	for _, c := range stream {
		m = editableStream()
		m.Actions.Done, m.Actions.DoneTag, m.Actions.DoneVia = "It happened.", c.tag, c.via
		doc, html := render(t, StreamTags(m))
		if doc.Find(".alert-ok").Length() != 1 || text(doc.Find(c.notice)) != "It happened." {
			t.Errorf("%s: notice at %s: %q (%d notices)", c.name, c.notice, text(doc.Find(c.notice)), doc.Find(".alert-ok").Length())
		}
		if c.changed != "" && doc.Find(c.changed).Length() != 1 || doc.Find(".changed").Length() != min(len(c.changed), 1) {
			t.Errorf("%s: %d marked changed, want %s", c.name, doc.Find(".changed").Length(), c.changed)
		}
		if strings.Contains(html, "<html") || !strings.HasPrefix(html, `<section id="tags"`) {
			t.Errorf("the fragment is more than the tags section: %.80s", html)
		}
	}
	// Nothing changed: said, nothing marked.
	m = editableStream()
	m.Actions.Done, m.Actions.DoneTag, m.Actions.DoneVia, m.Actions.DoneSame = "Already there.", "latest", "promote", true
	if doc, _ = render(t, StreamTags(m)); doc.Find(".changed").Length() != 0 || text(doc.Find("tr.row-notice .alert-ok")) != "Already there." {
		t.Error("a promotion that changed nothing is marked as a change")
	}

	tag := []struct {
		name, via, image, notice, changed string
	}{
		{"pin: in the pins, the pin marked", "pin", dB, "section#pins .alert-ok", "section#pins li.changed"},
		{"rollback: above the history, the new entry marked", "rollback", dA, "section#history .alert-ok", "table.history tr.current.changed"},
		{"promote: at the controls", "promote", "", "#tag-actions .alert-ok", ""},
		{"add: at the form", "add", "", "section.add-tag .alert-ok", ""},
	}
	for _, c := range tag {
		tm := editableTag()
		tm.Pins = map[string]store.PinInfo{dB: {Image: dB, Note: "kept"}}
		tm.Actions.Done, tm.Actions.DoneTag, tm.Actions.DoneVia, tm.Actions.DoneImage = "It happened.", "latest", c.via, c.image
		doc, _ := render(t, TagBody(tm))
		if doc.Find(".alert-ok").Length() != 1 || text(doc.Find(c.notice)) != "It happened." {
			t.Errorf("%s: notice at %s: %q (%d notices)", c.name, c.notice, text(doc.Find(c.notice)), doc.Find(".alert-ok").Length())
		}
		if c.changed != "" && doc.Find(c.changed).Length() != 1 || doc.Find(".changed").Length() != min(len(c.changed), 1) {
			t.Errorf("%s: %d marked changed, want %s", c.name, doc.Find(".changed").Length(), c.changed)
		}
	}
}

func TestDigestParts(t *testing.T) {
	got := digestParts(dA + " from " + dB + ":x")
	want := []textPart{{Text: dA, Digest: true}, {Text: " from "}, {Text: dB, Digest: true}, {Text: ":x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("digestParts = %+v", got)
	}
	if got := digestParts("none"); !reflect.DeepEqual(got, []textPart{{Text: "none"}}) || len(digestParts("")) != 0 {
		t.Errorf("plain text: %+v", got)
	}
}

// TestActionPagesKeepTheCSP holds the new pages to TestNoInlineCode's
// rules, with hostile text in every string.
func TestActionPagesKeepTheCSP(t *testing.T) {
	pages := actionPages()
	st, tg := editableStream(), editableTag()
	st.Actions.Error = &ActionError{Control: "add", Message: "m"}
	tg.Actions.Error = &ActionError{Control: "promote", Tag: "latest", Message: "m"}
	se := SettingsPage{Page: page("s"), Namespace: "n", Contacts: "c", Threshold: "t", Ladder: "l", DefaultLadder: "d", Error: "e", ErrorField: "contacts"}
	mb := MembersPage{Page: page("m"), Namespace: "n", Roles: []string{"viewer"}, Members: []Member{{User: "u", Role: "viewer"}}, Error: "e", ErrorUser: "u"}
	au := AuditPage{Page: page("a"), Namespace: "n", Actor: "a", Action: "x", Namespaces: []string{"n"}, Actions: []string{"x"},
		Events: []AuditRow{{Actor: "a", Namespace: "n", NamespaceHref: "/ns/n", Action: "x", Target: "t", TargetHref: "/t", Before: "b", After: "a"}}}
	tk := TokensPage{Page: page("t"), Name: "n", Expires: "e", Error: "e", RevokeError: "r", Done: "d", NewToken: "t", NewTokenName: "n",
		Tokens: []TokenRow{{ID: 1, Name: "n"}}}
	n := 0
	for _, v := range []any{&st, &tg, &se, &mb, &au, &tk} {
		poison(reflect.ValueOf(v).Elem(), &n)
	}
	pages["hostile stream"], pages["hostile tag"] = ViewStream(st), ViewTag(tg)
	pages["hostile settings"], pages["hostile members"] = ViewSettings(se), ViewMembers(mb)
	pages["hostile audit"], pages["hostile tokens"] = ViewAudit(au), ViewTokens(tk)
	for name, c := range pages {
		t.Run(name, func(t *testing.T) {
			doc, html := render(t, c)
			if doc.Find("[style], style").Length() > 0 {
				t.Error("inline style")
			}
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				if src := s.AttrOr("src", ""); src != "/static/htmx.min.js" && src != "/static/copy.js" {
					t.Errorf("foreign script %q", s.AttrOr("src", ""))
				}
			})
			doc.Find("*").Each(func(_ int, s *goquery.Selection) {
				for _, a := range s.Nodes[0].Attr {
					if strings.HasPrefix(strings.ToLower(a.Key), "on") {
						t.Errorf("event handler attribute %s on <%s>", a.Key, goquery.NodeName(s))
					}
					if (a.Key == "href" || a.Key == "action" || a.Key == "hx-post") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
						t.Errorf("javascript: URL in %s", a.Key)
					}
				}
			})
			if strings.Contains(html, "<script>") {
				t.Error("inline <script>")
			}
			doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
				if f.Find(`input[type=hidden][name=_csrf]`).Length() != 1 {
					t.Errorf("POST form %q without a CSRF field", f.AttrOr("action", ""))
				}
			})
			if strings.HasPrefix(name, "hostile ") && !strings.Contains(doc.Find("body").Text(), hostileLabel) && !strings.Contains(doc.Find("body").Text(), hostileStream) {
				t.Error("hostile strings are not shown as text")
			}
		})
	}
}
