package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"layerwise/store/storetest"
)

var ctx = context.Background()

// dg makes a stable sha256 digest from a word, so tests read like prose.
func dg(word string) string {
	sum := sha256.Sum256([]byte(word))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type layer struct {
	name string
	size int64
}

// image builds an image snapshot with a config blob and the given layers.
func image(name string, configSize int64, layers ...layer) ImageSnapshot {
	img := ImageSnapshot{Digest: dg("image:" + name), MediaType: "application/vnd.docker.distribution.manifest.v2+json",
		Config: &BlobRef{Digest: dg("config:" + name), Size: configSize}}
	for _, l := range layers {
		img.Layers = append(img.Layers, BlobRef{Digest: dg("layer:" + l.name), Size: l.size})
	}
	return img
}

func mustPutImage(t *testing.T, s *Store, img ImageSnapshot) string {
	t.Helper()
	if _, err := s.PutImage(ctx, img); err != nil {
		t.Fatalf("put image: %v", err)
	}
	return img.Digest
}

// pushTo records img as pushed to ns/stream:tag at the given time.
func pushTo(t *testing.T, s *Store, ref string, img ImageSnapshot, at time.Time) {
	t.Helper()
	r, err := ParseTagRef(ref, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MapImage(ctx, r.Namespace, r.Stream, r.Tag, img, at); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func history(t *testing.T, s *Store, ref string) []EventSnapshot {
	t.Helper()
	r, err := ParseTagRef(ref, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.GetStream(ctx, StreamRef{r.Namespace, r.Stream})
	if err != nil {
		t.Fatalf("get stream of %s: %v", ref, err)
	}
	for _, tg := range st.Tags {
		if tg.Name == r.Tag {
			return tg.Items
		}
	}
	return nil
}

func historyImages(t *testing.T, s *Store, ref string) []string {
	t.Helper()
	var out []string
	for _, e := range history(t, s, ref) {
		out = append(out, e.Image)
	}
	return out
}

func wantErr(t *testing.T, err error, kind error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error containing %q, got nil", substr)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func dumpTables(t *testing.T, s *Store) string {
	t.Helper()
	return storetest.Dump(t, s)
}

// expireLease makes a lease expired, as if its holder had stopped renewing
// it longer than its TTL ago.
func expireLease(t *testing.T, s *Store, name string) {
	t.Helper()
	res := s.DB().Model(&JobLease{}).Where("name = ?", name).Update("expires_at", time.Now().UTC().Add(-time.Second))
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("expire lease %s: %v (%d rows)", name, res.Error, res.RowsAffected)
	}
}
