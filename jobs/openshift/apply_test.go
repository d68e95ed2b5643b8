package openshift

import (
	"context"
	"errors"
	"testing"
	"time"

	"layerwise/store"
)

const applyInput = `{"kind":"List","apiVersion":"v1","items":[
 {"kind":"ImageStreamMapping","apiVersion":"image.openshift.io/v1","metadata":{"name":"app","namespace":"ns"},"tag":"latest",
  "image":{"metadata":{"name":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},"dockerImageReference":"r/ns/app@sha256:1111111111111111111111111111111111111111111111111111111111111111"}},
 {"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"app","namespace":"ns","generation":3},
  "spec":{"tags":[{"name":"prod","from":{"kind":"ImageStreamImage","name":"app@sha256:1111111111111111111111111111111111111111111111111111111111111111"}}]}},
 {"kind":"Secret","apiVersion":"v1","metadata":{"name":"pull"}},
 {"kind":"Image","apiVersion":"image.openshift.io/v1","metadata":{"name":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},
  "dockerImageLayers":[{"name":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1048576}]},
 {"kind":"ImageStreamMapping","apiVersion":"image.openshift.io/v1","metadata":{"name":"other","namespace":"ns"},"tag":"v1",
  "image":{"metadata":{"name":"sha256:1111111111111111111111111111111111111111111111111111111111111111"}}}
]}`

func TestApplyOrderAndSummary(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	objs, err := decodeString("dump.json", applyInput, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	w := newFakeWriter()
	sum, err := Apply(context.Background(), w, objs)
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	// The mapping onto ns/app is folded into its stream; ns/other is not in
	// the input, so the store maps it.
	eq(t, "calls", w.calls, []string{"PutImage " + digest, "PutStream ns/app", "MapImage ns/other:v1"})
	eq(t, "summary", sum, Summary{
		Streams: 1, StreamsChanged: 1, Tags: 2,
		Images: 1, ImagesChanged: 1,
		Mappings: 2, MappingsChanged: 2,
		Skipped: map[string]int{"Secret": 1},
	})
	eq(t, "notes", sum.Notes(), []string{"skipped 1 object of another kind (Secret)"})
	app := w.streams["ns/app"]
	eq(t, "tags", tagNames(app), []string{"prod", "latest"})
	eq(t, "folded history", findTag(t, app, "latest").Items, []store.EventSnapshot{
		{Created: now, DockerImageReference: "r/ns/app@" + digest, Image: digest, Generation: 3}})
	if objs[1].Stream.Tags[0].Items != nil || len(objs[1].Stream.Tags) != 1 {
		t.Error("Apply changed the decoded stream")
	}
	eq(t, "mapped image is the full one", len(w.mapped[0].img.Layers), 1)
	eq(t, "mapped created", w.mapped[0].created, now)

	// The same input again changes no stream and no image.
	sum, err = Apply(context.Background(), w, objs)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "changed on the second run", []int{sum.StreamsChanged, sum.ImagesChanged}, []int{0, 0})
}

func TestApplyWrapsWriterErrors(t *testing.T) {
	t.Parallel()
	objs, err := decodeString("dump.json", applyInput, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ fail, want string }{
		{"PutImage", `dump.json: items[3] (Image "sha256:1111111111111111111111111111111111111111111111111111111111111111"): database is locked`},
		{"PutStream", `dump.json: items[1] (ImageStream "ns/app"): database is locked`},
		{"MapImage", `dump.json: items[4] (ImageStreamMapping "ns/other"): database is locked`},
	}
	for _, tt := range tests {
		t.Run(tt.fail, func(t *testing.T) {
			w := newFakeWriter()
			w.fail = tt.fail
			_, err := Apply(context.Background(), w, objs)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %s", err, tt.want)
			}
			if !errors.Is(err, errFake) {
				t.Errorf("error does not wrap the writer's error: %v", err)
			}
		})
	}
}

func TestSummaryNotes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sum  Summary
		want []string
	}{
		{Summary{}, nil},
		{Summary{Skipped: map[string]int{"BuildConfig": 3}}, []string{"skipped 3 objects of other kinds (BuildConfig)"}},
		{Summary{Skipped: map[string]int{"Secret": 1, "BuildConfig": 2}, Ignored: []string{`f.json: Image "x": why`}},
			[]string{"skipped 3 objects of other kinds (BuildConfig, Secret)", `skipped f.json: Image "x": why`}},
	}
	for _, tt := range tests {
		eq(t, "notes", tt.sum.Notes(), tt.want)
	}
}
