package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ImagePull is when an image was last pulled from a stream's repository,
// as the registry's pull notifications say; nothing else writes it (a sync
// or an import knows nothing of pulls and never invents one).
type ImagePull struct {
	StreamID   int64     `gorm:"primaryKey;autoIncrement:false"`
	ImageID    int64     `gorm:"primaryKey;autoIncrement:false;index"`
	LastPulled time.Time `gorm:"not null"`

	Stream *ImageStream `gorm:"constraint:OnDelete:CASCADE"`
	Image  *Image       `gorm:"constraint:OnDelete:CASCADE"`
}

// PullRecording is one row: the earliest pull recorded, i.e. since when
// pulls are known. Before that nothing is known of them.
type PullRecording struct {
	ID    int64     `gorm:"primaryKey;autoIncrement:false"`
	Since time.Time `gorm:"not null"`
}

func migrateRetention(tx *gorm.DB) error {
	return tx.AutoMigrate(&retentionRuleRow{}, &ImagePull{}, &PullRecording{})
}

// RetentionRules returns a namespace's rules in order.
func (s *Store) RetentionRules(ctx context.Context, ns string) ([]RetentionRule, error) {
	n, err := s.GetNamespace(ctx, ns)
	if err != nil {
		return nil, err
	}
	var rows []retentionRuleRow
	if err := s.conn(ctx).Where("namespace_id = ?", n.ID).Order("position").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read the retention rules of %s: %w", ns, err)
	}
	out := make([]RetentionRule, len(rows))
	for i, r := range rows {
		out[i] = r.rule()
	}
	return out, nil
}

