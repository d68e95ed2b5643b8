package web

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// longHistoryDoc is an ImageStream payments/longhist whose tag "ci" has n
// history entries (entry 0, the current one, holds longDigest(0)) and whose
// tag "few" has 3, as `import openshift` reads it.
func longHistoryDoc(n int) string {
	item := func(i int) map[string]any {
		d := longDigest(i)
		return map[string]any{"created": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Minute).Format(time.RFC3339),
			"dockerImageReference": "reg.example.com/payments/longhist@" + d, "image": d}
	}
	var ci, few []any
	for i := 0; i < n; i++ {
		ci = append(ci, item(i))
	}
	for i := 0; i < 3; i++ {
		few = append(few, item(i))
	}
	b, _ := json.Marshal(map[string]any{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
		"metadata": map[string]any{"name": "longhist", "namespace": "payments", "creationTimestamp": "2025-01-01T00:00:00Z"},
		"status":   map[string]any{"tags": []any{map[string]any{"tag": "ci", "items": ci}, map[string]any{"tag": "few", "items": few}}}})
	return string(b)
}

func longDigest(i int) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(fmt.Sprint("longhist ", i))))
}

// TestLongHistoriesArePaged: a tag with a long history does not make its
// pages and API answers grow with it: the stream page shows its current
// entry and how many there are, the tag page one page of 50 at a time, the
// API 100 unless asked for another window.
func TestLongHistoriesArePaged(t *testing.T) {
	t.Parallel()
	const n = 1000
	ts := newTestServer(t, true, longHistoryDoc(n))
	c := ts.client(t)
	ts.login(t, c, "demo", "demo")
	doc := func(path string) *goquery.Document {
		t.Helper()
		d, err := goquery.NewDocumentFromReader(strings.NewReader(ts.get(t, c, path, http.StatusOK)))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	rows := func(s *goquery.Selection) int { return s.Find("table.history tbody tr").Length() }

	// The stream page: a row per tag with its revision count, the history
	// on the tag's page.
	st := doc("/ns/payments/is/longhist")
	ci, few := st.Find("tr#tag-ci"), st.Find("tr#tag-few")
	if rows(st.Selection) != 0 {
		t.Errorf("the stream page lists %d history rows", rows(st.Selection))
	}
	if a := ci.Find(`a[href="/ns/payments/istag/longhist:ci#history"]`); a.Text() != fmt.Sprintf("%d revisions", n) {
		t.Errorf("ci's history link reads %q", a.Text())
	}
	if a := few.Find(`a[href="/ns/payments/istag/longhist:few#history"]`); a.Text() != "3 revisions" {
		t.Errorf("few's history link reads %q", a.Text())
	}
	if got, _ := ci.Find("a.digest").Attr("title"); got != longDigest(0) {
		t.Errorf("ci's current image %q, want %s", got, longDigest(0))
	}

	// The tag page, page 2: entries 51–100, the current image still shown.
	tg := doc("/ns/payments/istag/longhist:ci?page=2")
	if rows(tg.Selection) != 50 || tg.Find("table.history tr.current").Length() != 0 {
		t.Errorf("page 2: %d rows, %d current", rows(tg.Selection), tg.Find("table.history tr.current").Length())
	}
	first, _ := tg.Find("table.history tbody tr td.ref .digest").First().Attr("title")
	if first != longDigest(50) {
		t.Errorf("page 2 starts with %s, want entry 50 %s", first, longDigest(50))
	}
	if got := tg.Find("nav.pager .pager-pos").Text(); got != fmt.Sprintf("Revisions 51–100 of %d", n) {
		t.Errorf("pager says %q", got)
	}
	newer, _ := tg.Find(`nav.pager a[rel="prev"]`).Attr("href")
	older, _ := tg.Find(`nav.pager a[rel="next"]`).Attr("href")
	if newer != "/ns/payments/istag/longhist:ci" || older != "/ns/payments/istag/longhist:ci?page=3" {
		t.Errorf("links %q, %q", newer, older)
	}
	if !strings.Contains(tg.Find("#tag-body").Text(), longDigest(0)[:19]) {
		t.Errorf("page 2 does not show the current image %s", longDigest(0))
	}
	// Past the end: the last page; not a number: 400.
	last := doc("/ns/payments/istag/longhist:ci?page=999")
	if got := last.Find("nav.pager .pager-pos").Text(); got != fmt.Sprintf("Revisions 951–1000 of %d", n) {
		t.Errorf("past the end: %q", got)
	}
	ts.get(t, c, "/ns/payments/istag/longhist:ci?page=x", http.StatusBadRequest)

	// The API: 100 entries and metadata.continue, then the next windows.
	token := ts.apiUser(t, "viv", false, "payments=viewer")
	type tagAnswer struct {
		Metadata struct {
			Continue string `json:"continue"`
		} `json:"metadata"`
		Image struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"image"`
		History      []struct{ Image string } `json:"history"`
		HistoryTotal int                      `json:"historyTotal"`
	}
	getTag := func(query string) tagAnswer {
		t.Helper()
		var a tagAnswer
		ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreamtags/longhist:ci" + query, token: token}).decode(t, &a)
		return a
	}
	windows := []struct {
		query    string
		n, first int
		cont     string
		total    int
	}{
		{"", 100, 0, "100", n},
		{"?continue=100", 100, 100, "200", n},
		{"?continue=900", 100, 900, "", n},
		{"?limit=10&continue=995", 5, 995, "", n},
		{"?limit=1000", n, 0, "", 0},
	}
	for _, w := range windows {
		a := getTag(w.query)
		if len(a.History) != w.n || a.History[0].Image != longDigest(w.first) || a.Metadata.Continue != w.cont || a.HistoryTotal != w.total {
			t.Errorf("%s: %d entries from %v, continue %q, total %d; want %d from entry %d, %q, %d",
				w.query, len(a.History), a.History[0].Image, a.Metadata.Continue, a.HistoryTotal, w.n, w.first, w.cont, w.total)
		}
		if a.Image.Metadata.Name != longDigest(0) {
			t.Errorf("%s: image %q, want the current one", w.query, a.Image.Metadata.Name)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?continue=-1"} {
		r := ts.apiMust(t, http.StatusBadRequest, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreamtags/longhist:ci" + q, token: token})
		r.errorText(t)
	}

	type streamAnswer struct {
		Metadata struct {
			Continue string `json:"continue"`
		} `json:"metadata"`
		Status struct {
			Tags []struct {
				Tag   string
				Items []json.RawMessage
			} `json:"tags"`
		} `json:"status"`
	}
	check := func(what string, s streamAnswer, ci int, cont string) {
		t.Helper()
		got := map[string]int{}
		for _, tg := range s.Status.Tags {
			got[tg.Tag] = len(tg.Items)
		}
		if got["ci"] != ci || got["few"] != 3 || s.Metadata.Continue != cont {
			t.Errorf("%s: items %v, continue %q; want ci %d, few 3, %q", what, got, s.Metadata.Continue, ci, cont)
		}
	}
	var one streamAnswer
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreams/longhist", token: token}).decode(t, &one)
	check("imagestreams/longhist", one, 100, "100")
	var list struct{ Items []streamAnswer }
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreams?limit=20", token: token}).decode(t, &list)
	found := false
	for _, s := range list.Items {
		for _, tg := range s.Status.Tags {
			if tg.Tag == "ci" && len(tg.Items) == 20 {
				found = true
				check("imagestreams?limit=20", s, 20, "20")
			}
		}
	}
	if !found {
		t.Errorf("the list lacks longhist with 20 entries of ci")
	}
}
