package views

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

const (
	mailBase = "https://layerwise.apps.example.com"
	// hostile names for the escaping tests
	mailHostileScript = `<script>alert(1)</script>`
	mailHostileImg    = `"><img src=x onerror=1>`
)

const (
	mailMiB = int64(1) << 20
	mailGiB = int64(1) << 30
	mailTiB = int64(1) << 40
)

// reportFixture is a namespace with two streams: api (two tags, one with a
// current and a prunable revision) and worker (one tag).
func reportFixture(hasChange bool) Report {
	ns := "payments"
	return Report{
		Namespace:      ns,
		Week:           "2026-W48",
		Now:            now,
		BaseURL:        mailBase,
		Subject:        "Image registry usage for payments: 63.2 GiB (threshold 50.0 GiB)",
		Bytes:          63*mailGiB + 205*mailMiB, // 63.2 GiB
		ExclusiveBytes: 12*mailGiB + 512*mailMiB, // 12.5 GiB
		ThresholdBytes: 50 * mailGiB,             // 50.0 GiB
		RegistryBytes:  512 * mailGiB,            // 512.0 GiB
		Share:          0.1235,                   // 12.3%
		Change:         1*mailGiB + 205*mailMiB,  // +1.2 GiB
		HasChange:      hasChange,
		WeeksOver:      3,
		Reclaimable:    2*mailGiB + 256*mailMiB, // 2.2 GiB
		Streams: []ReportStream{
			{
				Name: "api", URL: mailBase + StreamHref(ns, "api"),
				Bytes: 40 * mailGiB, ExclusiveBytes: 8 * mailGiB,
				Tags: []ReportTag{
					{
						Name: "latest", URL: mailBase + TagHref(ns, "api", "latest"),
						Bytes: 3*mailGiB + 512*mailMiB, ExclusiveBytes: 700 * mailMiB,
						Revisions: []ReportRevision{
							{Image: dA, Created: ago(3 * 24 * time.Hour), Bytes: 1*mailGiB + 800*mailMiB, Current: true},
							{Image: dB, Created: ago(40 * 24 * time.Hour), Bytes: 900 * mailMiB, Prunable: true},
						},
					},
					{
						Name: "old", URL: mailBase + TagHref(ns, "api", "old"),
						Bytes: 1*mailGiB + 205*mailMiB, ExclusiveBytes: 1*mailGiB + 205*mailMiB,
						Revisions: []ReportRevision{
							{Image: dCfg, Created: ago(200 * 24 * time.Hour), Bytes: 1*mailGiB + 205*mailMiB, Current: true},
						},
					},
				},
			},
			{
				Name: "worker", URL: mailBase + StreamHref(ns, "worker"),
				Bytes: 23*mailGiB + 205*mailMiB, ExclusiveBytes: 300 * mailMiB,
				Tags: []ReportTag{{
					Name: "prod", URL: mailBase + TagHref(ns, "worker", "prod"),
					Bytes: 23*mailGiB + 205*mailMiB, ExclusiveBytes: 300 * mailMiB,
					Revisions: []ReportRevision{
						{Image: dL1, Created: ago(5 * time.Hour), Bytes: 23*mailGiB + 205*mailMiB, Current: true},
					},
				}},
			},
		},
		Plan: ReportPlan{Over: true, Reaches: true,
			PruneBytes: 2*mailGiB + 256*mailMiB, AfterPrune: 60*mailGiB + 973*mailMiB, // 2.2 GiB, 60.9 GiB
			Steps: []Saving{
				{Kind: "tag", Name: "api:old", Bytes: 1*mailGiB + 205*mailMiB, Command: "oc tag -d payments/api:old",
					URL: mailBase + TagHref(ns, "api", "old")},
				{Kind: "stream", Name: "legacy", Bytes: 10*mailGiB + 512*mailMiB, Command: "oc delete imagestream legacy -n payments",
					URL: mailBase + StreamHref(ns, "legacy")},
			},
			After: 49*mailGiB + 280*mailMiB, Freed: 11 * mailGiB, // 49.3 GiB
			LeftAlone: []string{"worker:prod (the last rung of the promotion ladder)"},
		},
		Contacts: []string{"pay-team@example.com", "ana@example.com"},
	}
}

