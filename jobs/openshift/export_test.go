package openshift

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"layerwise/store"
)

// roundTripInputs are every fixture and the demo data, decoded.
func roundTripInputs(t *testing.T) map[string][]Object {
	t.Helper()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	in := map[string][]Object{}
	objs, err := Decode("demo.yaml", bytes.NewReader(DemoData()), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	in["demo.yaml"] = objs
	for _, f := range allFixtures(t) {
		in[filepath.Base(f)] = decodeFile(t, f, Options{Now: now})
	}
	return in
}

func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	for name, objs := range roundTripInputs(t) {
		t.Run(name, func(t *testing.T) {
			streams := streamsOf(objs)
			images := imagesOf(objs)
			for _, o := range objs {
				if o.Kind == KindImageStreamMapping {
					images = append(images, *o.Image)
				}
			}
			for _, s := range streams {
				if !reflect.DeepEqual(Normalize(s), s) {
					t.Errorf("decoded stream %s/%s is not in normal form", s.Namespace, s.Name)
				}
			}
			out, err := ExportList(streams, images)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode("export.json", bytes.NewReader(out), Options{})
			if err != nil {
				t.Fatalf("decoding the export: %v", err)
			}
			compareStreams(t, streamsOf(back), streams)
			gotImages := imagesOf(back)
			if len(gotImages) != len(images) {
				t.Fatalf("%d images back, want %d", len(gotImages), len(images))
			}
			for i := range images {
				if want := NormalizeImage(images[i]); !reflect.DeepEqual(gotImages[i], want) {
					t.Errorf("image %s:\n got %+v\nwant %+v", want.Digest, gotImages[i], want)
				}
			}

			// Export alone (`get is -o json`) gives the same streams.
			only, err := Export(streams)
			if err != nil {
				t.Fatal(err)
			}
			back, err = Decode("export.json", bytes.NewReader(only), Options{})
			if err != nil {
				t.Fatal(err)
			}
			compareStreams(t, streamsOf(back), streams)
		})
	}
}

func compareStreams(t *testing.T, got, want []store.StreamSnapshot) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d streams, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], Normalize(want[i])) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(Normalize(want[i]))
			t.Errorf("stream %s/%s:\n got %s\nwant %s", want[i].Namespace, want[i].Name, g, w)
		}
	}
}

// TestReimportIsNoop is import → get is -o json → import.
func TestReimportIsNoop(t *testing.T) {
	t.Parallel()
	for name, objs := range roundTripInputs(t) {
		t.Run(name, func(t *testing.T) {
			w := newFakeWriter()
			if _, err := Apply(context.Background(), w, objs); err != nil {
				t.Fatal(err)
			}
			out, err := Export(w.allStreams())
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode("get-is.json", bytes.NewReader(out), Options{})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := Apply(context.Background(), w, again)
			if err != nil {
				t.Fatal(err)
			}
			if sum.StreamsChanged != 0 || sum.Streams != len(w.streams) {
				t.Errorf("re-import: %d of %d streams changed (store has %d)", sum.StreamsChanged, sum.Streams, len(w.streams))
			}
		})
	}
}

