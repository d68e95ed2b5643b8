package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Source is where a tag gets its image: another tag (ImageStreamTag), an
// image of a stream (ImageStreamImage) or a pull spec (DockerImage).
type Source struct {
	Kind      string
	Namespace string
	Stream    string
	Tag       string // ImageStreamTag
	Digest    string // ImageStreamImage
	Ref       string // DockerImage pull spec
}

func (src Source) String() string {
	switch src.Kind {
	case KindImageStreamTag:
		return src.Namespace + "/" + src.Stream + ":" + src.Tag
	case KindImageStreamImage:
		return src.Namespace + "/" + src.Stream + "@" + src.Digest
	}
	return src.Ref
}

// TagOptions are the flags of `tag`.
type TagOptions struct {
	Alias           bool
	Scheduled       bool
	Insecure        bool
	Reference       bool
	ReferencePolicy string // Source (default) or Local
	ImportMode      string // Legacy or PreserveOriginal; DockerImage only
	// Verified says the caller read a DockerImage source by digest from
	// its registry and recorded the image (the managed registry: see
	// registry.Mirror.Read), so it is linked even though no tag of the
	// destination namespace holds it yet.
	Verified bool
}

// TagResult says what a tag operation did.
type TagResult struct {
	Tag     TagRef
	Image   string // the digest now current, "" when none
	Ref     string // the pull spec now current
	Changed bool   // a new history entry was added
	// SpecChanged says the tag's spec (source, alias, scheduled, policies)
	// was written: a new tag, or one defined differently than before.
	SpecChanged bool
	// Spec says how the destination is now defined, in oc's words:
	// "python@sha256:…", "docker.io/python:3.6.0".
	Spec string
	// KeptSource is set by a rollback that kept the tag's source, saying
	// what it is ("tracks api:latest", "updates automatically from
	// registry quay.io/…"): that source may move the tag again.
	KeptSource string
}

// NoOp says the operation changed nothing: neither the history nor the
// spec. Such a change writes no audit event.
func (r TagResult) NoOp() bool { return !r.Changed && !r.SpecChanged }

func (s *Store) findTag(ctx context.Context, ref TagRef) (Tag, ImageStream, error) {
	st, err := s.findStream(ctx, StreamRef{ref.Namespace, ref.Stream})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Tag{}, st, notFoundf("image stream tag %s not found", ref)
		}
		return Tag{}, st, err
	}
	var t Tag
	err = s.conn(ctx).Where("stream_id = ? AND name = ?", st.ID, ref.Tag).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return t, st, notFoundf("image stream tag %s not found", ref)
	}
	if err != nil {
		return t, st, fmt.Errorf("look up tag %s: %w", ref, err)
	}
	return t, st, nil
}

// SetTag points dst at src with oc tag's rules. A stream tag is copied once
// (the destination gets the source's current image) unless opt.Alias makes
// it track its source, which must then be in the same stream.
func (s *Store) SetTag(ctx context.Context, src Source, dst TagRef, opt TagOptions) (TagResult, error) {
	if err := validateSet(src, dst, opt); err != nil {
		return TagResult{}, err
	}
	var res TagResult
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		res, err = tx.setTag(ctx, src, dst, opt)
		return err
	})
	return res, err
}

