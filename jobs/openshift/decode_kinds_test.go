package openshift

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"layerwise/store"
)

// openStore is a fresh, migrated database (SQLite, or PostgreSQL under
// LAYERWISE_TEST_POSTGRES).
func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// applyTo decodes and applies objects in one transaction, as import does.
func applyTo(t *testing.T, s *store.Store, objs []Object) Summary {
	t.Helper()
	var sum Summary
	err := s.Tx(t.Context(), func(tx *store.Store) error {
		var err error
		sum, err = Apply(context.Background(), tx, objs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestImageStreamTag reads `oc get istag -o yaml`: the tag's current image
// whole (its config size derived from dockerImageMetadata.Size, as an
// OpenShift 4 object gives no manifest), a history entry at the istag's
// time and the tag's spec.
func TestImageStreamTag(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-20T12:00:00Z")
	objs := decodeFile(t, fixture(t, "seed-imagestreamtag.yaml"), Options{Now: now})
	eq(t, "objects", len(objs), 1)
	o := objs[0]
	eq(t, "object", o.String(), `ImageStreamTag "default/busybox:latest"`)
	eq(t, "created", o.Created, mustTime(t, "2016-07-27T15:12:10Z"))
	img := o.Image
	eq(t, "image created", img.Created, mustTime(t, "2016-07-27T15:12:10Z"))
	eq(t, "image annotations", img.Annotations, map[string]string{"image.openshift.io/dockerLayersOrder": "ascending"})
	eq(t, "config (669049 − 667590, derived)", *img.Config, store.BlobRef{
		Digest: "sha256:2b8fd9751c4c0f5dd266fcae00707e67a2545ef34f9a29354585f93dac906749", Size: 1459,
		MediaType: "application/vnd.docker.container.image.v1+json", Derived: true})
	eq(t, "spec from", *o.Spec.From, store.ObjectRef{Kind: "DockerImage", Name: "busybox:latest"})

	s := openStore(t)
	sum := applyTo(t, s, objs)
	eq(t, "summary", []int{sum.Mappings, sum.MappingsChanged}, []int{1, 1})
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "default", Stream: "busybox"})
	if err != nil {
		t.Fatal(err)
	}
	tag := findTag(t, st, "latest")
	eq(t, "in spec", tag.InSpec, true)
	eq(t, "spec from", *tag.From, store.ObjectRef{Kind: "DockerImage", Name: "busybox:latest"})
	eq(t, "import mode", tag.ImportMode, "Legacy")
	eq(t, "history", tag.Items, []store.EventSnapshot{{Created: mustTime(t, "2016-07-27T15:12:10Z"),
		DockerImageReference: img.DockerImageReference, Image: img.Digest, Generation: tag.Items[0].Generation}})
	got, err := s.GetImage(t.Context(), img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "image bytes: config (derived) + layer", got.Bytes, int64(669049))
	eq(t, "stored config is derived", got.Config.Derived, true)
	eq(t, "image created", got.Created, mustTime(t, "2016-07-27T15:12:10Z"))

	// The same object again changes nothing.
	sum = applyTo(t, s, decodeFile(t, fixture(t, "seed-imagestreamtag.yaml"), Options{Now: now.Add(time.Hour)}))
	eq(t, "changed again", []int{sum.ImagesChanged, sum.MappingsChanged}, []int{0, 0})

	// A manifest that gives the config's size replaces the derived figure;
	// the derived one never replaces a given size.
	busybox := decodeFile(t, fixture(t, "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml"), Options{Now: now})
	applyTo(t, s, busybox)
	got, err = s.GetImage(t.Context(), img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "config from the manifest", *got.Config, store.BlobRef{Digest: img.Config.Digest, Size: 1459, MediaType: "application/octet-stream"})
	applyTo(t, s, objs)
	got, _ = s.GetImage(t.Context(), img.Digest)
	eq(t, "still from the manifest", got.Config.Derived, false)
}

// TestImageStreamImport reads an ImageStreamImport as the API answered it
// (a real one: a dry run with one schema 1 image): its image is recorded,
// no tag changes, and the summary says why.
func TestImageStreamImport(t *testing.T) {
	t.Parallel()
	const file = "openshift-openshift-restclient-java__src-test-resources-samples-openshift3-v1_image_stream_import.json"
	objs := decodeFile(t, fixture(t, file), Options{Now: mustTime(t, "2026-11-20T12:00:00Z")})
	eq(t, "objects", len(objs), 2)
	img := objs[0]
	eq(t, "image object", img.String(), `status.images[0].image (Image "sha256:445d9593cf8e7ac591ced715b38626751962beb3d164c28b99c69564aeeb6fd3")`)
	eq(t, "layers", len(img.Image.Layers), 9)
	// Schema 1: dockerImageMetadata.Size is the layers alone, no config.
	eq(t, "config", img.Image.Config, (*store.BlobRef)(nil))
	s := openStore(t)
	sum := applyTo(t, s, objs)
	eq(t, "images", []int{sum.Images, sum.Mappings}, []int{1, 0})
	eq(t, "notes", sum.Notes(), []string{file + `: ImageStreamImport "hello-world/newapp": a dry run (spec.import is false): its images are recorded, no tag changed`})
	got, err := s.GetImage(t.Context(), img.Image.Digest)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "bytes", got.Bytes, int64(196610919+211205967+40508367))
	if _, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "hello-world", Stream: "newapp"}); err == nil {
		t.Error("a dry run created the stream")
	}

	// The same import done for real (spec.import, a `to` tag) sets the tag
	// as `oc import-image` did; a failed entry is listed, not applied.
	var raw map[string]any
	if err := json.Unmarshal([]byte(readFixture(t, file)), &raw); err != nil {
		t.Fatal(err)
	}
	spec := raw["spec"].(map[string]any)
	spec["import"] = true
	images := spec["images"].([]any)
	images[0].(map[string]any)["to"] = map[string]any{"name": "v1"}
	images = append(images, map[string]any{"from": map[string]any{"kind": "DockerImage", "name": "quay.io/none/such:1"}, "to": map[string]any{"name": "v2"}})
	spec["images"] = images
	status := raw["status"].(map[string]any)
	status["images"] = append(status["images"].([]any), map[string]any{
		"status": map[string]any{"status": "Failure", "reason": "NotFound", "message": "manifest unknown"}})
	b, _ := json.Marshal(raw)
	objs, err = decodeString("import.json", string(b), Options{Now: mustTime(t, "2026-11-20T12:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	sum = applyTo(t, s, objs)
	eq(t, "mappings", sum.Mappings, 1)
	eq(t, "skipped", sum.Ignored, []string{`import.json: status.images[1] (ImageStreamImport): the import failed (NotFound): manifest unknown`})
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "hello-world", Stream: "newapp"})
	if err != nil {
		t.Fatal(err)
	}
	v1 := findTag(t, st, "v1")
	eq(t, "v1 from", *v1.From, store.ObjectRef{Kind: "DockerImage", Name: "jcantrill/swarm-helloworld"})
	eq(t, "v1 image", v1.Items[0].Image, img.Image.Digest)
	eq(t, "v1 created (the import's time)", v1.Items[0].Created, mustTime(t, "2016-02-24T20:53:28Z"))
	if len(st.Tags) != 1 {
		t.Errorf("tags %v, want v1 only", tagNames(st))
	}
}

