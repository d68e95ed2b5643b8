package registry

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestCheckerHead: Head answers the digest a reference points at (a
// manifest list's own digest, as Fetch's SourceDigest says), with one
// request per call once the host's transport exists, also behind basic
// auth; failures are the same *Error kinds as Fetch's.
func TestCheckerHead(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "robot", "s3cret")
	img := testImage(t, "linux/amd64", testLayer(t, 100))
	d := reg.push(t, "ml/app:1", img)
	imgs := map[string]v1.Image{"linux/amd64": img, "linux/arm64": testImage(t, "linux/arm64", testLayer(t, 100))}
	list := reg.pushIndex(t, "ml/multi:1", testIndex(t, types.OCIImageIndex, imgs, "linux/amd64", "linux/arm64"))

	c := NewChecker(&Client{AuthFile: authFile(t, reg.host, "robot", "s3cret")})
	res, err := c.Client.Fetch(ctx, reg.host+"/ml/multi:1", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.SourceDigest != list || res.Digest == list {
		t.Errorf("Legacy fetch of a list: digest %s, source digest %s, want the list's %s as the source", res.Digest, res.SourceDigest, list)
	}
	for _, tc := range []struct{ ref, want string }{
		{"ml/app:1", d}, {"ml/multi:1", list}, {"ml/app@" + d, d},
	} {
		reg.requests.Store(0)
		got, err := c.Head(ctx, reg.host+"/"+tc.ref, false)
		if err != nil || got != tc.want {
			t.Errorf("Head %s = %s, %v; want %s", tc.ref, got, err, tc.want)
		}
		if n := reg.requests.Load(); n != 1 && tc.ref != "ml/app:1" {
			t.Errorf("Head %s took %d requests, want 1", tc.ref, n)
		}
	}

	_, err = c.Head(ctx, reg.host+"/ml/app:nope", false)
	wantErr(t, err, ErrNotFound, "not found in "+reg.host)
	_, err = NewChecker(&Client{}).Head(ctx, reg.host+"/ml/app:1", false)
	wantErr(t, err, ErrUnauthorized, "wants credentials and none are configured")
	c.Forget(reg.host)
	reg.requests.Store(0)
	if _, err := c.Head(ctx, reg.host+"/ml/app:1", false); err != nil || reg.requests.Load() < 2 {
		t.Errorf("after Forget: %v, %d requests (want a new handshake)", err, reg.requests.Load())
	}
}