func validateSet(src Source, dst TagRef, opt TagOptions) error {
	if err := dst.Validate(); err != nil {
		return err
	}
	// A cosign tag names a signature of another image: it is recorded from
	// the registry as that image's referrer, never made by hand, where it
	// would count as a revision of its own.
	if subject, _, ok := CosignTag(dst.Tag); ok {
		return invalidf("%s is a cosign tag (a signature, attestation or SBOM of %s): Layerwise records those from the registry as referrers of the image; tag them there, not here", dst, subject)
	}
	switch src.Kind {
	case KindImageStreamTag:
		if err := (TagRef{src.Namespace, src.Stream, src.Tag}).Validate(); err != nil {
			return err
		}
		if src.Namespace == dst.Namespace && src.Stream == dst.Stream && src.Tag == dst.Tag {
			if opt.Alias {
				return aliasMap{dst.Tag: src.Tag}.check(StreamRef{dst.Namespace, dst.Stream})
			}
			return invalidf("cannot tag %s to itself", dst)
		}
	case KindImageStreamImage:
		if err := (StreamRef{src.Namespace, src.Stream}).Validate(); err != nil {
			return err
		}
		if err := ValidateDigest(src.Digest); err != nil {
			return err
		}
	case KindDockerImage:
		if err := ValidatePullSpec(src.Ref); err != nil {
			return err
		}
	default:
		return invalidf("source kind %q must be one of DockerImage, ImageStreamTag, ImageStreamImage", src.Kind)
	}
	if opt.Alias {
		if src.Kind != KindImageStreamTag {
			return invalidf("an alias (a tag that tracks its source, --alias) needs an image stream tag as the source (stream:tag), not %s", src)
		}
		if src.Namespace != dst.Namespace || src.Stream != dst.Stream {
			return invalidf("cannot set alias across different Image Streams")
		}
	}
	if (opt.Scheduled || opt.Insecure) && src.Kind != KindDockerImage {
		return invalidf("only tags from an external image (DockerImage) can be scheduled or insecure; %s is an image stream source", src)
	}
	if opt.Reference && src.Kind != KindDockerImage {
		return invalidf("--reference records an external pull spec; %s is an image stream source", src)
	}
	if opt.Reference && opt.Scheduled {
		return invalidf("a reference tag is never imported, so it cannot be scheduled")
	}
	switch opt.ReferencePolicy {
	case "", "Source", "Local":
	default:
		return invalidf("reference policy %q must be Source or Local", opt.ReferencePolicy)
	}
	switch opt.ImportMode {
	case "", "Legacy", "PreserveOriginal":
	default:
		return invalidf("valid ImportMode values are Legacy or PreserveOriginal")
	}
	return nil
}

func (s *Store) setTag(ctx context.Context, src Source, dst TagRef, opt TagOptions) (TagResult, error) {
	res := TagResult{Tag: dst}
	// Resolve the source first: a refused source must not create the stream.
	var from ObjectRef
	var next *current
	switch src.Kind {
	case KindImageStreamTag:
		srcRef := TagRef{src.Namespace, src.Stream, src.Tag}
		t, _, err := s.findTag(ctx, srcRef)
		if err != nil {
			return res, err
		}
		cur, err := s.currentOf(ctx, t.ID)
		if err != nil {
			return res, err
		}
		if cur == nil || cur.ImageID == nil {
			return res, invalidf("%q is not currently pointing to an image, cannot use it as the source of a tag", srcRef.String())
		}
		next = cur
		if opt.Alias {
			from = ObjectRef{Kind: KindImageStreamTag, Name: src.Stream + ":" + src.Tag}
		} else {
			from = ObjectRef{Kind: KindImageStreamImage, Name: src.Stream + "@" + cur.Digest}
		}
	case KindImageStreamImage:
		cur, err := s.imageInStream(ctx, StreamRef{src.Namespace, src.Stream}, src.Digest)
		if err != nil {
			return res, err
		}
		next = cur
		from = ObjectRef{Kind: KindImageStreamImage, Name: src.Stream + "@" + src.Digest}
	case KindDockerImage:
		from = ObjectRef{Kind: KindDockerImage, Name: src.Ref}
		if _, digest, ok := strings.Cut(src.Ref, "@"); ok && !opt.Reference {
			// Images are global by digest: naming one must not borrow
			// another namespace's image (its metadata, layers, a pin).
			// Link it only when the namespace holds it already or the
			// caller read it from its registry; otherwise the entry
			// records the pull spec, unverified, until an import reads it.
			held, err := s.namespaceHolds(ctx, dst.Namespace, digest)
			if err != nil {
				return res, err
			}
			if held || opt.Verified {
				ids, err := s.ensureImages(ctx, []string{digest})
				if err != nil {
					return res, err
				}
				id := ids[digest]
				next = &current{ImageID: &id, Digest: digest, Ref: src.Ref}
			} else {
				next = &current{Ref: src.Ref}
			}
		} else if opt.Reference {
			next = &current{Ref: src.Ref}
		}
		// A pull spec by tag waits for the importer; history stays as it is.
	}
	if src.Kind != KindDockerImage && src.Namespace != dst.Namespace {
		from.Namespace = src.Namespace
	}
	if next != nil && next.Ref == "" && next.Digest != "" {
		next.Ref = next.Digest
	}

	st, _, err := s.ensureStream(ctx, StreamRef{dst.Namespace, dst.Stream})
	if err != nil {
		return res, err
	}
	t, err := s.tagOf(ctx, st.ID, dst)
	if err != nil {
		return res, err
	}
	if err := s.checkAliases(ctx, st.ID, dst, opt.Alias, src.Tag); err != nil {
		return res, err
	}
	t, res.SpecChanged, err = s.writeTagSpec(ctx, dst, &st, t, t.withSpec(st.ID, dst.Tag, from, opt))
	if err != nil {
		return res, err
	}
	res.Spec = specString(from)
	if next != nil {
		if res.Changed, err = s.moveTag(ctx, dst, st, t, *next); err != nil {
			return res, err
		}
	}
	return s.withCurrent(ctx, res, t.ID)
}

