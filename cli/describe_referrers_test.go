package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDescribeIstagListsSignatures: `describe istag` of an image with a
// cosign signature (from a dump's sha256-<hex>.sig tag) lists it after
// oc's lines; `describe is` shows no such tag.
func TestDescribeIstagListsSignatures(t *testing.T) {
	t.Parallel()
	subject := "sha256:" + strings.Repeat("a", 64)
	sig := "sha256:" + strings.Repeat("5", 64)
	dump := `{"kind":"List","apiVersion":"v1","items":[
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + subject + `"},
  "dockerImageLayers":[{"name":"sha256:` + strings.Repeat("1", 64) + `","size":4096}]},
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"` + sig + `"},
  "dockerImageLayers":[{"name":"sha256:` + strings.Repeat("2", 64) + `","size":300,"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json"}]},
 {"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"app","namespace":"ns"},
  "status":{"tags":[
   {"tag":"latest","items":[{"created":"2026-11-01T10:00:00Z","dockerImageReference":"r/ns/app@` + subject + `","image":"` + subject + `","generation":1}]},
   {"tag":"sha256-` + strings.Repeat("a", 64) + `.sig","items":[{"created":"2026-11-01T10:01:00Z","dockerImageReference":"r/ns/app@` + sig + `","image":"` + sig + `","generation":1}]}
  ]}}]}`
	file := filepath.Join(t.TempDir(), "signed.json")
	if err := os.WriteFile(file, []byte(dump), 0o600); err != nil {
		t.Fatal(err)
	}
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", file))
	out := ok(t, lw(t, db, "", "describe", "istag", "ns/app:latest")).out
	i, j := strings.Index(out, "Image Name:"), strings.Index(out, "Signatures and SBOMs:")
	if i < 0 || j < i || !strings.Contains(out[j:], "signature") || !strings.Contains(out[j:], sig) {
		t.Errorf("describe istag:\n%s", out)
	}
	if is := ok(t, lw(t, db, "", "describe", "is", "ns/app")).out; strings.Contains(is, "sha256-") {
		t.Errorf("describe is shows the cosign tag:\n%s", is)
	}
}