// hostileReport puts hostile strings wherever a name goes.
func hostileReport() Report {
	r := reportFixture(true)
	r.Namespace = mailHostileScript
	r.Streams[0].Name = mailHostileImg
	r.Streams[0].Tags[0].Name = mailHostileScript
	r.Streams[1].Tags[0].Name = mailHostileImg
	r.Plan.Steps[0].Name = mailHostileImg + ":" + mailHostileScript
	r.Plan.Steps[0].Command = "oc tag -d " + mailHostileScript
	r.Contacts = []string{mailHostileImg}
	r.Subject = mailHostileScript
	return r
}

func digestFixture() Digest {
	return Digest{
		Week:          "2026-W48",
		Now:           now,
		BaseURL:       mailBase,
		Subject:       "Registry digest for 2026-W48: 2 namespaces over threshold",
		RegistryBytes: mailTiB + 205*mailGiB,    // 1.2 TiB
		Reclaimable:   30*mailGiB + 512*mailMiB, // 30.5 GiB
		Over: []DigestNamespace{
			{Name: "payments", URL: mailBase + NamespaceHref("payments"), Bytes: 63*mailGiB + 205*mailMiB,
				ThresholdBytes: 50 * mailGiB, Change: 1*mailGiB + 205*mailMiB, HasChange: true},
			{Name: "search", URL: mailBase + NamespaceHref("search"), Bytes: 20 * mailGiB,
				ThresholdBytes: 10 * mailGiB, HasChange: false},
		},
		Movers: []DigestNamespace{
			{Name: "ml", URL: mailBase + NamespaceHref("ml"), Bytes: 5 * mailGiB,
				ThresholdBytes: 50 * mailGiB, Change: -(300 * mailMiB), HasChange: true},
		},
		Failed: []DigestFailure{
			{Namespace: "search", Error: "dial tcp 10.0.0.5:587: connection refused", Attempts: 3},
		},
		NoContacts: []string{"search"},
	}
}

func hostileDigest() Digest {
	d := digestFixture()
	d.Over[0].Name = mailHostileScript
	d.Movers[0].Name = mailHostileImg
	d.Failed[0].Namespace = mailHostileImg
	d.Failed[0].Error = mailHostileScript
	d.NoContacts = []string{mailHostileScript}
	return d
}

