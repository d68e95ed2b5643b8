package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ErrExists is wrapped when something to be created is already there.
var ErrExists = errors.New("already exists")

// ensureNamespace finds or creates a namespace.
func (s *Store) ensureNamespace(ctx context.Context, name string) (Namespace, error) {
	if err := ValidateNamespace(name); err != nil {
		return Namespace{}, err
	}
	db := s.conn(ctx)
	var ns Namespace
	err := db.Where("name = ?", name).Take(&ns).Error
	if err == nil {
		return ns, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return ns, fmt.Errorf("look up namespace %s: %w", name, err)
	}
	ns = Namespace{Name: name, CreatedAt: s.now()}
	if err := db.Create(&ns).Error; err != nil {
		return ns, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return ns, nil
}

// findStream loads a stream; ErrNotFound when it or its namespace is missing.
func (s *Store) findStream(ctx context.Context, ref StreamRef) (ImageStream, error) {
	var st ImageStream
	err := s.conn(ctx).Joins("JOIN namespaces ON namespaces.id = image_streams.namespace_id").
		Where("namespaces.name = ? AND image_streams.name = ?", ref.Namespace, ref.Stream).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return st, notFoundf("image stream %s not found", ref)
	}
	if err != nil {
		return st, fmt.Errorf("look up image stream %s: %w", ref, err)
	}
	return st, nil
}

// ensureStream finds or creates a stream (and its namespace).
func (s *Store) ensureStream(ctx context.Context, ref StreamRef) (ImageStream, bool, error) {
	if err := ref.Validate(); err != nil {
		return ImageStream{}, false, err
	}
	st, err := s.findStream(ctx, ref)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return st, false, err
	}
	ns, err := s.ensureNamespace(ctx, ref.Namespace)
	if err != nil {
		return st, false, err
	}
	st = ImageStream{NamespaceID: ns.ID, Name: ref.Stream, Created: s.now()}
	if err := s.conn(ctx).Create(&st).Error; err != nil {
		return st, false, fmt.Errorf("create image stream %s: %w", ref, err)
	}
	return st, true, nil
}

// CreateStream creates an empty image stream; it is an error if it exists.
func (s *Store) CreateStream(ctx context.Context, ref StreamRef) error {
	return s.Tx(ctx, func(tx *Store) error {
		_, created, err := tx.ensureStream(ctx, ref)
		if err != nil {
			return err
		}
		if !created {
			return existsf("image stream %s already exists", ref)
		}
		return nil
	})
}

// DeleteStream removes a stream with its tags and history. Images and blobs
// stay until prune.
func (s *Store) DeleteStream(ctx context.Context, ref StreamRef) error {
	return s.Tx(ctx, func(tx *Store) error {
		st, err := tx.findStream(ctx, ref)
		if err != nil {
			return err
		}
		db := tx.conn(ctx)
		if err := db.Exec(`DELETE FROM tag_events WHERE tag_id IN (SELECT id FROM tags WHERE stream_id = ?)`, st.ID).Error; err != nil {
			return fmt.Errorf("delete history of %s: %w", ref, err)
		}
		if err := db.Where("stream_id = ?", st.ID).Delete(&Tag{}).Error; err != nil {
			return fmt.Errorf("delete tags of %s: %w", ref, err)
		}
		if err := db.Delete(&ImageStream{}, st.ID).Error; err != nil {
			return fmt.Errorf("delete image stream %s: %w", ref, err)
		}
		return nil
	})
}

// The kinds of a tag source.
const (
	KindDockerImage      = "DockerImage"
	KindImageStreamTag   = "ImageStreamTag"
	KindImageStreamImage = "ImageStreamImage"
)

// isAlias tells whether a spec source is a tracking reference: an
// ImageStreamTag of the same stream (a bare "tag" or "stream:tag").
func isAlias(ns, stream string, from *ObjectRef) bool {
	if from == nil || from.Kind != KindImageStreamTag {
		return false
	}
	if from.Namespace != "" && from.Namespace != ns {
		return false
	}
	name, _, hasColon := strings.Cut(from.Name, ":")
	return !hasColon || name == stream
}

