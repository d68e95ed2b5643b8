package openshift

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"layerwise/store"
)

// The test cases of `oc adm prune images` (openshift/oc
// pkg/cli/admin/prune/imageprune/prune_test.go, TestImagePruning, commit
// 6b8e30c5b39aa742147846341a203905e04834f3) that depend on image streams
// and images alone, rebuilt as the dump `oc get is,images -A -o json` would
// print for them, imported, and pruned with oc's test policy (keep 3
// revisions, or the case's number, and everything younger than 1 h). Each
// case either deletes exactly what oc deletes — revisions, images and the
// layer and config blobs — or names why Layerwise differs, and the README's
// prune section lists it with that reason.
//
// Rebuilding: oc's helpers (pkg/helpers/image/test) are followed as they
// are: Image is 120 minutes old with layers Layer1..Layer5; ImageWithLayers
// and IndexImage have no creationTimestamp, which oc treats as long ago and
// a dump renders as a date long ago (a real object always has one); tag
// events and streams alike. Names that are not digests ("layer1") become
// the sha256 of the name. Every layer is 100 bytes and a config 10, given
// as a real OpenShift 4 object gives them (dockerImageMetadata.Size, no
// manifest). oc's expected blob deletions also list the images' own
// manifests; these dumps carry no manifest sizes, so the comparison is on
// layers and configs.

