package openshift

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"layerwise/store"
)

func TestDemoData(t *testing.T) {
	t.Parallel()
	data := DemoData()
	if len(data) > 300*1024 {
		t.Errorf("demo.yaml is %d bytes, want under 300 KiB", len(data))
	}
	data[0] = 'X'
	if DemoData()[0] == 'X' {
		t.Error("DemoData returns the embedded bytes themselves")
	}
	objs, err := Decode("demo.yaml", bytes.NewReader(DemoData()), Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]store.ImageSnapshot{}
	for _, img := range imagesOf(objs) {
		images[img.Digest] = img
	}
	for _, o := range objs {
		if o.Skipped != "" {
			t.Errorf("%s skipped: %s", o, o.Skipped)
		}
	}
	streams := streamsOf(objs)
	perNS := map[string]int{}
	var newest time.Time
	var longest int
	var sawList, sawFailed, sawAlias, sawRollback bool
	nsBlobs := map[string]map[string]int64{}
	layerNS := map[string]map[string]bool{}
	for _, s := range streams {
		perNS[s.Namespace]++
		if nsBlobs[s.Namespace] == nil {
			nsBlobs[s.Namespace] = map[string]int64{}
		}
		for _, tag := range s.Tags {
			longest = max(longest, len(tag.Items))
			seen := map[string]bool{}
			for _, e := range tag.Items {
				if e.Created.After(newest) {
					newest = e.Created
				}
				if seen[e.Image] {
					sawRollback = true
				}
				seen[e.Image] = true
				img, ok := images[e.Image]
				if !ok {
					t.Fatalf("%s/%s:%s names %s, which has no Image object", s.Namespace, s.Name, tag.Name, e.Image)
				}
				for _, b := range blobsOf(t, images, img) {
					nsBlobs[s.Namespace][b.Digest] = b.Size
					if layerNS[b.Digest] == nil {
						layerNS[b.Digest] = map[string]bool{}
					}
					layerNS[b.Digest][s.Namespace] = true
				}
				if len(img.Manifests) > 0 && tag.ImportMode == "PreserveOriginal" {
					var platforms []string
					for _, m := range img.Manifests {
						platforms = append(platforms, m.OS+"/"+m.Architecture)
						if _, ok := images[m.Digest]; !ok {
							t.Errorf("manifest list %s: child %s has no Image object", img.Digest, m.Digest)
						}
					}
					eq(t, "platforms", platforms, []string{"linux/amd64", "linux/arm64"})
					sawList = true
				}
			}
			if c := tag.Condition; c != nil && c.Status == "False" && c.Reason == "NotFound" &&
				tag.Scheduled && tag.From.Kind == "DockerImage" && len(tag.Items) > 0 {
				eq(t, "failed import message", c.Message, `dockerimage.image.openshift.io "`+tag.From.Name+`" not found`)
				sawFailed = true
			}
			if f := tag.From; f != nil && f.Kind == "ImageStreamTag" && strings.HasPrefix(f.Name, s.Name+":") {
				src := findTag(t, s, strings.TrimPrefix(f.Name, s.Name+":"))
				eq(t, s.Name+":"+tag.Name+" follows "+src.Name, tag.Items[0].Image, src.Items[0].Image)
				sawAlias = true
			}
		}
		if c := s.Created; c.After(newest) {
			newest = c
		}
	}
	eq(t, "namespaces", len(perNS), 5)
	for ns, n := range perNS {
		if n < 3 || n > 5 {
			t.Errorf("namespace %s has %d streams, want 3-5", ns, n)
		}
	}
	if longest < 14 {
		t.Errorf("longest history has %d entries, want 14 or more", longest)
	}
	eq(t, "manifest list (PreserveOriginal, amd64+arm64)", sawList, true)
	eq(t, "failed scheduled import", sawFailed, true)
	eq(t, "alias tag", sawAlias, true)
	eq(t, "a digest twice in one history", sawRollback, true)
	if newest.Before(time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)) || newest.After(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("newest time %s, want around 2026-11-20", newest)
	}
	big := false
	for ns, blobs := range nsBlobs {
		var total int64
		for _, size := range blobs {
			total += size
		}
		big = big || total > 1<<30
		t.Logf("%s: %d blobs, %.2f GiB", ns, len(blobs), float64(total)/(1<<30))
	}
	eq(t, "a namespace over 1 GiB", big, true)
	shared := 0
	for _, img := range images {
		for _, l := range img.Layers {
			if l.Size >= 25e6 && l.Size <= 80e6 && len(layerNS[l.Digest]) >= 4 {
				shared++
			}
		}
	}
	if shared == 0 {
		t.Error("no base layer of 25-80 MB is shared by four namespaces")
	}
	for _, img := range images {
		if len(img.Manifests) == 0 && (img.Config == nil || img.Config.Size <= 0 || len(img.Layers) == 0 || img.Meta.Created == nil) {
			t.Errorf("image %s lacks config size, layers or metadata", img.Digest)
		}
	}

	w := newFakeWriter()
	sum, err := Apply(context.Background(), w, objs)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "applied", []int{sum.Streams, sum.Images}, []int{len(streams), len(images)})
}

func TestDemoDataShift(t *testing.T) {
	t.Parallel()
	shift := 400 * 24 * time.Hour
	plain, err := Decode("demo.yaml", bytes.NewReader(DemoData()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	shifted, err := Decode("demo.yaml", bytes.NewReader(DemoData()), Options{Shift: shift})
	if err != nil {
		t.Fatal(err)
	}
	a, b := streamsOf(plain)[0], streamsOf(shifted)[0]
	eq(t, "stream created", b.Created.Sub(a.Created), shift)
	eq(t, "history created", b.Tags[0].Items[0].Created.Sub(a.Tags[0].Items[0].Created), shift)
	ia, ib := imagesOf(plain)[0], imagesOf(shifted)[0]
	eq(t, "image created", ib.Meta.Created.Sub(*ia.Meta.Created), shift)
}

// blobsOf lists an image's layers and config, and its children's for a list.
func blobsOf(t *testing.T, images map[string]store.ImageSnapshot, img store.ImageSnapshot) []store.BlobRef {
	t.Helper()
	out := append([]store.BlobRef(nil), img.Layers...)
	if img.Config != nil {
		out = append(out, *img.Config)
	}
	for _, m := range img.Manifests {
		out = append(out, blobsOf(t, images, images[m.Digest])...)
	}
	return out
}