// tagOf reads the tag ref of stream streamID; a zero Tag when there is none.
func (s *Store) tagOf(ctx context.Context, streamID int64, ref TagRef) (Tag, error) {
	var t Tag
	err := s.conn(ctx).Where("stream_id = ? AND name = ?", streamID, ref.Tag).Take(&t).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return t, fmt.Errorf("look up tag %s: %w", ref, err)
	}
	return t, nil
}

// withSpec is t (the row as stored, zero for a new tag) defined as the tag
// name of stream streamID, from from, with opt's flags and oc's defaults:
// reference policy Source, and for an external image import mode Legacy.
// What the spec does not say (annotations, the import condition) is kept.
func (t Tag) withSpec(streamID int64, name string, from ObjectRef, opt TagOptions) Tag {
	t.StreamID, t.Name, t.InSpec = streamID, name, true
	t.FromKind, t.FromName, t.FromNamespace = from.Kind, from.Name, from.Namespace
	t.Alias = opt.Alias
	t.Scheduled, t.Insecure, t.Reference = opt.Scheduled, opt.Insecure, opt.Reference
	t.ReferencePolicy = opt.ReferencePolicy
	if t.ReferencePolicy == "" {
		t.ReferencePolicy = "Source"
	}
	t.ImportMode = ""
	if from.Kind == KindDockerImage {
		t.ImportMode = opt.ImportMode
		if t.ImportMode == "" {
			t.ImportMode = "Legacy"
		}
	}
	return t
}

// writeTagSpec is the one writer of a tag's spec: it stores want unless
// have (the row as stored; zero for a new tag) already says the same. Every
// spec change is a new generation of the stream, as in OpenShift, and the
// tag records it. It returns the tag as stored and whether it changed.
func (s *Store) writeTagSpec(ctx context.Context, ref TagRef, st *ImageStream, have, want Tag) (Tag, bool, error) {
	if have.ID != 0 && sameTagRow(want, have) {
		return have, false, nil
	}
	db := s.conn(ctx)
	st.Generation++
	if err := db.Model(&ImageStream{}).Where("id = ?", st.ID).Update("generation", st.Generation).Error; err != nil {
		return have, false, fmt.Errorf("bump generation of %s/%s: %w", ref.Namespace, ref.Stream, err)
	}
	g := st.Generation
	want.Generation = &g
	var err error
	if have.ID == 0 {
		err = db.Create(&want).Error
	} else {
		err = db.Select("*").Updates(&want).Error
	}
	if err != nil {
		return have, false, fmt.Errorf("write tag %s: %w", ref, err)
	}
	return want, true, nil
}