// TestImageObjectFields: every field of an Image object is kept and given
// back by Export: time, labels, annotations, signatures, dockerImageMetadata
// as given, and the manifest a managed image's list gives a size for.
func TestImageObjectFields(t *testing.T) {
	t.Parallel()
	child := "sha256:" + strings.Repeat("c", 64)
	list := "sha256:" + strings.Repeat("a", 64)
	layer := "sha256:" + strings.Repeat("1", 64)
	config := "sha256:" + strings.Repeat("2", 64)
	in := fmt.Sprintf(`{"kind":"ImageList","apiVersion":"image.openshift.io/v1","items":[
 {"metadata":{"name":%[1]q,"creationTimestamp":"2026-01-02T03:04:05Z","labels":{"team":"a"},
   "annotations":{"openshift.io/image.managed":"true","image.openshift.io/manifestBlobStored":"true"}},
  "dockerImageReference":"image-registry.openshift-image-registry.svc:5000/a/app@%[1]s",
  "dockerImageManifestMediaType":"application/vnd.docker.distribution.manifest.v2+json",
  "dockerImageMetadata":{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":%[4]q,"Size":1500,"Architecture":"arm64","ContainerConfig":{"Hostname":"x"}},
  "dockerImageMetadataVersion":"1.0",
  "dockerImageLayers":[{"name":%[3]q,"size":1000,"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip"}],
  "signatures":[{"metadata":{"name":"%[1]s@0123456789abcdef0123456789abcdef"},"type":"atomic","content":"c2ln"}]},
 {"metadata":{"name":%[2]q,"creationTimestamp":"2026-01-02T03:04:06Z","annotations":{"openshift.io/image.managed":"true"}},
  "dockerImageReference":"image-registry.openshift-image-registry.svc:5000/a/app@%[2]s",
  "dockerImageManifestMediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
  "dockerImageManifests":[{"digest":%[1]q,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","manifestSize":527,"architecture":"arm64","os":"linux"}]}
]}`, child, list, layer, config)
	objs, err := decodeString("images.json", in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := objs[0].Image
	eq(t, "created", c.Created, mustTime(t, "2026-01-02T03:04:05Z"))
	eq(t, "labels", c.Labels, map[string]string{"team": "a"})
	eq(t, "manifest blob (size from the list)", *c.Manifest, store.BlobRef{Digest: child, Size: 527, MediaType: "application/vnd.docker.distribution.manifest.v2+json"})
	eq(t, "config derived", *c.Config, store.BlobRef{Digest: config, Size: 500, MediaType: "application/vnd.docker.container.image.v1+json", Derived: true})
	if !strings.Contains(c.DockerImageMetadata, `"ContainerConfig":{"Hostname":"x"}`) || !strings.Contains(c.Signatures, `"type":"atomic"`) {
		t.Errorf("metadata %s / signatures %s not kept as given", c.DockerImageMetadata, c.Signatures)
	}

	s := openStore(t)
	applyTo(t, s, objs)
	got, err := s.GetImage(t.Context(), child)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "bytes: manifest + config + layer", got.Bytes, int64(527+500+1000))
	imgs, err := s.ListImages(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ExportList(nil, imgs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeString("export.json", string(out), Options{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "exported", len(back), 2)
	for _, b := range back {
		for _, o := range objs {
			if o.Image.Digest == b.Image.Digest {
				eq(t, "round trip "+o.Image.Digest, NormalizeImage(*b.Image), NormalizeImage(*o.Image))
			}
		}
	}
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