func TestSignedSize(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{512, "+512 B"},
		{-512, "\u2212512 B"},
		{1*mailGiB + 205*mailMiB, "+1.2 GiB"},
		{-(300 * mailMiB), "\u2212300.0 MiB"},
		{math.MinInt64, "\u22128.0 EiB"},
	} {
		if got := SignedSize(c.n); got != c.want {
			t.Errorf("SignedSize(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestMailShare(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0, "0.0%"}, {math.NaN(), "0.0%"}, {0.0001, "<0.1%"}, {0.1235, "12.3%"}, {1, "100.0%"}, {2, "100.0%"},
	} {
		if got := mailShare(c.f); got != c.want {
			t.Errorf("mailShare(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}

// emailRules checks what every e-mail document must be: a full document,
// table layout, inline styles only, no scripts, no images, no classes.
func emailRules(t *testing.T, doc *goquery.Document, html string) {
	t.Helper()
	if !strings.HasPrefix(html, "<!doctype html>") && !strings.HasPrefix(html, "<!DOCTYPE html>") {
		t.Errorf("not a complete document: %.40q", html)
	}
	for _, sel := range []string{"html", "head", "title", "body", "table[role=presentation]"} {
		if doc.Find(sel).Length() == 0 {
			t.Errorf("no %s", sel)
		}
	}
	for _, sel := range []string{"script", "style", "link", "img", "iframe", "object", "embed", "form", "svg", "picture", "video"} {
		if n := doc.Find(sel).Length(); n > 0 {
			t.Errorf("%d <%s> elements", n, sel)
		}
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			switch {
			case a.Key == "class", a.Key == "id":
				t.Errorf("<%s %s=%q>: e-mails do not rely on classes or ids", goquery.NodeName(s), a.Key, a.Val)
			case a.Key == "src", a.Key == "srcset", a.Key == "background", strings.HasPrefix(a.Key, "on"):
				t.Errorf("<%s %s=%q>", goquery.NodeName(s), a.Key, a.Val)
			case a.Key == "style" && strings.Contains(strings.ToLower(a.Val), "url("):
				t.Errorf("<%s> style loads a resource: %q", goquery.NodeName(s), a.Val)
			}
		}
	})
	if m := regexp.MustCompile(`(?i)<[^>]*\ssrc\s*=`).FindString(html); m != "" {
		t.Errorf("src= in a tag: %q", m)
	}
	// The column is 640px wide and shrinks on phones.
	col := doc.Find(`table[style*="max-width:640px"]`)
	if col.Length() != 1 || !strings.Contains(col.AttrOr("style", ""), "width:100%") {
		t.Errorf("no 640px column that shrinks: %d", col.Length())
	}
	if doc.Find(`meta[name=viewport]`).Length() != 1 {
		t.Error("no viewport meta")
	}
	// Text is styled inline: every cell has its own style.
	doc.Find("td, th, p, h1, h2, a, code").Each(func(_ int, s *goquery.Selection) {
		if _, ok := s.Attr("style"); !ok {
			h, _ := goquery.OuterHtml(s)
			t.Errorf("element without inline style: %.80s", h)
		}
	})
	// Links are absolute http(s).
	doc.Find("a").Each(func(_ int, s *goquery.Selection) {
		if h := s.AttrOr("href", ""); !strings.HasPrefix(h, mailBase+"/") {
			t.Errorf("link %q is not absolute on the dashboard", h)
		}
	})
}

// hasLink reports whether doc links to href with the text label.
func hasLink(doc *goquery.Document, href, label string) bool {
	found := false
	doc.Find("a").Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("href", "") == href && (label == "" || text(s) == label) {
			found = true
		}
	})
	return found
}

// rowText is the text of the table row holding the link to href, its cells
// separated by spaces.
func rowText(doc *goquery.Document, href string) string {
	return cellsText(doc.Find(`a[href="` + href + `"]`).First().Closest("tr"))
}

// cellsText is the text of a row, its cells separated by spaces.
func cellsText(tr *goquery.Selection) string {
	var cells []string
	tr.Find("td, th").Each(func(_ int, s *goquery.Selection) {
		cells = append(cells, s.Text())
	})
	return strings.Join(strings.Fields(strings.Join(cells, " ")), " ")
}

func TestReportHTML(t *testing.T) {
	for _, c := range []struct {
		name      string
		hasChange bool
		change    string
	}{
		{"change", true, "+1.2 GiB"},
		{"no snapshot", false, "no snapshot from last week yet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := reportFixture(c.hasChange)
			doc, html := render(t, ReportHTML(r))
			emailRules(t, doc, html)
			body := text(doc.Find("body"))

			if got := text(doc.Find("title")); got != r.Subject {
				t.Errorf("title %q", got)
			}
			if got := text(doc.Find("h1")); got != "Image registry usage for payments" {
				t.Errorf("h1 %q", got)
			}
			var heads []string
			doc.Find("h2").Each(func(_ int, s *goquery.Selection) { heads = append(heads, text(s)) })
			if want := []string{"A plan to get under the threshold", "How to fix", "Every stream, tag and revision"}; strings.Join(heads, "|") != strings.Join(want, "|") {
				t.Errorf("sections %q, want %q", heads, want)
			}

			summary := map[string]string{}
			doc.Find("table").First().Find("tr").Each(func(_ int, s *goquery.Selection) {
				summary[text(s.Find("td").Eq(0))] = text(s.Find("td").Eq(1))
			})
			for label, want := range map[string]string{
				"Total, counted once":    "63.2 GiB",
				"Exclusive bytes":        "12.5 GiB",
				"Threshold":              "50.0 GiB",
				"Share of the registry":  "12.3% of 512.0 GiB",
				"Change since last week": c.change,
				"Over the threshold":     "3 weeks in a row",
				"Tonight's prune frees":  "2.2 GiB",
			} {
				if summary[label] != want {
					t.Errorf("summary %q = %q, want %q", label, summary[label], want)
				}
			}
			if !strings.Contains(body, "counted once") || !strings.Contains(body, "Layers shared between") {
				t.Error("no line on shared layers counted once")
			}

			// The plan: what it does, tonight's prune, each step with its
			// command and link, what is left after it and what stays.
			plan := doc.Find("h2").FilterFunction(func(_ int, h *goquery.Selection) bool { return text(h) == "A plan to get under the threshold" })
			if got, want := text(plan.Next()), "Delete 1 stream and 1 tag below and, with tonight's prune, payments goes from 63.2 GiB to 49.3 GiB, under its threshold of 50.0 GiB. Each line takes off what it frees after the lines above it: layers they share count once, for the set."; got != want {
				t.Errorf("plan intro %q, want %q", got, want)
			}
			if got := cellsText(plan.NextAll().Filter("table").First().Find("tr").First()); got != "tonight's prune −2.2 GiB" {
				t.Errorf("first plan row %q", got)
			}
			for i, want := range []string{
				"delete tag api:old oc tag -d payments/api:old −1.2 GiB",
				"delete stream legacy oc delete imagestream legacy -n payments −10.5 GiB",
			} {
				s := r.Plan.Steps[i]
				if got := rowText(doc, s.URL); got != want {
					t.Errorf("step %d: %q, want %q", i, got, want)
				}
				code := doc.Find(`a[href="` + s.URL + `"]`).First().Closest("td").Find("code")
				if text(code) != s.Command || !strings.Contains(code.AttrOr("style", ""), "monospace") {
					t.Errorf("step %d command %q not in monospace", i, text(code))
				}
			}
			for _, want := range []string{
				"Afterwards payments uses 49.3 GiB (threshold 50.0 GiB), and 11.0 GiB leave the registry's disk",
				"Left alone: worker:prod (the last rung of the promotion ladder).",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("no %q in the plan", want)
				}
			}

			// How to fix.
			for _, want := range []string{"oc tag -d payments/STREAM:TAG", "oc delete imagestream STREAM -n payments"} {
				if !strings.Contains(text(doc.Find("code")), want) {
					t.Errorf("no command %q", want)
				}
			}
			for _, href := range []string{mailBase + "/ns/payments", mailBase + "/ns/payments/report"} {
				if !hasLink(doc, href, href) {
					t.Errorf("no link %s", href)
				}
			}

			// Every stream, tag and revision, with sizes counted once and exclusive.
			for _, want := range []struct{ href, text string }{
				{mailBase + "/ns/payments/is/api", "Stream api 40.0 GiB counted once · 8.0 GiB exclusive"},
				{mailBase + "/ns/payments/is/worker", "Stream worker 23.2 GiB counted once · 300.0 MiB exclusive"},
				{mailBase + "/ns/payments/istag/api:latest", "Tag latest 3.5 GiB counted once · 700.0 MiB exclusive"},
				{mailBase + "/ns/payments/istag/api:old", "Tag old 1.2 GiB counted once · 1.2 GiB exclusive"},
				{mailBase + "/ns/payments/istag/worker:prod", "Tag prod 23.2 GiB counted once · 300.0 MiB exclusive"},
			} {
				row := doc.Find(`td[colspan] a[href="` + want.href + `"]`).Closest("tr")
				if got := cellsText(row); got != want.text {
					t.Errorf("row of %s: %q, want %q", want.href, got, want.text)
				}
			}
			for _, want := range []struct{ digest, text string }{
				{dA, "sha256:aaaaaaaaaaaa current 3 days ago 1.8 GiB"},
				{dB, "sha256:bbbbbbbbbbbb pruned tonight 5 weeks ago 900.0 MiB"},
				{dCfg, "sha256:cccccccccccc current 6 months ago 1.2 GiB"},
				{dL1, "sha256:111111111111 current 5 hours ago 23.2 GiB"},
			} {
				cell := doc.Find(`span[title="` + want.digest + `"]`)
				if text(cell) != ShortDigest(want.digest) || !strings.Contains(cell.AttrOr("style", ""), "monospace") {
					t.Errorf("revision %s: cell %q", want.digest, text(cell))
				}
				if got := cellsText(cell.Closest("tr")); got != want.text {
					t.Errorf("revision %s: %q, want %q", want.digest, got, want.text)
				}
			}
			// Revisions follow their tag, tags their stream.
			order := []string{"Stream api", "Tag latest", "sha256:aaaaaaaaaaaa", "sha256:bbbbbbbbbbbb",
				"Tag old", "sha256:cccccccccccc", "Stream worker", "Tag prod", "sha256:111111111111"}
			last := -1
			for _, w := range order {
				i := strings.Index(body, w)
				if i <= last {
					t.Errorf("%q out of order", w)
				}
				last = i
			}
			if n := strings.Count(body, "pruned tonight"); n != 2 { // the mark and the note in How to fix
				t.Errorf("%d mentions of pruned tonight, want 2", n)
			}

			foot := text(doc.Find("td").Last())
			for _, want := range []string{
				"Generated by Layerwise at 2026-11-23 12:00 UTC for ISO week 2026-W48.",
				"at or over its threshold of 50.0 GiB",
				"pay-team@example.com, ana@example.com",
			} {
				if !strings.Contains(foot, want) {
					t.Errorf("footer %q lacks %q", foot, want)
				}
			}
		})
	}
}

