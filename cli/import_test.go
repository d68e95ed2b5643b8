package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageDoc is an Image object (`oc get images -o json`) with one layer.
func imageDoc(digest, layer string, size int64) string {
	return fmt.Sprintf(`{"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":%q},
		"dockerImageLayers":[{"name":%q,"size":%d,"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip"}]}`, digest, layer, size)
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	imgA  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	imgB  = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	imgC  = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	base  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	other = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	huge  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

// TestImportRefusesAnotherBlobSize: a dump that gives a known layer another
// size, or a size out of bounds, is refused as a whole — its other, valid
// objects are not written either — with an error naming the sizes.
func TestImportRefusesAnotherBlobSize(t *testing.T) {
	t.Parallel()
	list := func(items ...string) string {
		return `{"kind":"List","apiVersion":"v1","items":[` + strings.Join(items, ",") + `]}`
	}
	stream := `{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"app","namespace":"team-b"},
		"status":{"tags":[{"tag":"v1","items":[{"created":"2026-01-02T03:04:05Z","dockerImageReference":"reg.example.com/team-b/app@` + imgB + `","image":"` + imgB + `"}]}]}}`
	cases := []struct {
		name  string
		flags []string
		body  string
		want  []string
	}{
		{"another size for a known layer", nil, list(imageDoc(imgC, other, 5), imageDoc(imgB, base, 142), stream),
			[]string{"blob " + base + " is 2142 bytes", "says 142 bytes", "nothing from this file was written"}},
		{"a size of 2^63-1", nil, list(imageDoc(imgC, other, 5), imageDoc(imgB, huge, 9223372036854775807), stream),
			[]string{"has size 9223372036854775807 bytes; a blob must be 0 to 1099511627776 bytes"}},
		{"a negative size", nil, list(imageDoc(imgB, other, -1), stream), []string{"size -1 is negative"}},
		{"above --max-blob-size", []string{"--max-blob-size", "1KiB"}, list(imageDoc(imgB, other, 1025), stream),
			[]string{"has size 1025 bytes; a blob must be 0 to 1024 bytes (1.0 KiB, LAYERWISE_MAX_BLOB_SIZE)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := newDB(t)
			ok(t, lw(t, db, "", "import", "openshift", writeFile(t, "first.json", list(imageDoc(imgA, base, 2142)))))
			before := dump(t, db)
			args := append([]string{"import", "openshift"}, c.flags...)
			r := lw(t, db, "", append(args, writeFile(t, "second.json", c.body))...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1 (refused); stdout %q", r.code, r.out)
			}
			for _, w := range c.want {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr %q lacks %q", r.err, w)
				}
			}
			if after := dump(t, db); after != before {
				t.Errorf("a refused file wrote to the database")
			}
		})
	}
	t.Run("--max-blob-size must be a size", func(t *testing.T) {
		r := lw(t, newDB(t), "", "import", "openshift", "--max-blob-size", "lots", "x.json")
		if r.code != 2 || !strings.Contains(r.err, `--max-blob-size "lots"`) {
			t.Errorf("exit %d, stderr %q; want a usage error naming the flag", r.code, r.err)
		}
	})
}

// TestImportRefusesWhatTheAPIRefuses: `import openshift` refuses the
// degenerate inputs the API refuses — a self alias, an alias cycle,
// bytes that are not UTF-8, a pull spec with spaces and HTML — and writes
// nothing of such a file.
func TestImportRefusesWhatTheAPIRefuses(t *testing.T) {
	t.Parallel()
	stream := func(specTags, statusTags string) string {
		return `{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"app","namespace":"team-a","labels":{"team":"a"}},
			"spec":{"tags":[` + specTags + `]},"status":{"tags":[` + statusTags + `]}}`
	}
	alias := func(tag, from string) string {
		return `{"name":"` + tag + `","from":{"kind":"ImageStreamTag","name":"` + from + `"}}`
	}
	item := func(tag, ref string) string {
		return `{"tag":"` + tag + `","items":[{"created":"2026-01-02T03:04:05Z","dockerImageReference":"` + ref + `","image":"` + imgA + `"}]}`
	}
	good := "reg.example.com/team-a/app@" + imgA
	cases := []struct{ name, body, says string }{
		{"self alias", stream(alias("latest", "latest"), item("latest", good)), "team-a/app:latest: reference tag is circular (latest → latest)"},
		{"alias cycle", stream(alias("a", "app:b")+","+alias("b", "a"), item("a", good)), "team-a/app:a: reference tag is circular (a → b → a)"},
		{"not UTF-8", strings.Replace(stream(alias("a", "b"), item("b", good)), `"team":"a"`, "\"team\":\"a\xff\xfe\"", 1), "line 1, column 125: the file is not valid UTF-8"},
		{"spaces and HTML in a pull spec", stream(`{"name":"a"}`, item("a", `x <script>alert(1)</script>`)),
			`history item 0: dockerImageReference: image reference "x <script>alert(1)</script>" contains white space`},
		{"HTML in a pull spec", stream(`{"name":"a","from":{"kind":"DockerImage","name":"evil.example.com/<b>x</b>"}}`, ""), `has a malformed repository`},
		{"NUL in a label", strings.Replace(stream(alias("a", "b"), item("b", good)), `"team":"a"`, `"team":"a\u0000"`, 1), `labels["team"] contains a NUL character`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := newDB(t)
			ok(t, lw(t, db, "", "import", "openshift", writeFile(t, "first.json", imageDoc(imgA, base, 10))))
			before := dump(t, db)
			r := lw(t, db, "", "import", "openshift", writeFile(t, "bad.json", c.body))
			if r.code != 1 || !strings.Contains(r.err, c.says) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.err, c.says)
			}
			if after := dump(t, db); after != before {
				t.Errorf("a refused file wrote to the database")
			}
		})
	}
}
