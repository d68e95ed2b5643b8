package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"layerwise/format"
	"layerwise/store"
	"layerwise/views"
)

// Handler tests of issue 16: sorting, search sizes, breadcrumbs, words,
// the threshold as typed.

// TestOverviewSortsOnEveryColumn: each column of the overview's ranking
// links to ?sort=…, and the rows come in that column's order.
func TestOverviewSortsOnEveryColumn(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	ctx := context.Background()
	threshold := map[string]int64{}
	for _, n := range ts.usage.Namespaces {
		ns, err := ts.store.GetNamespace(ctx, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		threshold[n.Name] = ns.Threshold(50 << 30)
	}
	used := func(n store.NamespaceUsage) float64 { return float64(n.Bytes) / float64(threshold[n.Name]) }
	cases := map[string]func(a, b store.NamespaceUsage) bool{
		"name":        func(a, b store.NamespaceUsage) bool { return a.Name < b.Name },
		"size":        func(a, b store.NamespaceUsage) bool { return a.Bytes > b.Bytes },
		"exclusive":   func(a, b store.NamespaceUsage) bool { return a.ExclusiveBytes > b.ExclusiveBytes },
		"reclaimable": func(a, b store.NamespaceUsage) bool { return a.ReclaimableBytes > b.ReclaimableBytes },
		"threshold":   func(a, b store.NamespaceUsage) bool { return used(a) > used(b) },
		"streams":     func(a, b store.NamespaceUsage) bool { return len(a.Streams) > len(b.Streams) },
	}
	home := doc(t, ts.get(t, c, "/", http.StatusOK))
	if n := home.Find(`table.ranking thead th a[href^="/?sort="]`).Length(); n != len(cases) {
		t.Errorf("%d sortable columns on the overview, want %d", n, len(cases))
	}
	for key, less := range cases {
		want := slices.Clone(ts.usage.Namespaces)
		sort.SliceStable(want, func(i, j int) bool { return less(want[i], want[j]) })
		var names []string
		for _, n := range want {
			names = append(names, n.Name)
		}
		d := doc(t, ts.get(t, c, "/?sort="+key, http.StatusOK))
		var got []string
		d.Find("table.ranking tbody th a").Each(func(_ int, a *goquery.Selection) { got = append(got, a.Text()) })
		if !slices.Equal(got, names) {
			t.Errorf("/?sort=%s: %v, want %v", key, got, names)
		}
		if d.Find(`table.ranking thead th[aria-sort] a[href="/?sort=`+key+`"]`).Length() != 1 {
			t.Errorf("/?sort=%s: the column is not marked as sorted", key)
		}
	}
}

// TestNamespaceSortsOnEveryColumn: the same on a namespace's streams.
func TestNamespaceSortsOnEveryColumn(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	nu, _ := ts.usage.Namespace("payments")
	cases := map[string]func(a, b store.StreamUsage) bool{
		"name":      func(a, b store.StreamUsage) bool { return a.Name < b.Name },
		"tags":      func(a, b store.StreamUsage) bool { return len(a.Tags) > len(b.Tags) },
		"images":    func(a, b store.StreamUsage) bool { return a.UniqueImages > b.UniqueImages },
		"size":      func(a, b store.StreamUsage) bool { return a.Bytes > b.Bytes },
		"exclusive": func(a, b store.StreamUsage) bool { return a.ExclusiveBytes > b.ExclusiveBytes },
		"updated":   func(a, b store.StreamUsage) bool { return a.Updated.After(b.Updated) },
	}
	for key, less := range cases {
		want := slices.Clone(nu.Streams)
		sort.SliceStable(want, func(i, j int) bool { return less(want[i], want[j]) })
		var names []string
		for _, s := range want {
			names = append(names, s.Name)
		}
		d := doc(t, ts.get(t, c, "/ns/payments?sort="+key, http.StatusOK))
		var got []string
		d.Find("#streams tbody th a").Each(func(_ int, a *goquery.Selection) { got = append(got, a.Text()) })
		if !slices.Equal(got, names) {
			t.Errorf("/ns/payments?sort=%s: %v, want %v", key, got, names)
		}
		if d.Find(`#streams thead th[aria-sort] a[href="/ns/payments?sort=`+key+`"]`).Length() != 1 {
			t.Errorf("/ns/payments?sort=%s: the column is not marked as sorted", key)
		}
	}
}

// TestSearchShowsSizes: results carry their size, counted once in their
// scope, and the count reads in English.
func TestSearchShowsSizes(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	d := doc(t, ts.get(t, c, "/search?q=latest", http.StatusOK))
	if got := squash(d.Find("main p.muted").First().Text()); !regexp.MustCompile(`^\d+ match(es)?$`).MatchString(got) || strings.Contains(got, "matchs") {
		t.Errorf("the count reads %q", got)
	}
	nu, _ := ts.usage.Namespace("payments")
	want := map[string]string{}
	for _, st := range nu.Streams {
		want["payments/"+st.Name] = format.Size(st.Bytes)
		for _, tg := range st.Tags {
			want["payments/"+st.Name+":"+tg.Name] = format.Size(tg.Bytes)
		}
	}
	checked := 0
	d.Find("ul.results li").Each(func(_ int, li *goquery.Selection) {
		label := squash(li.Find("a").Text())
		if w, ok := want[label]; ok {
			checked++
			if got := squash(li.Find(".result-size").Text()); got != w {
				t.Errorf("result %s shows %q, want %s", label, got, w)
			}
		}
	})
	if checked < 2 {
		t.Errorf("only %d results of payments to check:\n%s", checked, squash(d.Find("main").Text()))
	}
	// Digests: an image's size counted once, a blob's own.
	d = doc(t, ts.get(t, c, "/search?q=sha256:", http.StatusOK))
	kinds := map[string]int{}
	d.Find("ul.results li").Each(func(_ int, li *goquery.Selection) {
		href := li.Find("a").AttrOr("href", "")
		got := squash(li.Find(".result-size").Text())
		switch {
		case strings.HasPrefix(href, "/images/"):
			img, err := ts.store.GetImage(context.Background(), strings.TrimPrefix(href, "/images/"))
			if err != nil {
				t.Fatal(err)
			}
			if img.Known && got != format.Size(img.Bytes) {
				t.Errorf("image %s shows %q, want %s", img.Digest, got, format.Size(img.Bytes))
			}
			kinds["image"]++
		case strings.HasPrefix(href, "/blobs/"):
			n, err := ts.store.BlobSize(context.Background(), strings.TrimPrefix(href, "/blobs/"))
			if err != nil {
				t.Fatal(err)
			}
			if got != format.Size(n) {
				t.Errorf("blob %s shows %q, want %s", href, got, format.Size(n))
			}
			kinds["blob"]++
		}
	})
	if kinds["image"] == 0 && kinds["blob"] == 0 {
		t.Errorf("no digest results to check:\n%s", squash(d.Find("main").Text()))
	}
}

// TestImageAndBlobBreadcrumbsKeepTheStream: links from a tag's page to its
// image and on to a layer carry ?from=, and those pages' breadcrumbs lead
// back to the namespace, the stream and the tag; a from the user may not
// see is ignored.
func TestImageAndBlobBreadcrumbsKeepTheStream(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	crumbs := func(d *goquery.Document) []string {
		var out []string
		d.Find("nav.crumbs li").Each(func(_ int, li *goquery.Selection) {
			out = append(out, squash(li.Text())+"→"+li.Find("a").AttrOr("href", ""))
		})
		return out
	}
	tagPage := doc(t, ts.get(t, c, views.TagHref("payments", "api", "prod"), http.StatusOK))
	imgHref := tagPage.Find("dl.meta a.digest.full").AttrOr("href", "")
	if !strings.HasSuffix(imgHref, "?from="+url.QueryEscape("payments/api:prod")) {
		t.Fatalf("the tag page links its image as %q", imgHref)
	}
	for _, sel := range []string{"table.history td.ref a.digest", "table.layers td a.digest"} {
		if h := tagPage.Find(sel).First().AttrOr("href", ""); !strings.Contains(h, "?from=") {
			t.Errorf("%s links to %q, without where it came from", sel, h)
		}
	}
	img := doc(t, ts.get(t, c, imgHref, http.StatusOK))
	digest := strings.TrimPrefix(strings.SplitN(imgHref, "?", 2)[0], "/images/")
	want := []string{"Overview→/", "payments→/ns/payments", "api→/ns/payments/is/api", "prod→/ns/payments/istag/api:prod", views.ShortDigest(digest) + "→"}
	if got := crumbs(img); !slices.Equal(got, want) {
		t.Errorf("image crumbs %q, want %q", got, want)
	}
	blobHref := img.Find("table.layers td a.digest").First().AttrOr("href", "")
	if !strings.Contains(blobHref, "?from=") {
		t.Fatalf("the image page links its layer as %q", blobHref)
	}
	blob := doc(t, ts.get(t, c, blobHref, http.StatusOK))
	if got := crumbs(blob); len(got) != 5 || !slices.Equal(got[:4], want[:4]) {
		t.Errorf("blob crumbs %q", got)
	}
	// Without from, or with one the user may not see: Overview / digest.
	ann := actAs(t, ts, "ann", "payments=viewer")
	for _, q := range []string{"", "?from=" + url.QueryEscape("ml/trainer:latest"), "?from=%3Cscript%3E"} {
		got := crumbs(doc(t, ts.get(t, ann, "/images/"+digest+q, http.StatusOK)))
		if len(got) != 2 || got[0] != "Overview→/" {
			t.Errorf("image crumbs with %q: %q", q, got)
		}
	}
}

// TestWordsOnPages: no broken sentences or raw patterns in what people read.
func TestWordsOnPages(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	d := doc(t, ts.get(t, c, "/no/such/page", http.StatusNotFound))
	if got := squash(d.Find("p.lead").Text()); got != "There is no page at /no/such/page." {
		t.Errorf("404 reads %q", got)
	}
	// A tag name the rules refuse: the rule in words, next to the form.
	streamPath := views.StreamHref("payments", "api")
	add := views.AddTagHref("payments", "api")
	f := actForm(t, doc(t, ts.get(t, c, streamPath, http.StatusOK)), add)
	f.Set("source", "latest")
	f.Set("tag", "bad tag")
	r := actPost(t, ts, c, add, f, false)
	actExpect(t, r, http.StatusBadRequest, "a bad tag name")
	msg := squash(doc(t, r.body).Find("section.add-tag .field-error").Text())
	if !strings.Contains(msg, "at most 128 characters") || strings.ContainsAny(msg, `\^$[]{}`) {
		t.Errorf("a bad tag name is refused with %q", msg)
	}
	// History rows say when the tag moved there, the image when it was built.
	tg := doc(t, ts.get(t, c, views.TagHref("payments", "api", "prod"), http.StatusOK))
	if got := squash(tg.Find("table.history thead th").Eq(2).Text()); got != "Tagged" {
		t.Errorf("the history's time column is %q", got)
	}
	if tg.Find("dl.meta dt:contains('Built')").Length() != 1 || tg.Find("dl.meta dt:contains('Created')").Length() != 0 {
		t.Error("the Image box does not say Built")
	}
}

// TestThresholdAsTyped: the settings form's help says what GB means, a
// threshold typed in GB is read as decimal and shown back as typed with
// what it is in IEC units; one typed in GiB comes back in GiB.
func TestThresholdAsTyped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	nadia := actAs(t, ts, "nadia", "payments=admin")
	d := doc(t, ts.get(t, nadia, "/ns/payments/settings", http.StatusOK))
	if help := squash(d.Find("#set-threshold-help").Text()); !strings.Contains(help, "GB") || !strings.Contains(help, "decimal") || !strings.Contains(help, "2,000,000,000 bytes") {
		t.Errorf("the threshold help reads %q", help)
	}
	for _, c := range []struct {
		typed, shown, meaning string
		bytes                 int64
	}{
		{"2 GB", "2GB", "2GB is 1.9 GiB (2,000,000,000 bytes).", 2e9},
		{"2GiB", "2GiB", "", 2 << 30},
		{"1.5 GiB", "1.5GiB", "", 3 << 29},
		{"500MB", "500MB", "500MB is 476.8 MiB (500,000,000 bytes).", 500e6},
	} {
		f := actForm(t, d, "/ns/payments/settings")
		f.Set("threshold", c.typed)
		actExpect(t, actPost(t, ts, nadia, "/ns/payments/settings", f, false), http.StatusSeeOther, "threshold "+c.typed)
		ns, err := ts.store.GetNamespace(context.Background(), "payments")
		if err != nil || ns.ThresholdBytes == nil || *ns.ThresholdBytes != c.bytes {
			t.Fatalf("%q stored as %v, want %d", c.typed, ns.ThresholdBytes, c.bytes)
		}
		page := doc(t, ts.get(t, nadia, "/ns/payments/settings", http.StatusOK))
		if got := page.Find("#set-threshold").AttrOr("value", ""); got != c.shown {
			t.Errorf("%q is shown back as %q, want %q", c.typed, got, c.shown)
		}
		if got := squash(page.Find(".threshold-meaning").Text()); got != c.meaning {
			t.Errorf("%q: the form says %q, want %q", c.typed, got, c.meaning)
		}
	}
	// A unit that is not one: refused next to the field, in words.
	f := actForm(t, d, "/ns/payments/settings")
	f.Set("threshold", "2 gigs")
	r := actPost(t, ts, nadia, "/ns/payments/settings", f, false)
	actExpect(t, r, http.StatusBadRequest, "threshold 2 gigs")
	if got := squash(doc(t, r.body).Find("#set-threshold ~ .field-error").First().Text()); !strings.Contains(got, "unknown unit") {
		t.Errorf("2 gigs: %q", got)
	}
}