func TestReportHTMLEmpty(t *testing.T) {
	r := reportFixture(false)
	r.Streams, r.Contacts, r.WeeksOver = nil, nil, 1
	r.Plan = ReportPlan{Over: true, AfterPrune: r.Bytes, After: r.Bytes}
	doc, html := render(t, ReportHTML(r))
	emailRules(t, doc, html)
	body := text(doc.Find("body"))
	for _, want := range []string{"No plan gets payments under its threshold of 50.0 GiB: no tag that may be deleted frees anything", "no image streams", "no contacts yet", "this week, for the first time"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q", want)
		}
	}
}

// hostileOnlyText checks that the hostile strings are text, never markup.
func hostileOnlyText(t *testing.T, doc *goquery.Document, html string, wantText ...string) {
	t.Helper()
	for _, bad := range []string{"<script", "<img", mailHostileScript, mailHostileImg} {
		if strings.Contains(html, bad) {
			t.Errorf("raw %q in the HTML", bad)
		}
	}
	if doc.Find("script, img").Length() > 0 {
		t.Error("hostile markup parsed as elements")
	}
	body := doc.Find("body").Text()
	for _, w := range wantText {
		if !strings.Contains(body, w) {
			t.Errorf("hostile name %q not shown as text", w)
		}
	}
}