// SetRetentionRules replaces a namespace's rules (an empty list removes
// them), creating the namespace if needed like SetNamespace; it returns
// the rules before. The same rules again write nothing.
func (s *Store) SetRetentionRules(ctx context.Context, ns string, rules []RetentionRule) (before []RetentionRule, err error) {
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	err = s.Tx(ctx, func(tx *Store) error {
		n, err := tx.ensureNamespace(ctx, ns)
		if err != nil {
			return err
		}
		if before, err = tx.RetentionRules(ctx, ns); err != nil {
			return err
		}
		if RulesText(before) == RulesText(rules) {
			return nil // the same rules: nothing to write
		}
		db := tx.conn(ctx)
		if err := db.Where("namespace_id = ?", n.ID).Delete(&retentionRuleRow{}).Error; err != nil {
			return err
		}
		if len(rules) == 0 {
			return nil
		}
		rows := make([]retentionRuleRow, len(rules))
		for i, r := range rules {
			rows[i] = r.row(n.ID, i)
		}
		return db.Create(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("set the retention rules of %s: %w", ns, err)
	}
	return before, nil
}

// namespaceRules reads the compiled rules of namespaces by ID.
func (s *Store) namespaceRules(ctx context.Context, ids []int64) (map[int64]ruleSet, error) {
	byNS := map[int64][]RetentionRule{}
	err := chunks(ids, chunk, func(part []int64) error {
		var rows []retentionRuleRow
		if err := s.conn(ctx).Where("namespace_id IN ?", part).Order("namespace_id, position").Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			byNS[r.NamespaceID] = append(byNS[r.NamespaceID], r.rule())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read retention rules: %w", err)
	}
	out := make(map[int64]ruleSet, len(byNS))
	for id, rr := range byNS {
		if out[id], err = compileRules(rr); err != nil {
			return nil, fmt.Errorf("namespace %d: %w", id, err)
		}
	}
	return out, nil
}

// PullTimes are the last pulls of images from one stream (image ID →
// unix seconds), with the platform images of the manifest lists involved.
type PullTimes struct {
	at       map[[2]int64]int64 // (stream, image)
	children map[int64][]int64
}

// last is when img (a manifest list: it or any of its platform images) was
// last pulled from stream; 0: never recorded.
func (p PullTimes) last(stream, img int64) int64 {
	t := p.at[[2]int64{stream, img}]
	for _, c := range p.children[img] {
		t = max(t, p.at[[2]int64{stream, c}])
	}
	return t
}

// readPulls reads the pull times of streams, and the platform images of
// imgs that are manifest lists.
func (s *Store) readPulls(ctx context.Context, streams, imgs []int64) (PullTimes, error) {
	p := PullTimes{at: map[[2]int64]int64{}, children: map[int64][]int64{}}
	if len(streams) == 0 {
		return p, nil
	}
	db := s.conn(ctx)
	err := chunks(streams, chunk, func(part []int64) error {
		return scanRows(db.Raw(`SELECT stream_id, image_id, `+s.epoch("last_pulled")+` FROM image_pulls WHERE stream_id IN ?`, part),
			func(sc func(...any) error) error {
				var st, img, at int64
				if err := sc(&st, &img, &at); err != nil {
					return err
				}
				p.at[[2]int64{st, img}] = at
				return nil
			})
	})
	if err != nil {
		return p, fmt.Errorf("read pull times: %w", err)
	}
	if len(p.at) == 0 {
		return p, nil
	}
	err = chunks(imgs, chunk, func(part []int64) error {
		return scanRows(db.Raw(`SELECT list_id, child_id FROM image_manifests WHERE list_id IN ? ORDER BY list_id, position`, part),
			func(sc func(...any) error) error {
				var list, child int64
				if err := sc(&list, &child); err != nil {
					return err
				}
				p.children[list] = append(p.children[list], child)
				return nil
			})
	})
	if err != nil {
		return p, fmt.Errorf("read manifest lists: %w", err)
	}
	return p, nil
}

// Pull is one pull the registry notified: an image pulled by digest from
// a stream's repository at a time.
type Pull struct {
	Stream StreamRef
	Digest string
	At     time.Time
}

// RecordPulls records each (stream, image)'s newest pull. It is
// idempotent and never moves a time back, so redelivered and late events
// change nothing; a pull of a stream or an image Layerwise does not know
// is dropped (it returns how many pairs it recorded). Times are whole
// seconds and never later than now (a registry clock ahead of this one
// would otherwise keep images for longer than any pull).
//
// It writes in its own transaction and on purpose not through Tx: pulls
// outnumber other writes a hundredfold, and a new data version drops every
// replica's cached pages. Nothing cached depends on pull times (pages read
// them live, plans and usage read them when computed).
func (s *Store) RecordPulls(ctx context.Context, pulls []Pull) (int, error) {
	if len(pulls) == 0 {
		return 0, nil
	}
	now := s.now()
	type key struct{ ns, stream, digest string }
	newest := map[key]time.Time{}
	var nss, streams, digests []string
	seenNS, seenStream, seenDigest := map[string]bool{}, map[string]bool{}, map[string]bool{}
	first := now
	for _, p := range pulls {
		at := p.At.UTC().Truncate(time.Second)
		if at.IsZero() || at.After(now) {
			at = now
		}
		first = minTime(first, at)
		k := key{p.Stream.Namespace, p.Stream.Stream, p.Digest}
		if t, ok := newest[k]; !ok || at.After(t) {
			newest[k] = at
		}
		if !seenNS[k.ns] {
			seenNS[k.ns] = true
			nss = append(nss, k.ns)
		}
		if !seenStream[k.stream] {
			seenStream[k.stream] = true
			streams = append(streams, k.stream)
		}
		if !seenDigest[k.digest] {
			seenDigest[k.digest] = true
			digests = append(digests, k.digest)
		}
	}
	n := 0
	err := s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		type streamRow struct {
			ID         int64
			Ns, Stream string
		}
		var srows []streamRow
		if err := db.Raw(`SELECT st.id, n.name AS ns, st.name AS stream FROM image_streams st JOIN namespaces n ON n.id = st.namespace_id
			WHERE n.name IN ? AND st.name IN ?`, nss, streams).Scan(&srows).Error; err != nil {
			return err
		}
		streamID := map[[2]string]int64{}
		for _, r := range srows {
			streamID[[2]string{r.Ns, r.Stream}] = r.ID
		}
		imageID := map[string]int64{}
		for i := 0; i < len(digests); i += chunk {
			var rows []Image
			if err := db.Select("id, digest").Where("digest IN ?", digests[i:min(i+chunk, len(digests))]).Find(&rows).Error; err != nil {
				return err
			}
			for _, r := range rows {
				imageID[r.Digest] = r.ID
			}
		}
		rows := make([]ImagePull, 0, len(newest))
		for k, at := range newest {
			st, img := streamID[[2]string{k.ns, k.stream}], imageID[k.digest]
			if st != 0 && img != 0 {
				rows = append(rows, ImagePull{StreamID: st, ImageID: img, LastPulled: at})
			}
		}
		if len(rows) == 0 {
			return nil
		}
		// A stable order: two replicas upserting the same rows lock them in
		// the same order.
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].StreamID != rows[j].StreamID {
				return rows[i].StreamID < rows[j].StreamID
			}
			return rows[i].ImageID < rows[j].ImageID
		})
		later := clause.OnConflict{Columns: []clause.Column{{Name: "stream_id"}, {Name: "image_id"}},
			DoUpdates: clause.Set{{Column: clause.Column{Name: "last_pulled"},
				Value: gorm.Expr("CASE WHEN excluded.last_pulled > image_pulls.last_pulled THEN excluded.last_pulled ELSE image_pulls.last_pulled END")}}}
		if err := db.Clauses(later).CreateInBatches(&rows, 300).Error; err != nil {
			return err
		}
		n = len(rows)
		earlier := clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.Set{{Column: clause.Column{Name: "since"},
			Value: gorm.Expr("CASE WHEN excluded.since < pull_recordings.since THEN excluded.since ELSE pull_recordings.since END")}}}
		return db.Clauses(earlier).Create(&PullRecording{ID: 1, Since: first}).Error
	})
	if err != nil {
		return 0, fmt.Errorf("record pulls: %w", err)
	}
	return n, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// PullsRecordedSince is when the first pull was recorded (zero: never).