// entryGeneration is the generation a new history entry of t records: the
// one its spec was set in, or the stream's for a tag with no spec.
func (t Tag) entryGeneration(st ImageStream) int64 {
	if t.Generation != nil {
		return *t.Generation
	}
	return st.Generation
}

// moveTag makes next the current entry of tag t (unless it is already)
// and moves the alias tags that track it; it says whether t moved.
func (s *Store) moveTag(ctx context.Context, ref TagRef, st ImageStream, t Tag, next current) (bool, error) {
	gen := t.entryGeneration(st)
	changed, err := s.pushEvent(ctx, t.ID, next, gen)
	if err != nil {
		return false, fmt.Errorf("update history of %s: %w", ref, err)
	}
	if changed {
		if err := s.followAliases(ctx, st, ref.Tag, next, gen); err != nil {
			return false, err
		}
	}
	return changed, nil
}

// withCurrent is res with the image and pull spec tag tagID points at now.
func (s *Store) withCurrent(ctx context.Context, res TagResult, tagID int64) (TagResult, error) {
	cur, err := s.currentOf(ctx, tagID)
	if err != nil {
		return res, err
	}
	if cur != nil {
		res.Image, res.Ref = cur.Digest, cur.Ref
	}
	return res, nil
}

func specString(from ObjectRef) string {
	if from.Namespace != "" {
		return from.Namespace + "/" + from.Name
	}
	return from.Name
}

// imageInStream finds an image in any tag history of a stream.
func (s *Store) imageInStream(ctx context.Context, ref StreamRef, digest string) (*current, error) {
	st, err := s.findStream(ctx, ref)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ImageID              int64
		DockerImageReference string
	}
	err = s.conn(ctx).Table("tag_events e").Select("e.image_id, e.docker_image_reference").
		Joins("JOIN tags t ON t.id = e.tag_id").Joins("JOIN images i ON i.id = e.image_id").
		Where("t.stream_id = ? AND i.digest = ?", st.ID, digest).Order("e.created DESC").Limit(1).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("look up %s@%s: %w", ref, digest, err)
	}
	if len(rows) == 0 {
		return nil, notFoundf("image %s is not in image stream %s (no tag of it has held it)", digest, ref)
	}
	id := rows[0].ImageID
	return &current{ImageID: &id, Digest: digest, Ref: rows[0].DockerImageReference}, nil
}

// pushEvent prepends a history entry unless the tag already points there.
func (s *Store) pushEvent(ctx context.Context, tagID int64, next current, gen int64) (bool, error) {
	cur, err := s.currentOf(ctx, tagID)
	if err != nil {
		return false, err
	}
	if cur != nil {
		same := cur.Digest != "" && cur.Digest == next.Digest
		sameRef := cur.Digest == "" && next.Digest == "" && cur.Ref == next.Ref
		if same || sameRef {
			return false, nil
		}
	}
	db := s.conn(ctx)
	if err := db.Exec(`UPDATE tag_events SET position = position + 1 WHERE tag_id = ?`, tagID).Error; err != nil {
		return false, err
	}
	ev := TagEvent{TagID: tagID, Position: 0, Created: s.now(), DockerImageReference: next.Ref, ImageID: next.ImageID, Generation: gen}
	if err := db.Create(&ev).Error; err != nil {
		return false, err
	}
	return true, nil
}

// followAliases moves every tag of the stream that tracks tag (directly or
// through other aliases) to the new image.
func (s *Store) followAliases(ctx context.Context, st ImageStream, tag string, next current, gen int64) error {
	var aliases []Tag
	if err := s.conn(ctx).Where("stream_id = ? AND alias", st.ID).Find(&aliases).Error; err != nil {
		return fmt.Errorf("read alias tags: %w", err)
	}
	for _, a := range aliasClosure(aliases, tag) {
		if _, err := s.pushEvent(ctx, a.ID, next, gen); err != nil {
			return fmt.Errorf("update alias tag %s: %w", a.Name, err)
		}
	}
	return nil
}

