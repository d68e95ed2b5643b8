package openshift

import (
	"context"
	"fmt"
	"strings"
	"time"

	"layerwise/store"
)

// Writer is what Apply needs of the store (the caller wraps Apply in one
// transaction).
type Writer interface {
	PutImage(ctx context.Context, img store.ImageSnapshot) (changed bool, err error)
	// PutStream replaces the stream's whole state (spec + status) by s.
	PutStream(ctx context.Context, s store.StreamSnapshot) (changed bool, err error)
	// MapImage stores img, creates ns/stream if missing and prepends a
	// history entry unless the tag's current image is already that digest.
	MapImage(ctx context.Context, ns, stream, tag string, img store.ImageSnapshot, created time.Time) (changed bool, err error)
	// PutTagSpec sets one tag's spec (an ImageStreamTag's), creating the
	// stream and the tag when missing; the tag's history stays.
	PutTagSpec(ctx context.Context, ns, stream string, t store.TagSnapshot) (changed bool, err error)
	// RecordReferrer attaches a signature, SBOM or attestation to its
	// subject (a cosign-scheme tag of a dump is one, not a tag).
	RecordReferrer(ctx context.Context, r store.Referrer) (changed bool, err error)
}

// Summary counts what Apply saw and what changed in the store.
type Summary struct {
	Streams, StreamsChanged   int
	Tags                      int // tags of the streams seen
	Images, ImagesChanged     int
	Mappings, MappingsChanged int
	// Skipped counts objects of other kinds by kind (BuildConfig: 3).
	Skipped map[string]int
	// Ignored names image objects that could not be applied, with why.
	Ignored []string
	// Derived counts images whose config size was worked out from
	// dockerImageMetadata.Size, no manifest giving it.
	Derived int
	// Told are notes about objects read whole (a dry-run import).
	Told []string
	// Referrers counts the cosign-scheme tags (sha256-<hex>.sig|.att|.sbom)
	// read as referrers of their subject instead of tags, and how many of
	// those were new; ReferrerStreams are the streams that had the new ones.
	Referrers, ReferrersChanged int
	ReferrerStreams             []store.StreamRef
}

// Changed says the dump wrote anything: a stream, an image or a mapping
// that was not already recorded as it is.
func (s Summary) Changed() bool {
	return s.StreamsChanged+s.ImagesChanged+s.MappingsChanged+s.ReferrersChanged > 0
}

// Notes are the lines a CLI prints about objects it left alone.
func (s Summary) Notes() []string {
	var notes []string
	if n := s.skippedTotal(); n > 0 {
		what := "objects of other kinds"
		if n == 1 {
			what = "object of another kind"
		}
		notes = append(notes, fmt.Sprintf("skipped %d %s (%s)", n, what, strings.Join(sortedKeys(s.Skipped), ", ")))
	}
	for _, m := range s.Ignored {
		notes = append(notes, "skipped "+m)
	}
	if s.Derived > 0 {
		notes = append(notes, fmt.Sprintf("the config size of %d image(s) is derived from dockerImageMetadata.Size (config plus distinct layers): no manifest gave it", s.Derived))
	}
	return append(notes, s.Told...)
}

func (s Summary) skippedTotal() int {
	n := 0
	for _, c := range s.Skipped {
		n += c
	}
	return n
}

// Apply writes the objects: Images first, then ImageStreams, then the
// objects that set a tag's image (ImageStreamMappings, ImageStreamTags), so
// that images are known before the histories that name them. A mapping
// onto a stream of the same input is folded into that stream before
// PutStream, which would otherwise drop the mapped tag again on every
// import of the file; the stream's spec is then the one that counts.
func Apply(ctx context.Context, w Writer, objs []Object) (Summary, error) {
	sum := Summary{}
	known := map[string]store.ImageSnapshot{}
	streamAt := map[string]int{} // ns/name -> the last ImageStream object, which PutStream leaves in place
	for i, o := range objs {
		switch {
		case o.Skipped != "" && o.OtherKind():
			if sum.Skipped == nil {
				sum.Skipped = map[string]int{}
			}
			sum.Skipped[o.Kind]++
		case o.Skipped != "":
			sum.Ignored = append(sum.Ignored, fmt.Sprintf("%s: %s: %s", o.File, o, o.Skipped))
		case o.Note != "":
			sum.Told = append(sum.Told, fmt.Sprintf("%s: %s: %s", o.File, o, o.Note))
		case o.Kind == KindImage && o.Image != nil:
			changed, err := w.PutImage(ctx, *o.Image)
			if err != nil {
				return sum, o.errorf("%w", err)
			}
			sum.Images++
			if changed {
				sum.ImagesChanged++
			}
			if c := o.Image.Config; c != nil && c.Derived {
				sum.Derived++
			}
			known[o.Image.Digest] = *o.Image
		case o.Kind == KindImageStream && o.Stream != nil:
			streamAt[o.Namespace+"/"+o.Name] = i
		}
	}

	folded := map[int]store.StreamSnapshot{}
	for _, o := range objs {
		j, ok := streamAt[o.Namespace+"/"+o.Name]
		if !o.tagged() || !ok || isReferrerTag(o.Tag) {
			continue
		}
		img := fullImage(*o.Image, known)
		if _, ok := known[img.Digest]; !ok {
			if _, err := w.PutImage(ctx, img); err != nil {
				return sum, o.errorf("%w", err)
			}
			known[img.Digest] = img
		}
		s, ok := folded[j]
		if !ok {
			s = *objs[j].Stream
			s.Tags = append([]store.TagSnapshot(nil), s.Tags...)
		}
		foldMapping(&s, o.Tag, img, o.Created)
		folded[j] = s
	}

	streamChanged := map[int]bool{}
	for i, o := range objs {
		if o.Skipped != "" || o.Kind != KindImageStream || o.Stream == nil {
			continue
		}
		s := *o.Stream
		if f, ok := folded[i]; ok {
			s = f
		}
		s, refs := referrerTags(s, known)
		changed, err := w.PutStream(ctx, s)
		if err != nil {
			return sum, o.errorf("%w", err)
		}
		if err := recordReferrers(ctx, w, &sum, s.Namespace, s.Name, refs); err != nil {
			return sum, o.errorf("%w", err)
		}
		sum.Streams++
		sum.Tags += len(s.Tags)
		if changed {
			sum.StreamsChanged++
			streamChanged[i] = true
		}
	}

	for _, o := range objs {
		if !o.tagged() {
			continue
		}
		if isReferrerTag(o.Tag) {
			r := referrerOf(o.Tag, fullImage(*o.Image, known))
			if err := recordReferrers(ctx, w, &sum, o.Namespace, o.Name, []store.Referrer{r}); err != nil {
				return sum, o.errorf("%w", err)
			}
			continue
		}
		sum.Mappings++
		if j, ok := streamAt[o.Namespace+"/"+o.Name]; ok {
			if streamChanged[j] {
				sum.MappingsChanged++
			}
			continue
		}
		changed := false
		if o.Spec != nil {
			c, err := w.PutTagSpec(ctx, o.Namespace, o.Name, *o.Spec)
			if err != nil {
				return sum, o.errorf("%w", err)
			}
			changed = c
		}
		c, err := w.MapImage(ctx, o.Namespace, o.Name, o.Tag, fullImage(*o.Image, known), o.Created)
		if err != nil {
			return sum, o.errorf("%w", err)
		}
		if changed || c {
			sum.MappingsChanged++
		}
	}
	return sum, nil
}