func TestReportHTMLHostile(t *testing.T) {
	r := hostileReport()
	doc, html := render(t, ReportHTML(r))
	emailRules(t, doc, html)
	hostileOnlyText(t, doc, html, mailHostileScript, mailHostileImg)
	if got := doc.Find("title").Text(); got != mailHostileScript {
		t.Errorf("title %q", got)
	}
	// The namespace is escaped in the dashboard links too.
	if !hasLink(doc, mailBase+"/ns/%3Cscript%3Ealert%281%29%3C%2Fscript%3E", "") {
		t.Error("namespace link not path-escaped")
	}
}

func TestReportHTMLUnsafeURL(t *testing.T) {
	r := reportFixture(true)
	r.Streams[0].URL = "javascript:alert(1)"
	_, html := render(t, ReportHTML(r))
	if strings.Contains(html, "javascript:") {
		t.Error("javascript: URL rendered")
	}
}

func TestDigestHTML(t *testing.T) {
	d := digestFixture()
	doc, html := render(t, DigestHTML(d))
	emailRules(t, doc, html)
	body := text(doc.Find("body"))
	if got := text(doc.Find("title")); got != d.Subject {
		t.Errorf("title %q", got)
	}
	if got := text(doc.Find("h1")); got != "Registry digest for ISO week 2026-W48" {
		t.Errorf("h1 %q", got)
	}
	summary := map[string]string{}
	doc.Find("table").First().Find("tr").Each(func(_ int, s *goquery.Selection) {
		summary[text(s.Find("td").Eq(0))] = text(s.Find("td").Eq(1))
	})
	for label, want := range map[string]string{
		"Registry total, counted once": "1.2 TiB",
		"Tonight's prune frees":        "30.5 GiB",
		"Namespaces over threshold":    "2",
		"Failed deliveries":            "1",
		"Over threshold, no contacts":  "1",
	} {
		if summary[label] != want {
			t.Errorf("summary %q = %q, want %q", label, summary[label], want)
		}
	}
	for _, c := range []struct{ section, href, want string }{
		{"over", mailBase + "/ns/payments", "payments 63.2 GiB 50.0 GiB +1.2 GiB"},
		{"over", mailBase + "/ns/search", "search 20.0 GiB 10.0 GiB no snapshot"},
		{"movers", mailBase + "/ns/ml", "ml 5.0 GiB \u2212300.0 MiB"},
	} {
		if got := rowText(doc, c.href); got != c.want {
			t.Errorf("%s row %s: %q, want %q", c.section, c.href, got, c.want)
		}
	}
	var failed []string
	doc.Find("th").Each(func(_ int, s *goquery.Selection) {
		if text(s) == "Error" {
			s.Closest("table").Find("tr").Each(func(_ int, r *goquery.Selection) { failed = append(failed, cellsText(r)) })
		}
	})
	if want := "Namespace Error Attempts|search dial tcp 10.0.0.5:587: connection refused 3"; strings.Join(failed, "|") != want {
		t.Errorf("failed deliveries %q", failed)
	}
	if !strings.Contains(body, "Delivery log: "+mailBase+"/jobs") || !hasLink(doc, mailBase+"/jobs", mailBase+"/jobs") {
		t.Error("no link to the delivery log")
	}
	if !strings.Contains(text(doc.Find("code")), "layerwise namespace set search --contacts") {
		t.Error("no contacts command")
	}
	if !strings.Contains(body, "Generated by Layerwise at 2026-11-23 12:00 UTC for ISO week 2026-W48.") {
		t.Error("no footer")
	}
	order := []string{"Namespaces at or over", "payments", "Biggest movers", "ml", "Failed deliveries", "connection refused",
		"no contacts", "namespace set search"}
	last := -1
	for _, w := range order {
		i := strings.Index(body[last+1:], w)
		if i < 0 {
			t.Errorf("%q missing or out of order", w)
			continue
		}
		last += 1 + i
	}
}

