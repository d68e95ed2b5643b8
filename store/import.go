package store

import (
	"context"
	"fmt"
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
	t, err := s.tagOf(ctx, st.ID, dst)
	if err != nil {
		return res, err
	}
	fromRef := ObjectRef{Kind: KindDockerImage, Name: from}
	t, res.SpecChanged, err = s.writeTagSpec(ctx, dst, &st, t, t.withSpec(st.ID, dst.Tag, fromRef, opt))
	if err != nil {
		return res, err
	}
	if res.Changed, err = s.moveTag(ctx, dst, st, t, current{ImageID: &id, Digest: img.Digest, Ref: pullSpec}); err != nil {
		return res, err
	}
	err = s.conn(ctx).Model(&Tag{}).Where("id = ?", t.ID).Updates(map[string]any{
		"cond_status": "True", "cond_reason": "", "cond_message": "", "cond_time": s.now(), "cond_generation": t.entryGeneration(st),
	}).Error
	if err != nil {
		return res, fmt.Errorf("record the import condition of %s: %w", dst, err)
	}
	return s.withCurrent(ctx, res, t.ID)
}
