package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Push is an image the managed registry took under a tag: what a
// notification or the registry sync saw.
type Push struct {
	Tag TagRef
	// Images are every snapshot to record (a list's children first); the
	// last one is the image the tag points to.
	Images []ImageSnapshot
	// PullSpec is registry/repository@digest.
	PullSpec string
	// At is when the registry took the push (the event's timestamp); zero
	// means now. It orders pushes: see RecordPush.
	At time.Time
}

// PushResult says what RecordPush did.
type PushResult struct {
	Changed bool   // a history entry was added
	Current bool   // the pushed image is the tag's current image now
	Before  string // the digest that was current before, "none" when none
	Image   string // the pushed digest
	// Referrer is the subject's digest when the push was a referrer (a
	// cosign-scheme tag or a manifest with a subject): it was attached to
	// that image and no tag history changed.
	Referrer string
}

// RecordPush records a push into the tag's history, ordered by push time:
//
//   - the tag's current image is already that digest, or its history holds
//     that digest from the same or a later time (a redelivered event, or one
//     the registry sync saw first): nothing changes;
//   - the push is newer than the current entry: a new entry on top, created
//     at the push time, and alias tags follow;
//   - the push is older than the current entry (an event delivered late):
//     the entry goes into the history at its time, below the newer ones, so
//     the older image is recorded but never made current.
//
// A tag created by a push is a status tag (no spec), as in OpenShift's
// integrated registry; the stream and namespace are created when missing.
func (s *Store) RecordPush(ctx context.Context, p Push) (PushResult, error) {
	if err := p.Tag.Validate(); err != nil {
		return PushResult{}, err
	}
	if len(p.Images) == 0 {
		return PushResult{}, invalidf("a push of %s names no image", p.Tag)
	}
	for _, img := range p.Images {
		if err := s.validateImage(img); err != nil {
			return PushResult{}, err
		}
	}
	if err := ValidatePullSpec(p.PullSpec); err != nil {
		return PushResult{}, err
	}
	var res PushResult
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		res, err = tx.recordPush(ctx, p)
		return err
	})
	return res, err
}

func (s *Store) recordPush(ctx context.Context, p Push) (PushResult, error) {
	img := p.Images[len(p.Images)-1]
	res := PushResult{Before: "none", Image: img.Digest}
	// A signature, SBOM or attestation is attached to its subject, never
	// put in a tag's history (it would count as a revision).
	if subject, _, ok := CosignTag(p.Tag.Tag); ok || img.Subject != "" {
		r := Referrer{Subject: subject, Images: p.Images, Via: ViaTagScheme, Repository: p.Tag.Namespace + "/" + p.Tag.Stream, Tag: p.Tag.Tag}
		if !ok {
			r.Subject, r.Via, r.Tag = img.Subject, ViaSubject, ""
		}
		var err error
		res.Referrer = r.Subject
		res.Changed, err = s.recordReferrer(ctx, r, SizeManaged)
		return res, err
	}
	for _, im := range p.Images {
		if _, err := s.putImage(ctx, im, SizeManaged); err != nil {
			return res, err
		}
	}
	ids, err := s.ensureImages(ctx, []string{img.Digest})
	if err != nil {
		return res, err
	}
	id := ids[img.Digest]
	st, _, err := s.ensureStream(ctx, StreamRef{p.Tag.Namespace, p.Tag.Stream})
	if err != nil {
		return res, err
	}
	db := s.conn(ctx)
	if repo, _, ok := strings.Cut(p.PullSpec, "@"); ok && st.PullSpec == "" {
		// The registry's repository is the stream's status.dockerImageRepository,
		// as OpenShift's integrated registry sets it (`get is`, `describe is`).
		if err := db.Model(&ImageStream{}).Where("id = ?", st.ID).Update("pull_spec", repo).Error; err != nil {
			return res, fmt.Errorf("record the repository of %s: %w", p.Tag, err)
		}
	}
	var t Tag
	err = db.Where("stream_id = ? AND name = ?", st.ID, p.Tag.Tag).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		t = Tag{StreamID: st.ID, Name: p.Tag.Tag}
		err = db.Create(&t).Error
	}
	if err != nil {
		return res, fmt.Errorf("look up tag %s: %w", p.Tag, err)
	}
	hist, err := s.tagHistory(ctx, t.ID)
	if err != nil {
		return res, err
	}
	at := p.At.UTC().Truncate(time.Microsecond) // what PostgreSQL keeps
	if p.At.IsZero() {
		at = s.now()
	}
	if len(hist) > 0 {
		res.Before = hist[0].Image
		if hist[0].Image == img.Digest {
			res.Current = true
			return res, nil
		}
	}
	for _, e := range hist {
		if e.Image == img.Digest && !e.Created.Before(at) {
			return res, nil
		}
	}
	pos := 0
	for pos < len(hist) && hist[pos].Created.After(at) {
		pos++
	}
	gen := t.entryGeneration(st)
	if err := db.Exec(`UPDATE tag_events SET position = position + 1 WHERE tag_id = ? AND position >= ?`, t.ID, pos).Error; err != nil {
		return res, fmt.Errorf("update history of %s: %w", p.Tag, err)
	}
	ev := TagEvent{TagID: t.ID, Position: pos, Created: at, DockerImageReference: p.PullSpec, ImageID: &id, Generation: gen}
	if err := db.Create(&ev).Error; err != nil {
		return res, fmt.Errorf("update history of %s: %w", p.Tag, err)
	}
	res.Changed = true
	if pos == 0 {
		res.Current = true
		next := current{ImageID: &id, Digest: img.Digest, Ref: p.PullSpec}
		if err := s.followAliases(ctx, st, p.Tag.Tag, next, gen); err != nil {
			return res, err
		}
	}
	return res, nil
}

