package regtest

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The harness itself: a pushed image's layers and config show up as linked
// blob files of that repository, and garbage-collect keeps them (tagged).
func TestStartPushAndWalkStorage(t *testing.T) {
	r := Start(t, Options{})
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(r.Host+"/team-a/api:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{m.Config.Digest.String(): m.Config.Size}
	for _, l := range m.Layers {
		want[l.Digest.String()] = l.Size
	}
	check := func(when string) {
		got := r.LayerLinks("team-a")
		if len(got) != len(want) {
			t.Fatalf("%s: linked blobs %v, want %v", when, got, want)
		}
		for d, n := range want {
			if got[d] != n {
				t.Errorf("%s: blob %s: %d bytes on disk, manifest says %d", when, d, got[d], n)
			}
		}
	}
	check("after push")
	r.GarbageCollect()
	check("after garbage-collect")
	if _, err := remote.Head(ref); err != nil {
		t.Fatalf("registry not serving after restart: %v", err)
	}
}
