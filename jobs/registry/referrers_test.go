package registry

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs/registry/regtest"
	"layerwise/store"
)

// artifact builds an OCI artifact as cosign and syft push them: an OCI
// manifest with one layer of the given media type holding payload.
func artifact(t *testing.T, payload string, mt types.MediaType) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), static.NewLayer([]byte(payload), mt))
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

func write(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func cosignTag(digest, suffix string) string {
	return strings.Replace(digest, ":", "-", 1) + "." + suffix
}

// TestManagedCosignReferrersCountWhatTheRegistryStores: an image signed
// the cosign way (tag sha256-<hex>.sig) with an SBOM (.sbom) in Debian's
// docker-registry, which has no referrers API: the sync attaches both to
// the image, makes no tag of them, and counts exactly the bytes the
// registry stores, before and after its garbage-collect.
func TestManagedCosignReferrersCountWhatTheRegistryStores(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	img, err := random.Image(3000, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest := write(t, r.Host+"/team-a/app:1.0", img)
	sig := write(t, r.Host+"/team-a/app:"+cosignTag(digest, "sig"),
		artifact(t, `{"critical":{"image":{"docker-manifest-digest":"`+digest+`"}}}`, "application/vnd.dev.cosign.simplesigning.v1+json"))
	sbom := write(t, r.Host+"/team-a/app:"+cosignTag(digest, "sbom"),
		artifact(t, `{"spdxVersion":"SPDX-2.3","name":"app"}`, "text/spdx+json"))
	s := openStore(t)
	m, err := NewManaged(r.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Sync(t.Context(), s, "system:sync")
	if err != nil || res.Changed != 3 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "team-a", Stream: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tags) != 1 || st.Tags[0].Name != "1.0" {
		t.Errorf("tags %+v: the cosign tags must not be tags", st.Tags)
	}
	refs, err := s.ReferrersOf(t.Context(), digest)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.ReferrerType{}
	for _, x := range refs.Referrers {
		got[x.Digest] = x.Type
	}
	if len(got) != 2 || got[sig] != store.ReferrerSignature || got[sbom] != store.ReferrerSBOM || !refs.Signed {
		t.Errorf("referrers %+v", refs)
	}
	check := func(when string) {
		stored := r.Stored("team-a")
		if u := usageOf(t, s, "team-a").Bytes; u != regtest.Sum(stored) || u != regtest.Sum(r.BlobFiles()) {
			t.Errorf("%s: team-a uses %d bytes in Layerwise; the registry stores %d for it, %d in all", when, u, regtest.Sum(stored), regtest.Sum(r.BlobFiles()))
		}
	}
	check("after the sync")
	// A second sync reads nothing again and changes nothing.
	if res, err := m.Sync(t.Context(), s, "system:sync"); err != nil || res.Changed != 0 {
		t.Errorf("second sync: %+v %v", res, err)
	}
	r.GarbageCollect()
	check("after garbage-collect")
}

// TestReferrersAPIOfAnInProcessRegistry: go-containerregistry's registry
// serves the OCI 1.1 referrers API. An SBOM pushed by digest with a subject
// (no tag at all) is found by the sync through the API and by import-image,
// and counts with its subject.
func TestReferrersAPIOfAnInProcessRegistry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	digest := write(t, host+"/team-a/app:1.0", img)
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size, _ := img.Size()
	subject := v1.Descriptor{MediaType: mf.MediaType, Digest: mustDigest(t, img), Size: size}
	sbomImg := mutate.Subject(artifact(t, `{"bomFormat":"CycloneDX"}`, "application/vnd.cyclonedx+json"), subject).(v1.Image)
	sbom := write(t, host+"/team-a/app@"+mustDigest(t, sbomImg).String(), sbomImg)

	s := openStore(t)
	m, err := NewManaged(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Sync(t.Context(), s, "system:sync")
	if err != nil || res.Changed != 1 || res.Referrers != 1 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	refs, err := s.ReferrersOf(t.Context(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != sbom || refs.Referrers[0].Type != store.ReferrerSBOM || refs.Referrers[0].Via != store.ViaSubject {
		t.Fatalf("referrers %+v", refs)
	}
	// The image's layers, config and manifest, and the SBOM's.
	want := imageBytes(t, img) + imageBytes(t, sbomImg)
	if u := usageOf(t, s, "team-a").Bytes; u != want {
		t.Errorf("team-a uses %d bytes; the image and its SBOM are %d", u, want)
	}
	if res, err := m.Sync(t.Context(), s, "system:sync"); err != nil || res.Referrers != 0 {
		t.Errorf("second sync: %+v %v", res, err)
	}

	// import-image reads them too.
	s2 := openStore(t)
	out, err := Import(t.Context(), s2, NewFetcher(""), store.TagRef{Namespace: "team-b", Stream: "app", Tag: "1.0"}, host+"/team-a/app:1.0",
		ImportOptions{Insecure: true, Confirm: true, Actor: "test"})
	if err != nil || out.Image != digest {
		t.Fatalf("import: %+v %v", out, err)
	}
	refs, err = s2.ReferrersOf(t.Context(), digest)
	if err != nil || len(refs.Referrers) != 1 || refs.Referrers[0].Digest != sbom {
		t.Errorf("referrers after import-image: %+v %v", refs, err)
	}
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// imageBytes is what a registry stores for img: its manifest, config and
// distinct layers.
func imageBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(raw)) + mf.Config.Size
	seen := map[v1.Hash]bool{}
	for _, l := range mf.Layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			n += l.Size
		}
	}
	return n
}

// TestImportReadsCosignTags: import-image from a registry without the
// referrers API (Debian's) reads the image's cosign signature tag.
func TestImportReadsCosignTags(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	img, err := random.Image(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	digest := write(t, r.Host+"/lib/base:1", img)
	sig := write(t, r.Host+"/lib/base:"+cosignTag(digest, "sig"), artifact(t, `{"sig":1}`, "application/vnd.dev.cosign.simplesigning.v1+json"))
	s := openStore(t)
	if _, err := Import(t.Context(), s, NewFetcher(""), store.TagRef{Namespace: "team-a", Stream: "base", Tag: "1"}, r.Host+"/lib/base:1",
		ImportOptions{Insecure: true, Confirm: true, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	refs, err := s.ReferrersOf(t.Context(), digest)
	if err != nil || len(refs.Referrers) != 1 || refs.Referrers[0].Digest != sig || !refs.Signed || refs.Referrers[0].Via != store.ViaTagScheme {
		t.Errorf("referrers after import-image: %+v %v", refs, err)
	}
}
