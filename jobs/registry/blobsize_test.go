package registry

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/store"
)

// rawManifest is a manifest pushed as it is, sizes and all.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// TestImportRefusesAnotherSizeForAKnownLayer is the attack: an
// editor imports, from a registry they control, a manifest that names
// team-a's layer with another size. The import is refused with both sizes
// and team-a's figures stay as they were.
func TestImportRefusesAnotherSizeForAKnownLayer(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	s := openStore(t)
	f := NewFetcher("")
	layer := testLayer(t, 2142) // gzipped: a little more
	img := testImage(t, "linux/amd64", layer)
	reg.push(t, "team-a/app:v1", img)
	a := store.TagRef{Namespace: "team-a", Stream: "app", Tag: "v1"}
	if _, err := Import(ctx, s, f, a, reg.host+"/team-a/app:v1", ImportOptions{Confirm: true, Actor: "ann"}); err != nil {
		t.Fatal(err)
	}
	sizeOf := func() int64 {
		sz, err := s.StreamSizes(ctx, store.StreamRef{Namespace: "team-a", Stream: "app"})
		if err != nil {
			t.Fatal(err)
		}
		return sz.Bytes
	}
	want := blobBytes(t, img)
	if got := sizeOf(); got != want {
		t.Fatalf("team-a/app uses %d bytes, want %d", got, want)
	}

	// The same manifest with the layer's size rewritten, under the
	// attacker's repository (the config blob is the same, so it is served).
	body, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["layers"].([]any)[0].(map[string]any)["size"] = 142
	lie, _ := json.Marshal(m)
	ref, err := name.ParseReference(reg.host + "/evil/x:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(ref, rawManifest{lie, types.DockerManifestSchema2}); err != nil {
		t.Fatal(err)
	}
	ld, _ := layer.Digest()
	lsz, _ := layer.Size()

	evil := store.TagRef{Namespace: "evil", Stream: "x", Tag: "v1"}
	_, err = Import(ctx, s, f, evil, reg.host+"/evil/x:v1", ImportOptions{Confirm: true, Actor: "mallory"})
	wantErr(t, err, store.ErrInvalid, fmt.Sprintf("blob %s is %d bytes (read from a registry by an import); this manifest says 142 bytes", ld, lsz))
	if got := sizeOf(); got != want {
		t.Errorf("after the refused import team-a/app uses %d bytes, want %d", got, want)
	}
	if _, err := s.GetStream(ctx, store.StreamRef{Namespace: "evil", Stream: "x"}); err == nil {
		t.Errorf("the refused import created evil/x")
	}
	if evs := audits(t, s); len(evs) != 1 || strings.Contains(evs[0].Target, "evil") {
		t.Errorf("audit events %+v: want only team-a's import", evs)
	}
}