func tagRow(ns, stream string, t TagSnapshot) Tag {
	row := Tag{
		Name: t.Name, InSpec: t.InSpec, Annotations: mapJSON(t.Annotations),
		Scheduled: t.Scheduled, Insecure: t.Insecure, Reference: t.Reference,
		ReferencePolicy: t.ReferencePolicy, ImportMode: t.ImportMode, Generation: t.Generation,
	}
	if t.From != nil {
		row.FromKind, row.FromName, row.FromNamespace = t.From.Kind, t.From.Name, t.From.Namespace
		row.Alias = isAlias(ns, stream, t.From)
	}
	if c := t.Condition; c != nil {
		row.CondStatus, row.CondReason, row.CondMessage = c.Status, c.Reason, c.Message
		row.CondTime, row.CondGeneration = utcPtr(c.Time), c.Generation
	}
	return row
}

func sameTagRow(a, b Tag) bool {
	if !sameTimePtr(a.CondTime, b.CondTime) {
		return false
	}
	if (a.Generation == nil) != (b.Generation == nil) || (a.Generation != nil && *a.Generation != *b.Generation) {
		return false
	}
	a.ID, b.ID, a.StreamID, b.StreamID = 0, 0, 0, 0
	a.CondTime, b.CondTime, a.Generation, b.Generation = nil, nil, nil, nil
	a.Stream, b.Stream = nil, nil
	return a == b
}

// PutStream makes the stored stream exactly snap: its fields, its tags and
// their histories; tags not in snap are deleted. Unknown image digests get
// placeholders. Putting the same snapshot again changes nothing.
func (s *Store) PutStream(ctx context.Context, snap StreamSnapshot) (bool, error) {
	if err := snap.validate(); err != nil {
		return false, err
	}
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		changed, err = tx.putStream(ctx, snap)
		return err
	})
	return changed, err
}

func (s *Store) putStream(ctx context.Context, snap StreamSnapshot) (bool, error) {
	db := s.conn(ctx)
	ref := StreamRef{snap.Namespace, snap.Name}
	st, changed, err := s.ensureStream(ctx, ref)
	if err != nil {
		return false, err
	}
	want := st
	if !snap.Created.IsZero() {
		want.Created = utc(snap.Created)
	}
	want.Labels, want.Annotations = mapJSON(snap.Labels), mapJSON(snap.Annotations)
	want.DockerImageRepository, want.PullSpec, want.PublicPullSpec = snap.DockerImageRepository, snap.PullSpec, snap.PublicPullSpec
	want.LookupLocal, want.Generation = snap.LookupLocal, snap.Generation
	wantCmp, stCmp := want, st
	wantCmp.Created, stCmp.Created = time.Time{}, time.Time{}
	if wantCmp != stCmp || !want.Created.Equal(st.Created) {
		if err := db.Select("*").Updates(&want).Error; err != nil {
			return false, fmt.Errorf("update image stream %s: %w", ref, err)
		}
		changed = true
	}

	var digests []string
	for _, t := range snap.Tags {
		for _, it := range t.Items {
			digests = append(digests, it.Image)
		}
	}
	imageIDs, err := s.ensureImages(ctx, digests)
	if err != nil {
		return false, err
	}

	var tags []Tag
	if err := db.Where("stream_id = ?", st.ID).Order("id").Find(&tags).Error; err != nil {
		return false, fmt.Errorf("read tags of %s: %w", ref, err)
	}
	byName := map[string]Tag{}
	for _, t := range tags {
		byName[t.Name] = t
	}
	events, err := s.streamEvents(ctx, nil, st.ID)
	if err != nil {
		return false, err
	}
	keep := map[string]bool{}
	for _, ts := range snap.Tags {
		keep[ts.Name] = true
		row := tagRow(snap.Namespace, snap.Name, ts)
		row.StreamID = st.ID
		have, ok := byName[ts.Name]
		switch {
		case !ok:
			if err := db.Create(&row).Error; err != nil {
				return false, fmt.Errorf("create tag %s:%s: %w", ref, ts.Name, err)
			}
			changed = true
		case !sameTagRow(row, have):
			row.ID = have.ID
			if err := db.Select("*").Updates(&row).Error; err != nil {
				return false, fmt.Errorf("update tag %s:%s: %w", ref, ts.Name, err)
			}
			changed = true
		default:
			row.ID = have.ID
		}
		if sameEvents(snapshots(events[row.ID]), ts.Items) {
			continue
		}
		if err := db.Where("tag_id = ?", row.ID).Delete(&TagEvent{}).Error; err != nil {
			return false, fmt.Errorf("replace history of %s:%s: %w", ref, ts.Name, err)
		}
		rows := make([]TagEvent, len(ts.Items))
		for i, it := range ts.Items {
			rows[i] = TagEvent{TagID: row.ID, Position: i, Created: utc(it.Created),
				DockerImageReference: it.DockerImageReference, Generation: it.Generation}
			if it.Image != "" {
				id := imageIDs[it.Image]
				rows[i].ImageID = &id
			}
		}
		if len(rows) > 0 {
			if err := db.CreateInBatches(rows, 500).Error; err != nil {
				return false, fmt.Errorf("write history of %s:%s: %w", ref, ts.Name, err)
			}
		}
		changed = true
	}
	for _, t := range tags {
		if keep[t.Name] {
			continue
		}
		if err := s.deleteTagRow(ctx, t.ID); err != nil {
			return false, fmt.Errorf("delete tag %s:%s: %w", ref, t.Name, err)
		}
		changed = true
	}
	return changed, nil
}