const (
	ocLayer1  = "tarsum.dev+sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	ocLayer2  = "tarsum.dev+sha256:b194de3772ebbcdc8f244f663669799ac1cb141834b7cb8b69100285d357a2b0"
	ocLayer3  = "tarsum.dev+sha256:c937c4bb1c1a21cc6d94340812262c6472092028972ae69b551b1a70d4276171"
	ocLayer4  = "tarsum.dev+sha256:2aaacc362ac6be2b9e9ae8c6029f6f616bb50aec63746521858e47841b90fabd"
	ocLayer5  = "tarsum.dev+sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	ocConfig1 = "sha256:2b8fd9751c4c0f5dd266fcae00707e67a2545ef34f9a29354585f93dac906749"
	ocConfig2 = "sha256:8ddc19f16526912237dd8af81971d5e4dd0587907234be2b83e249518d5b673f"
	ocHost    = "registry.io"

	mtSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
	mtSchema2 = "application/vnd.docker.distribution.manifest.v2+json"
	mtOCI     = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIdx  = "application/vnd.oci.image.index.v1+json"
	mtList    = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// pid is oc's test digest sha256:000…0N.
func pid(n int) string { return "sha256:" + strings.Repeat("0", 63) + string(rune('0'+n)) }

// blobDigest maps oc's blob names to digests Layerwise accepts.
func blobDigest(name string) string {
	if strings.HasPrefix(name, "sha256:") {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type ocImage struct {
	id, ref     string
	ageMin      int64 // 0: no creationTimestamp (long ago)
	config      string
	layers      []string
	media       string
	annotations map[string]string
	manifests   []ocManifest
}

type ocManifest struct{ digest, arch, os, variant string }

type ocEvent struct {
	id, ref string
	young   bool // created now (YoungTagEvent)
}

type ocTag struct {
	name   string
	events []ocEvent
}

type ocStream struct {
	ns, name string
	ageMin   int64 // 0: no creationTimestamp
	tags     []ocTag
}

var managed = map[string]string{"openshift.io/image.managed": "true"}

func ocImageWithLayers(id, ref string, config *string, layers ...string) ocImage {
	img := ocImage{id: id, ref: ref, layers: layers, media: mtSchema1, annotations: managed}
	if config != nil {
		img.config, img.media = *config, mtSchema2
	}
	return img
}

func ocAgedImage(id, ref string, ageMin int64, layers ...string) ocImage {
	if len(layers) == 0 {
		layers = []string{ocLayer1, ocLayer2, ocLayer3, ocLayer4, ocLayer5}
	}
	img := ocImageWithLayers(id, ref, nil, layers...)
	img.ageMin = ageMin
	return img
}

func ocTestImage(id, ref string) ocImage { return ocAgedImage(id, ref, 120) }

func ocOCIImage(id, ref, config string, layers ...string) ocImage {
	img := ocImageWithLayers(id, ref, &config, layers...)
	img.media = mtOCI
	return img
}

func ocUnmanaged(id, ref string, hasAnnotations bool, k, v string) ocImage {
	img := ocImageWithLayers(id, ref, nil)
	if !hasAnnotations {
		img.annotations = nil
	} else {
		img.annotations = map[string]string{k: v}
	}
	return img
}

func ocIndex(id, ref, media string, m ...ocManifest) ocImage {
	return ocImage{id: id, ref: ref, media: media, annotations: managed, manifests: m}
}

func ev(n int) ocEvent { return ocEvent{id: pid(n), ref: ocHost + "/foo/bar@" + pid(n)} }

func barStream(tags ...ocTag) ocStream { return ocStream{ns: "foo", name: "bar", tags: tags} }

// dump renders the case as `oc get is,images -A -o json` prints it.
func ocDump(t *testing.T, now time.Time, images []ocImage, streams []ocStream) string {
	t.Helper()
	longAgo := "2015-01-01T00:00:00Z"
	at := func(ageMin int64) string {
		if ageMin == 0 {
			return longAgo
		}
		return now.Add(-time.Duration(ageMin) * time.Minute).Format(time.RFC3339)
	}
	var items []any
	for _, img := range images {
		layers := []any{}
		size := int64(0)
		seen := map[string]bool{}
		for _, l := range img.layers {
			layers = append(layers, map[string]any{"name": blobDigest(l), "size": 100})
			if !seen[l] {
				seen[l] = true
				size += 100
			}
		}
		meta := map[string]any{"kind": "DockerImage", "apiVersion": "image.openshift.io/1.0"}
		if img.config != "" {
			meta["Id"] = blobDigest(img.config)
			meta["Size"] = size + 10
		}
		o := map[string]any{
			"kind": "Image", "apiVersion": "image.openshift.io/v1",
			"metadata":                     map[string]any{"name": img.id, "creationTimestamp": at(img.ageMin), "annotations": img.annotations},
			"dockerImageReference":         img.ref,
			"dockerImageManifestMediaType": img.media,
			"dockerImageMetadata":          meta,
			"dockerImageLayers":            layers,
		}
		var ms []any
		for _, m := range img.manifests {
			ms = append(ms, map[string]any{"digest": m.digest, "mediaType": mtOCI, "manifestSize": 0,
				"architecture": m.arch, "os": m.os, "variant": m.variant})
		}
		if ms != nil {
			o["dockerImageManifests"] = ms
		}
		items = append(items, o)
	}
	for _, st := range streams {
		var tags []any
		for _, tg := range st.tags {
			var evs []any
			for _, e := range tg.events {
				created := longAgo
				if e.young {
					created = now.Format(time.RFC3339)
				}
				evs = append(evs, map[string]any{"created": created, "dockerImageReference": e.ref, "image": e.id, "generation": 1})
			}
			tags = append(tags, map[string]any{"tag": tg.name, "items": evs})
		}
		items = append(items, map[string]any{
			"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
			"metadata": map[string]any{"name": st.name, "namespace": st.ns, "creationTimestamp": at(st.ageMin)},
			"spec":     map[string]any{"lookupPolicy": map[string]any{"local": false}},
			"status":   map[string]any{"dockerImageRepository": ocHost + "/" + st.ns + "/" + st.name, "tags": tags},
		})
	}
	b, err := json.MarshalIndent(map[string]any{"kind": "List", "apiVersion": "v1", "items": items}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type ocPruneCase struct {
	name          string
	keep          int // -1: oc's default, 3
	images        []ocImage
	streams       []ocStream
	wantImages    []string // oc's expectedImageDeletions
	wantRevisions []string // oc's expectedStreamUpdates "ns/name|tag|position|image"
	wantBlobs     []string // oc's expectedBlobDeletions
	// differs says why Layerwise does not delete what oc does; the README
	// lists the case with it.
	differs string
}

func ocPruneCases() []ocPruneCase {
	c1, c2 := ocConfig1, ocConfig2
	return []ocPruneCase{
		{name: "image stream - keep most recent n images", keep: -1,
			images: []ocImage{ocUnmanaged(pid(0), "otherregistry/foo/bar@"+pid(0), false, "", ""),
				ocTestImage(pid(2), ocHost+"/foo/bar@"+pid(2)), ocTestImage(pid(3), ocHost+"/foo/bar@"+pid(3)), ocTestImage(pid(4), ocHost+"/foo/bar@"+pid(4))},
			streams:    []ocStream{barStream(ocTag{"latest", []ocEvent{{id: pid(0), ref: "otherregistry/foo/bar@" + pid(0)}, ev(2), ev(3), ev(4)}})},
			wantImages: []string{pid(4)}, wantRevisions: []string{"foo/bar|latest|3|" + pid(4)}, wantBlobs: []string{pid(4)}},
		{name: "image stream - same manifest listed multiple times in tag history", keep: -1,
			images:        []ocImage{ocTestImage(pid(1), ocHost+"/foo/bar@"+pid(1)), ocTestImage(pid(2), ocHost+"/foo/bar@"+pid(2))},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(1), ev(2), ev(1), ev(2)}})},
			wantRevisions: []string{"foo/bar|latest|3|" + pid(2)}},
		{name: "image stream age less than min pruning age - don't prune", keep: -1,
			images: []ocImage{ocTestImage(pid(0), ocHost+"/foo/bar@"+pid(0)), ocTestImage(pid(2), ocHost+"/foo/bar@"+pid(2)),
				ocTestImage(pid(3), ocHost+"/foo/bar@"+pid(3)), ocTestImage(pid(4), ocHost+"/foo/bar@"+pid(4))},
			streams: []ocStream{{ns: "foo", name: "bar", ageMin: 5, tags: []ocTag{{"latest", []ocEvent{ev(0), ev(2), ev(3), ev(4)}}}}},
			differs: "a young stream does not keep its old revisions"},
		{name: "image stream - unreference absent image", keep: -1,
			images:        []ocImage{ocTestImage(pid(1), ocHost+"/foo/bar@"+pid(1))},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(0), ev(1)}})},
			wantRevisions: []string{"foo/bar|latest|0|" + pid(0)},
			differs:       "a dump that lacks an image does not prove it is gone"},
		{name: "image stream with dangling references - delete tags", keep: -1,
			images:        []ocImage{ocImageWithLayers(pid(1), ocHost+"/foo/bar@"+pid(1), nil, "layer1")},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(0)}}, ocTag{"tag", []ocEvent{ev(2)}})},
			wantImages:    []string{pid(1)},
			wantRevisions: []string{"foo/bar|latest|0|" + pid(0), "foo/bar|tag|0|" + pid(2)},
			wantBlobs:     []string{pid(1), "layer1"},
			differs:       "a dump that lacks an image does not prove it is gone"},
		{name: "image stream - keep reference to a young absent image", keep: -1,
			images:     []ocImage{ocTestImage(pid(1), ocHost+"/foo/bar@"+pid(1)), ocImageWithLayers(pid(2), ocHost+"/foo/bar@"+pid(2), nil)},
			streams:    []ocStream{barStream(ocTag{"latest", []ocEvent{{id: pid(0), ref: ocHost + "/foo/bar@" + pid(0), young: true}, ev(1)}})},
			wantImages: []string{pid(2)}, wantBlobs: []string{pid(2)}},
		{name: "image with nil annotations", keep: -1,
			images:     []ocImage{ocUnmanaged(pid(0), "someregistry/foo/bar@"+pid(0), false, "", "")},
			wantImages: []string{pid(0)}, wantBlobs: []string{pid(0)}},
		{name: "prune all-images=true image with nil annotations", keep: -1,
			images:     []ocImage{ocUnmanaged(pid(0), "someregistry/foo/bar@"+pid(0), false, "", "")},
			wantImages: []string{pid(0)}, wantBlobs: []string{pid(0)}},
		{name: "prune all-images=false image with nil annotations", keep: -1,
			images:  []ocImage{ocUnmanaged(pid(0), "someregistry/foo/bar@"+pid(0), false, "", "")},
			differs: "there is no --all=false"},
		{name: "image missing managed annotation", keep: -1,
			images:     []ocImage{ocUnmanaged(pid(0), "someregistry/foo/bar@"+pid(0), true, "foo", "bar")},
			wantImages: []string{pid(0)}, wantBlobs: []string{pid(0)}},
		managedNotTrue("image with managed annotation != true", true, ""),
		{name: "prune all-images=true with image missing managed annotation", keep: -1,
			images:     []ocImage{ocUnmanaged(pid(0), "someregistry/foo/bar@"+pid(0), true, "foo", "bar")},
			wantImages: []string{pid(0)}, wantBlobs: []string{pid(0)}},
		managedNotTrue("prune all-images=true with image with managed annotation != true", true, ""),
		{name: "prune all-images=false with image missing managed annotation", keep: -1,
			images:  []ocImage{ocUnmanaged(pid(0), "someregistry/foo/bar@"+pid(0), true, "foo", "bar")},
			differs: "there is no --all=false"},
		managedNotTrue("prune all-images=false with image with managed annotation != true", false, "there is no --all=false"),
		{name: "image with layers", keep: -1,
			images: []ocImage{ocImageWithLayers(pid(1), ocHost+"/foo/bar@"+pid(1), &c1, "layer1", "layer2", "layer3", "layer4"),
				ocImageWithLayers(pid(2), ocHost+"/foo/bar@"+pid(2), &c2, "layer1", "layer2", "layer3", "layer4"),
				ocImageWithLayers(pid(3), ocHost+"/foo/bar@"+pid(3), nil, "layer1", "layer2", "layer3", "layer4"),
				ocImageWithLayers(pid(4), ocHost+"/foo/bar@"+pid(4), nil, "layer5", "layer6", "layer7", "layer8")},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(1), ev(2), ev(3), ev(4)}})},
			wantImages:    []string{pid(4)},
			wantRevisions: []string{"foo/bar|latest|3|" + pid(4)},
			wantBlobs:     []string{pid(4), "layer5", "layer6", "layer7", "layer8"}},
		{name: "images with duplicate layers and configs", keep: -1,
			images: []ocImage{ocImageWithLayers(pid(1), ocHost+"/foo/bar@"+pid(1), &c1, "layer1", "layer2", "layer3", "layer4"),
				ocImageWithLayers(pid(2), ocHost+"/foo/bar@"+pid(2), &c1, "layer1", "layer2", "layer3", "layer4"),
				ocImageWithLayers(pid(3), ocHost+"/foo/bar@"+pid(3), &c1, "layer1", "layer2", "layer3", "layer4"),
				ocImageWithLayers(pid(4), ocHost+"/foo/bar@"+pid(4), &c2, "layer5", "layer6", "layer7", "layer8"),
				ocImageWithLayers(pid(5), ocHost+"/foo/bar@"+pid(5), &c2, "layer5", "layer6", "layer9", "layerX")},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(1), ev(2), ev(3), ev(4)}})},
			wantImages:    []string{pid(4), pid(5)},
			wantRevisions: []string{"foo/bar|latest|3|" + pid(4)},
			wantBlobs:     []string{pid(4), pid(5), c2, "layer5", "layer6", "layer7", "layer8", "layer9", "layerX"}},
		{name: "layers shared with young images are not pruned", keep: -1,
			images:     []ocImage{ocAgedImage(pid(1), ocHost+"/foo/bar@"+pid(1), 43200), ocAgedImage(pid(2), ocHost+"/foo/bar@"+pid(2), 5)},
			wantImages: []string{pid(1)}, wantBlobs: []string{pid(1)}},
		{name: "schema 2 image blobs are pruned", keep: 0,
			images:        []ocImage{ocImageWithLayers(pid(0), ocHost+"/foo/bar@"+pid(0), &c1, "layer1", "layer2")},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(0)}})},
			wantImages:    []string{pid(0)},
			wantRevisions: []string{"foo/bar|latest|0|" + pid(0)},
			wantBlobs:     []string{pid(0), "layer1", "layer2", c1},
			differs:       "the current revision is never pruned"},
		{name: "oci image blobs are pruned", keep: 0,
			images:        []ocImage{ocOCIImage(pid(0), ocHost+"/foo/bar@"+pid(0), c1, "layer1", "layer2")},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(0)}})},
			wantImages:    []string{pid(0)},
			wantRevisions: []string{"foo/bar|latest|0|" + pid(0)},
			wantBlobs:     []string{pid(0), "layer1", "layer2", c1},
			differs:       "the current revision is never pruned"},
		{name: "blobs are not deleted if there are oci images that still use them", keep: 1,
			images: []ocImage{ocOCIImage(pid(1), ocHost+"/foo/bar@"+pid(1), c1, "layer1", "layer2"),
				ocImageWithLayers(pid(0), ocHost+"/foo/bar@"+pid(0), &c1, "layer1", "layer2")},
			streams:       []ocStream{barStream(ocTag{"latest", []ocEvent{ev(1), ev(0)}})},
			wantImages:    []string{pid(0)},
			wantRevisions: []string{"foo/bar|latest|1|" + pid(0)},
			wantBlobs:     []string{pid(0)}},
		indexCase("keep images that are part of an OCI image index", mtOCIIdx, true),
		indexCase("keep images that are part of a Docker manifest list", mtList, true),
		indexCase("OCI image index is fully pruned", mtOCIIdx, false),
	}
}

