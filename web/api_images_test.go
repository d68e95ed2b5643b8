package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

// TestAPIImagesRoundTrip: GET /api/v1/images and GET /api/v1/imagestreams
// are what `oc get images,is -A -o json` print; read into an empty
// database they give every usage figure of the server back.
func TestAPIImagesRoundTrip(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	root := ts.apiUser(t, "root", true)
	images := ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/images", token: root})
	streams := ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/imagestreams?limit=1000", token: root})
	var il struct {
		Kind  string
		Items []struct {
			Metadata struct {
				Name              string
				CreationTimestamp *string
			}
		}
	}
	images.decode(t, &il)
	if il.Kind != "ImageList" || len(il.Items) == 0 || il.Items[0].Metadata.CreationTimestamp == nil {
		t.Fatalf("images: %s", images)
	}

	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetClock(ts.store.Now)
	for _, doc := range [][]byte{images.body, streams.body} {
		objs, err := openshift.Decode("api.json", bytes.NewReader(doc), openshift.Options{Now: s.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ctx, func(tx *store.Store) error { _, err := openshift.Apply(ctx, tx, objs); return err }); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	want, err := ts.store.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	got.ComputedAt, want.ComputedAt = now, now
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if want.Registry.Bytes == 0 || !bytes.Equal(g, w) {
		t.Errorf("usage read back from the API differs:\n%s", diffLines(string(w), string(g)))
	}
}

// TestAPIImagesScope: a namespace viewer sees the images their tags hold,
// with their own pull specs, and another namespace's image answers as a
// missing one.
func TestAPIImagesScope(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	viewer := ts.apiUser(t, "viola", false, "payments=viewer")
	root := ts.apiUser(t, "root", true)
	var mine, all struct {
		Items []struct {
			Metadata             struct{ Name string }
			DockerImageReference string
		}
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/images", token: viewer}).decode(t, &mine)
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/images", token: root}).decode(t, &all)
	if len(mine.Items) == 0 || len(mine.Items) >= len(all.Items) {
		t.Fatalf("viewer sees %d of %d images", len(mine.Items), len(all.Items))
	}
	seen := map[string]bool{}
	for _, it := range mine.Items {
		seen[it.Metadata.Name] = true
		if ref := it.DockerImageReference; ref != "" && !strings.Contains(ref, "/payments/") && !strings.Contains(ref, "quay.io/") {
			t.Errorf("viewer sees pull spec %s", ref)
		}
	}
	hidden := ""
	for _, it := range all.Items {
		if !seen[it.Metadata.Name] {
			hidden = it.Metadata.Name
			break
		}
	}
	a := ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/images/" + hidden, token: viewer}).errorText(t)
	missing := "sha256:" + strings.Repeat("0", 64)
	b := ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/images/" + missing, token: viewer}).errorText(t)
	if strings.Replace(a, hidden, "X", 1) != strings.Replace(b, missing, "X", 1) {
		t.Errorf("hidden %q and missing %q images answer differently", a, b)
	}
	var one struct{ Metadata struct{ Name string } }
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/images/" + mine.Items[0].Metadata.Name, token: viewer}).decode(t, &one)
	if one.Metadata.Name != mine.Items[0].Metadata.Name {
		t.Errorf("image %+v", one)
	}
	var isl struct {
		Items []struct{ Metadata struct{ Namespace string } }
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/imagestreams", token: viewer}).decode(t, &isl)
	for _, it := range isl.Items {
		if it.Metadata.Namespace != "payments" {
			t.Errorf("viewer sees a stream of %s", it.Metadata.Namespace)
		}
	}
}

// TestImagePageSaysWhenAConfigSizeIsDerived: the image page lists a config
// whose size was worked out from dockerImageMetadata.Size as such.
func TestImagePageSaysWhenAConfigSizeIsDerived(t *testing.T) {
	t.Parallel()
	istag, err := os.ReadFile("../testdata/openshift/seed-imagestreamtag.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ts, c := loggedIn(t, string(istag))
	page := ts.get(t, c, "/images/sha256:a59906e33509d14c036c8678d687bd4eec81ed7c4b8ce907b888c607f6a1e0e6", http.StatusOK)
	d := doc(t, page)
	if got := squash(d.Find("table.layers").Text()); !strings.Contains(got, "config (size derived)") || !strings.Contains(got, "1.4 KiB") {
		t.Errorf("the layers table reads %q", got)
	}
}