func sameEvents(have []EventSnapshot, want []EventSnapshot) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range have {
		h, w := have[i], want[i]
		if !h.Created.Equal(w.Created) || h.DockerImageReference != w.DockerImageReference ||
			h.Image != w.Image || h.Generation != w.Generation {
			return false
		}
	}
	return true
}

func (s *Store) deleteTagRow(ctx context.Context, tagID int64) error {
	db := s.conn(ctx)
	if err := db.Where("tag_id = ?", tagID).Delete(&TagEvent{}).Error; err != nil {
		return err
	}
	return db.Delete(&Tag{}, tagID).Error
}

// GetStream returns one stream with its tags (in creation order) and histories.
func (s *Store) GetStream(ctx context.Context, ref StreamRef) (snap StreamSnapshot, err error) {
	err = s.Snapshot(ctx, func(s *Store) error {
		snap, err = s.getStream(ctx, ref)
		return err
	})
	return snap, err
}

func (s *Store) getStream(ctx context.Context, ref StreamRef) (StreamSnapshot, error) {
	st, err := s.findStream(ctx, ref)
	if err != nil {
		return StreamSnapshot{}, err
	}
	pages, err := s.loadStreams(ctx, []ImageStream{st}, map[int64]string{st.NamespaceID: ref.Namespace}, nil)
	if err != nil {
		return StreamSnapshot{}, err
	}
	return pages[0].StreamSnapshot, nil
}

// ListStreams returns every stream of a namespace ("" = all namespaces),
// ordered by namespace and name, in a fixed number of queries.
// One snapshot: streams, tags and histories agree (an export or `get is`
// never shows a tag whose history was written after its stream was read).
func (s *Store) ListStreams(ctx context.Context, ns string) (out []StreamSnapshot, err error) {
	var pages []StreamPage
	err = s.Snapshot(ctx, func(s *Store) error {
		pages, err = s.listStreams(ctx, ns, nil)
		return err
	})
	if err != nil || pages == nil {
		return nil, err
	}
	out = make([]StreamSnapshot, len(pages))
	for i, p := range pages {
		out[i] = p.StreamSnapshot
	}
	return out, nil
}

