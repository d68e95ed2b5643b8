package cli

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushRandom pushes an image of two random layers (one of them base) to
// host/repoTag and returns it.
func pushRandom(t *testing.T, host, repoTag string, base v1.Layer) v1.Image {
	t.Helper()
	top, err := random.Layer(1500, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestCLIImportImage(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	base, err := random.Layer(10_000, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img := pushRandom(t, host, "acme/api:1.0", base)
	d1, _ := img.Digest()
	db := newDB(t)
	from := host + "/acme/api:1.0"

	r := lw(t, db, "", "import-image", "team-a/api:1.0", "--from", from)
	if r.code != 1 || !strings.Contains(r.err, "error: image stream team-a/api does not exist; pass --confirm to create it") {
		t.Fatalf("without --confirm: %+v", r)
	}
	r = lw(t, db, "", "import-image", "team-a/api:1.0", "--from", from, "--import-mode", "Everything")
	if r.code != 2 || r.err != "error: valid ImportMode values are Legacy or PreserveOriginal\n" {
		t.Fatalf("bad --import-mode: %+v", r)
	}
	r = lw(t, db, "", "import-image", "--from", from)
	if r.code != 2 || !strings.Contains(r.err, "want one NS/STREAM[:TAG]") {
		t.Fatalf("no destination: %+v", r)
	}
	r = lw(t, db, "", "import-image", "team-a/api:1.0", "--from", from, "--reference-policy", "elsewhere")
	if r.code != 2 {
		t.Fatalf("bad --reference-policy: %+v", r)
	}

	r = ok(t, lw(t, db, "", "import-image", "team-a/api:1.0", "--from", from, "--confirm"))
	for _, want := range []string{"imagestream.image.openshift.io/api imported\n", "Image:   " + d1.String(), "in 2 layers",
		"Pull:    " + host + "/acme/api@" + d1.String()} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}

	// Again, as JSON: nothing changed.
	r = ok(t, lw(t, db, "", "import-image", "team-a/api:1.0", "--from", from, "-o", "json"))
	var got importImageJSON
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if got.Changed || got.Image != d1.String() || got.Layers != 2 || got.Bytes <= 10_000 || got.Tag != "team-a/api:1.0" || got.From != from {
		t.Errorf("json %+v", got)
	}

	// A new image under the tag; import-image without --from re-imports the
	// tag's source.
	img2 := pushRandom(t, host, "acme/api:1.0", base)
	d2, _ := img2.Digest()
	r = ok(t, lw(t, db, "", "import-image", "team-a/api:1.0"))
	if !strings.Contains(r.out, d2.String()) || strings.Contains(r.out, "history unchanged") {
		t.Errorf("re-import:\n%s", r.out)
	}
	r = ok(t, lw(t, db, "", "describe", "is", "team-a/api"))
	if !strings.Contains(r.out, d1.String()) || !strings.Contains(r.out, d2.String()) {
		t.Errorf("describe shows no two-entry history:\n%s", r.out)
	}

	// Failures are one line, exit 1.
	r = lw(t, db, "", "import-image", "team-a/api:1.0", "--from", host+"/acme/api:nope", "--confirm")
	if r.code != 1 || !strings.Contains(r.err, "not found in "+host) || strings.Count(r.err, "\n") != 1 {
		t.Errorf("unknown tag: %+v", r)
	}
	r = ok(t, lw(t, db, "", "describe", "istag", "team-a/api:1.0"))
	if !strings.Contains(r.out, "failed (NotFound)") || !strings.Contains(r.out, d2.String()) {
		t.Errorf("describe does not show the failed import:\n%s", r.out)
	}
	// A registry that cannot be read: the operator sees what exactly failed.
	r = lw(t, db, "", "import-image", "team-a/api:1.0", "--from", "127.0.0.1:1/acme/api:1", "--confirm")
	if r.code != 1 || !strings.Contains(r.err, "cannot read from registry 127.0.0.1:1") || !strings.Contains(r.err, "connection refused") ||
		strings.Count(r.err, "\n") != 1 {
		t.Errorf("registry down: %+v", r)
	}
}
