package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"layerwise/panics"
)

// Reads of the stored usage figures (accounting_schema.go, usage_plan.go)
// in the public shapes the full pass (ComputeUsage) gives: every figure is
// an indexed read, so pages, the API, the CLI, e-mails and /metrics never
// recompute the registry. Bytes and exclusive bytes are as of the read;
// reclaimable and not-pulled bytes and the prunable marks are as of the
// stored plan (UsageHead.PlanComputedAt).

// UsageHead is the registry's stored figures.
type UsageHead struct {
	Registry RegistryUsage
	// PlanComputedAt is when the reclaimable figures were computed (zero:
	// no plan yet, and they read 0).
	PlanComputedAt time.Time
	// PullsRecordedSince is when the first pull was recorded (nil: never).
	PullsRecordedSince *time.Time
}

// ReadUsageHead reads the registry's figures.
func (s *Store) ReadUsageHead(ctx context.Context) (UsageHead, error) {
	var h UsageHead
	err := s.Snapshot(ctx, func(s *Store) error {
		var err error
		h, err = s.readUsageHead(ctx)
		return err
	})
	if err != nil {
		return UsageHead{}, fmt.Errorf("read registry usage: %w", err)
	}
	return h, nil
}

func (s *Store) readUsageHead(ctx context.Context) (UsageHead, error) {
	db := s.conn(ctx)
	var h UsageHead
	var reg []usageScope
	if err := db.Where("level = ? AND scope_id = 0", levelRegistry).Find(&reg).Error; err != nil {
		return h, err
	}
	if len(reg) == 1 {
		h.Registry.Bytes, h.Registry.Blobs = reg[0].Bytes, reg[0].Blobs
	}
	// Images held by some namespace (a list's platform images included)
	// whose layers were never read: the few unknown images
	// (ix_images_unknown), each looked up by image id (+level: not by the
	// level, which every namespace member shares).
	if err := db.Raw(`SELECT COUNT(*) FROM images i WHERE NOT i.known AND EXISTS (
		SELECT 1 FROM usage_members m WHERE m.image_id = i.id AND +m.level = ?)`, levelNamespace).
		Scan(&h.Registry.UnknownImages).Error; err != nil {
		return h, err
	}
	var plans []usagePlan
	if err := db.Find(&plans).Error; err != nil {
		return h, err
	}
	if len(plans) == 1 {
		h.PlanComputedAt, h.Registry.ReclaimableBytes = plans[0].ComputedAt.UTC(), plans[0].RegistryReclaimable
	}
	var since []int64
	if err := db.Raw(`SELECT ` + s.epoch("since") + ` FROM pull_recordings WHERE id = 1`).Scan(&since).Error; err != nil {
		return h, err
	}
	if len(since) == 1 && since[0] != 0 {
		t := time.Unix(since[0], 0).UTC()
		h.PullsRecordedSince = &t
	}
	return h, nil
}

// NamespaceFigures is a namespace's stored figures without its streams.
type NamespaceFigures struct {
	NamespaceUsage // Streams is nil
	ID             int64
	StreamCount    int
	// Threshold is the namespace's own threshold or the default the read
	// was given (0: none).
	Threshold int64
}

// Over says whether the namespace is at or over its threshold.
func (n NamespaceFigures) Over() bool { return n.Threshold > 0 && n.Bytes >= n.Threshold }

// NamespaceOrders are the orders NamespaceRanking sorts by: names A–Z, the
// figures biggest first, "threshold" by the share of it used; ties by name.
var NamespaceOrders = map[string]string{
	"name":        `x.name`,
	"size":        `x.bytes DESC, x.name`,
	"exclusive":   `x.exclusive_bytes DESC, x.name`,
	"reclaimable": `x.reclaimable_bytes DESC, x.name`,
	"threshold":   `CASE WHEN x.threshold > 0 THEN x.bytes * 1.0 / x.threshold ELSE -1 END DESC, x.name`,
	"streams":     `x.stream_count DESC, x.name`,
}

// NamespaceQuery selects and orders namespaces' figures.
type NamespaceQuery struct {
	Order string // a key of NamespaceOrders; "" is "name"
	// Only, when not nil, limits the read to these namespaces (what the
	// reader may see).
	Only             []string
	DefaultThreshold int64
	Offset, Limit    int // Limit 0: all
}