func (s *Store) listStreams(ctx context.Context, ns string, w *HistoryWindow) ([]StreamPage, error) {
	db := s.conn(ctx)
	var nss []Namespace
	q := db.Order("name")
	if ns != "" {
		q = q.Where("name = ?", ns)
	}
	if err := q.Find(&nss).Error; err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	if ns != "" && len(nss) == 0 {
		return nil, notFoundf("namespace %s not found", ns)
	}
	names := map[int64]string{}
	var ids []int64
	for _, n := range nss {
		names[n.ID] = n.Name
		ids = append(ids, n.ID)
	}
	var streams []ImageStream
	q = db.Table("image_streams").Joins("JOIN namespaces ON namespaces.id = image_streams.namespace_id").
		Order("namespaces.name, image_streams.name").Select("image_streams.*")
	if ns != "" {
		q = q.Where("image_streams.namespace_id IN ?", ids)
	}
	if err := q.Find(&streams).Error; err != nil {
		return nil, fmt.Errorf("list image streams: %w", err)
	}
	if len(streams) == 0 {
		return nil, nil
	}
	return s.loadStreams(ctx, streams, names, w)
}

// loadStreams reads the streams' tags and histories, through the window w
// when it is not nil.
func (s *Store) loadStreams(ctx context.Context, streams []ImageStream, nsNames map[int64]string, w *HistoryWindow) ([]StreamPage, error) {
	db := s.conn(ctx)
	ids := make([]int64, len(streams))
	for i, st := range streams {
		ids[i] = st.ID
	}
	var tags []Tag
	// In chunks, to stay well under SQLite's bound-parameter limit.
	events := map[int64][]eventRow{}
	totals := map[int64]int{}
	var err error
	for i := 0; i < len(ids) && err == nil; i += 500 {
		chunk := ids[i:min(i+500, len(ids))]
		var part []Tag
		if err = db.Where("stream_id IN ?", chunk).Order("stream_id, id").Find(&part).Error; err != nil {
			break
		}
		tags = append(tags, part...)
		var ev map[int64][]eventRow
		if ev, err = s.streamEvents(ctx, w, chunk...); err == nil {
			maps.Copy(events, ev)
		}
		if w != nil && err == nil {
			err = s.historyLengths(ctx, chunk, totals)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	byStream := map[int64][]Tag{}
	for _, t := range tags {
		byStream[t.StreamID] = append(byStream[t.StreamID], t)
	}
	out := make([]StreamPage, len(streams))
	for i, st := range streams {
		p := StreamPage{StreamSnapshot: StreamSnapshot{
			Namespace: nsNames[st.NamespaceID], Name: st.Name, Created: st.Created.UTC(),
			Labels: jsonMap(st.Labels), Annotations: jsonMap(st.Annotations),
			DockerImageRepository: st.DockerImageRepository, PullSpec: st.PullSpec, PublicPullSpec: st.PublicPullSpec,
			LookupLocal: st.LookupLocal, Generation: st.Generation,
		}, Current: map[string]EventSnapshot{}, Total: map[string]int{}}
		if w != nil {
			p.Window = *w
		}
		for _, t := range byStream[st.ID] {
			rows := events[t.ID]
			if len(rows) > 0 && rows[0].Position == 0 {
				p.Current[t.Name] = rows[0].snapshot()
			}
			p.Total[t.Name] = len(rows)
			if w != nil {
				p.Total[t.Name] = totals[t.ID]
				if w.Offset > 0 && len(rows) > 0 && rows[0].Position == 0 {
					rows = rows[1:] // the current entry, read beside the window
				}
			}
			p.Tags = append(p.Tags, tagSnapshot(t, snapshots(rows)))
		}
		out[i] = p
	}
	return out, nil
}

func tagSnapshot(t Tag, items []EventSnapshot) TagSnapshot {
	ts := TagSnapshot{Name: t.Name, InSpec: t.InSpec, Annotations: jsonMap(t.Annotations),
		Scheduled: t.Scheduled, Insecure: t.Insecure, Reference: t.Reference,
		ReferencePolicy: t.ReferencePolicy, ImportMode: t.ImportMode, Generation: t.Generation, Items: items}
	if t.FromKind != "" || t.FromName != "" {
		ts.From = &ObjectRef{Kind: t.FromKind, Name: t.FromName, Namespace: t.FromNamespace}
	}
	if t.CondStatus != "" {
		ts.Condition = &Condition{Type: "ImportSuccess", Status: t.CondStatus, Reason: t.CondReason,
			Message: t.CondMessage, Time: utcPtr(t.CondTime), Generation: t.CondGeneration}
	}
	return ts
}