func managedNotTrue(name string, deleted bool, differs string) ocPruneCase {
	c := ocPruneCase{name: name, keep: -1, differs: differs}
	for i, v := range []string{"false", "0", "1", "True", "yes", "Yes"} {
		ref := "someregistry/foo/bar@" + pid(0)
		c.images = append(c.images, ocUnmanaged(pid(i), ref, true, "openshift.io/image.managed", v))
		if deleted {
			c.wantImages = append(c.wantImages, pid(i))
			c.wantBlobs = append(c.wantBlobs, pid(i))
		}
	}
	return c
}

func indexCase(name, media string, tagged bool) ocPruneCase {
	c := ocPruneCase{name: name, keep: -1,
		images: []ocImage{ocIndex(pid(0), ocHost+"/foo/bar@"+pid(0), media,
			ocManifest{digest: pid(1), arch: "amd64", os: "linux"}, ocManifest{digest: pid(2), arch: "arm64", os: "linux", variant: "v8"}),
			ocTestImage(pid(1), ocHost+"/foo/bar@"+pid(1)), ocTestImage(pid(2), ocHost+"/foo/bar@"+pid(2)), ocTestImage(pid(3), ocHost+"/foo/bar@"+pid(3))}}
	if tagged {
		c.streams = []ocStream{barStream(ocTag{"latest", []ocEvent{ev(0)}})}
		c.wantImages, c.wantBlobs = []string{pid(3)}, []string{pid(3)}
	} else {
		c.wantImages = []string{pid(0), pid(1), pid(2), pid(3)}
		c.wantBlobs = []string{pid(0), pid(1), pid(2), pid(3), ocLayer1, ocLayer2, ocLayer3, ocLayer4, ocLayer5}
	}
	return c
}

