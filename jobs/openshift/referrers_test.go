package openshift

import (
	"io"
	"strings"
	"testing"
	"time"

	"layerwise/store"
)

// A dump as `oc get is,images -o json` prints a stream that holds an image
// and its cosign signature: the signature's tag sha256-<hex>.sig, and a
// "sha256-" tag that is not cosign's (too short), which stays a tag.
const (
	dumpSubject   = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dumpSignature = "sha256:5555555555555555555555555555555555555555555555555555555555555555"
	dumpSBOM      = "sha256:6666666666666666666666666666666666666666666666666666666666666666"
)

func referrerDump(extraTags string) string {
	hex := strings.TrimPrefix(dumpSubject, "sha256:")
	return `{"kind":"List","apiVersion":"v1","items":[
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + dumpSubject + `"},
  "dockerImageLayers":[{"name":"sha256:1010101010101010101010101010101010101010101010101010101010101010","size":4096}]},
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + dumpSignature + `"},
  "dockerImageLayers":[{"name":"sha256:2020202020202020202020202020202020202020202020202020202020202020","size":300,
   "mediaType":"application/vnd.dev.cosign.simplesigning.v1+json"}]},
 {"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"app","namespace":"ns"},
  "status":{"tags":[
   {"tag":"latest","items":[{"created":"2026-11-01T10:00:00Z","dockerImageReference":"r/ns/app@` + dumpSubject + `","image":"` + dumpSubject + `","generation":1}]},
   {"tag":"sha256-` + hex + `.sig","items":[{"created":"2026-11-01T10:01:00Z","dockerImageReference":"r/ns/app@` + dumpSignature + `","image":"` + dumpSignature + `","generation":1}]},
   {"tag":"sha256-abc.sig","items":[{"created":"2026-11-01T10:02:00Z","dockerImageReference":"r/ns/app@` + dumpSubject + `","image":"` + dumpSubject + `","generation":1}]}` +
		extraTags + `
  ]}}
]}`
}

// TestDumpCosignTagsAreReferrers: a dump's cosign-scheme tag records its
// image as a signature of the digest its name gives, not as a tag; a
// second import changes nothing; an SBOM of a digest the store does not
// know records that digest as an unknown image.
func TestDumpCosignTagsAreReferrers(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-20T12:00:00Z")
	s := openStore(t)
	sum := applyTo(t, s, decodeString2(t, referrerDump(""), now))
	eq(t, "referrers", []int{sum.Referrers, sum.ReferrersChanged}, []int{1, 1})
	eq(t, "referrer streams", sum.ReferrerStreams, []store.StreamRef{{Namespace: "ns", Stream: "app"}})
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "ns", Stream: "app"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "tags (the cosign tag is none)", tagNames(st), []string{"latest", "sha256-abc.sig"})
	refs, err := s.ReferrersOf(t.Context(), dumpSubject)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != dumpSignature || refs.Referrers[0].Type != store.ReferrerSignature || !refs.Signed {
		t.Fatalf("referrers of the subject: %+v", refs)
	}
	eq(t, "the signature's bytes", refs.Bytes, int64(300))

	sum = applyTo(t, s, decodeString2(t, referrerDump(""), now.Add(time.Hour)))
	eq(t, "again", []int{sum.Referrers, sum.ReferrersChanged}, []int{1, 0})
	eq(t, "changed again", sum.Changed(), false)

	// An SBOM of an image the dump does not hold.
	unknown := "sha256:" + strings.Repeat("7", 64)
	sbom := `,
   {"tag":"sha256-` + strings.Repeat("7", 64) + `.sbom","items":[{"created":"2026-11-01T10:03:00Z","dockerImageReference":"r/ns/app@` + dumpSBOM + `","image":"` + dumpSBOM + `","generation":1}]}`
	sum = applyTo(t, s, decodeString2(t, referrerDump(sbom), now.Add(2*time.Hour)))
	eq(t, "with the SBOM", []int{sum.Referrers, sum.ReferrersChanged}, []int{2, 1})
	refs, err = s.ReferrersOf(t.Context(), unknown)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != dumpSBOM || refs.Referrers[0].Type != store.ReferrerSBOM {
		t.Fatalf("referrers of the unknown subject: %+v", refs)
	}
	img, err := s.GetImage(t.Context(), unknown)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "the subject is an unknown image", img.Known, false)
}

func decodeString2(t *testing.T, s string, now time.Time) []Object {
	t.Helper()
	objs, err := decodeString("dump.json", s, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestDescribeReferrers: `describe istag` adds the image's signatures after
// oc's lines; an image without any gets no line.
func TestDescribeReferrers(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-20T12:00:00Z")
	s := openStore(t)
	s.SetClock(func() time.Time { return now.Add(-48 * time.Hour) })
	applyTo(t, s, decodeString2(t, referrerDump(""), now))
	refs, err := s.ReferrersOf(t.Context(), dumpSubject)
	if err != nil {
		t.Fatal(err)
	}
	got, err := describeText(func(w io.Writer) error { return DescribeReferrers(w, refs, now) })
	if err != nil {
		t.Fatal(err)
	}
	want := "Signatures and SBOMs:\t300 B (counted with the image, pruned with it)\n" +
		"\t\t\tsignature\t" + dumpSignature + "\t300 B\t2 days ago\n"
	if got != want {
		t.Errorf("describe lists\n%q\nwant\n%q", got, want)
	}
	none, err := s.ReferrersOf(t.Context(), dumpSignature)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := describeText(func(w io.Writer) error { return DescribeReferrers(w, none, now) }); got != "" {
		t.Errorf("an image without referrers: %q", got)
	}
}