// NamespaceRanking is one page of namespaces with figures over all of them.
type NamespaceRanking struct {
	Rows    []NamespaceFigures
	Total   int   // namespaces selected
	Over    int   // of them at or over their threshold
	Biggest int64 // the biggest one's bytes
}

// ReadNamespaces reads namespaces' figures, ordered and paged in SQL.
func (s *Store) ReadNamespaces(ctx context.Context, q NamespaceQuery) (NamespaceRanking, error) {
	var out NamespaceRanking
	if q.Order == "" {
		q.Order = "name"
	}
	order, ok := NamespaceOrders[q.Order]
	if !ok {
		return out, invalidf("unknown namespace order %q", q.Order)
	}
	if q.Only != nil && len(q.Only) == 0 {
		return out, nil
	}
	order = strings.ReplaceAll(order, "x.name", s.byteOrder("x.name"))
	err := s.Snapshot(ctx, func(s *Store) error {
		db := s.conn(ctx)
		base := `SELECT n.id, n.name, COALESCE(u.bytes, 0) AS bytes, COALESCE(u.exclusive_bytes, 0) AS exclusive_bytes,
			COALESCE(p.reclaimable_bytes, 0) AS reclaimable_bytes, COALESCE(p.not_pulled_bytes, 0) AS not_pulled_bytes,
			(SELECT COUNT(*) FROM image_streams st WHERE st.namespace_id = n.id) AS stream_count,
			COALESCE(n.threshold_bytes, ?) AS threshold
			FROM namespaces n LEFT JOIN usage_scopes u ON u.level = 3 AND u.scope_id = n.id
			LEFT JOIN usage_plan_namespaces p ON p.namespace_id = n.id`
		args := []any{q.DefaultThreshold}
		if q.Only != nil {
			base += ` WHERE n.name IN ?`
			args = append(args, q.Only)
		}
		var agg struct {
			Total, Over int
			Biggest     int64
		}
		if err := db.Raw(`SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN threshold > 0 AND bytes >= threshold THEN 1 ELSE 0 END), 0) AS over,
			COALESCE(MAX(bytes), 0) AS biggest FROM (`+base+`) x`, args...).Scan(&agg).Error; err != nil {
			return err
		}
		out.Total, out.Over, out.Biggest = agg.Total, agg.Over, agg.Biggest
		query := `SELECT * FROM (` + base + `) x ORDER BY ` + order
		if q.Limit > 0 {
			query += fmt.Sprintf(` LIMIT %d OFFSET %d`, q.Limit, max(q.Offset, 0))
		}
		return scanRows(db.Raw(query, args...), func(sc func(...any) error) error {
			var f NamespaceFigures
			if err := sc(&f.ID, &f.Name, &f.Bytes, &f.ExclusiveBytes, &f.ReclaimableBytes, &f.NotPulledBytes,
				&f.StreamCount, &f.Threshold); err != nil {
				return err
			}
			out.Rows = append(out.Rows, f)
			return nil
		})
	})
	if err != nil {
		return NamespaceRanking{}, fmt.Errorf("read namespaces' usage: %w", err)
	}
	return out, nil
}

// byteOrder makes a text column sort by bytes, as Go compares strings,
// whatever the database's collation.
func (s *Store) byteOrder(col string) string {
	if s.postgres() {
		return col + ` COLLATE "C"`
	}
	return col
}

// ReadNamespaceUsage reads one namespace with its streams and their tags'
// figures, without the tags' revisions (the namespace page).
func (s *Store) ReadNamespaceUsage(ctx context.Context, name string) (NamespaceUsage, error) {
	return s.readOneNamespace(ctx, name, false)
}

// ReadNamespaceUsageFull reads one namespace as `usage NS -o json` shows
// it: streams, tags and every revision.
func (s *Store) ReadNamespaceUsageFull(ctx context.Context, name string) (NamespaceUsage, error) {
	return s.readOneNamespace(ctx, name, true)
}

func (s *Store) readOneNamespace(ctx context.Context, name string, revisions bool) (NamespaceUsage, error) {
	var out NamespaceUsage
	err := s.Snapshot(ctx, func(s *Store) error {
		nss, err := s.namespaceHeads(ctx, `WHERE n.name = ?`, name)
		if err != nil {
			return err
		}
		if len(nss) == 0 {
			return notFoundf("namespace %s not found", name)
		}
		full, err := s.assembleNamespaces(ctx, nss, revisions)
		if err != nil {
			return err
		}
		out = full[0]
		return nil
	})
	if err != nil {
		return NamespaceUsage{}, fmt.Errorf("read usage of namespace %s: %w", name, err)
	}
	return out, nil
}

