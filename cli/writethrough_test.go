package cli

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs/registry/regtest"
)

// TestCLIWriteThrough: tag, promote and rollback with --registry-url put
// the tag in the real registry too; without it the registry is left alone.
func TestCLIWriteThrough(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	base, err := random.Layer(5000, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img1 := pushRandom(t, r.Host, "team-a/api:v1", base)
	img2 := pushRandom(t, r.Host, "team-a/api:v2", base)
	d1, _ := img1.Digest()
	d2, _ := img2.Digest()
	inRegistry := func(tag string) string {
		t.Helper()
		ref, err := name.ParseReference(r.Host + "/team-a/api:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Head(ref)
		if err != nil {
			return ""
		}
		return desc.Digest.String()
	}
	db := newDB(t)
	ok(t, lw(t, db, "", "import-image", "team-a/api:latest", "--from", r.Host+"/team-a/api:v1", "--confirm"))
	ok(t, lw(t, db, "", "import-image", "team-a/api:latest", "--from", r.Host+"/team-a/api:v2", "--confirm"))

	ok(t, lw(t, db, "", "tag", "team-a/api:latest", "team-a/api:local"))
	if got := inRegistry("local"); got != "" {
		t.Errorf("without --registry-url the registry got local = %s", got)
	}
	ok(t, lw(t, db, "", "promote", "team-a/api:latest", "--registry-url", r.URL))
	if got := inRegistry("test"); got != d2.String() {
		t.Errorf("promote: registry test = %q, want %s", got, d2)
	}
	ok(t, lw(t, db, "", "tag", "team-a/api@"+d1.String(), "team-a/api:prod", "--registry-url", r.URL))
	if got := inRegistry("prod"); got != d1.String() {
		t.Errorf("tag: registry prod = %q, want %s", got, d1)
	}
	ok(t, lw(t, db, "", "rollback", "team-a/api:latest", "--registry-url", r.URL))
	if got := inRegistry("latest"); got != d1.String() {
		t.Errorf("rollback: registry latest = %q, want %s", got, d1)
	}

	res := lw(t, db, "", "promote", "team-a/api:test", "--registry-url", "ftp://"+r.Host)
	if res.code != 2 || !strings.Contains(res.err, "LAYERWISE_REGISTRY_URL") {
		t.Errorf("bad --registry-url: %+v", res)
	}
}
