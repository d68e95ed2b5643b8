package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"layerwise/format"
	"layerwise/jobs/openshift"
	"layerwise/store"
)

// demoDB imports the embedded demo data into a fresh database file.
func demoDB(t *testing.T) string {
	t.Helper()
	db := newDB(t)
	p := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(p, openshift.DemoData(), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, lw(t, db, "", "import", "openshift", p))
	return db
}

func TestDescribeStreamWithAFailedImport(t *testing.T) {
	t.Parallel()
	db := demoDB(t)
	out := tabs(ok(t, lw(t, db, "", "describe", "is", "payments/legacy-gateway")).out)
	for _, want := range []string{
		"Name:\tlegacy-gateway\n",
		"Namespace:\tpayments\n",
		// oc shows the public repository when the stream has one.
		"Image Repository:\tdefault-route-openshift-image-registry.apps.ocp4.acme.example/payments/legacy-gateway\n",
		"Unique Images:\t3\n",
		"Tags:\t2\n",
		"2.3\n  updates automatically from registry quay.io/acme/legacy:2.3\n    prefer registry pullthrough when referencing this tag\n",
		"  ! error: Import failed (NotFound): dockerimage.image.openshift.io \"quay.io/acme/legacy:2.3\" not found\n",
		"  * quay.io/acme/legacy@sha256:0dd56167e2d34ead057ab2f37119027faa7a5f55975a53158afa37bb93e48488\n",
		"    quay.io/acme/legacy@sha256:f34329cc86e027871ca51ae299f0b1266125e1cbea0201d43326c808a3228e40\n",
		"2.2\n  tagged from quay.io/acme/legacy:2.2\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe is lacks %q:\n%s", want, out)
		}
	}
	// oc's order: versions newest first.
	if strings.Index(out, "\n2.3\n") > strings.Index(out, "\n2.2\n") {
		t.Errorf("2.3 should come before 2.2:\n%s", out)
	}
	// After oc's lines, every revision with the size `usage` computes for it.
	var u store.Usage
	if err := json.Unmarshal([]byte(ok(t, lw(t, db, "", "usage", "payments", "-o", "json")).out), &u); err != nil {
		t.Fatal(err)
	}
	adds := out[strings.Index(out, "\nSize:\t"):]
	for _, st := range u.Namespaces[0].Streams {
		if st.Name != "legacy-gateway" {
			continue
		}
		for _, tg := range st.Tags {
			for _, r := range tg.Revisions {
				want := regexp.MustCompile(`\n    [* ] ` + regexp.QuoteMeta(r.Image) + `\t` + regexp.QuoteMeta(format.Size(r.Bytes)) + `\n`)
				if !want.MatchString(adds) {
					t.Errorf("no revision line for %s with %s:\n%s", r.Image, format.Size(r.Bytes), adds)
				}
			}
		}
	}
}

// TestDescribeThroughTheStoreIsOcs: `import openshift` then `describe is`
// prints oc's lines for each object of testdata/openshift/describe
// (DescribeStream's table test holds them to oc's output), then
// Layerwise's sizes.
func TestDescribeThroughTheStoreIsOcs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(fixtures, "describe", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".image.json") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".oc.txt")
			if err != nil {
				t.Fatal(err)
			}
			var obj struct {
				Metadata struct{ Name, Namespace string }
			}
			raw, _ := os.ReadFile(f)
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatal(err)
			}
			db := newDB(t)
			ok(t, lw(t, db, "", "import", "openshift", f))
			// oc's ages are relative: describe at the fixtures' "now".
			out := ok(t, lwAt(t, db, "2026-11-20T12:00:00Z", "describe", "is", obj.Metadata.Namespace+"/"+obj.Metadata.Name)).out
			if !strings.HasPrefix(out, string(want)+"\n") {
				t.Errorf("describe is does not start with oc's lines:\n%s", out)
			}
			if !strings.Contains(out[len(want):], "\nSize:\t") {
				t.Errorf("no sizes after oc's lines:\n%s", out[len(want):])
			}
		})
	}
	if n < 6 {
		t.Fatalf("%d describe fixtures", n)
	}
}

