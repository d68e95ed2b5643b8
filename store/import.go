package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// RecordImport records a successful import of the external image from into
// dst, creating the stream (and namespace) when missing: the tag's spec
// becomes DockerImage from — the reference as the user gave it, by tag or
// by digest — with opt's scheduled, insecure, reference policy and import
// mode; img (what the registry holds, for a manifest list in Legacy mode the
// chosen platform's image) is recorded, and a history entry with pullSpec
// (registry/repository@digest) is prepended unless the tag already points
// at img.Digest; alias tags that track dst follow; the ImportSuccess
// condition becomes True.
func (s *Store) RecordImport(ctx context.Context, dst TagRef, from string, opt TagOptions, img ImageSnapshot, pullSpec string) (TagResult, error) {
	src := Source{Kind: KindDockerImage, Ref: from}
	if opt.Alias || opt.Reference {
		return TagResult{}, invalidf("an imported tag is neither an alias nor a reference tag")
	}
	if err := validateSet(src, dst, opt); err != nil {
		return TagResult{}, err
	}
	if err := s.validateImage(img); err != nil {
		return TagResult{}, err
	}
	if err := ValidatePullSpec(pullSpec); err != nil {
		return TagResult{}, err
	}
	var res TagResult
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		res, err = tx.recordImport(ctx, dst, from, opt, img, pullSpec)
		return err
	})
	return res, err
}

func (s *Store) recordImport(ctx context.Context, dst TagRef, from string, opt TagOptions, img ImageSnapshot, pullSpec string) (TagResult, error) {
	res := TagResult{Tag: dst, Spec: from}
	if _, err := s.putImage(ctx, img, SizeImported); err != nil {
		return res, err
	}
	ids, err := s.ensureImages(ctx, []string{img.Digest})
	if err != nil {
		return res, err
	}
	id := ids[img.Digest]
	st, _, err := s.ensureStream(ctx, StreamRef{dst.Namespace, dst.Stream})
	if err != nil {
		return res, err
	}
	db := s.conn(ctx)
	var t Tag
	err = db.Where("stream_id = ? AND name = ?", st.ID, dst.Tag).Take(&t).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return res, fmt.Errorf("look up tag %s: %w", dst, err)
	}
	want := t
	want.StreamID, want.Name, want.InSpec = st.ID, dst.Tag, true
	want.FromKind, want.FromName, want.FromNamespace = KindDockerImage, from, ""
	want.Alias, want.Reference = false, false
	want.Scheduled, want.Insecure = opt.Scheduled, opt.Insecure
	want.ReferencePolicy = opt.ReferencePolicy
	if want.ReferencePolicy == "" {
		want.ReferencePolicy = "Source"
	}
	want.ImportMode = opt.ImportMode
	if want.ImportMode == "" {
		want.ImportMode = "Legacy"
	}
	res.SpecChanged = t.ID == 0 || !sameTagRow(want, t)
	if res.SpecChanged {
		// A spec change is a new generation of the stream, as in setTag.
		st.Generation++
		if err := db.Model(&ImageStream{}).Where("id = ?", st.ID).Update("generation", st.Generation).Error; err != nil {
			return res, fmt.Errorf("bump generation of %s/%s: %w", dst.Namespace, dst.Stream, err)
		}
		g := st.Generation
		want.Generation = &g
		if t.ID == 0 {
			err = db.Create(&want).Error
		} else {
			err = db.Select("*").Updates(&want).Error
		}
		if err != nil {
			return res, fmt.Errorf("write tag %s: %w", dst, err)
		}
	}
	gen := st.Generation
	if want.Generation != nil {
		gen = *want.Generation
	}
	next := current{ImageID: &id, Digest: img.Digest, Ref: pullSpec}
	changed, err := s.pushEvent(ctx, want.ID, next, gen)
	if err != nil {
		return res, fmt.Errorf("update history of %s: %w", dst, err)
	}
	if changed {
		if err := s.followAliases(ctx, st, dst.Tag, next, gen); err != nil {
			return res, err
		}
	}
	err = db.Model(&Tag{}).Where("id = ?", want.ID).Updates(map[string]any{
		"cond_status": "True", "cond_reason": "", "cond_message": "", "cond_time": s.now(), "cond_generation": gen,
	}).Error
	if err != nil {
		return res, fmt.Errorf("record the import condition of %s: %w", dst, err)
	}
	res.Changed = changed
	cur, err := s.currentOf(ctx, want.ID)
	if err != nil {
		return res, err
	}
	if cur != nil {
		res.Image, res.Ref = cur.Digest, cur.Ref
	}
	return res, nil
}
