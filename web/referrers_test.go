package web

import (
	"github.com/PuerkitoBio/goquery"
	"layerwise/store"
	"layerwise/views"
	"strconv"

	"net/http"
	"strings"
	"testing"
)

// signedDump is a stream whose current image carries a cosign signature
// (tag sha256-<hex>.sig) and whose older image carries none.
const (
	signedImage   = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	unsignedImage = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	signature     = "sha256:5555555555555555555555555555555555555555555555555555555555555555"
)

var signedDump = `{"kind":"List","apiVersion":"v1","items":[
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + signedImage + `"},
  "dockerImageLayers":[{"name":"sha256:1010101010101010101010101010101010101010101010101010101010101010","size":4096}]},
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + unsignedImage + `"},
  "dockerImageLayers":[{"name":"sha256:3030303030303030303030303030303030303030303030303030303030303030","size":2048}]},
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + signature + `"},
  "dockerImageLayers":[{"name":"sha256:2020202020202020202020202020202020202020202020202020202020202020","size":12288,
   "mediaType":"application/vnd.dev.cosign.simplesigning.v1+json"}]},
 {"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"app","namespace":"signed"},
  "status":{"tags":[
   {"tag":"latest","items":[
    {"created":"2026-11-01T10:00:00Z","dockerImageReference":"r/signed/app@` + signedImage + `","image":"` + signedImage + `","generation":1},
    {"created":"2026-10-01T10:00:00Z","dockerImageReference":"r/signed/app@` + unsignedImage + `","image":"` + unsignedImage + `","generation":1}]},
   {"tag":"sha256-` + strings.TrimPrefix(signedImage, "sha256:") + `.sig","items":[
    {"created":"2026-11-01T10:01:00Z","dockerImageReference":"r/signed/app@` + signature + `","image":"` + signature + `","generation":1}]}
  ]}}
]}`

// TestSignaturesOnThePages: the tag page lists the signature under its
// image with the bytes it adds and marks the signed revision only; the
// namespace page marks the stream; the signature's own page says what it
// is attached to; the API lists it (validated against openapi.json) and
// hides it, like the image, from a reader of another namespace.
func TestSignaturesOnThePages(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t, signedDump)
	d := doc(t, ts.get(t, c, "/ns/signed/istag/app:latest", http.StatusOK))
	if got := squash(d.Find("#referrers-heading").Text()); got != "Signatures and SBOMs: 12.0 KiB" {
		t.Errorf("referrers heading %q", got)
	}
	rows := d.Find("table.referrers tbody tr")
	if rows.Length() != 1 || !strings.Contains(squash(rows.Text()), "signature") || rows.Find("a.digest").AttrOr("title", "") != signature {
		t.Errorf("referrers table %q", squash(rows.Text()))
	}
	hist := d.Find("table.history tbody tr")
	if hist.Length() != 2 {
		t.Fatalf("history has %d rows", hist.Length())
	}
	if !strings.Contains(hist.Eq(0).Find("td.state").Text(), "signed") || strings.Contains(hist.Eq(1).Find("td.state").Text(), "signed") {
		t.Errorf("signed marks: %q / %q", squash(hist.Eq(0).Find("td.state").Text()), squash(hist.Eq(1).Find("td.state").Text()))
	}
	if strings.Contains(squash(d.Find("table").Text()), "sha256-") {
		t.Error("the cosign tag is shown as a tag")
	}

	ns := doc(t, ts.get(t, c, "/ns/signed", http.StatusOK))
	if got := squash(ns.Find("th[scope=row]").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.Contains(s.Text(), "app") }).Text()); got != "app signed" {
		t.Errorf("namespace row %q", got)
	}

	sig := doc(t, ts.get(t, c, "/images/"+signature, http.StatusOK))
	if got := squash(sig.Find("p.subjects").Text()); !strings.Contains(got, "Attached to") || sig.Find("p.subjects a").AttrOr("title", "") != signedImage {
		t.Errorf("the signature's page says %q", got)
	}

	root := ts.apiUser(t, "root", true)
	var refs struct {
		Referrers []struct{ Digest, Type string }
		Bytes     int64
		Signed    bool
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/images/" + signedImage + "/referrers", token: root}).decode(t, &refs)
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != signature || refs.Referrers[0].Type != "signature" || refs.Bytes != 12288 || !refs.Signed {
		t.Errorf("API referrers %+v", refs)
	}
	other := ts.apiUser(t, "viola", false, "payments=viewer")
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/images/" + signedImage + "/referrers", token: other})
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/images/" + signature, token: other})
	reader := ts.apiUser(t, "rita", false, "signed=viewer")
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/images/" + signedImage + "/referrers", token: reader})
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/images/" + signature, token: reader})
}

// pruneDump: signed/old:latest has four revisions, each image signed; the
// oldest goes with keep-3, its signature with it. An old image in no
// history has an SBOM: both are orphans prune removes.
func pruneDump() string {
	var items []string
	img := func(digest, layer string, size int, media string) string {
		mt := ""
		if media != "" {
			mt = `,"mediaType":"` + media + `"`
		}
		return `{"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + digest + `","creationTimestamp":"2026-01-01T00:00:00Z"},
  "dockerImageLayers":[{"name":"` + layer + `","size":` + strconv.Itoa(size) + mt + `}]}`
	}
	hex := func(c string) string { return strings.Repeat(c, 64) }
	var history, tags []string
	for i, c := range []string{"1", "2", "3", "4"} {
		image, sig := "sha256:"+hex(c), "sha256:"+hex(string(rune('a'+i)))
		items = append(items, img(image, "sha256:"+hex("e")[:63]+c, 1000, ""),
			img(sig, "sha256:"+hex("f")[:63]+c, 100, "application/vnd.dev.cosign.simplesigning.v1+json"))
		history = append(history, `{"created":"2026-0`+strconv.Itoa(9-i)+`-01T10:00:00Z","dockerImageReference":"r/signed/old@`+image+`","image":"`+image+`","generation":1}`)
		tags = append(tags, `{"tag":"sha256-`+hex(c)+`.sig","items":[{"created":"2026-09-01T10:00:00Z","dockerImageReference":"r/signed/old@`+sig+`","image":"`+sig+`","generation":1}]}`)
	}
	orphanSubject, orphanSBOM := "sha256:"+hex("9"), "sha256:"+hex("8")
	items = append(items, img(orphanSubject, "sha256:"+hex("d"), 500, ""),
		img(orphanSBOM, "sha256:"+hex("c"), 50, "application/spdx+json"))
	tags = append(tags, `{"tag":"sha256-`+hex("9")+`.sbom","items":[{"created":"2026-09-01T10:00:00Z","dockerImageReference":"r/signed/old@`+orphanSBOM+`","image":"`+orphanSBOM+`","generation":1}]}`)
	tags = append(tags, `{"tag":"latest","items":[`+strings.Join(history, ",")+`]}`)
	items = append(items, `{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"old","namespace":"signed"},
  "status":{"tags":[`+strings.Join(tags, ",")+`]}}`)
	return `{"kind":"List","apiVersion":"v1","items":[` + strings.Join(items, ",\n") + `]}`
}

// TestPrunePageShowsReferrers: the prune preview lists the signature that
// goes with the pruned revision under it, and the orphaned SBOM; the
// plan's bytes count both.
func TestPrunePageShowsReferrers(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t, pruneDump())
	oldest, oldSig := "sha256:"+strings.Repeat("4", 64), "sha256:"+strings.Repeat("d", 64)
	d := doc(t, ts.get(t, c, views.PruneHref("signed"), http.StatusOK))
	rows := d.Find("#prune-detail table.prune tbody tr:not(.group)")
	if rows.Length() != 1 || rows.Find("a").Eq(1).AttrOr("title", "") != oldest {
		t.Fatalf("/prune?ns=signed lists %q", squash(rows.Text()))
	}
	if got := squash(rows.Find(".referrers-going").Text()); !strings.Contains(got, "1 attached signature or SBOM") ||
		rows.Find(".referrers-going code").AttrOr("title", "") != oldSig {
		t.Errorf("the revision's referrers read %q", got)
	}
	orphans := d.Find("table.orphans tbody tr")
	if orphans.Length() != 1 || !strings.Contains(orphans.Text(), "sbom") ||
		orphans.Find("code").Eq(1).AttrOr("title", "") != "sha256:"+strings.Repeat("9", 64) {
		t.Errorf("orphans: %q", squash(orphans.Text()))
	}
	root := ts.apiUser(t, "root", true)
	var plan struct {
		Referrers  []store.PruneReferrer
		Namespaces []struct {
			Name       string
			BytesFreed int64
		}
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/prune/plan", token: root}).decode(t, &plan)
	var gone []string
	for _, r := range plan.Referrers {
		if r.Subject == oldest || r.Orphaned {
			gone = append(gone, r.Digest)
		}
	}
	if len(gone) != 2 {
		t.Errorf("the plan's referrers %+v", plan.Referrers)
	}
	// signed/old's revision frees its image's layer and its signature's.
	for _, n := range plan.Namespaces {
		if n.Name == "signed" && n.BytesFreed != 1000+100 {
			t.Errorf("signed frees %d, want 1100", n.BytesFreed)
		}
	}
}