// ReadStreamUsage reads one stream with its tags and their revisions.
func (s *Store) ReadStreamUsage(ctx context.Context, ref StreamRef) (StreamUsage, error) {
	var out StreamUsage
	err := s.Snapshot(ctx, func(s *Store) error {
		var ids []int64
		if err := s.conn(ctx).Raw(`SELECT st.id FROM image_streams st JOIN namespaces n ON n.id = st.namespace_id
			WHERE n.name = ? AND st.name = ?`, ref.Namespace, ref.Stream).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return notFoundf("image stream %s/%s not found", ref.Namespace, ref.Stream)
		}
		streams, err := s.readStreams(ctx, `st.id = ?`, []any{ids[0]}, true)
		if err != nil {
			return err
		}
		for _, sts := range streams {
			out = sts[0]
		}
		return nil
	})
	if err != nil {
		return StreamUsage{}, fmt.Errorf("read usage of stream %s/%s: %w", ref.Namespace, ref.Stream, err)
	}
	return out, nil
}

// streamBatch is how many namespaces EachNamespaceUsage reads at once: its
// memory is one batch's streams, tags and history, not the registry's.
const streamBatch = 128

// EachNamespaceUsage reads every namespace, sorted by name, with streams,
// tags and revisions, and hands each to fn as it is read: the whole
// registry in `usage -o json`'s shape in memory bounded by one batch of
// namespaces. Everything is read in one snapshot.
func (s *Store) EachNamespaceUsage(ctx context.Context, fn func(NamespaceUsage) error) error {
	return s.EachNamespaceUsageOf(ctx, nil, fn)
}

