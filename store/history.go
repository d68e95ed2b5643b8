package store

import (
	"context"
	"fmt"
)

// Histories can be long (a CI that pushes every commit, an import of a
// cluster that never pruned): pages and API answers read them a window at
// a time.

// HistoryWindow is a page of every tag's history: the entries at positions
// Offset to Offset+Limit−1, newest first (position 0 is the current one).
type HistoryWindow struct {
	Offset, Limit int
}

// StreamPage is a stream whose tag histories were read through a window.
type StreamPage struct {
	StreamSnapshot // each tag's Items are its window of the history
	Window         HistoryWindow
	// Current is each tag's current entry, also when the window starts
	// later; a tag without history has none.
	Current map[string]EventSnapshot
	// Total is each tag's full history length.
	Total map[string]int
}

// More says whether some tag's history goes on past the window.
func (p StreamPage) More() bool {
	for _, n := range p.Total {
		if n > p.Window.Offset+p.Window.Limit {
			return true
		}
	}
	return false
}

// GetStreamPage is GetStream with every tag's history cut to w, read in
// one snapshot as GetStream is.
func (s *Store) GetStreamPage(ctx context.Context, ref StreamRef, w HistoryWindow) (p StreamPage, err error) {
	if err := w.validate(); err != nil {
		return p, err
	}
	err = s.Snapshot(ctx, func(s *Store) error {
		st, err := s.findStream(ctx, ref)
		if err != nil {
			return err
		}
		pages, err := s.loadStreams(ctx, []ImageStream{st}, map[int64]string{st.NamespaceID: ref.Namespace}, &w)
		if err == nil {
			p = pages[0]
		}
		return err
	})
	return p, err
}

// ListStreamPages is ListStreams with every tag's history cut to w.
func (s *Store) ListStreamPages(ctx context.Context, ns string, w HistoryWindow) (out []StreamPage, err error) {
	if err := w.validate(); err != nil {
		return nil, err
	}
	err = s.Snapshot(ctx, func(s *Store) error {
		out, err = s.listStreams(ctx, ns, &w)
		return err
	})
	return out, err
}

func (w HistoryWindow) validate() error {
	if w.Offset < 0 || w.Limit < 1 {
		return invalidf("a history window starts at 0 or later and holds at least one entry (got %d, %d)", w.Offset, w.Limit)
	}
	return nil
}

// historyLengths adds the history length of every tag of the streams to
// into, by tag ID.
func (s *Store) historyLengths(ctx context.Context, streamIDs []int64, into map[int64]int) error {
	var rows []struct {
		TagID int64
		N     int
	}
	err := s.conn(ctx).Table("tag_events e").Select("e.tag_id, COUNT(*) AS n").
		Joins("JOIN tags t ON t.id = e.tag_id").Where("t.stream_id IN ?", streamIDs).
		Group("e.tag_id").Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("count tag history: %w", err)
	}
	for _, r := range rows {
		into[r.TagID] = r.N
	}
	return nil
}
