package registry

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs/registry/regtest"
	"layerwise/store"
)

// pushIndex pushes a two-platform OCI index (linux/amd64, linux/arm64,
// each with layers of its own and a config) to the real registry.
func pushIndex(t *testing.T, r *regtest.Registry, repoTag string) string {
	t.Helper()
	platform := func(arch string) v1.Image {
		img, err := random.Image(40000, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		return img
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: platform("amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: platform("arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push %s: %v", repoTag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func usageOf(t *testing.T, s *store.Store, ns string) store.NamespaceUsage {
	t.Helper()
	u, err := s.ComputeUsage(t.Context(), store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	nu, ok := u.Namespace(ns)
	if !ok {
		t.Fatalf("namespace %s has no usage", ns)
	}
	return nu
}

// TestManagedIndexCountsWhatTheRegistryStores: a two-platform index pushed
// to the real registry and read by the sync counts exactly the bytes the
// registry stores for that repository — both platforms' layers and
// configs, the two platform manifests and the index itself — and the
// stream gets the registry's repository as its IMAGE REPOSITORY.
func TestManagedIndexCountsWhatTheRegistryStores(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	digest := pushIndex(t, r, "team-a/multi:1.0")
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := NewManaged(r.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Sync(t.Context(), s, "system:sync")
	if err != nil || res.Changed != 1 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	stored := r.Stored("team-a")
	got := usageOf(t, s, "team-a").Bytes
	t.Logf("team-a: Layerwise %d bytes, the registry stores %d blobs of %d bytes (layers %d)",
		got, len(stored), regtest.Sum(stored), regtest.Sum(r.LayerLinks("team-a")))
	if got != regtest.Sum(stored) || len(stored) != 9 {
		t.Errorf("team-a uses %d bytes in Layerwise; the registry stores %d blobs of %d bytes for it", got, len(stored), regtest.Sum(stored))
	}
	if all := regtest.Sum(r.BlobFiles()); got != all {
		t.Errorf("the registry holds %d bytes in all, Layerwise counts %d", all, got)
	}
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "team-a", Stream: "multi"})
	if err != nil {
		t.Fatal(err)
	}
	if st.PullSpec != r.Host+"/team-a/multi" {
		t.Errorf("image repository %q, want %s/team-a/multi", st.PullSpec, r.Host)
	}
	img, err := s.GetImage(t.Context(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if img.Manifest == nil || img.Manifest.Size != stored[digest] || img.RawManifest == "" {
		t.Errorf("the index's own manifest: %+v, the registry stores %d bytes", img.Manifest, stored[digest])
	}
}

// TestImportFromManagedRegistryKeepsTheList: import-image of a manifest
// list from the managed registry in the default Legacy mode records the
// list as the registry stores it (every platform, every manifest), so the
// namespace's bytes are the registry's.
func TestImportFromManagedRegistryKeepsTheList(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	digest := pushIndex(t, r, "team-a/multi:1.0")
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := NewFetcher("")
	f.ManagedHost = r.Host
	dst := store.TagRef{Namespace: "team-a", Stream: "multi", Tag: "1.0"}
	res, err := Import(t.Context(), s, f, dst, r.Host+"/team-a/multi:1.0",
		ImportOptions{Insecure: true, ImportMode: ModeLegacy, Confirm: true, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Image != digest {
		t.Errorf("the tag points at %s, want the list %s", res.Image, digest)
	}
	stored := regtest.Sum(r.Stored("team-a/multi"))
	got := usageOf(t, s, "team-a").Bytes
	t.Logf("Layerwise %d bytes, the registry stores %d", got, stored)
	if got != stored {
		t.Errorf("team-a uses %d bytes in Layerwise after a Legacy import from the managed registry; the registry stores %d (%d short)", got, stored, stored-got)
	}
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "team-a", Stream: "multi"})
	if err != nil {
		t.Fatal(err)
	}
	if tag := st.Tags[0]; tag.ImportMode != ModeLegacy {
		t.Errorf("the spec's import mode became %q; it stays as asked", tag.ImportMode)
	}
}