// DeleteTag removes a tag's spec and history. Images stay until prune.
// Alias tags that tracked it keep their history and stop following.
func (s *Store) DeleteTag(ctx context.Context, ref TagRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	return s.Tx(ctx, func(tx *Store) error {
		t, _, err := tx.findTag(ctx, ref)
		if err != nil {
			return err
		}
		if err := tx.deleteTagRow(ctx, t.ID); err != nil {
			return fmt.Errorf("delete tag %s: %w", ref, err)
		}
		return nil
	})
}

// Rollback makes an image from the tag's own history current again: a new
// entry on top, created now; the old entry stays. An empty digest means the
// newest entry whose image differs from the current one. The spec becomes
// that image, as `oc tag stream@sha256:… stream:tag` sets it — except for
// a tag that tracks another tag (ImageStreamTag) or is imported on a
// schedule, which keeps its source (TagResult.KeptSource says which): the
// next change there moves it again.
func (s *Store) Rollback(ctx context.Context, ref TagRef, digest string) (TagResult, error) {
	if err := ref.Validate(); err != nil {
		return TagResult{}, err
	}
	var res TagResult
	err := s.Tx(ctx, func(tx *Store) error {
		t, _, err := tx.findTag(ctx, ref)
		if err != nil {
			return err
		}
		events, err := tx.tagHistory(ctx, t.ID)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return invalidf("%s has no history to roll back to", ref)
		}
		if digest == "" {
			for _, e := range events[1:] {
				if e.Image != "" && e.Image != events[0].Image {
					digest = e.Image
					break
				}
			}
			if digest == "" {
				return invalidf("%s has no earlier image to roll back to", ref)
			}
		} else if err := ValidateDigest(digest); err != nil {
			return err
		}
		found := false
		for _, e := range events {
			found = found || e.Image == digest
		}
		if !found {
			return notFoundf("image %s is not in the history of %s", digest, ref)
		}
		kept := tagSnapshot(t, nil).RollbackKeeps()
		if kept == "" {
			// As `oc tag stream@sha256:… stream:tag`: the spec names the image.
			src := Source{Kind: KindImageStreamImage, Namespace: ref.Namespace, Stream: ref.Stream, Digest: digest}
			res, err = tx.setTag(ctx, src, ref, TagOptions{ReferencePolicy: "Source"})
			return err
		}
		cur, err := tx.imageInStream(ctx, StreamRef{ref.Namespace, ref.Stream}, digest)
		if err != nil {
			return err
		}
		st, err := tx.findStream(ctx, StreamRef{ref.Namespace, ref.Stream})
		if err != nil {
			return err
		}
		changed, err := tx.moveTag(ctx, ref, st, t, *cur)
		if err != nil {
			return err
		}
		res = TagResult{Tag: ref, Image: digest, Ref: cur.Ref, Changed: changed, KeptSource: kept,
			Spec: specString(ObjectRef{Kind: t.FromKind, Name: t.FromName, Namespace: t.FromNamespace})}
		return nil
	})
	return res, err
}

// RollbackKeeps says why a rollback keeps this tag's source, in oc's words
// ("" when it does not and the spec becomes the image): a tag that tracks
// another tag, or one imported on a schedule, would be moved again by its
// source anyway.
func (t TagSnapshot) RollbackKeeps() string {
	if !t.InSpec || t.From == nil || t.Reference {
		return ""
	}
	from := t.From.Name
	if t.From.Namespace != "" {
		from = t.From.Namespace + "/" + from
	}
	switch {
	case t.From.Kind == KindImageStreamTag:
		return "tracks " + from
	case t.Scheduled && t.From.Kind == KindDockerImage:
		return "updates automatically from registry " + from
	}
	return ""
}

// DefaultLadder is the promotion ladder of a namespace that set none.
var DefaultLadder = []string{"latest", "test", "prod"}

