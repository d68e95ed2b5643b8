package store

import (
	"context"
	"fmt"
)

// streamIDs maps stream references to row IDs (missing streams are left
// out), reading every stream of the given namespaces in one query.
func (s *Store) streamIDs(ctx context.Context, refs []StreamRef) (map[StreamRef]int64, error) {
	nsSet := map[string]bool{}
	var nss []string
	for _, r := range refs {
		if !nsSet[r.Namespace] {
			nsSet[r.Namespace] = true
			nss = append(nss, r.Namespace)
		}
	}
	want := map[StreamRef]bool{}
	for _, r := range refs {
		want[r] = true
	}
	out := map[StreamRef]int64{}
	for i := 0; i < len(nss); i += 500 {
		var rows []struct {
			ID                int64
			Namespace, Stream string
		}
		err := s.conn(ctx).Table("image_streams s").Select("s.id, n.name AS namespace, s.name AS stream").
			Joins("JOIN namespaces n ON n.id = s.namespace_id").Where("n.name IN ?", nss[i:min(i+500, len(nss))]).
			Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("look up image streams: %w", err)
		}
		for _, r := range rows {
			if ref := (StreamRef{r.Namespace, r.Stream}); want[ref] {
				out[ref] = r.ID
			}
		}
	}
	return out, nil
}

// SetStreamSource records where the streams are synced from ("" = made
// here); see ImageStream.Source.
func (s *Store) SetStreamSource(ctx context.Context, refs []StreamRef, source string) error {
	ids, err := s.streamIDs(ctx, refs)
	if err != nil {
		return err
	}
	list := make([]int64, 0, len(ids))
	for _, id := range ids {
		list = append(list, id)
	}
	for i := 0; i < len(list); i += 500 {
		err := s.conn(ctx).Model(&ImageStream{}).Where("id IN ? AND source <> ?", list[i:min(i+500, len(list))], source).
			Update("source", source).Error
		if err != nil {
			return fmt.Errorf("record the source of image streams: %w", err)
		}
	}
	return nil
}

// StreamsFromSource lists the streams synced from source, by namespace and name.
func (s *Store) StreamsFromSource(ctx context.Context, source string) ([]StreamRef, error) {
	var rows []struct{ Namespace, Stream string }
	err := s.conn(ctx).Table("image_streams s").Select("n.name AS namespace, s.name AS stream").
		Joins("JOIN namespaces n ON n.id = s.namespace_id").Where("s.source = ?", source).
		Order("n.name, s.name").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list image streams synced from %s: %w", source, err)
	}
	out := make([]StreamRef, len(rows))
	for i, r := range rows {
		out[i] = StreamRef{r.Namespace, r.Stream}
	}
	return out, nil
}

// DeleteStreams removes streams with their tags and history, set-based;
// images and blobs stay until prune. Missing streams are skipped. It
// returns how many streams were removed.
func (s *Store) DeleteStreams(ctx context.Context, refs []StreamRef) (int, error) {
	n := 0
	err := s.Tx(ctx, func(tx *Store) error {
		ids, err := tx.streamIDs(ctx, refs)
		if err != nil {
			return err
		}
		list := make([]int64, 0, len(ids))
		for _, id := range ids {
			list = append(list, id)
		}
		db := tx.conn(ctx)
		for i := 0; i < len(list); i += 500 {
			chunk := list[i:min(i+500, len(list))]
			tags := db.Model(&Tag{}).Select("id").Where("stream_id IN ?", chunk)
			if err := db.Where("tag_id IN (?)", tags).Delete(&TagEvent{}).Error; err != nil {
				return fmt.Errorf("delete history: %w", err)
			}
			if err := db.Where("stream_id IN ?", chunk).Delete(&Tag{}).Error; err != nil {
				return fmt.Errorf("delete tags: %w", err)
			}
			if err := db.Where("id IN ?", chunk).Delete(&ImageStream{}).Error; err != nil {
				return fmt.Errorf("delete image streams: %w", err)
			}
		}
		n = len(list)
		return nil
	})
	return n, err
}