func TestDigestHTMLEmpty(t *testing.T) {
	d := Digest{Week: "2026-W48", Now: now, BaseURL: mailBase, RegistryBytes: 10 * mailGiB}
	doc, html := render(t, DigestHTML(d))
	emailRules(t, doc, html)
	body := text(doc.Find("body"))
	for _, want := range []string{"every namespace is under", "No namespace changed", "every report of this week was delivered", "has someone to tell"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q", want)
		}
	}
	if got := text(doc.Find("title")); got != "Registry digest for ISO week 2026-W48" {
		t.Errorf("title %q", got)
	}
}

func TestDigestHTMLHostile(t *testing.T) {
	d := hostileDigest()
	doc, html := render(t, DigestHTML(d))
	emailRules(t, doc, html)
	hostileOnlyText(t, doc, html, mailHostileScript, mailHostileImg)
}

var htmlTag = regexp.MustCompile(`</?[a-zA-Z][a-zA-Z0-9]*(\s[^>]*)?/?>|&[a-z]+;|&#[0-9]+;`)

// plainRules checks what every plain-text part must be.
func plainRules(t *testing.T, s string) {
	t.Helper()
	if m := htmlTag.FindString(s); m != "" {
		t.Errorf("HTML in the text part: %q", m)
	}
	for i, l := range strings.Split(s, "\n") {
		if n := len([]rune(l)); n > 100 {
			t.Errorf("line %d has %d characters: %q", i+1, n, l)
		}
		if strings.HasSuffix(l, " ") && l != "-- " {
			t.Errorf("line %d has trailing spaces: %q", i+1, l)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		t.Error("no final newline")
	}
}

// containsLine reports whether s has a line whose fields are want's.
func containsLine(s, want string) bool {
	w := strings.Join(strings.Fields(want), " ")
	for _, l := range strings.Split(s, "\n") {
		if strings.Join(strings.Fields(l), " ") == w {
			return true
		}
	}
	return false
}

func TestReportText(t *testing.T) {
	for _, c := range []struct {
		name      string
		hasChange bool
		change    string
	}{
		{"change", true, "+1.2 GiB"},
		{"no snapshot", false, "no snapshot from last week yet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := reportFixture(c.hasChange)
			s := ReportText(r)
			plainRules(t, s)
			for _, want := range []string{
				"Image registry usage for payments",
				"Total, counted once: 63.2 GiB",
				"Exclusive bytes: 12.5 GiB",
				"Threshold: 50.0 GiB",
				"Share of the registry: 12.3% of 512.0 GiB",
				"Change since last week: " + c.change,
				"Over the threshold: 3 weeks in a row",
				"Tonight's prune frees: 2.2 GiB",
				"tonight's prune: −2.2 GiB",
				"1. delete tag api:old: −1.2 GiB",
				"$ oc tag -d payments/api:old",
				mailBase + "/ns/payments/istag/api:old",
				"2. delete stream legacy: −10.5 GiB",
				"$ oc delete imagestream legacy -n payments",
				mailBase + "/ns/payments/is/legacy",
				"Delete a tag: oc tag -d payments/STREAM:TAG",
				"Delete an image stream: oc delete imagestream STREAM -n payments",
				"Namespace dashboard: " + mailBase + "/ns/payments",
				"This report in a browser: " + mailBase + "/ns/payments/report",
				"Stream api: 40.0 GiB counted once · 8.0 GiB exclusive",
				mailBase + "/ns/payments/is/api",
				"Tag latest: 3.5 GiB counted once · 700.0 MiB exclusive",
				mailBase + "/ns/payments/istag/api:latest",
				"sha256:aaaaaaaaaaaa 3 days ago 1.8 GiB current",
				"sha256:bbbbbbbbbbbb 5 weeks ago 900.0 MiB pruned tonight",
				"Tag old: 1.2 GiB counted once · 1.2 GiB exclusive",
				"sha256:cccccccccccc 6 months ago 1.2 GiB current",
				"Stream worker: 23.2 GiB counted once · 300.0 MiB exclusive",
				"Tag prod: 23.2 GiB counted once · 300.0 MiB exclusive",
				mailBase + "/ns/payments/istag/worker:prod",
				"sha256:111111111111 5 hours ago 23.2 GiB current",
				"Generated by Layerwise at 2026-11-23 12:00 UTC for ISO week 2026-W48.",
			} {
				if !containsLine(s, want) {
					t.Errorf("no line %q in\n%s", want, s)
				}
			}
			for _, want := range []string{"counted once", "at or over its threshold of 50.0 GiB", "pay-team@example.com, ana@example.com"} {
				if !strings.Contains(strings.Join(strings.Fields(s), " "), want) {
					t.Errorf("no %q", want)
				}
			}
			// Sections in the order of the HTML.
			last := -1
			for _, h := range []string{"A plan to get under the threshold", "How to fix", "Every stream, tag and revision", "Generated by"} {
				i := strings.Index(s, h)
				if i <= last {
					t.Errorf("%q out of order", h)
				}
				last = i
			}
			// Revision columns line up: sizes end in the same column.
			var ends []int
			for _, l := range strings.Split(s, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "sha256:") {
					ends = append(ends, len([]rune(l[:strings.Index(l, "iB")])))
				}
			}
			if len(ends) != 4 || slices.Min(ends) != slices.Max(ends) {
				t.Errorf("revision sizes not aligned: %v", ends)
			}
		})
	}
}