// TestExportNormalizes feeds Export snapshots that are not in Decode's form.
func TestExportNormalizes(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CET", 3600)
	at := time.Date(2026, 11, 20, 11, 30, 15, 987654321, berlin)
	gen := int64(7)
	in := store.StreamSnapshot{
		Namespace: "team-a", Name: "api", Created: at,
		Labels: map[string]string{}, Annotations: map[string]string{"a": "b"},
		LookupLocal: true, Generation: 7,
		PullSpec: "registry/team-a/api", PublicPullSpec: "public/team-a/api", DockerImageRepository: "quay.io/team-a/api",
		Tags: []store.TagSnapshot{
			{Name: "pushed", Scheduled: true, From: &store.ObjectRef{Kind: "DockerImage", Name: "x"}, // status-only: spec fields vanish
				Items: []store.EventSnapshot{{Created: at, Image: "sha256:1111111111111111111111111111111111111111111111111111111111111111", DockerImageReference: "r@sha256:1111111111111111111111111111111111111111111111111111111111111111"}}},
			{Name: "empty"},
			{Name: "prod", InSpec: true, Annotations: map[string]string{}, Generation: &gen, Reference: true, ReferencePolicy: "Local", ImportMode: "Legacy",
				From:      &store.ObjectRef{Kind: "ImageStreamTag", Name: "api:latest", Namespace: "team-a"},
				Condition: &store.Condition{Status: "False", Reason: "Unauthorized", Message: "denied", Time: &at, Generation: 7}},
		},
	}
	out, err := Export([]store.StreamSnapshot{in})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode("x.json", bytes.NewReader(out), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := *back[0].Stream
	want := Normalize(in)
	eq(t, "stream", got, want)
	eq(t, "tag order", tagNames(got), []string{"prod", "pushed", "empty"})
	eq(t, "created", got.Created, time.Date(2026, 11, 20, 10, 30, 15, 0, time.UTC))
	eq(t, "condition type", got.Tags[0].Condition.Type, "ImportSuccess")
	eq(t, "status-only spec fields", got.Tags[1].From, (*store.ObjectRef)(nil))
	if in.Tags[0].From == nil || in.Created != at {
		t.Error("Normalize changed its argument")
	}
}

// TestExportShape pins the API field names of the output.
func TestExportShape(t *testing.T) {
	t.Parallel()
	gen := int64(2)
	created := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	out, err := Export([]store.StreamSnapshot{{
		Namespace: "team-a", Name: "api", Created: created, Generation: 2, LookupLocal: true,
		PullSpec: "registry/team-a/api",
		Tags: []store.TagSnapshot{{
			Name: "prod", InSpec: true, Generation: &gen, Scheduled: true, ImportMode: "PreserveOriginal", ReferencePolicy: "Local",
			From:      &store.ObjectRef{Kind: "DockerImage", Name: "quay.io/a/api:1"},
			Condition: &store.Condition{Type: "ImportSuccess", Status: "False", Reason: "NotFound", Message: "gone", Time: &created, Generation: 2},
			Items:     []store.EventSnapshot{{Created: created, DockerImageReference: "quay.io/a/api@sha256:1111111111111111111111111111111111111111111111111111111111111111", Image: "sha256:1111111111111111111111111111111111111111111111111111111111111111", Generation: 1}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"List","apiVersion":"v1","metadata":{},"items":[{"kind":"ImageStream","apiVersion":"image.openshift.io/v1",
	"metadata":{"name":"api","namespace":"team-a","creationTimestamp":"2026-11-20T10:00:00Z","generation":2},
	"spec":{"lookupPolicy":{"local":true},"tags":[{"name":"prod","from":{"kind":"DockerImage","name":"quay.io/a/api:1"},"generation":2,
	  "importPolicy":{"scheduled":true,"importMode":"PreserveOriginal"},"referencePolicy":{"type":"Local"}}]},
	"status":{"dockerImageRepository":"registry/team-a/api","tags":[{"tag":"prod",
	  "items":[{"created":"2026-11-20T10:00:00Z","dockerImageReference":"quay.io/a/api@sha256:1111111111111111111111111111111111111111111111111111111111111111","image":"sha256:1111111111111111111111111111111111111111111111111111111111111111","generation":1}],
	  "conditions":[{"type":"ImportSuccess","status":"False","lastTransitionTime":"2026-11-20T10:00:00Z","reason":"NotFound","message":"gone","generation":2}]}]}}]}`
	var g, w bytes.Buffer
	if err := json.Compact(&g, out); err != nil {
		t.Fatal(err)
	}
	if err := json.Compact(&w, []byte(want)); err != nil {
		t.Fatal(err)
	}
	if g.String() != w.String() {
		t.Errorf("export\n got %s\nwant %s", g.String(), w.String())
	}
	empty, err := Export(nil)
	if err != nil {
		t.Fatal(err)
	}
	g.Reset()
	json.Compact(&g, empty)
	eq(t, "empty export", g.String(), `{"kind":"List","apiVersion":"v1","metadata":{},"items":[]}`)
}
