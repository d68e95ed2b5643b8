package jobs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs/registry"
	"layerwise/jobs/registry/regtest"
	"layerwise/store"
)

type pushed struct {
	img      v1.Image
	digest   string
	own      string // digest of the layer only this image has
	config   string
	manifest string
}

func regPush(t *testing.T, host, repoTag string, img v1.Image) {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// pulls reads a manifest, its config and every layer from the registry.
func pulls(host, repo, digest string) error {
	ref, err := name.ParseReference(host + "/" + repo + "@" + digest)
	if err != nil {
		return err
	}
	img, err := remote.Image(ref)
	if err != nil {
		return err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// TestPruneDeletesFromTheRealRegistry runs prune against the CNCF
// distribution registry: pruned manifests are gone from it, kept ones
// still pull, a manifest another tag of the registry holds stays, and the
// registry's garbage-collect then frees the blob files of pruned layers
// that nothing else uses.
func TestPruneDeletesFromTheRealRegistry(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	base, err := random.Layer(4096, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	baseDigest, _ := base.Digest()
	fetcher := registry.NewFetcher("")
	dst := store.TagRef{Namespace: "team-a", Stream: "api", Tag: "latest"}
	var imgs []pushed
	for i := 0; i < 6; i++ {
		own, err := random.Layer(int64(1000+i), types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(empty.Image, base, own)
		if err != nil {
			t.Fatal(err)
		}
		regPush(t, r.Host, "team-a/api:latest", img)
		d, _ := img.Digest()
		od, _ := own.Digest()
		cd, _ := img.ConfigName()
		imgs = append(imgs, pushed{img: img, digest: d.String(), own: od.String(), config: cd.String(), manifest: d.String()})
		if _, err := registry.Import(ctx, s, fetcher, dst, r.Host+"/team-a/api:latest", registry.ImportOptions{Insecure: true, Confirm: true}); err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
	}
	// img1 is also team-b/web:prod (another repository, imported too);
	// img2 is also team-a/api:release-1 in the registry only.
	regPush(t, r.Host, "team-b/web:prod", imgs[1].img)
	if _, err := registry.Import(ctx, s, fetcher, store.TagRef{Namespace: "team-b", Stream: "web", Tag: "prod"},
		r.Host+"/team-b/web:prod", registry.ImportOptions{Insecure: true, Confirm: true}); err != nil {
		t.Fatal(err)
	}
	regPush(t, r.Host, "team-a/api:release-1", imgs[2].img)

	// A month passes.
	old := s.Now().Add(-30 * 24 * time.Hour)
	if err := s.DB().Exec(`UPDATE tag_events SET created = ?`, old).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(`UPDATE images SET created_at = ?`, old).Error; err != nil {
		t.Fatal(err)
	}
	before := r.BlobFiles()
	for _, p := range imgs {
		for _, d := range []string{p.own, p.config, p.manifest} {
			if _, ok := before[d]; !ok {
				t.Fatalf("blob %s not in the registry's storage before prune", d)
			}
		}
	}

	deleter, err := registry.NewDeleter(r.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Prune(ctx, s, PruneSettings{Policy: store.DefaultPolicy, Registry: deleter}, "test", nil)
	if err != nil {
		t.Fatalf("prune: %v\nregistry log:\n%s", err, r.Log())
	}
	// History: img5, img4, img3 stay; img2, img1, img0 go.
	if out.Result.Revisions != 3 || out.Registry == nil || out.Registry.Deleted != 2 || out.Registry.Kept != 1 || out.Registry.Failed != 0 {
		t.Fatalf("outcome = %+v registry %+v", out.Result, out.Registry)
	}
	if !strings.Contains(out.Summary(), "registry: deleted 2 manifests, kept 1 still tagged there") ||
		!strings.Contains(out.Summary(), "garbage-collect will then reclaim") {
		t.Errorf("summary: %s", out.Summary())
	}
	if pending, _ := s.PendingManifestDeletions(ctx, 0, 10); len(pending) != 0 {
		t.Errorf("deletions still queued: %+v", pending)
	}
	gone := func(repo, digest string) bool {
		ref, _ := name.ParseReference(r.Host + "/" + repo + "@" + digest)
		_, err := remote.Head(ref)
		return err != nil && strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || err != nil && strings.Contains(err.Error(), "404")
	}
	for _, c := range []struct {
		repo, digest string
		want         string
	}{
		{"team-a/api", imgs[0].digest, "gone"},
		{"team-a/api", imgs[1].digest, "gone"},  // team-b still has it, team-a's history not
		{"team-a/api", imgs[2].digest, "pulls"}, // the registry's tag release-1 holds it
		{"team-b/web", imgs[1].digest, "pulls"}, // kept by team-b/web:prod
		{"team-a/api", imgs[3].digest, "pulls"}, // kept revisions
		{"team-a/api", imgs[5].digest, "pulls"}, // current
		{"team-a/api", "latest", "tag"},
	} {
		switch c.want {
		case "gone":
			if !gone(c.repo, c.digest) {
				t.Errorf("%s@%s is still in the registry", c.repo, c.digest[:19])
			}
		case "pulls":
			if err := pulls(r.Host, c.repo, c.digest); err != nil {
				t.Errorf("%s@%s no longer pulls: %v", c.repo, c.digest[:19], err)
			}
		case "tag":
			ref, _ := name.ParseReference(r.Host + "/" + c.repo + ":latest")
			if d, err := remote.Head(ref); err != nil || d.Digest.String() != imgs[5].digest {
				t.Errorf("team-a/api:latest: %v %v", d, err)
			}
		}
	}

	// The registry's own garbage-collect then frees the pruned layers that
	// nothing else uses.
	gcOut := r.GarbageCollect()
	after := r.BlobFiles()
	for _, d := range []string{imgs[0].own, imgs[0].config, imgs[0].manifest} {
		if _, ok := after[d]; ok {
			t.Errorf("blob %s of pruned img0 survived garbage-collect\n%s", d[:19], gcOut)
		}
	}
	for _, d := range []string{baseDigest.String(), imgs[1].own, imgs[1].manifest, imgs[2].own, imgs[2].manifest, imgs[3].own, imgs[5].own} {
		if _, ok := after[d]; !ok {
			t.Errorf("blob %s that a kept image uses was collected", d[:19])
		}
	}
	freed := regtest.Sum(before) - regtest.Sum(after)
	want := before[imgs[0].own] + before[imgs[0].config] + before[imgs[0].manifest]
	if freed != want {
		t.Errorf("garbage-collect freed %d bytes on disk, want %d (img0's layer, config and manifest)", freed, want)
	}
	// Everything kept still pulls after the collection.
	for _, c := range [][2]string{{"team-a/api", imgs[5].digest}, {"team-a/api", imgs[3].digest}, {"team-b/web", imgs[1].digest}, {"team-a/api", imgs[2].digest}} {
		if err := pulls(r.Host, c[0], c[1]); err != nil {
			t.Errorf("after garbage-collect %s@%s does not pull: %v", c[0], c[1][:19], err)
		}
	}
	_ = fmt.Sprint
}