// TestEmailFiguresAgree checks both parts show the same figures: every size
// in the HTML appears in the text, and the other way round.
func TestEmailFiguresAgree(t *testing.T) {
	figure := regexp.MustCompile(`[+\x{2212}]?\d+(\.\d)? (B|KiB|mailMiB|mailGiB|TiB)|\d+\.\d%`)
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, f := range figure.FindAllString(s, -1) {
			m[f]++
		}
		return m
	}
	urls := regexp.MustCompile(regexp.QuoteMeta(mailBase) + `[^\s"<]*`)
	for name, c := range map[string]struct{ html, text string }{
		"report":           {renderString(t, ReportHTML(reportFixture(true))), ReportText(reportFixture(true))},
		"report no change": {renderString(t, ReportHTML(reportFixture(false))), ReportText(reportFixture(false))},
		"digest":           {renderString(t, DigestHTML(digestFixture())), DigestText(digestFixture())},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(c.html))
			if err != nil {
				t.Fatal(err)
			}
			h, p := count(doc.Find("body").Text()), count(c.text)
			for f, n := range h {
				if p[f] != n {
					t.Errorf("%q: %d times in HTML, %d in text", f, n, p[f])
				}
			}
			for f, n := range p {
				if h[f] != n {
					t.Errorf("%q: %d times in text, %d in HTML", f, n, h[f])
				}
			}
			var hrefs []string
			doc.Find("a").Each(func(_ int, s *goquery.Selection) { hrefs = append(hrefs, s.AttrOr("href", "")) })
			for _, u := range hrefs {
				if !strings.Contains(c.text, u) {
					t.Errorf("link %s not written out in the text", u)
				}
			}
			for _, u := range urls.FindAllString(c.text, -1) {
				if !hasLinkStr(hrefs, u) {
					t.Errorf("text URL %s not linked in the HTML", u)
				}
			}
		})
	}
}