func (s *Store) PullsRecordedSince(ctx context.Context) (time.Time, error) {
	var r PullRecording
	err := s.conn(ctx).Where("id = 1").Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, nil
	}
	return r.Since.UTC(), err
}

// StreamFacts is what the retention rule needs of one stream besides pull
// times, read together: pages may cache it until the data changes (pull
// times are read apart, live, by StreamPulls).
type StreamFacts struct {
	Namespace, Stream string
	// Policy is the namespace's effective policy; Rules its rules.
	Policy Policy
	Rules  []RetentionRule

	// Hold is set while a cluster's in-use read proves nothing.
	Hold *InUseHold

	rules    ruleSet
	streamID int64
	inUse    map[int64]InUse
	tags     []factTag
	digest   map[int64]string
	children map[int64][]int64
}

type factTag struct {
	name   string
	mask   uint64
	events []factEvent
}

type factEvent struct {
	position int
	created  int64
	image    int64
	pinned   bool
}

// StreamFacts reads a stream's history, its namespace's policy (def: the
// platform's), rules and pins, in one snapshot.
func (s *Store) StreamFacts(ctx context.Context, ref StreamRef, def Policy) (*StreamFacts, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	f := &StreamFacts{Namespace: ref.Namespace, Stream: ref.Stream, digest: map[int64]string{}, children: map[int64][]int64{}}
	err := s.Snapshot(ctx, func(s *Store) error {
		db := s.conn(ctx)
		n, err := s.GetNamespace(ctx, ref.Namespace)
		if err != nil {
			return err
		}
		f.Policy = n.PrunePolicy(def)
		if f.Rules, err = s.RetentionRules(ctx, ref.Namespace); err != nil {
			return err
		}
		if f.rules, err = compileRules(f.Rules); err != nil {
			return err
		}
		var st ImageStream
		err = db.Select("id").Where("namespace_id = ? AND name = ?", n.ID, ref.Stream).Take(&st).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return notFoundf("image stream %s not found", ref)
		}
		if err != nil {
			return err
		}
		f.streamID = st.ID
		var tags []Tag
		if err := db.Select("id, name").Where("stream_id = ?", st.ID).Find(&tags).Error; err != nil {
			return err
		}
		tagAt := map[int64]int{}
		for _, t := range tags {
			tagAt[t.ID] = len(f.tags)
			f.tags = append(f.tags, factTag{name: t.Name, mask: f.rules.match(t.Name)})
		}
		var imgs []int64
		err = scanRows(db.Raw(`SELECT e.tag_id, e.position, `+s.epoch("e.created")+`, COALESCE(e.image_id, 0) FROM tag_events e
			JOIN tags t ON t.id = e.tag_id WHERE t.stream_id = ? ORDER BY e.tag_id, e.position`, st.ID), func(sc func(...any) error) error {
			var tag, img int64
			var ev factEvent
			if err := sc(&tag, &ev.position, &ev.created, &img); err != nil {
				return err
			}
			ev.image = img
			if img != 0 {
				imgs = append(imgs, img)
			}
			if i, ok := tagAt[tag]; ok {
				f.tags[i].events = append(f.tags[i].events, ev)
			}
			return nil
		})
		if err != nil {
			return err
		}
		imgs = dedupe(imgs)
		if f.inUse, err = s.inUseOf(ctx, imgs); err != nil {
			return err
		}
		if f.Hold, err = s.PruneHold(ctx); err != nil {
			return err
		}
		pinned := map[int64]bool{}
		err = chunks(imgs, chunk, func(part []int64) error {
			var rows []Image
			if err := db.Select("id, digest").Where("id IN ?", part).Find(&rows).Error; err != nil {
				return err
			}
			for _, r := range rows {
				f.digest[r.ID] = r.Digest
			}
			var pins []int64
			if err := db.Model(&Pin{}).Where("namespace_id = ? AND image_id IN ?", n.ID, part).Pluck("image_id", &pins).Error; err != nil {
				return err
			}
			for _, id := range pins {
				pinned[id] = true
			}
			return scanRows(db.Raw(`SELECT list_id, child_id FROM image_manifests WHERE list_id IN ? ORDER BY list_id, position`, part),
				func(sc func(...any) error) error {
					var list, child int64
					if err := sc(&list, &child); err != nil {
						return err
					}
					f.children[list] = append(f.children[list], child)
					return nil
				})
		})
		if err != nil {
			return err
		}
		for ti := range f.tags {
			for ei := range f.tags[ti].events {
				ev := &f.tags[ti].events[ei]
				ev.pinned = ev.image != 0 && pinned[ev.image]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the retention facts of %s: %w", ref, err)
	}
	return f, nil
}

// StreamPulls reads the pull times of the stream of f (live: they are not
// part of the data version pages cache by).
func (s *Store) StreamPulls(ctx context.Context, f *StreamFacts) (PullTimes, error) {
	p, err := s.readPulls(ctx, []int64{f.streamID}, nil)
	p.children = f.children
	return p, err
}

// EntryRetention is the retention of one history entry of a tag.
type EntryRetention struct {
	Image      string // "" for an entry with no image
	Position   int
	LastPulled time.Time // zero: no pull recorded
	Retention  Retention
	// InUse are the workloads on the cluster that use the image (nil: none).
	InUse InUse
}

// Evaluate applies the retention rule at now to every history entry of
// the stream: by tag name, in history order (position 0 first).
func (f *StreamFacts) Evaluate(pulls PullTimes, now time.Time) map[string][]EntryRetention {
	out := make(map[string][]EntryRetention, len(f.tags))
	unix := now.Unix()
	for _, t := range f.tags {
		list := make([]EntryRetention, 0, len(t.events))
		for _, ev := range t.events {
			e := entryFacts{position: ev.position, created: ev.created, match: t.mask, pinned: ev.pinned,
				inUse: len(f.inUse[ev.image]) > 0, unproven: f.Hold != nil}
			var last int64
			if ev.image != 0 {
				last = pulls.last(f.streamID, ev.image)
			}
			if f.rules.usesPulls() {
				e.pulled = last
			}
			list = append(list, EntryRetention{Image: f.digest[ev.image], Position: ev.position, LastPulled: unixTime(last),
				Retention: f.rules.retain(e, f.Policy, unix), InUse: f.inUse[ev.image]})
		}
		out[t.name] = list
	}
	return out
}
