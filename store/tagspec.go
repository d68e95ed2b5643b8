package store

import (
	"context"
	"errors"
)

// PutTagSpec sets one tag's spec (what an ImageStreamTag's `tag` says),
// creating the stream and the tag when missing; the tag's history stays,
// and so does its import condition unless t gives one. Putting the same
// spec again changes nothing.
func (s *Store) PutTagSpec(ctx context.Context, ns, stream string, t TagSnapshot) (bool, error) {
	ref := TagRef{Namespace: ns, Stream: stream, Tag: t.Name}
	if err := ref.Validate(); err != nil {
		return false, err
	}
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		snap, err := tx.getStream(ctx, StreamRef{ns, stream})
		if errors.Is(err, ErrNotFound) {
			snap, err = StreamSnapshot{Namespace: ns, Name: stream, Created: tx.now()}, nil
		}
		if err != nil {
			return err
		}
		i := 0
		for i < len(snap.Tags) && snap.Tags[i].Name != t.Name {
			i++
		}
		if i == len(snap.Tags) {
			snap.Tags = append(snap.Tags, TagSnapshot{Name: t.Name})
		}
		have := snap.Tags[i]
		t.InSpec, t.Items = true, have.Items
		if t.Condition == nil {
			t.Condition = have.Condition
		}
		snap.Tags[i] = t
		changed, err = tx.PutStream(ctx, snap)
		return err
	})
	return changed, err
}