func hasLinkStr(hrefs []string, u string) bool {
	for _, h := range hrefs {
		if h == u {
			return true
		}
	}
	return false
}

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	_, html := render(t, c)
	return html
}

func TestDigestText(t *testing.T) {
	s := DigestText(digestFixture())
	plainRules(t, s)
	for _, want := range []string{
		"Registry digest for ISO week 2026-W48",
		"Registry total, counted once: 1.2 TiB",
		"Tonight's prune frees: 30.5 GiB",
		"Namespaces over threshold: 2",
		"Failed deliveries: 1",
		"NAMESPACE USAGE THRESHOLD CHANGE DASHBOARD",
		"payments 63.2 GiB 50.0 GiB +1.2 GiB " + mailBase + "/ns/payments",
		"search 20.0 GiB 10.0 GiB no snapshot " + mailBase + "/ns/search",
		"ml 5.0 GiB \u2212300.0 MiB " + mailBase + "/ns/ml",
		"search 3 dial tcp 10.0.0.5:587: connection refused",
		"The next run retries them. Delivery log: " + mailBase + "/jobs",
		"$ layerwise namespace set search --contacts team@example.com",
		"Generated by Layerwise at 2026-11-23 12:00 UTC for ISO week 2026-W48.",
	} {
		if !containsLine(s, want) {
			t.Errorf("no line %q in\n%s", want, s)
		}
	}
	empty := DigestText(Digest{Week: "2026-W48", Now: now, BaseURL: mailBase})
	plainRules(t, empty)
	for _, want := range []string{"every namespace is under", "No namespace changed", "every report of this week was delivered", "has someone to tell"} {
		if !strings.Contains(empty, want) {
			t.Errorf("empty digest: no %q", want)
		}
	}
}

// The text parts are plain text: hostile names are written as they are
// (no mail client interprets text/plain), and nothing else is added.
func TestTextHostile(t *testing.T) {
	s := ReportText(hostileReport())
	for _, w := range []string{"Image registry usage for " + mailHostileScript, "Stream " + mailHostileImg} {
		if !strings.Contains(s, w) {
			t.Errorf("no %q", w)
		}
	}
	d := DigestText(hostileDigest())
	if !strings.Contains(d, mailHostileImg) || !strings.Contains(d, mailHostileScript) {
		t.Error("hostile names missing from the digest text")
	}
}

// TestDumpEmails writes the e-mails for a look in a browser or mail client.
func TestDumpEmails(t *testing.T) {
	dir := os.Getenv("VIEWS_DUMP")
	if dir == "" {
		t.Skip("set VIEWS_DUMP=dir to write the e-mails")
	}
	for name, s := range map[string]string{
		"email-report.html": renderString(t, ReportHTML(reportFixture(true))),
		"email-report.txt":  ReportText(reportFixture(true)),
		"email-digest.html": renderString(t, DigestHTML(digestFixture())),
		"email-digest.txt":  DigestText(digestFixture()),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