// pruneOutcome is what a prune deleted, in oc's terms.
type pruneOutcome struct {
	Images, Revisions, Blobs []string
}

func sortedSet(in []string, f func(string) string) []string {
	set := map[string]bool{}
	for _, s := range in {
		set[f(s)] = true
	}
	out := []string{}
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestPruneParityWithOc(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.ToLower(strings.Join(strings.Fields(string(raw)), " ")) // lines wrapped anywhere
	now := mustTime(t, "2026-11-20T12:00:00Z")
	for _, tc := range ocPruneCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			s.SetClock(func() time.Time { return now })
			objs, err := decodeString("dump.json", ocDump(t, now, tc.images, tc.streams), Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			applyTo(t, s, objs)
			before, err := s.ListImages(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			keep := tc.keep
			if keep < 0 {
				keep = 3
			}
			plan, err := s.PlanPrune(t.Context(), store.Policy{KeepTagRevisions: keep, KeepYoungerThan: time.Hour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ApplyPrune(t.Context(), plan, store.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			after, err := s.ListImages(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := pruneOutcome{Images: []string{}, Revisions: []string{}, Blobs: []string{}}
			left := map[string]bool{}
			for _, img := range after {
				left[img.Digest] = true
				for _, b := range append(append([]store.BlobRef(nil), img.Layers...), derefConfig(img.Config)...) {
					left[b.Digest] = true
				}
			}
			for _, img := range before {
				if !left[img.Digest] {
					got.Images = append(got.Images, img.Digest)
				}
				for _, b := range append(append([]store.BlobRef(nil), img.Layers...), derefConfig(img.Config)...) {
					if !left[b.Digest] {
						got.Blobs = append(got.Blobs, b.Digest)
					}
				}
			}
			for _, r := range plan.Revisions {
				got.Revisions = append(got.Revisions, r.Namespace+"/"+r.Stream+"|"+r.Tag+"|"+itoa(r.Position)+"|"+r.Image)
			}
			// oc's blob deletions less the images' own manifests.
			isImage := map[string]bool{}
			for _, img := range tc.images {
				isImage[img.id] = true
			}
			var wantBlobs []string
			for _, b := range tc.wantBlobs {
				if !isImage[b] {
					wantBlobs = append(wantBlobs, b)
				}
			}
			id := func(s string) string { return s }
			want := pruneOutcome{Images: sortedSet(tc.wantImages, id), Revisions: sortedSet(tc.wantRevisions, id), Blobs: sortedSet(wantBlobs, blobDigest)}
			got = pruneOutcome{Images: sortedSet(got.Images, id), Revisions: sortedSet(got.Revisions, id), Blobs: sortedSet(got.Blobs, id)}
			same := strings.Join(got.Images, ",") == strings.Join(want.Images, ",") &&
				strings.Join(got.Revisions, ",") == strings.Join(want.Revisions, ",") &&
				strings.Join(got.Blobs, ",") == strings.Join(want.Blobs, ",")
			switch {
			case tc.differs == "" && !same:
				t.Errorf("Layerwise deletes\n  %+v\noc deletes\n  %+v", got, want)
			case tc.differs != "" && same:
				t.Errorf("Layerwise now deletes what oc does: drop the case from the README's list of differences")
			case tc.differs != "" && (!strings.Contains(readme, strings.ToLower(`"`+tc.name+`"`)) || !strings.Contains(readme, tc.differs)):
				t.Errorf("the README's prune section does not list %q with its reason (%s)", tc.name, tc.differs)
			}
		})
	}
}

func derefConfig(c *store.BlobRef) []store.BlobRef {
	if c == nil {
		return nil
	}
	return []store.BlobRef{*c}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