func TestDescribeTag(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", "../testdata/openshift/seed-imagestreammapping.yaml"))
	out := tabs(ok(t, lw(t, db, "", "describe", "istag", "test/origin-ruby-sample:latest")).out)
	// 196634330 + 177723024 + 55679776 + 11939149 (+ the zero-size layer once).
	total := int64(196634330 + 177723024 + 55679776 + 11939149)
	for _, want := range []string{
		"Image Name:\tsha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d\n",
		"Image Size:\t" + format.Size(total) + " in 7 layers\n",
		"Layers:\t0 B\tsha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\n",
		"\t187.5 MiB\tsha256:ee1dd2cb6df21971f4af6de0f1d7782b81fb63156801cfde2bb47b4247c23c29\n",
		"Arch:\tamd64\n",
		"Entrypoint:\tcontainer-entrypoint\n",
		"Command:\t/usr/libexec/s2i/run\n",
		"Working Dir:\t/opt/app-root/src\n",
		"User:\t1001\n",
		"Exposes Ports:\t8080/tcp\n",
		"\tvendor=CentOS\n",
		"Environment:\tRACK_ENV=production\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe istag lacks %q:\n%s", want, out)
		}
	}
	if format.Size(total) != "421.5 MiB" {
		t.Errorf("total = %s", format.Size(total))
	}
	r := lw(t, db, "", "describe", "istag", "test/origin-ruby-sample:nope")
	if r.code != 1 || !strings.Contains(r.err, "image stream tag test/origin-ruby-sample:nope not found") {
		t.Errorf("unknown tag: exit %d %q", r.code, r.err)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The JSON shape of docs/REFERENCE.md ("usage -o json"), key for key at every level.
func TestUsageJSONShape(t *testing.T) {
	t.Parallel()
	db := demoDB(t)
	var doc map[string]any
	if err := json.Unmarshal([]byte(ok(t, lw(t, db, "", "usage", "-o", "json")).out), &doc); err != nil {
		t.Fatal(err)
	}
	has := func(m map[string]any, want ...string) {
		t.Helper()
		got := strings.Join(keys(m), ",")
		for _, k := range want {
			if _, ok := m[k]; !ok {
				t.Errorf("object with keys %s lacks %q", got, k)
			}
		}
	}
	has(doc, "registry", "namespaces")
	has(doc["registry"].(map[string]any), "bytes", "blobs")
	nss := doc["namespaces"].([]any)
	if len(nss) != 5 {
		t.Fatalf("%d namespaces, want the demo's 5", len(nss))
	}
	ns := nss[0].(map[string]any)
	has(ns, "name", "bytes", "exclusiveBytes", "reclaimableBytes", "streams")
	st := ns["streams"].([]any)[0].(map[string]any)
	has(st, "name", "bytes", "exclusiveBytes", "tags")
	tg := st["tags"].([]any)[0].(map[string]any)
	has(tg, "name", "bytes", "exclusiveBytes", "revisions")
	rev := tg["revisions"].([]any)[0].(map[string]any)
	has(rev, "image", "created", "bytes", "current")
	if _, ok := rev["bytes"].(float64); !ok {
		t.Errorf("bytes is %T, want a number", rev["bytes"])
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(rev["created"].(string)) {
		t.Errorf("created %q is not RFC3339", rev["created"])
	}
	// Counted once: the registry is less than the sum of its namespaces,
	// because the demo's base layers are shared across namespaces.
	var sum float64
	for _, n := range nss {
		sum += n.(map[string]any)["bytes"].(float64)
	}
	if reg := doc["registry"].(map[string]any)["bytes"].(float64); !(reg < sum) {
		t.Errorf("registry %v is not less than the namespaces' sum %v", reg, sum)
	}
	r := lw(t, db, "", "usage", "nope")
	if r.code != 1 || !strings.Contains(r.err, "namespace nope not found") {
		t.Errorf("unknown namespace: %d %q", r.code, r.err)
	}
}

// tabs collapses tabwriter padding so expectations need not count tabs.
func tabs(s string) string { return regexp.MustCompile("\t+").ReplaceAllString(s, "\t") }

// TestDescribeTagAsOc: describe istag prints oc's lines (no Entrypoint line
// when the image has none, the image's annotations) and then Layerwise's:
// the size counted once and a config size derived from
// dockerImageMetadata.Size, said so.
func TestDescribeTagAsOc(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", fixture(t, "seed-imagestreamtag.yaml")))
	out := tabs(ok(t, lwAt(t, db, "2026-11-20T12:00:00Z", "describe", "istag", "default/busybox:latest")).out)
	for _, want := range []string{
		"Image Name:\tsha256:a59906e33509d14c036c8678d687bd4eec81ed7c4b8ce907b888c607f6a1e0e6\n",
		"Docker Image:\tbusybox@sha256:a59906e33509d14c036c8678d687bd4eec81ed7c4b8ce907b888c607f6a1e0e6\n",
		"Created:\t10 years ago\n",
		"Annotations:\timage.openshift.io/dockerLayersOrder=ascending\n",
		"Image Size:\t653.4 KiB in 1 layers\n",
		"Command:\tsh\n",
		"Environment:\tPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
		"\nSize:\t653.4 KiB (config, distinct layers and manifest where the registry stores them, counted once)\n",
		"Config:\t1.4 KiB\tsha256:2b8fd9751c4c0f5dd266fcae00707e67a2545ef34f9a29354585f93dac906749\t(derived from dockerImageMetadata.Size: no manifest gave it)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe istag lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Entrypoint:") {
		t.Errorf("describe istag prints an Entrypoint line oc omits:\n%s", out)
	}
}
