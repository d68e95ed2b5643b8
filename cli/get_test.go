package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

// usageOf is `usage -o json` without the time it was computed.
func usageOf(t *testing.T, db string) store.Usage {
	t.Helper()
	var u store.Usage
	if err := json.Unmarshal([]byte(ok(t, lw(t, db, "", "usage", "-o", "json")).out), &u); err != nil {
		t.Fatal(err)
	}
	u.ComputedAt, u.PlanComputedAt = time.Time{}, time.Time{} // when, not what
	return u
}

// TestExportImportToAFreshDatabase: `get is,images -A -o json` (and -o
// yaml) read into an empty database by `import openshift` gives every
// figure back: usage (bytes, exclusive, reclaimable, per revision),
// image times, and the same export again.
func TestExportImportToAFreshDatabase(t *testing.T) {
	t.Parallel()
	src := newDB(t)
	p := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(p, openshift.DemoData(), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, lw(t, src, "", "import", "openshift", p))
	for _, f := range []string{
		"openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml",
		"openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-test-multiarch-stream.yaml",
		"seed-imagestreammapping.yaml",
		"seed-imagestreamtag.yaml",
		"openshift-openshift-restclient-java__src-test-resources-samples-openshift3-v1_image_stream_import.json",
	} {
		ok(t, lw(t, src, "", "import", "openshift", fixture(t, f)))
	}
	want := usageOf(t, src)
	export := ok(t, lw(t, src, "", "get", "is,images", "-A", "-o", "json")).out
	if !strings.Contains(export, `"kind": "Image"`) || !strings.Contains(export, `"creationTimestamp"`) {
		t.Fatalf("the export has no images:\n%.2000s", export)
	}
	for _, format := range []string{"json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			in := export
			if format == "yaml" {
				in = ok(t, lw(t, src, "", "get", "is,images", "-A", "-o", "yaml")).out
			}
			dst := newDB(t)
			ok(t, lw(t, dst, in, "import", "openshift", "-"))
			got := usageOf(t, dst)
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.MarshalIndent(got, "", " ")
				wb, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("usage after the round trip differs:\n got %.3000s\nwant %.3000s", gb, wb)
			}
			if want.Registry.Bytes == 0 || got.Registry.UnknownImages != want.Registry.UnknownImages {
				t.Errorf("registry %+v, want %+v", got.Registry, want.Registry)
			}
			again := ok(t, lw(t, dst, "", "get", "is,images", "-A", "-o", "json")).out
			// YAML orders the keys of objects kept as given (metadata):
			// the same values, maybe another order.
			var a, b any
			if err := json.Unmarshal([]byte(again), &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(export), &b); err != nil {
				t.Fatal(err)
			}
			if format == "json" && again != export || !reflect.DeepEqual(a, b) {
				t.Errorf("the export of the copy differs from the original's")
			}
		})
	}
}

// TestGetImages lists images as `oc get images` does; -n narrows to the
// images a namespace's tags hold, and a digest picks one.
func TestGetImages(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", fixture(t, "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml")))
	ok(t, lw(t, db, "", "import", "openshift", fixture(t, "seed-imagestreammapping.yaml")))
	const busybox = "sha256:a59906e33509d14c036c8678d687bd4eec81ed7c4b8ce907b888c607f6a1e0e6"
	out := regexp.MustCompile(" {3,}").ReplaceAllString(ok(t, lw(t, db, "", "get", "images")).out, "\t")
	if !strings.HasPrefix(out, "NAME\tIMAGE REFERENCE\n") || !strings.Contains(out, busybox+"\tbusybox@"+busybox+"\n") {
		t.Errorf("get images:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("get images lists %d lines, want a header and 2 images:\n%s", n, out)
	}
	out = ok(t, lw(t, db, "", "get", "images", "-n", "default")).out
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, busybox) {
		t.Errorf("get images -n default:\n%s", out)
	}
	var one struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(ok(t, lw(t, db, "", "get", "images", busybox, "-o", "json")).out), &one); err != nil {
		t.Fatal(err)
	}
	if len(one.Items) != 1 || one.Items[0]["metadata"].(map[string]any)["creationTimestamp"] != "2016-07-27T15:12:10Z" {
		t.Errorf("get images DIGEST -o json: %v", one.Items)
	}
	if r := lw(t, db, "", "get", "images", "sha256:"+strings.Repeat("0", 64)); r.code != 1 || !strings.Contains(r.err, "not found") {
		t.Errorf("an unknown digest: exit %d, %s", r.code, r.err)
	}
	if r := lw(t, db, "", "get", "pods"); r.code != 2 {
		t.Errorf("get pods: exit %d, %s", r.code, r.err)
	}
}