// Ladder returns a namespace's promotion ladder.
func (s *Store) Ladder(ctx context.Context, ns string) ([]string, error) {
	var n Namespace
	err := s.conn(ctx).Where("name = ?", ns).Take(&n).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFoundf("namespace %s not found", ns)
	}
	if err != nil {
		return nil, fmt.Errorf("look up namespace %s: %w", ns, err)
	}
	if n.Ladder == "" {
		return append([]string(nil), DefaultLadder...), nil
	}
	return strings.Split(n.Ladder, ","), nil
}

// Promote copies a tag's current image to the next rung of the namespace's
// ladder (or to `to` when given): a copy, never an alias.
func (s *Store) Promote(ctx context.Context, ref StreamRef, from, to string) (TagResult, error) {
	if err := ref.Validate(); err != nil {
		return TagResult{}, err
	}
	if to == "" {
		var err error
		if to, err = s.NextRung(ctx, ref.Namespace, from); err != nil {
			return TagResult{}, err
		}
	}
	src := Source{Kind: KindImageStreamTag, Namespace: ref.Namespace, Stream: ref.Stream, Tag: from}
	return s.SetTag(ctx, src, TagRef{ref.Namespace, ref.Stream, to}, TagOptions{})
}

// NextRung is the tag after from on the namespace's promotion ladder.
func (s *Store) NextRung(ctx context.Context, ns, from string) (string, error) {
	ladder, err := s.Ladder(ctx, ns)
	if err != nil {
		return "", err
	}
	if next, ok := NextRung(ladder, from); ok {
		return next, nil
	}
	return "", invalidf("%q has no next step on the promotion ladder %s of namespace %s; name the destination tag",
		from, strings.Join(ladder, " → "), ns)
}

// MapImage records an image pushed to ns/stream:tag (an ImageStreamMapping):
// the image, the stream if missing, and a new history entry unless the tag's
// current image is already that digest.
func (s *Store) MapImage(ctx context.Context, ns, stream, tag string, img ImageSnapshot, created time.Time) (bool, error) {
	ref := TagRef{ns, stream, tag}
	if err := ref.Validate(); err != nil {
		return false, err
	}
	if err := s.validateImage(img); err != nil {
		return false, err
	}
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		c, err := tx.putImage(ctx, img, SizeClaimed)
		if err != nil {
			return err
		}
		changed = c
		st, created0, err := tx.ensureStream(ctx, StreamRef{ns, stream})
		if err != nil {
			return err
		}
		changed = changed || created0
		db := tx.conn(ctx)
		var t Tag
		err = db.Where("stream_id = ? AND name = ?", st.ID, tag).Take(&t).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			t = Tag{StreamID: st.ID, Name: tag}
			if err := db.Create(&t).Error; err != nil {
				return fmt.Errorf("create tag %s: %w", ref, err)
			}
			changed = true
		} else if err != nil {
			return fmt.Errorf("look up tag %s: %w", ref, err)
		}
		ids, err := tx.ensureImages(ctx, []string{img.Digest})
		if err != nil {
			return err
		}
		id := ids[img.Digest]
		pullRef := img.DockerImageReference
		if pullRef == "" {
			pullRef = img.Digest
		}
		next := current{ImageID: &id, Digest: img.Digest, Ref: pullRef}
		gen := t.entryGeneration(st)
		saved := tx.now
		if !created.IsZero() {
			tx.now = func() time.Time { return created.UTC() }
		}
		pushed, err := tx.pushEvent(ctx, t.ID, next, gen)
		tx.now = saved
		if err != nil {
			return fmt.Errorf("update history of %s: %w", ref, err)
		}
		if pushed {
			changed = true
			return tx.followAliases(ctx, st, tag, next, gen)
		}
		return nil
	})
	return changed, err
}

// SetImportCondition records the outcome of an import on a tag: success
// clears a failure; a failure keeps the current image.
func (s *Store) SetImportCondition(ctx context.Context, ref TagRef, ok bool, reason, message string) error {
	return s.Tx(ctx, func(tx *Store) error {
		t, _, err := tx.findTag(ctx, ref)
		if err != nil {
			return err
		}
		status := "False"
		if ok {
			status, reason, message = "True", "", ""
		}
		gen := int64(0)
		if t.Generation != nil {
			gen = *t.Generation
		}
		now := tx.now()
		return tx.conn(ctx).Model(&Tag{}).Where("id = ?", t.ID).Updates(map[string]any{
			"cond_status": status, "cond_reason": reason, "cond_message": message,
			"cond_time": now, "cond_generation": gen,
		}).Error
	})
}

