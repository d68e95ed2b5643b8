package openshift

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDescribeStreamIsOcs holds DescribeStream to `oc describe is`: each
// testdata/openshift/describe/NAME.json is described and compared, byte for
// byte, with NAME.oc.txt, which oc's own describer printed for that object
// (see the folder's README): aliases folded under their target, status-only
// tags, import errors, tag annotations, an annotation ending in a newline
// (as `oc apply` leaves one), a public repository, a stream without tags.
func TestDescribeStreamIsOcs(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-20T12:00:00Z")
	all, err := filepath.Glob(filepath.Join("..", "..", "testdata", "openshift", "describe", "*.json"))
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".image.json") {
			files = append(files, f)
		}
	}
	if err != nil || len(files) < 6 {
		t.Fatalf("describe fixtures: %v %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".oc.txt")
			if err != nil {
				t.Fatal(err)
			}
			objs := decodeFile(t, f, Options{})
			got, err := describeText(func(w io.Writer) error { return DescribeStream(w, *objs[0].Stream, now) })
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("describe is differs from oc's:\n%s", lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first lines where two texts differ, tabs visible.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  oc:        " + strings.ReplaceAll(a, "\t", "→") + "\n  layerwise: " + strings.ReplaceAll(c, "\t", "→") + "\n")
		}
	}
	return b.String()
}

// TestDescribeImageIsOcs holds DescribeImage to `oc describe istag` (and
// `oc describe image`) on NAME.image.json: labels, annotations with a
// description, signatures (unverified and verified), no entrypoint (oc
// prints no Entrypoint line then), volumes, and a manifest list. The size
// printed is the one given, as oc prints dockerImageMetadata.Size.
func TestDescribeImageIsOcs(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-20T12:00:00Z")
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "openshift", "describe", "*.image.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("describe fixtures: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".oc.txt")
			if err != nil {
				t.Fatal(err)
			}
			img := *decodeFile(t, f, Options{})[0].Image
			var size struct{ Size int64 }
			if err := json.Unmarshal([]byte(img.DockerImageMetadata), &size); err != nil {
				t.Fatal(err)
			}
			got, err := describeText(func(w io.Writer) error { return DescribeImage(w, img, img.Digest, size.Size, now) })
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("describe istag differs from oc's:\n%s", lineDiff(string(want), got))
			}
		})
	}
}
