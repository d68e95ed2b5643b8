package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs/registry"
	"layerwise/jobs/registry/regtest"
	"layerwise/store"
)

// TestPruneTakesSignaturesFromTheRealRegistry: four revisions of a tag in
// Debian's docker-registry, each signed with a cosign tag. Keep-3 prunes
// exactly the oldest revision and its signature: both manifests are gone
// from the registry (the .sig tag with them), the other signatures still
// pull, and garbage-collect then frees exactly the bytes the plan said.
func TestPruneTakesSignaturesFromTheRealRegistry(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var revs, sigs []string
	for i := 0; i < 4; i++ {
		img, err := random.Image(int64(2000+i), 2)
		if err != nil {
			t.Fatal(err)
		}
		regPush(t, r.Host, "team-a/api:latest", img)
		d, _ := img.Digest()
		sig, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
			static.NewLayer([]byte(`{"critical":{"image":{"docker-manifest-digest":"`+d.String()+`"}}}`), "application/vnd.dev.cosign.simplesigning.v1+json"))
		if err != nil {
			t.Fatal(err)
		}
		regPush(t, r.Host, "team-a/api:"+strings.Replace(d.String(), ":", "-", 1)+".sig", sig)
		sd, _ := sig.Digest()
		revs, sigs = append(revs, d.String()), append(sigs, sd.String())
		m, err := registry.NewManaged(r.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Sync(ctx, s, "system:sync"); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		// Each revision an hour older than the next, all a month ago.
		at := s.Now().Add(-30*24*time.Hour + time.Duration(i)*time.Hour)
		if err := s.DB().Exec(`UPDATE tag_events SET created = ? WHERE position = 0`, at).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DB().Exec(`UPDATE images SET created_at = ?`, s.Now().Add(-30*24*time.Hour)).Error; err != nil {
		t.Fatal(err)
	}
	policy := store.Policy{KeepTagRevisions: 3, KeepYoungerThan: time.Hour}
	pl, err := s.PlanPrune(ctx, policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Revisions) != 1 || pl.Revisions[0].Image != revs[0] || len(pl.Referrers) != 1 || pl.Referrers[0].Digest != sigs[0] {
		t.Fatalf("plan: revisions %+v referrers %+v; want revision 0 and its signature", pl.Revisions, pl.Referrers)
	}
	before := r.BlobFiles()
	deleter, err := registry.NewDeleter(r.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Prune(ctx, s, PruneSettings{Policy: policy, Registry: deleter}, "test", nil)
	if err != nil {
		t.Fatalf("prune: %v\n%s", err, r.Log())
	}
	if out.Result.BytesFreed != pl.BytesFreed || out.Registry == nil || out.Registry.Deleted != 2 || out.Registry.Failed != 0 {
		t.Fatalf("outcome %+v registry %+v; plan %d bytes", out.Result, out.Registry, pl.BytesFreed)
	}
	head := func(ref string) error {
		n, _ := name.ParseReference(r.Host + "/team-a/api" + ref)
		_, err := remote.Head(n)
		return err
	}
	for _, gone := range []string{"@" + revs[0], "@" + sigs[0], ":" + strings.Replace(revs[0], ":", "-", 1) + ".sig"} {
		if err := head(gone); err == nil {
			t.Errorf("team-a/api%s is still in the registry", gone[:20])
		}
	}
	for i := 1; i < 4; i++ {
		if err := pulls(r.Host, "team-a/api", sigs[i]); err != nil {
			t.Errorf("the signature of kept revision %d no longer pulls: %v", i, err)
		}
	}
	r.GarbageCollect()
	freed := regtest.Sum(before) - regtest.Sum(r.BlobFiles())
	if freed != pl.BytesFreed {
		t.Errorf("garbage-collect freed %d bytes, the plan said %d", freed, pl.BytesFreed)
	}
	u, err := s.ComputeUsage(ctx, policy)
	if err != nil {
		t.Fatal(err)
	}
	if nu, _ := u.Namespace("team-a"); nu.Bytes != regtest.Sum(r.BlobFiles()) {
		t.Errorf("after the prune team-a uses %d bytes, the registry stores %d", nu.Bytes, regtest.Sum(r.BlobFiles()))
	}
}