// EachNamespaceUsageOf is EachNamespaceUsage limited to the namespaces
// named in only (nil: all), as a reader who is no platform admin sees them.
// The next batch is read while fn handles the current one (fn writes JSON
// on the other core), so fn runs on another goroutine than the read and
// must not use the Store it was called on; at most two batches are in
// memory.
func (s *Store) EachNamespaceUsageOf(ctx context.Context, only []string, fn func(NamespaceUsage) error) error {
	err := s.Snapshot(ctx, func(s *Store) error {
		if s.postgres() {
			// The batch queries' estimated cost is past jit_above_cost, and
			// compiling them took longer than running them (a third of each
			// batch at 1x). For this read only (the snapshot's transaction).
			if err := s.conn(ctx).Exec(`SET LOCAL jit = off`).Error; err != nil {
				return err
			}
		}
		var heads []namespaceHead
		var err error
		switch {
		case only == nil:
			heads, err = s.namespaceHeads(ctx, ``)
		case len(only) > 0:
			heads, err = s.namespaceHeads(ctx, `WHERE n.name IN ?`, only)
		}
		if err != nil {
			return err
		}
		type batch struct {
			ns  []NamespaceUsage
			err error
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		batches := make(chan batch) // unbuffered: one batch read ahead, one handled
		// A panic while reading ahead (a bug, a row no check foresaw) is
		// this read's error, not the end of the process: no recover of a
		// request's handler reaches this goroutine.
		read := func(h []namespaceHead) (full []NamespaceUsage, err error) {
			defer panics.Recover(&err)
			return s.assembleNamespaces(rctx, h, true)
		}
		go func() {
			defer close(batches)
			for len(heads) > 0 {
				n := min(streamBatch, len(heads))
				full, err := read(heads[:n])
				heads = heads[n:]
				select {
				case batches <- batch{full, err}:
				case <-rctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
		// The reader is done with the snapshot's connection before Snapshot
		// ends it: every path below drains batches until it is closed.
		var failed error
		for b := range batches {
			if failed != nil {
				continue
			}
			if b.err != nil {
				failed = b.err
				continue
			}
			for i := range b.ns {
				if err := fn(b.ns[i]); err != nil {
					failed = err
					cancel()
					break
				}
				b.ns[i] = NamespaceUsage{} // let the batch go as it is written
			}
		}
		if failed == nil && ctx.Err() != nil {
			failed = ctx.Err()
		}
		return failed
	})
	if err != nil {
		return fmt.Errorf("read usage: %w", err)
	}
	return nil
}

// ReadUsage reads the whole registry into memory in ComputeUsage's shape
// (tests and small registries; EachNamespaceUsage streams it).
func (s *Store) ReadUsage(ctx context.Context) (*Usage, error) {
	u := &Usage{Namespaces: []NamespaceUsage{}}
	err := s.Snapshot(ctx, func(s *Store) error {
		h, err := s.readUsageHead(ctx)
		if err != nil {
			return err
		}
		u.Registry, u.PullsRecordedSince, u.PlanComputedAt = h.Registry, h.PullsRecordedSince, h.PlanComputedAt
		u.ComputedAt = s.now()
		return s.EachNamespaceUsage(ctx, func(n NamespaceUsage) error {
			u.Namespaces = append(u.Namespaces, n)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

type namespaceHead struct {
	id  int64
	fig NamespaceUsage
}

// namespaceHeads reads namespaces' own figures, sorted by name.
func (s *Store) namespaceHeads(ctx context.Context, where string, args ...any) ([]namespaceHead, error) {
	var out []namespaceHead
	err := scanRows(s.conn(ctx).Raw(`SELECT n.id, n.name, COALESCE(u.bytes, 0), COALESCE(u.exclusive_bytes, 0),
		COALESCE(p.reclaimable_bytes, 0), COALESCE(p.not_pulled_bytes, 0)
		FROM namespaces n LEFT JOIN usage_scopes u ON u.level = 3 AND u.scope_id = n.id
		LEFT JOIN usage_plan_namespaces p ON p.namespace_id = n.id `+where, args...), func(sc func(...any) error) error {
		var h namespaceHead
		if err := sc(&h.id, &h.fig.Name, &h.fig.Bytes, &h.fig.ExclusiveBytes, &h.fig.ReclaimableBytes, &h.fig.NotPulledBytes); err != nil {
			return err
		}
		out = append(out, h)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].fig.Name < out[j].fig.Name })
	return out, err
}

// assembleNamespaces adds their streams to namespaces (three queries for
// the lot, four with revisions).
func (s *Store) assembleNamespaces(ctx context.Context, heads []namespaceHead, revisions bool) ([]NamespaceUsage, error) {
	ids := make([]int64, len(heads))
	for i, h := range heads {
		ids[i] = h.id
	}
	streams, err := s.readStreams(ctx, `st.namespace_id IN ?`, []any{ids}, revisions)
	if err != nil {
		return nil, err
	}
	out := make([]NamespaceUsage, len(heads))
	for i, h := range heads {
		out[i] = h.fig
		out[i].Streams = streams[h.id]
		if out[i].Streams == nil {
			out[i].Streams = []StreamUsage{}
		}
	}
	return out, nil
}

// readStreams reads the streams where says (on st, image_streams) with
// their tags' figures and, when revisions is set, their histories; by
// namespace id, each namespace's streams sorted by name.
func (s *Store) readStreams(ctx context.Context, where string, args []any, revisions bool) (map[int64][]StreamUsage, error) {
	db := s.conn(ctx)
	type stream struct {
		ns  int64
		fig StreamUsage
		// stamp of the images counted in UniqueImages
		tags []*tagRead
	}
	byID := map[int64]*stream{}
	var order []*stream
	err := scanRows(db.Raw(`SELECT st.id, st.namespace_id, st.name, COALESCE(u.bytes, 0), COALESCE(u.exclusive_bytes, 0)
		FROM image_streams st LEFT JOIN usage_scopes u ON u.level = 2 AND u.scope_id = st.id WHERE `+where, args...),
		func(sc func(...any) error) error {
			var id int64
			st := &stream{}
			if err := sc(&id, &st.ns, &st.fig.Name, &st.fig.Bytes, &st.fig.ExclusiveBytes); err != nil {
				return err
			}
			byID[id] = st
			order = append(order, st)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read streams: %w", err)
	}
	addTag := func(id, stID int64, t *tagRead) {
		if st := byID[stID]; st != nil {
			st.tags = append(st.tags, t)
		}
	}
	if revisions {
		if err := s.readTagHistories(ctx, where, args, addTag); err != nil {
			return nil, err
		}
		for _, st := range order {
			seen := map[string]bool{}
			for _, t := range st.tags {
				for _, r := range t.fig.Revisions {
					if r.Image != "" && !seen[r.Image] {
						seen[r.Image] = true
						st.fig.UniqueImages++
					}
					if r.Created.After(st.fig.Updated) {
						st.fig.Updated = r.Created
					}
				}
			}
		}
	} else {
		err = scanRows(db.Raw(`SELECT t.id, t.stream_id, t.name, COALESCE(u.bytes, 0), COALESCE(u.exclusive_bytes, 0)
			FROM tags t JOIN image_streams st ON st.id = t.stream_id LEFT JOIN usage_scopes u ON u.level = 1 AND u.scope_id = t.id
			WHERE `+where, args...), func(sc func(...any) error) error {
			var id, stID int64
			t := &tagRead{}
			if err := sc(&id, &stID, &t.fig.Name, &t.fig.Bytes, &t.fig.ExclusiveBytes); err != nil {
				return err
			}
			addTag(id, stID, t)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read tags: %w", err)
		}
		err = scanRows(db.Raw(`SELECT t.stream_id, COUNT(DISTINCT e.image_id), `+s.epoch("MAX(e.created)")+`
			FROM tag_events e JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
			WHERE `+where+` GROUP BY t.stream_id`, args...), func(sc func(...any) error) error {
			var stID, n, updated int64
			if err := sc(&stID, &n, &updated); err != nil {
				return err
			}
			if st := byID[stID]; st != nil {
				st.fig.UniqueImages = int(n)
				st.fig.Updated = time.Unix(updated, 0).UTC()
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read tag history: %w", err)
		}
	}
	out := map[int64][]StreamUsage{}
	sort.Slice(order, func(i, j int) bool { return order[i].fig.Name < order[j].fig.Name })
	for _, st := range order {
		sort.Slice(st.tags, func(i, j int) bool { return st.tags[i].fig.Name < st.tags[j].fig.Name })
		OrderTags(st.tags, func(t *tagRead) string { return t.fig.Name })
		st.fig.Tags = make([]TagUsage, len(st.tags))
		for i, t := range st.tags {
			t.sortRevisions()
			st.fig.Tags[i] = t.fig
		}
		out[st.ns] = append(out[st.ns], st.fig)
	}
	return out, nil
}

type tagRead struct {
	fig    TagUsage
	pos    []int   // the revisions' positions in the history
	images []int64 // the revisions' image ids until their digests are read; 0: none
}

// sortRevisions puts the revisions in history order (the database hands
// them in index order, which no SQL promised); none is [], not null, in
// JSON.
func (t *tagRead) sortRevisions() {
	if t.fig.Revisions == nil {
		t.fig.Revisions = []RevisionUsage{}
	}
	if !sort.IntsAreSorted(t.pos) {
		sort.Sort(byPosition{t})
	}
	t.pos = nil
}

type byPosition struct{ t *tagRead }

func (b byPosition) Len() int           { return len(b.t.pos) }
func (b byPosition) Less(i, j int) bool { return b.t.pos[i] < b.t.pos[j] }
func (b byPosition) Swap(i, j int) {
	b.t.pos[i], b.t.pos[j] = b.t.pos[j], b.t.pos[i]
	b.t.fig.Revisions[i], b.t.fig.Revisions[j] = b.t.fig.Revisions[j], b.t.fig.Revisions[i]
}

// readTagHistories reads the tags where says (on st, image_streams) with
// their figures and their histories: each entry's image counted once
// (usage_images) and whether the stored plan prunes it. One row a tag,
// its entries packed into one string (per-row driver overhead, not the
// database, was most of the cost of reading half a million entries one
// row each), then the images they name, each once, packed the same way.
// Texts are length-prefixed, so any digest or pull spec reads back as it
// was stored.
func (s *Store) readTagHistories(ctx context.Context, where string, args []any, add func(id, streamID int64, t *tagRead)) error {
	db := s.conn(ctx)
	// "code:created:image_id:len:ref" with code position*4 + prunable*2 +
	// has an image, and ref the pull spec of an entry with no image ("" for
	// one with).
	ref := `CASE WHEN e.image_id IS NULL THEN e.docker_image_reference ELSE '' END`
	entry := `(e.position * 4 + CASE WHEN pp.event_id IS NULL THEN 0 ELSE 2 END + CASE WHEN e.image_id IS NULL THEN 0 ELSE 1 END)
		|| ':' || ` + s.unixSeconds("e.created") + ` || ':' || COALESCE(e.image_id, 0) || ':' || ` + s.octets(ref) + ` || ':' || ` + ref
	q := `SELECT t.id, t.stream_id, t.name, COALESCE(u.bytes, 0), COALESCE(u.exclusive_bytes, 0),
		(SELECT ` + s.groupConcat(entry) + ` FROM tag_events e` + s.indexedBy("ix_tag_events_history") + ` LEFT JOIN usage_plan_prunable pp ON pp.event_id = e.id WHERE e.tag_id = t.id)
		FROM tags t JOIN image_streams st ON st.id = t.stream_id LEFT JOIN usage_scopes u ON u.level = 1 AND u.scope_id = t.id
		WHERE ` + where
	var ids []int64 // the images the entries name, with repeats
	var tags []*tagRead
	var raw sql.RawBytes
	var id, stID int64
	err := scanRows(db.Raw(q, args...), func(sc func(...any) error) error {
		t := &tagRead{}
		if err := sc(&id, &stID, &t.fig.Name, &t.fig.Bytes, &t.fig.ExclusiveBytes, &raw); err != nil {
			return err
		}
		n := 0
		if len(raw) > 0 {
			n = bytes.Count(raw, []byte{','}) + 1 // entries, or more when a pull spec has commas
		}
		t.fig.Revisions, t.pos, t.images = make([]RevisionUsage, 0, n), make([]int, 0, n), make([]int64, 0, n)
		err := parsePacked(raw, 3, func(v []int64, ref []byte, _ int) error {
			code := v[0]
			rev := RevisionUsage{Created: time.Unix(v[1], 0).UTC(), Current: code/4 == 0, Prunable: code&2 != 0}
			var image int64
			if code&1 != 0 {
				image = v[2]
				ids = append(ids, image)
			} else {
				rev.Reference = string(ref)
			}
			t.fig.Revisions = append(t.fig.Revisions, rev)
			t.pos, t.images = append(t.pos, int(code/4)), append(t.images, image)
			return nil
		})
		if err != nil {
			return fmt.Errorf("tag %d: %w", id, err)
		}
		tags = append(tags, t)
		add(id, stID, t)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read tag history: %w", err)
	}
	// Each image once, by id in order: "id:bytes:len:digest,...".
	slices.Sort(ids)
	ids = slices.Compact(ids)
	images := make(map[int64]imageRead, len(ids))
	var rawImages sql.RawBytes
	err = eachChunk(ids, imageChunk, func(part []int64) error {
		return scanRows(db.Raw(`SELECT `+s.groupConcat(`i.id || ':' || COALESCE(ui.bytes, 0) || ':' || `+s.octets("i.digest")+` || ':' || i.digest`)+`
			FROM images i`+s.indexedBy("ix_images_id_digest")+` LEFT JOIN usage_images ui ON ui.image_id = i.id WHERE i.id IN ?`, part),
			func(sc func(...any) error) error {
				if err := sc(&rawImages); err != nil {
					return err
				}
				all := string(rawImages) // the digests are substrings of it: one allocation a chunk
				return parsePacked(rawImages, 2, func(v []int64, digest []byte, at int) error {
					images[v[0]] = imageRead{digest: all[at : at+len(digest)], bytes: v[1]}
					return nil
				})
			})
	})
	if err != nil {
		return fmt.Errorf("read revision images: %w", err)
	}
	for _, t := range tags {
		for i, image := range t.images {
			if image != 0 {
				img := images[image]
				t.fig.Revisions[i].Image, t.fig.Revisions[i].Bytes = img.digest, img.bytes
			}
		}
		t.images = nil
	}
	return nil
}

// imageChunk is how many image ids one query looks up: well under both
// databases' limits on parameters.
const imageChunk = 8000

type imageRead struct {
	digest string
	bytes  int64
}

// unixSeconds is s.epoch(col): SQLite's unixepoch() is strftime('%s')'s
// figure (the same formula on the same parse) without the round trip
// through text, a tenth of the history read.
func (s *Store) unixSeconds(col string) string {
	if s.postgres() {
		return s.epoch(col)
	}
	return "COALESCE(unixepoch(" + col + "), 0)"
}

// indexedBy makes SQLite read a table through the narrow index
// 0018_usage_read_indexes made for the read: it would look rows up by
// rowid in the wide table instead, or pick the other index on
// (tag_id, position) because the history names a column (the pull spec)
// that only entries with no image need. PostgreSQL picks by cost.
func (s *Store) indexedBy(index string) string {
	if s.postgres() {
		return ""
	}
	return " INDEXED BY " + index
}

// octets is SQL for the length in bytes of a text.
func (s *Store) octets(expr string) string {
	if s.postgres() {
		return "octet_length(" + expr + ")"
	}
	return "length(CAST(" + expr + " AS BLOB))"
}

// parsePacked reads "n1:...:nk:len:text" entries joined by commas (the
// texts, length-prefixed, may hold anything) and hands each to fn with
// where its text starts in raw.
func parsePacked(raw []byte, k int, fn func(v []int64, text []byte, at int) error) error {
	var buf [4]int64
	v := buf[:k+1]
	for i := 0; i < len(raw); {
		for j := range v {
			n, next, ok := parseInt(raw, i)
			if !ok || next >= len(raw) || raw[next] != ':' {
				return fmt.Errorf("malformed list at byte %d", i)
			}
			v[j], i = n, next+1
		}
		l := v[k]
		if l < 0 || int64(len(raw)-i) < l {
			return fmt.Errorf("malformed list at byte %d", i)
		}
		at := i
		i += int(l)
		if i < len(raw) {
			if raw[i] != ',' {
				return fmt.Errorf("malformed list at byte %d", i)
			}
			i++
		}
		if err := fn(v[:k], raw[at:at+int(l)], at); err != nil {
			return err
		}
	}
	return nil
}

// parseInt reads a decimal integer at raw[i:]: its value, where it ends,
// whether there was one.
func parseInt(raw []byte, i int) (int64, int, bool) {
	neg := i < len(raw) && raw[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
		n = n*10 + int64(raw[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, i, i > start
}

// ReadBlobShares says, per blob digest, how many images, tags, streams and
// namespaces hold it (the layer views' "shared by"); digests of blobs no
// image lists are absent.
func (s *Store) ReadBlobShares(ctx context.Context, digests []string) (map[string]BlobShares, error) {
	out := map[string]BlobShares{}
	if len(digests) == 0 {
		return out, nil
	}
	err := s.Snapshot(ctx, func(s *Store) error {
		return eachChunk(digests, chunk, func(part []string) error {
			return scanRows(s.conn(ctx).Raw(`SELECT b.digest, COALESCE(u.tags, 0), COALESCE(u.streams, 0), COALESCE(u.namespaces, 0),
				(SELECT COUNT(DISTINCT ib.image_id) FROM image_blobs ib WHERE ib.blob_id = b.id)
				FROM blobs b LEFT JOIN usage_blobs u ON u.blob_id = b.id WHERE b.digest IN ?`, part), func(sc func(...any) error) error {
				var d string
				var sh BlobShares
				if err := sc(&d, &sh.Tags, &sh.Streams, &sh.Namespaces, &sh.Images); err != nil {
					return err
				}
				out[d] = sh
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read blob shares: %w", err)
	}
	return out, nil
}

// ReadImageBytes reads the counted-once size of images by digest (a
// revision's size: its own blobs and its platform images'); unknown
// digests are absent.
func (s *Store) ReadImageBytes(ctx context.Context, digests []string) (map[string]int64, error) {
	out := map[string]int64{}
	err := eachChunk(digests, chunk, func(part []string) error {
		return scanRows(s.conn(ctx).Raw(`SELECT i.digest, COALESCE(u.bytes, 0) FROM images i
			LEFT JOIN usage_images u ON u.image_id = i.id WHERE i.digest IN ?`, part), func(sc func(...any) error) error {
			var d string
			var n int64
			if err := sc(&d, &n); err != nil {
				return err
			}
			out[d] = n
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read image sizes: %w", err)
	}
	return out, nil
}

// ScopeName names a namespace (Stream ""), a stream (Tag "") or a tag.
type ScopeName struct {
	Namespace, Stream, Tag string
}

// ReadScopeBytes reads the stored bytes of namespaces, streams and tags by
// name (search results); missing scopes are absent.
func (s *Store) ReadScopeBytes(ctx context.Context, names []ScopeName) (map[ScopeName]int64, error) {
	out := map[ScopeName]int64{}
	var nss, streams, tags []ScopeName
	for _, n := range names {
		switch {
		case n.Stream == "":
			nss = append(nss, n)
		case n.Tag == "":
			streams = append(streams, n)
		default:
			tags = append(tags, n)
		}
	}
	read := func(db *gorm.DB, q string, args []any, key func(ns, st, tag string) ScopeName) error {
		return scanRows(db.Raw(q, args...), func(sc func(...any) error) error {
			var ns, st, tag string
			var b int64
			if err := sc(&ns, &st, &tag, &b); err != nil {
				return err
			}
			out[key(ns, st, tag)] = b
			return nil
		})
	}
	err := s.Snapshot(ctx, func(s *Store) error {
		db := s.conn(ctx)
		for _, n := range nss {
			if err := read(db, `SELECT n.name, '', '', COALESCE(u.bytes, 0) FROM namespaces n
				LEFT JOIN usage_scopes u ON u.level = 3 AND u.scope_id = n.id WHERE n.name = ?`, []any{n.Namespace},
				func(ns, _, _ string) ScopeName { return ScopeName{Namespace: ns} }); err != nil {
				return err
			}
		}
		for _, n := range streams {
			if err := read(db, `SELECT n.name, st.name, '', COALESCE(u.bytes, 0) FROM image_streams st JOIN namespaces n ON n.id = st.namespace_id
				LEFT JOIN usage_scopes u ON u.level = 2 AND u.scope_id = st.id WHERE n.name = ? AND st.name = ?`, []any{n.Namespace, n.Stream},
				func(ns, st, _ string) ScopeName { return ScopeName{Namespace: ns, Stream: st} }); err != nil {
				return err
			}
		}
		for _, n := range tags {
			if err := read(db, `SELECT n.name, st.name, t.name, COALESCE(u.bytes, 0) FROM tags t JOIN image_streams st ON st.id = t.stream_id
				JOIN namespaces n ON n.id = st.namespace_id LEFT JOIN usage_scopes u ON u.level = 1 AND u.scope_id = t.id
				WHERE n.name = ? AND st.name = ? AND t.name = ?`, []any{n.Namespace, n.Stream, n.Tag},
				func(ns, st, tag string) ScopeName { return ScopeName{Namespace: ns, Stream: st, Tag: tag} }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sizes: %w", err)
	}
	return out, nil
}

// eachChunk calls fn with xs in parts of at most n.
func eachChunk[T any](xs []T, n int, fn func([]T) error) error {
	for len(xs) > 0 {
		k := min(n, len(xs))
		if err := fn(xs[:k]); err != nil {
			return err
		}
		xs = xs[k:]
	}
	return nil
}

// PlanComputedAt is when the stored prune plan was computed (zero: none
// yet): the "as of" of reclaimable figures.
func (s *Store) PlanComputedAt(ctx context.Context) (time.Time, error) {
	var plans []usagePlan
	if err := s.conn(ctx).Select("id, computed_at").Find(&plans).Error; err != nil {
		return time.Time{}, fmt.Errorf("read the plan's time: %w", err)
	}
	if len(plans) == 0 {
		return time.Time{}, nil
	}
	return plans[0].ComputedAt.UTC(), nil
}

// ReadUsageSummary is the registry's figures with every namespace's (no
// streams), sorted by name: what the weekly digest, alerts, snapshots and
// /metrics read.
func (s *Store) ReadUsageSummary(ctx context.Context, defaultThreshold int64) (*Usage, []NamespaceFigures, error) {
	u := &Usage{Namespaces: []NamespaceUsage{}}
	var rows []NamespaceFigures
	err := s.Snapshot(ctx, func(s *Store) error {
		h, err := s.readUsageHead(ctx)
		if err != nil {
			return err
		}
		u.Registry, u.PullsRecordedSince, u.PlanComputedAt, u.ComputedAt = h.Registry, h.PullsRecordedSince, h.PlanComputedAt, s.now()
		r, err := s.ReadNamespaces(ctx, NamespaceQuery{Order: "name", DefaultThreshold: defaultThreshold})
		if err != nil {
			return err
		}
		rows = r.Rows
		for _, n := range rows {
			nu := n.NamespaceUsage
			nu.Streams = []StreamUsage{}
			u.Namespaces = append(u.Namespaces, nu)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read usage: %w", err)
	}
	return u, rows, nil
}
