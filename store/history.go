package store

import (
	"context"
	"fmt"
	"time"
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

// current is a tag's newest history entry.
type current struct {
	ImageID *int64
	Digest  string
	Ref     string
}

// historyQuery says which history entries readHistory reads.
type historyQuery struct {
	tags    []int64 // the histories of these tags,
	streams []int64 // or of every tag of these streams;
	// window (nil: every entry) keeps the entries in it and each current
	// one; current keeps only the current entries.
	window  *HistoryWindow
	current bool
}

// readHistory is the one query of tag histories: the entries q asks for,
// with their images' digests, by tag and newest first (position 0, the
// current entry, first). It is one statement on the (tag_id, position)
// index whatever q asks: a page reads one window of a long history, not the
// history.
func (s *Store) readHistory(ctx context.Context, q historyQuery) ([]eventRow, error) {
	db := s.conn(ctx).Table("tag_events e").
		Select("e.tag_id, e.position, e.created, e.docker_image_reference, e.generation, e.image_id, i.digest")
	if q.streams != nil {
		db = db.Joins("JOIN tags t ON t.id = e.tag_id").Where("t.stream_id IN ?", q.streams)
	} else {
		db = db.Where("e.tag_id IN ?", q.tags)
	}
	db = db.Joins("LEFT JOIN images i ON i.id = e.image_id")
	switch {
	case q.current:
		db = db.Where("e.position = 0")
	case q.window != nil:
		db = db.Where("(e.position = 0 OR (e.position >= ? AND e.position < ?))", q.window.Offset, q.window.Offset+q.window.Limit)
	}
	var rows []eventRow
	if err := db.Order("e.tag_id, e.position").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read tag history: %w", err)
	}
	return rows, nil
}

// currentOf is the current entry of a tag (nil when its history is empty).
func (s *Store) currentOf(ctx context.Context, tagID int64) (*current, error) {
	rows, err := s.readHistory(ctx, historyQuery{tags: []int64{tagID}, current: true})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	c := &current{ImageID: rows[0].ImageID, Ref: rows[0].DockerImageReference}
	if rows[0].Digest != nil {
		c.Digest = *rows[0].Digest
	}
	return c, nil
}

// tagHistory is a tag's whole history, current entry first.
func (s *Store) tagHistory(ctx context.Context, tagID int64) ([]EventSnapshot, error) {
	rows, err := s.readHistory(ctx, historyQuery{tags: []int64{tagID}})
	return snapshots(rows), err
}

type eventRow struct {
	TagID                int64
	Position             int
	Created              time.Time
	DockerImageReference string
	Generation           int64
	ImageID              *int64
	Digest               *string
}

func (e eventRow) snapshot() EventSnapshot {
	ev := EventSnapshot{Created: e.Created.UTC(), DockerImageReference: e.DockerImageReference, Generation: e.Generation}
	if e.Digest != nil {
		ev.Image = *e.Digest
	}
	return ev
}

// streamEvents reads the histories of every tag of the given streams, by
// tag; w (nil: all) keeps the window and each current entry.
func (s *Store) streamEvents(ctx context.Context, w *HistoryWindow, streamIDs ...int64) (map[int64][]eventRow, error) {
	out := map[int64][]eventRow{}
	if len(streamIDs) == 0 {
		return out, nil
	}
	rows, err := s.readHistory(ctx, historyQuery{streams: streamIDs, window: w})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.TagID] = append(out[r.TagID], r)
	}
	return out, nil
}

func snapshots(rows []eventRow) []EventSnapshot {
	if rows == nil {
		return nil
	}
	out := make([]EventSnapshot, len(rows))
	for i, r := range rows {
		out[i] = r.snapshot()
	}
	return out
}
