package web

import (
	"github.com/PuerkitoBio/goquery"

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