// RemoveImageFromStream removes, from every tag of the stream, the history
// entries that hold digest (the registry deleted that manifest); a status
// tag left without history is removed too. It returns how many entries went.
// A missing stream or image is not an error: there is nothing to remove.
func (s *Store) RemoveImageFromStream(ctx context.Context, ref StreamRef, digest string) (int64, error) {
	if err := ref.Validate(); err != nil {
		return 0, err
	}
	if err := ValidateDigest(digest); err != nil {
		return 0, err
	}
	var n int64
	err := s.Tx(ctx, func(tx *Store) error {
		st, err := tx.findStream(ctx, ref)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		db := tx.conn(ctx)
		var tagIDs []int64
		err = db.Table("tag_events e").Distinct("e.tag_id").Joins("JOIN tags t ON t.id = e.tag_id").
			Joins("JOIN images i ON i.id = e.image_id").Where("t.stream_id = ? AND i.digest = ?", st.ID, digest).
			Pluck("e.tag_id", &tagIDs).Error
		if err != nil || len(tagIDs) == 0 {
			return err
		}
		imgIDs := db.Model(&Image{}).Select("id").Where("digest = ?", digest)
		for i := 0; i < len(tagIDs); i += 500 {
			chunk := tagIDs[i:min(i+500, len(tagIDs))]
			del := db.Where("tag_id IN ? AND image_id IN (?)", chunk, imgIDs).Delete(&TagEvent{})
			if del.Error != nil {
				return fmt.Errorf("remove %s from %s: %w", digest, ref, del.Error)
			}
			n += del.RowsAffected
			if err := tx.renumber(ctx, chunk); err != nil {
				return fmt.Errorf("remove %s from %s: %w", digest, ref, err)
			}
		}
		return nil
	})
	return n, err
}

// renumber makes the history positions of tags (at most 500) 0, 1, 2…
// again after entries were removed, and removes status-only tags left
// without history.
func (s *Store) renumber(ctx context.Context, tagIDs []int64) error {
	db := s.conn(ctx)
	var rows []TagEvent
	if err := db.Select("id, tag_id, position").Where("tag_id IN ?", tagIDs).Order("tag_id, position").Find(&rows).Error; err != nil {
		return err
	}
	left := map[int64]int{}
	for _, r := range rows {
		want := left[r.TagID]
		left[r.TagID]++
		if r.Position == want {
			continue
		}
		if err := db.Model(&TagEvent{}).Where("id = ?", r.ID).Update("position", want).Error; err != nil {
			return err
		}
	}
	var empty []int64
	for _, id := range tagIDs {
		if left[id] == 0 {
			empty = append(empty, id)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	return db.Where("id IN ? AND NOT in_spec", empty).Delete(&Tag{}).Error
}

// CurrentDigests maps every tag with history to the digest of its current
// image ("" for a reference-only entry), in one query.
func (s *Store) CurrentDigests(ctx context.Context) (map[TagRef]string, error) {
	var rows []struct {
		Namespace, Stream, Tag string
		Digest                 *string
	}
	err := s.conn(ctx).Table("tag_events e").
		Select("n.name AS namespace, s.name AS stream, t.name AS tag, i.digest").
		Joins("JOIN tags t ON t.id = e.tag_id").Joins("JOIN image_streams s ON s.id = t.stream_id").
		Joins("JOIN namespaces n ON n.id = s.namespace_id").Joins("LEFT JOIN images i ON i.id = e.image_id").
		Where("e.position = 0").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read current images: %w", err)
	}
	out := make(map[TagRef]string, len(rows))
	for _, r := range rows {
		d := ""
		if r.Digest != nil {
			d = *r.Digest
		}
		out[TagRef{r.Namespace, r.Stream, r.Tag}] = d
	}
	return out, nil
}