// ParseSource reads a tag source the way oc tag does: a registry host (a dot
// or a port in the first part, or "localhost") means an external image;
// "stream@sha256:…" a stream image; "stream:tag" a stream tag. kind forces
// one reading: "istag", "isimage" or "docker" (oc's --source).
func ParseSource(s, defaultNS, kind string) (Source, error) {
	switch kind {
	case "", "istag", "isimage", "docker":
	default:
		return Source{}, invalidf("--source %q must be istag, isimage or docker", kind)
	}
	if kind == "docker" || (kind == "" && looksExternal(s)) {
		return Source{Kind: KindDockerImage, Ref: s}, nil
	}
	ns, rest := defaultNS, s
	if i := strings.Index(s, "/"); i >= 0 {
		ns, rest = s[:i], s[i+1:]
	}
	if name, digest, ok := strings.Cut(rest, "@"); ok {
		if kind == "istag" {
			return Source{}, invalidf("%q is an image stream image (stream@digest), not a stream tag", s)
		}
		return Source{Kind: KindImageStreamImage, Namespace: ns, Stream: name, Digest: digest}, nil
	}
	if kind == "isimage" {
		return Source{}, invalidf("%q is not an image stream image; write stream@sha256:…", s)
	}
	name, tag, ok := strings.Cut(rest, ":")
	if !ok {
		tag = "latest"
	}
	return Source{Kind: KindImageStreamTag, Namespace: ns, Stream: name, Tag: tag}, nil
}

func looksExternal(s string) bool {
	first, _, hasSlash := strings.Cut(s, "/")
	if !hasSlash {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// ParseTagRef reads [ns/]stream:tag; tag defaults to latest as in oc.
func ParseTagRef(s, defaultNS string) (TagRef, error) {
	ns, rest := defaultNS, s
	if i := strings.Index(s, "/"); i >= 0 {
		ns, rest = s[:i], s[i+1:]
	}
	if strings.Contains(rest, "@") {
		return TagRef{}, invalidf("%q names an image, not a tag; write [namespace/]stream:tag", s)
	}
	name, tag, ok := strings.Cut(rest, ":")
	if !ok {
		tag = "latest"
	}
	ref := TagRef{ns, name, tag}
	return ref, ref.Validate()
}

// ParseStreamRef reads [ns/]stream.
func ParseStreamRef(s, defaultNS string) (StreamRef, error) {
	ns, name := defaultNS, s
	if i := strings.Index(s, "/"); i >= 0 {
		ns, name = s[:i], s[i+1:]
	}
	ref := StreamRef{ns, name}
	return ref, ref.Validate()
}

// SetScheduled turns periodic re-import of an external tag on or off; only
// DockerImage tags can be scheduled. It reports whether the setting changed.
func (s *Store) SetScheduled(ctx context.Context, ref TagRef, on bool) (bool, error) {
	if err := ref.Validate(); err != nil {
		return false, err
	}
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		t, st, err := tx.findTag(ctx, ref)
		if err != nil {
			return err
		}
		if on && t.FromKind != KindDockerImage {
			return invalidf("only tags from an external image (DockerImage) can be scheduled; %s is tagged from %s", ref, orDash(t.FromKind))
		}
		if on && t.Reference {
			return invalidf("%s is a reference tag: it is never imported, so it cannot be scheduled", ref)
		}
		want := t
		want.Scheduled = on
		_, changed, err = tx.writeTagSpec(ctx, ref, &st, t, want)
		return err
	})
	return changed, err
}

func orDash(s string) string {
	if s == "" {
		return "nothing (a pushed tag)"
	}
	return s
}