// foldMapping does to s what MapImage does in the store: a new history entry
// on top unless the tag already has that image.
func foldMapping(s *store.StreamSnapshot, tag string, img store.ImageSnapshot, created time.Time) {
	i := 0
	for i < len(s.Tags) && s.Tags[i].Name != tag {
		i++
	}
	if i == len(s.Tags) {
		s.Tags = append(s.Tags, store.TagSnapshot{Name: tag})
	}
	t := &s.Tags[i]
	if len(t.Items) > 0 && t.Items[0].Image == img.Digest {
		return
	}
	e := store.EventSnapshot{Created: created, DockerImageReference: img.DockerImageReference, Image: img.Digest, Generation: s.Generation}
	t.Items = append([]store.EventSnapshot{e}, t.Items...)
}

// fullImage completes a mapping's bare image from a known one; the
// mapping's pull spec stays, as it says where the stream found the image.
func fullImage(img store.ImageSnapshot, known map[string]store.ImageSnapshot) store.ImageSnapshot {
	full, ok := known[img.Digest]
	if !ok || !bareImage(img) {
		return img
	}
	if img.DockerImageReference != "" {
		full.DockerImageReference = img.DockerImageReference
	}
	return full
}

// bareImage reports a mapping's image that carries no more than its digest
// and reference (as `oc` prints them inside a List next to the full Image).
func bareImage(img store.ImageSnapshot) bool {
	return len(img.Layers) == 0 && len(img.Manifests) == 0 && img.Config == nil &&
		img.ConfigDigest == "" && img.MediaType == "" && img.Meta.Architecture == "" && img.Meta.Created == nil
}

// isReferrerTag says whether a tag is cosign's name for a signature, SBOM
// or attestation of an image (sha256-<64 hex>.sig|.att|.sbom).
func isReferrerTag(tag string) bool {
	_, _, ok := store.CosignTag(tag)
	return ok
}

// referrerTags takes the cosign-scheme tags out of a stream: each one's
// current image is a referrer of the digest its name gives, recorded by
// recordReferrers instead of a tag that would count as a revision. Older
// entries of such a tag are earlier signature manifests the current one
// replaced; they are not recorded.
func referrerTags(s store.StreamSnapshot, known map[string]store.ImageSnapshot) (store.StreamSnapshot, []store.Referrer) {
	var refs []store.Referrer
	var tags []store.TagSnapshot
	for _, t := range s.Tags {
		if !isReferrerTag(t.Name) {
			tags = append(tags, t)
			continue
		}
		if len(t.Items) == 0 || t.Items[0].Image == "" {
			continue // a spec-only cosign tag names no image yet
		}
		img, ok := known[t.Items[0].Image]
		if !ok {
			img = store.ImageSnapshot{Digest: t.Items[0].Image, DockerImageReference: t.Items[0].DockerImageReference}
		}
		refs = append(refs, referrerOf(t.Name, img))
	}
	if len(refs) == 0 {
		return s, nil
	}
	s.Tags = tags
	return s, refs
}

// referrerOf is the referrer a cosign-scheme tag names. Its repository is
// "": the image lives in the cluster's registry, not the managed one.
func referrerOf(tag string, img store.ImageSnapshot) store.Referrer {
	subject, _, _ := store.CosignTag(tag)
	return store.Referrer{Subject: subject, Images: []store.ImageSnapshot{img}, Via: store.ViaTagScheme, Tag: tag}
}

func recordReferrers(ctx context.Context, w Writer, sum *Summary, ns, stream string, refs []store.Referrer) error {
	noted := false
	for _, r := range refs {
		changed, err := w.RecordReferrer(ctx, r)
		if err != nil {
			return fmt.Errorf("tag %s: %w", r.Tag, err)
		}
		sum.Referrers++
		if changed {
			sum.ReferrersChanged++
			if !noted {
				noted = true
				sum.ReferrerStreams = append(sum.ReferrerStreams, store.StreamRef{Namespace: ns, Stream: stream})
			}
		}
	}
	return nil
}
