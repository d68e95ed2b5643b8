package openshift

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"layerwise/store"
)

// fixtureDir holds real `oc` output (its README.md says where each file
// comes from); registryDir real registry manifests and configs.
const (
	fixtureDir  = "../../testdata/openshift"
	registryDir = "../../testdata/registry"
)

// fixture returns the path of an OpenShift fixture.
func fixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(fixtureDir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", p, err)
	}
	return p
}

// allFixtures are every OpenShift fixture: the JSON and YAML files of
// fixtureDir (not its README).
func allFixtures(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.json", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(fixtureDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no fixtures in %s", fixtureDir)
	}
	return files
}

func decodeFile(t *testing.T, path string, opt Options) []Object {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	objs, err := Decode(filepath.Base(path), f, opt)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return objs
}

func decodeString(name, s string, opt Options) ([]Object, error) {
	return Decode(name, strings.NewReader(s), opt)
}

func streamsOf(objs []Object) []store.StreamSnapshot {
	var out []store.StreamSnapshot
	for _, o := range objs {
		if o.Stream != nil {
			out = append(out, *o.Stream)
		}
	}
	return out
}

func imagesOf(objs []Object) []store.ImageSnapshot {
	var out []store.ImageSnapshot
	for _, o := range objs {
		if o.Kind == KindImage && o.Image != nil {
			out = append(out, *o.Image)
		}
	}
	return out
}

func findStream(t *testing.T, objs []Object, ns, name string) store.StreamSnapshot {
	t.Helper()
	for _, s := range streamsOf(objs) {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	t.Fatalf("no stream %s/%s", ns, name)
	return store.StreamSnapshot{}
}

func findTag(t *testing.T, s store.StreamSnapshot, name string) store.TagSnapshot {
	t.Helper()
	for _, tag := range s.Tags {
		if tag.Name == name {
			return tag
		}
	}
	t.Fatalf("stream %s/%s has no tag %q", s.Namespace, s.Name, name)
	return store.TagSnapshot{}
}

func tagNames(s store.StreamSnapshot) []string {
	var out []string
	for _, t := range s.Tags {
		out = append(out, t.Name)
	}
	return out
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// fakeWriter is an in-memory Writer that records every call.
type fakeWriter struct {
	calls   []string
	images  map[string]store.ImageSnapshot
	streams map[string]store.StreamSnapshot
	mapped  []mapCall
	fail    string // the call that fails, e.g. "PutStream"
}

type mapCall struct {
	ns, stream, tag string
	img             store.ImageSnapshot
	created         time.Time
}

// fakeError is comparable, so errors.Is finds errFake through wrapping.
type fakeError string

func (e fakeError) Error() string { return string(e) }

const errFake = fakeError("database is locked")

func newFakeWriter() *fakeWriter {
	return &fakeWriter{images: map[string]store.ImageSnapshot{}, streams: map[string]store.StreamSnapshot{}}
}

func (w *fakeWriter) PutImage(ctx context.Context, img store.ImageSnapshot) (bool, error) {
	w.calls = append(w.calls, "PutImage "+img.Digest)
	if w.fail == "PutImage" {
		return false, errFake
	}
	old, ok := w.images[img.Digest]
	w.images[img.Digest] = img
	return !ok || !reflect.DeepEqual(old, img), nil
}

func (w *fakeWriter) PutStream(ctx context.Context, s store.StreamSnapshot) (bool, error) {
	key := s.Namespace + "/" + s.Name
	w.calls = append(w.calls, "PutStream "+key)
	if w.fail == "PutStream" {
		return false, errFake
	}
	old, ok := w.streams[key]
	w.streams[key] = s
	return !ok || !reflect.DeepEqual(old, s), nil
}

func (w *fakeWriter) PutTagSpec(ctx context.Context, ns, stream string, t store.TagSnapshot) (bool, error) {
	key := ns + "/" + stream
	w.calls = append(w.calls, "PutTagSpec "+key+":"+t.Name)
	s, ok := w.streams[key]
	if !ok {
		s = store.StreamSnapshot{Namespace: ns, Name: stream}
	}
	i := 0
	for i < len(s.Tags) && s.Tags[i].Name != t.Name {
		i++
	}
	if i == len(s.Tags) {
		s.Tags = append(s.Tags, store.TagSnapshot{Name: t.Name})
	}
	t.InSpec, t.Items = true, s.Tags[i].Items
	changed := !reflect.DeepEqual(s.Tags[i], t)
	s.Tags[i] = t
	w.streams[key] = s
	return changed, nil
}

func (w *fakeWriter) MapImage(ctx context.Context, ns, stream, tag string, img store.ImageSnapshot, created time.Time) (bool, error) {
	key := ns + "/" + stream
	w.calls = append(w.calls, "MapImage "+key+":"+tag)
	if w.fail == "MapImage" {
		return false, errFake
	}
	w.mapped = append(w.mapped, mapCall{ns, stream, tag, img, created})
	changed := false
	if old, ok := w.images[img.Digest]; !ok || !reflect.DeepEqual(old, img) {
		w.images[img.Digest] = img
		changed = true
	}
	s, ok := w.streams[key]
	if !ok {
		s = store.StreamSnapshot{Namespace: ns, Name: stream}
		changed = true
	}
	i := 0
	for i < len(s.Tags) && s.Tags[i].Name != tag {
		i++
	}
	if i == len(s.Tags) {
		s.Tags = append(s.Tags, store.TagSnapshot{Name: tag})
	}
	t := &s.Tags[i]
	if len(t.Items) == 0 || t.Items[0].Image != img.Digest {
		e := store.EventSnapshot{Created: created, DockerImageReference: img.DockerImageReference, Image: img.Digest}
		t.Items = append([]store.EventSnapshot{e}, t.Items...)
		changed = true
	}
	w.streams[key] = s
	return changed, nil
}

func (w *fakeWriter) allStreams() []store.StreamSnapshot {
	var out []store.StreamSnapshot
	for _, k := range sortedKeys(w.streams) {
		out = append(out, w.streams[k])
	}
	return out
}

func (w *fakeWriter) RecordReferrer(ctx context.Context, r store.Referrer) (bool, error) {
	w.calls = append(w.calls, "RecordReferrer "+r.Subject+" "+r.Images[len(r.Images)-1].Digest)
	return true, nil
}
