package store

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// settleUsage brings the accounting tables (accounting_schema.go) up to date
// with what the transaction wrote, as noted by the triggers. It runs at the
// end of the outermost Store.Tx, under the writer lock, so one settlement
// sees every change of its transaction and none of another's.
//
// The order matters and keeps it exact: blob-link changes of an image are
// applied to the scopes that held the image before this transaction;
// membership changes then add or remove the image's links as they are now.
// An image that gains links and enters a tag in the same transaction is thus
// counted once, and one deleted with its last history entry leaves nothing.
//
// Each step reads and writes its rows a set at a time — one statement per
// chunk of keys, sorted so two writers lock rows in the same order — as
// statements, not rows, are what a settlement costs (a round trip each on
// PostgreSQL).
func (s *Store) settleUsage(ctx context.Context) error {
	db := s.conn(ctx)
	var pending int64
	if err := db.Raw(`SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM usage_dirty LIMIT 1) a) +
		(SELECT COUNT(*) FROM (SELECT 1 FROM usage_blob_deltas LIMIT 1) b)`).Scan(&pending).Error; err != nil {
		return fmt.Errorf("usage accounting: %w", err)
	}
	if pending == 0 {
		return nil
	}
	a := &settlement{db: db, pg: s.postgres(), scopes: map[scopeKey]*scopeDelta{}, blobDelta: map[int16]map[sbKey]int64{},
		images: map[int64]bool{}, parents: map[scopeKey]int64{}}
	for _, step := range []func() error{a.sizes, a.links, a.tags, a.blobs, a.imageBytes, a.write} {
		if err := step(); err != nil {
			return fmt.Errorf("usage accounting: %w", err)
		}
	}
	if err := db.Exec(`DELETE FROM usage_dirty`).Error; err != nil {
		return fmt.Errorf("usage accounting: %w", err)
	}
	if err := db.Exec(`DELETE FROM usage_blob_deltas`).Error; err != nil {
		return fmt.Errorf("usage accounting: %w", err)
	}
	return nil
}

type scopeKey struct {
	level int16
	id    int64
}

type sbKey struct{ scope, blob int64 }

type scopeDelta struct {
	bytes, exclusive, blobs int64
}

type settlement struct {
	db        *gorm.DB
	pg        bool // PostgreSQL (pairsIn)
	scopes    map[scopeKey]*scopeDelta
	blobDelta map[int16]map[sbKey]int64 // per level: (scope, blob) -> change of the link count
	images    map[int64]bool            // images whose own bytes may have changed
	// parents[{level, id}] is the parent of a scope touched (a tag's
	// stream, a stream's namespace).
	parents map[scopeKey]int64
}

func (a *settlement) scope(level int16, id int64) *scopeDelta {
	k := scopeKey{level, id}
	d := a.scopes[k]
	if d == nil {
		d = &scopeDelta{}
		a.scopes[k] = d
	}
	return d
}

func (a *settlement) addBlob(level int16, scope, blob, n int64) {
	m := a.blobDelta[level]
	if m == nil {
		m = map[sbKey]int64{}
		a.blobDelta[level] = m
	}
	m[sbKey{scope, blob}] += n
}

// sizes: a blob whose size changed moves every scope holding it by the
// difference (and its exclusive bytes where it is the only holder).
func (a *settlement) sizes() error {
	type row struct {
		ID, Old, New, Tags, Streams, Namespaces int64
	}
	var rows []row
	if err := a.db.Raw(`SELECT u.blob_id AS id, u.size AS old, b.size AS new, u.tags, u.streams, u.namespaces
		FROM usage_dirty d JOIN usage_blobs u ON u.blob_id = d.id JOIN blobs b ON b.id = d.id
		WHERE d.kind = ? AND u.size <> b.size`, dirtyBlob).Scan(&rows).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	byID := make(map[int64]*row, len(rows))
	ids := make([]int64, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
		ids[i] = rows[i].ID
	}
	return chunks(ids, chunk, func(part []int64) error {
		var held []struct {
			Level           int16
			ScopeID, BlobID int64
		}
		if err := a.db.Raw(`SELECT level, scope_id, blob_id FROM usage_scope_blobs WHERE level IN (1, 2, 3) AND blob_id IN ?`, part).Scan(&held).Error; err != nil {
			return err
		}
		for _, h := range held {
			r := byID[h.BlobID]
			holders := [4]int64{0, r.Tags, r.Streams, r.Namespaces}
			d := a.scope(h.Level, h.ScopeID)
			d.bytes += r.New - r.Old
			if holders[h.Level] == 1 {
				d.exclusive += r.New - r.Old
			}
		}
		for _, id := range part {
			if r := byID[id]; r.Namespaces > 0 {
				a.scope(levelRegistry, 0).bytes += r.New - r.Old
			}
		}
		// Every row exists (read above): this updates their sizes.
		if err := upsertRows(a.db, "INSERT INTO usage_blobs (blob_id, size, tags, streams, namespaces) VALUES ", 5, len(part),
			" ON CONFLICT (blob_id) DO UPDATE SET size = excluded.size", func(i int, args []any) []any {
				r := byID[part[i]]
				return append(args, r.ID, r.New, r.Tags, r.Streams, r.Namespaces)
			}); err != nil {
			return err
		}
		var imgs []int64
		if err := a.db.Raw(`SELECT DISTINCT image_id FROM image_blobs WHERE blob_id IN ?`, part).Scan(&imgs).Error; err != nil {
			return err
		}
		for _, i := range imgs {
			a.images[i] = true
		}
		return nil
	})
}

// links: image_blobs rows added or removed, applied to the scopes that
// hold the image (membership as it was before this transaction).
func (a *settlement) links() error {
	type row struct{ ImageID, BlobID, D int64 }
	var rows []row
	if err := a.db.Raw(`SELECT image_id, blob_id, SUM(d) AS d FROM usage_blob_deltas
		GROUP BY image_id, blob_id HAVING SUM(d) <> 0`).Scan(&rows).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	byImage := map[int64][]row{}
	var ids []int64
	for _, r := range rows {
		if byImage[r.ImageID] == nil {
			ids = append(ids, r.ImageID)
		}
		byImage[r.ImageID] = append(byImage[r.ImageID], r)
		a.images[r.ImageID] = true
	}
	return chunks(ids, chunk, func(part []int64) error {
		var members []usageMember
		if err := a.db.Where("image_id IN ?", part).Find(&members).Error; err != nil {
			return err
		}
		for _, m := range members {
			for _, r := range byImage[m.ImageID] {
				a.addBlob(m.Level, m.ScopeID, r.BlobID, r.D)
			}
		}
		return nil
	})
}

// tags: the dirty tags' members recomputed from their histories and
// compared with the stored ones; an image entering or leaving a tag moves
// its links there and its membership one level up, and so on.
func (a *settlement) tags() error {
	var tags []int64
	// Tags whose history changed, and tags holding an image whose platform
	// images or referrers changed (directly or through what they hold).
	// The unary + keeps SQLite off the primary key's level prefix (every
	// tag member, 100 ms at 1x): it reads members by image.
	if err := a.db.Raw(`SELECT id FROM usage_dirty WHERE kind = ?
		UNION SELECT e.tag_id FROM tag_events e JOIN usage_dirty d ON d.kind = ? AND d.id = e.image_id
		UNION SELECT m.scope_id FROM usage_members m JOIN usage_dirty d ON d.kind = ? AND d.id = m.image_id WHERE +m.level = ?`,
		dirtyTag, dirtyList, dirtyList, levelTag).Scan(&tags).Error; err != nil {
		return err
	}
	var lists []int64
	if err := a.db.Raw(`SELECT id FROM usage_dirty WHERE kind = ?`, dirtyList).Scan(&lists).Error; err != nil {
		return err
	}
	for _, l := range lists {
		a.images[l] = true
	}
	if len(tags) == 0 {
		return nil
	}
	// Member changes per level: (scope, image) -> delta of its count.
	type mk struct{ scope, image int64 }
	next := map[mk]int64{}
	err := chunks(tags, chunk, func(part []int64) error {
		now := map[mk]int64{}
		type cnt struct{ TagID, ImageID, N int64 }
		var rows []cnt
		if err := a.db.Raw(expandWalk(!a.pg, `SELECT tag_id, image_id FROM tag_events WHERE tag_id IN ? AND image_id IS NOT NULL`)+
			` SELECT root AS tag_id, image_id, COUNT(*) AS n FROM x GROUP BY root, image_id`, part).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			now[mk{r.TagID, r.ImageID}] = r.N
		}
		var old []usageMember
		if err := a.db.Where("level = ? AND scope_id IN ?", levelTag, part).Find(&old).Error; err != nil {
			return err
		}
		for _, m := range old {
			k := mk{m.ScopeID, m.ImageID}
			next[k] += now[k] - m.N
			delete(now, k)
		}
		for k, n := range now {
			next[k] += n
		}
		return a.loadParents(levelTag, part)
	})
	if err != nil {
		return err
	}
	for level := int16(levelTag); level <= levelNamespace && len(next) > 0; level++ {
		up := map[mk]int64{}
		var entering []int64 // images whose links to add or remove
		type crossing struct {
			scope, image int64
			sign         int64
		}
		var crossed []crossing
		keys := make([]pair, 0, len(next))
		for k, d := range next {
			if d != 0 {
				keys = append(keys, pair{k.scope, k.image})
			}
		}
		sortPairs(keys)
		// The stored counts of the keys.
		old := map[mk]int64{}
		err := a.readPairs(`SELECT scope_id AS a, image_id AS b, n FROM usage_members WHERE level = ? AND (scope_id, image_id) IN `,
			level, keys, func(k pair, n int64) { old[mk{k.a, k.b}] = n })
		if err != nil {
			return err
		}
		if level == levelStream {
			var scopes []int64
			for _, k := range keys {
				scopes = append(scopes, k.a)
			}
			if err := a.loadParents(level, dedupe(scopes)); err != nil {
				return err
			}
		}
		var upserts []usageMember
		var deletes []pair
		for _, p := range keys {
			k := mk{p.a, p.b}
			o := old[k]
			n := o + next[k]
			if n < 0 {
				return fmt.Errorf("member count of image %d in scope %d/%d would go below zero", k.image, level, k.scope)
			}
			if n == 0 {
				deletes = append(deletes, p)
			} else {
				upserts = append(upserts, usageMember{Level: level, ScopeID: k.scope, ImageID: k.image, N: n})
			}
			if (o == 0) != (n == 0) {
				sign := int64(1)
				if n == 0 {
					sign = -1
				}
				crossed = append(crossed, crossing{k.scope, k.image, sign})
				entering = append(entering, k.image)
				if level < levelNamespace {
					up[mk{a.parents[scopeKey{level, k.scope}], k.image}] += sign
				}
			}
		}
		if err := upsertCounts(a.db, "usage_members", "image_id", level, len(upserts), func(i int) (int64, int64, int64) {
			return upserts[i].ScopeID, upserts[i].ImageID, upserts[i].N
		}); err != nil {
			return err
		}
		if err := a.deletePairs(`DELETE FROM usage_members WHERE level = ? AND (scope_id, image_id) IN `, level, deletes); err != nil {
			return err
		}
		// The crossing images' links, as they are now.
		mult := map[int64][][2]int64{}
		err = chunks(dedupe(entering), chunk, func(part []int64) error {
			var rows []struct{ ImageID, BlobID, N int64 }
			if err := a.db.Raw(`SELECT image_id, blob_id, COUNT(*) AS n FROM image_blobs WHERE image_id IN ? GROUP BY image_id, blob_id`, part).Scan(&rows).Error; err != nil {
				return err
			}
			for _, r := range rows {
				mult[r.ImageID] = append(mult[r.ImageID], [2]int64{r.BlobID, r.N})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range crossed {
			a.scope(level, c.scope) // the scope row exists even while it holds no blob
			for _, bn := range mult[c.image] {
				a.addBlob(level, c.scope, bn[0], c.sign*bn[1])
			}
		}
		next = map[mk]int64{}
		for k, d := range up {
			if d != 0 && k.scope != 0 {
				next[k] = d
			}
		}
	}
	return nil
}

// loadParents reads the parent of each scope of level (tag -> stream,
// stream -> namespace); a scope deleted in this transaction keeps the
// parent its usage_scopes row recorded.
func (a *settlement) loadParents(level int16, ids []int64) error {
	var q string
	switch level {
	case levelTag:
		q = `SELECT id, stream_id AS parent FROM tags WHERE id IN ?`
	case levelStream:
		q = `SELECT id, namespace_id AS parent FROM image_streams WHERE id IN ?`
	default:
		return nil
	}
	return chunks(ids, chunk, func(part []int64) error {
		var rows []struct{ ID, Parent int64 }
		if err := a.db.Raw(q, part).Scan(&rows).Error; err != nil {
			return err
		}
		found := map[int64]bool{}
		for _, r := range rows {
			a.parents[scopeKey{level, r.ID}] = r.Parent
			found[r.ID] = true
		}
		var missing []int64
		for _, id := range part {
			if !found[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		var recorded []struct{ ScopeID, ParentID int64 }
		if err := a.db.Raw(`SELECT scope_id, parent_id FROM usage_scopes WHERE level = ? AND scope_id IN ?`, level, missing).Scan(&recorded).Error; err != nil {
			return err
		}
		for _, r := range recorded {
			a.parents[scopeKey{level, r.ScopeID}] = r.ParentID
		}
		return nil
	})
}

// blobs applies the link-count changes per level: a count crossing 0 moves
// the scope's bytes; a blob's holder count crossing 1 moves the exclusive
// bytes of its sole holder, before and after.
func (a *settlement) blobs() error {
	for level := int16(levelTag); level <= levelNamespace; level++ {
		deltas := a.blobDelta[level]
		if len(deltas) == 0 {
			continue
		}
		if err := a.blobLevel(level, deltas); err != nil {
			return err
		}
	}
	return nil
}

func (a *settlement) blobLevel(level int16, deltas map[sbKey]int64) error {
	keys := make([]pair, 0, len(deltas))
	for k, d := range deltas {
		if d != 0 {
			keys = append(keys, pair{k.scope, k.blob})
		}
	}
	sortPairs(keys)
	old := map[sbKey]int64{}
	err := a.readPairs(`SELECT scope_id AS a, blob_id AS b, n FROM usage_scope_blobs WHERE level = ? AND (scope_id, blob_id) IN `,
		level, keys, func(k pair, n int64) { old[sbKey{k.a, k.b}] = n })
	if err != nil {
		return err
	}
	// Crossings per blob.
	type change struct {
		ups, downs []int64 // scopes gaining / losing the blob
	}
	changes := map[int64]*change{}
	var upserts []usageScopeBlob
	var deletes []pair
	for _, p := range keys {
		k := sbKey{p.a, p.b}
		o := old[k]
		n := o + deltas[k]
		if n < 0 {
			return fmt.Errorf("link count of blob %d in scope %d/%d would go below zero", k.blob, level, k.scope)
		}
		if n == 0 {
			deletes = append(deletes, p)
		} else {
			upserts = append(upserts, usageScopeBlob{Level: level, ScopeID: k.scope, BlobID: k.blob, N: n})
		}
		if (o == 0) == (n == 0) {
			continue
		}
		c := changes[k.blob]
		if c == nil {
			c = &change{}
			changes[k.blob] = c
		}
		if n > 0 {
			c.ups = append(c.ups, k.scope)
		} else {
			c.downs = append(c.downs, k.scope)
		}
	}
	if len(changes) > 0 {
		if err := a.holders(level, changes2(changes, func(c *change) ([]int64, []int64) { return c.ups, c.downs })); err != nil {
			return err
		}
	}
	if err := upsertCounts(a.db, "usage_scope_blobs", "blob_id", level, len(upserts), func(i int) (int64, int64, int64) {
		return upserts[i].ScopeID, upserts[i].BlobID, upserts[i].N
	}); err != nil {
		return err
	}
	return a.deletePairs(`DELETE FROM usage_scope_blobs WHERE level = ? AND (scope_id, blob_id) IN `, level, deletes)
}

type holderChange struct {
	blob       int64
	ups, downs []int64
}

func changes2[T any](m map[int64]T, f func(T) ([]int64, []int64)) []holderChange {
	out := make([]holderChange, 0, len(m))
	for b, c := range m {
		u, d := f(c)
		out = append(out, holderChange{blob: b, ups: u, downs: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].blob < out[j].blob })
	return out
}

// holders moves bytes and exclusive bytes for the blobs whose holders at
// level changed, and records the new holder counts. It reads the scope
// links as they were before this level's counts are written.
func (a *settlement) holders(level int16, changes []holderChange) error {
	ids := make([]int64, len(changes))
	for i, c := range changes {
		ids[i] = c.blob
	}
	type state struct {
		size    int64
		holders [4]int64
		known   bool
	}
	st := map[int64]*state{}
	err := chunks(ids, chunk, func(part []int64) error {
		var rows []usageBlob
		if err := a.db.Where("blob_id IN ?", part).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			st[r.BlobID] = &state{size: r.Size, holders: [4]int64{0, r.Tags, r.Streams, r.Namespaces}, known: true}
		}
		var missing []int64
		for _, id := range part {
			if st[id] == nil {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		var sizes []struct{ ID, Size int64 }
		if err := a.db.Raw(`SELECT id, size FROM blobs WHERE id IN ?`, missing).Scan(&sizes).Error; err != nil {
			return err
		}
		for _, r := range sizes {
			st[r.ID] = &state{size: r.Size}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The sole holder before and after, read only where one side has one.
	var lookup []int64
	for _, c := range changes {
		s := st[c.blob]
		if s == nil {
			return fmt.Errorf("blob %d is linked but neither in blobs nor in usage_blobs", c.blob)
		}
		// A blob held by nobody before needs no lookup: its holders
		// afterwards are the scopes gaining it.
		h := s.holders[level]
		if h == 1 || (h > 1 && h+int64(len(c.ups))-int64(len(c.downs)) == 1) {
			lookup = append(lookup, c.blob)
		}
	}
	holders := map[int64][]int64{}
	err = chunks(lookup, chunk, func(part []int64) error {
		var rows []struct{ BlobID, ScopeID int64 }
		if err := a.db.Raw(`SELECT blob_id, scope_id FROM usage_scope_blobs WHERE level = ? AND blob_id IN ?`, level, part).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			holders[r.BlobID] = append(holders[r.BlobID], r.ScopeID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var gone []int64
	var rows []usageBlob
	for _, c := range changes {
		s := st[c.blob]
		before := s.holders[level]
		after := before + int64(len(c.ups)) - int64(len(c.downs))
		if after < 0 {
			return fmt.Errorf("blob %d would have %d holders at level %d", c.blob, after, level)
		}
		if before == 1 {
			if hs := holders[c.blob]; len(hs) == 1 {
				a.scope(level, hs[0]).exclusive -= s.size
			}
		}
		for _, sc := range c.ups {
			d := a.scope(level, sc)
			d.bytes += s.size
			d.blobs++
		}
		for _, sc := range c.downs {
			d := a.scope(level, sc)
			d.bytes -= s.size
			d.blobs--
		}
		if after == 1 {
			set := map[int64]bool{}
			for _, h := range holders[c.blob] {
				set[h] = true
			}
			for _, h := range c.downs {
				delete(set, h)
			}
			for _, h := range c.ups {
				set[h] = true
			}
			for h := range set {
				a.scope(level, h).exclusive += s.size
			}
		}
		if level == levelNamespace && (before == 0) != (after == 0) {
			r := a.scope(levelRegistry, 0)
			if after > 0 {
				r.bytes += s.size
				r.blobs++
			} else {
				r.bytes -= s.size
				r.blobs--
			}
		}
		s.holders[level] = after
		if s.holders[1] == 0 && s.holders[2] == 0 && s.holders[3] == 0 {
			if s.known {
				gone = append(gone, c.blob)
			}
			s.known = false
			continue
		}
		row := usageBlob{BlobID: c.blob, Size: s.size}
		row.Tags, row.Streams, row.Namespaces = s.holders[1], s.holders[2], s.holders[3]
		rows = append(rows, row)
		s.known = true
	}
	// The new holder counts, one statement per chunk (changes are sorted
	// by blob): rows held by nobody any more go, the others are written
	// whole (a blob held for the first time gets its row).
	if err := chunks(gone, chunk, func(part []int64) error {
		return a.db.Exec(`DELETE FROM usage_blobs WHERE blob_id IN ?`, part).Error
	}); err != nil {
		return err
	}
	col := [4]string{"", "tags", "streams", "namespaces"}[level]
	if err := upsertRows(a.db, "INSERT INTO usage_blobs (blob_id, size, tags, streams, namespaces) VALUES ", 5, len(rows),
		" ON CONFLICT (blob_id) DO UPDATE SET "+col+" = excluded."+col, func(i int, args []any) []any {
			r := rows[i]
			return append(args, r.BlobID, r.Size, r.Tags, r.Streams, r.Namespaces)
		}); err != nil {
		return err
	}
	return nil
}

// imageBytes recomputes the counted-once bytes of the images whose links
// or platform images changed, and of the manifest lists holding them.
func (a *settlement) imageBytes() error {
	if len(a.images) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(a.images))
	for id := range a.images {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// The images holding them (lists, subjects), theirs in turn: the walk
	// is depth-bounded, so a few rounds reach every one.
	frontier := ids
	for round := 0; round <= 2*maxExpandDepth+1 && len(frontier) > 0; round++ {
		var found []int64
		err := chunks(frontier, chunk, func(part []int64) error {
			var parents []int64
			if err := a.db.Raw(`SELECT DISTINCT parent FROM (`+expandEdges+`) e WHERE child IN ?`, part).Scan(&parents).Error; err != nil {
				return err
			}
			for _, p := range parents {
				if !a.images[p] {
					a.images[p] = true
					found = append(found, p)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		ids = append(ids, found...)
		frontier = found
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// A few images per walk: PostgreSQL guesses a recursive walk's rows
	// from its roots, and past a handful it hash-joins every blob link of
	// the registry instead of reading the walk's by key. The sums are then
	// written at once.
	var out []usageImage
	err := chunks(ids, 4, func(part []int64) error {
		var rows []struct{ Img, Bytes int64 }
		if err := a.db.Raw(imageBytesWalk(!a.pg, `IN ?`, ""), part).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			out = append(out, usageImage{ImageID: r.Img, Bytes: r.Bytes})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := chunks(ids, chunk, func(part []int64) error {
		return a.db.Exec(`DELETE FROM usage_images WHERE image_id IN ?`, part).Error
	}); err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ImageID < out[j].ImageID })
	return a.db.CreateInBatches(out, 500).Error
}

// expandEdges are the links along which an image holds others: a manifest
// list its platform images (kind 1), a subject its referrers (kind 2:
// signatures, SBOMs, attestations; referrers.go).
//
// A plain UNION ALL of two plain SELECTs, joined in place (not a CTE): so
// PostgreSQL reads both by index per image instead of materializing every
// edge (seconds per write at 10x); SQLite cannot, and the settlement
// walks there with expandWalk's perTable. A referrer recorded under two
// repositories is two paths: counts, not bytes, see it twice.
const expandEdges = `SELECT list_id AS parent, child_id AS child, 1 AS kind FROM image_manifests
	UNION ALL SELECT subject_id, referrer_id, 2 FROM image_referrers`

// expandSQL is a WITH RECURSIVE clause: x(root, image_id, depth, child)
// holds, for each (root, image) row of roots, the images it holds as the
// full pass's graph.forBlobs walks them — itself, its platform images
// (not theirs), and referrers of either, theirs in turn, up to
// maxExpandDepth (a lying registry's cycle of subjects ends there). A
// path is one row: the counts are multisets, and bytes move only when
// a count crosses zero.
func expandSQL(roots string) string { return expandWalk(false, roots) }

// expandWalk is expandSQL; perTable (SQLite only: PostgreSQL takes one
// recursive term) walks each edge table in its own recursive term, the
// same rows: SQLite cannot read a joined UNION ALL by key, and would
// materialize every edge of the registry for each walk (0.4 s at 1x).
func expandWalk(perTable bool, roots string) string {
	if perTable {
		return `WITH RECURSIVE x(root, image_id, depth, child) AS (
		SELECT r.*, 0, 0 FROM (` + roots + `) r
		UNION ALL
		SELECT x.root, m.child_id, x.depth, 1 FROM x JOIN image_manifests m ON m.list_id = x.image_id WHERE x.child = 0
		UNION ALL
		SELECT x.root, e.referrer_id, x.depth + 1, 0 FROM x JOIN image_referrers e ON e.subject_id = x.image_id
		WHERE x.depth < ` + fmt.Sprint(maxExpandDepth) + `
	)`
	}
	return `WITH RECURSIVE x(root, image_id, depth, child) AS (
		SELECT r.*, 0, 0 FROM (` + roots + `) r
		UNION ALL
		SELECT x.root, e.child, CASE WHEN e.kind = 2 THEN x.depth + 1 ELSE x.depth END, CASE WHEN e.kind = 1 THEN 1 ELSE 0 END
		FROM x JOIN (` + expandEdges + `) e ON e.parent = x.image_id
		WHERE (e.kind = 1 AND x.child = 0) OR (e.kind = 2 AND x.depth < ` + fmt.Sprint(maxExpandDepth) + `)
	)`
}

// maxExpandDepth bounds how deep referrers of referrers are followed: the
// full pass's maxReferrerDepth.
const maxExpandDepth = maxReferrerDepth

// imageBytesSQL sums the distinct blobs each image holds (expandSQL);
// where selects the images ("IN ?", or "> 0" for all); insert, when not
// empty, is the INSERT the sums go to. For a few images (where is "IN ?")
// each size is looked up by key: PostgreSQL misjudges a recursive walk's
// size and would otherwise hash-join every blob (seconds at 10x).
func imageBytesSQL(where, insert string) string { return imageBytesWalk(false, where, insert) }

// imageBytesWalk is imageBytesSQL walking as expandWalk(perTable), on
// SQLite (perTable) reading the walk's blob links by key.
func imageBytesWalk(perTable bool, where, insert string) string {
	size := `(SELECT b.size FROM blobs b WHERE b.id = t.blob_id)`
	from := ``
	if where == `> 0` {
		size, from = `b.size`, ` JOIN blobs b ON b.id = t.blob_id`
	}
	// SQLite guesses a walk large and would scan every blob link against
	// it; CROSS JOIN makes it read the walk's links by key.
	links := `x JOIN image_blobs ib ON ib.image_id = x.image_id`
	if perTable {
		links = `x CROSS JOIN image_blobs ib WHERE ib.image_id = x.image_id`
	}
	return expandWalk(perTable, `SELECT id, id FROM images WHERE id `+where) + ` ` + insert + `
	SELECT t.root AS img, SUM(` + size + `) AS bytes FROM (
		SELECT DISTINCT x.root, ib.blob_id FROM ` + links + `
	) t` + from + ` GROUP BY t.root`
}

// write applies the scope totals, making missing scope rows, and drops the
// rows of scopes that are gone and hold nothing.
func (a *settlement) write() error {
	keys := make([]scopeKey, 0, len(a.scopes))
	for k := range a.scopes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].level != keys[j].level {
			return keys[i].level < keys[j].level
		}
		return keys[i].id < keys[j].id
	})
	// The stored rows, one statement per chunk of keys.
	pairs := make([]pair, len(keys))
	for i, k := range keys {
		pairs[i] = pair{int64(k.level), k.id}
	}
	cur := map[scopeKey]*usageScope{}
	for start := 0; start < len(pairs); start += chunk {
		list, args := pairsIn(a.pg, pairs[start:min(start+chunk, len(pairs))], nil)
		var rows []usageScope
		if err := a.db.Raw(`SELECT * FROM usage_scopes WHERE (level, scope_id) IN `+list, args...).Scan(&rows).Error; err != nil {
			return err
		}
		for i := range rows {
			cur[scopeKey{rows[i].Level, rows[i].ScopeID}] = &rows[i]
		}
	}
	// Missing rows are made with their parent; tags and streams whose
	// parent is not known yet read it.
	unknown := map[int16][]int64{}
	for _, k := range keys {
		if cur[k] == nil && (k.level == levelTag || k.level == levelStream) && a.parents[k] == 0 {
			unknown[k.level] = append(unknown[k.level], k.id)
		}
	}
	for level, ids := range unknown {
		if err := a.loadParents(level, ids); err != nil {
			return err
		}
	}
	out := make([]usageScope, 0, len(keys))
	for _, k := range keys {
		d := a.scopes[k]
		c := usageScope{Level: k.level, ScopeID: k.id, ParentID: a.parents[k]}
		if cur[k] != nil {
			c = *cur[k]
		}
		var ok1, ok2, ok3 bool
		c.Bytes, ok1 = addChecked(c.Bytes, d.bytes)
		c.ExclusiveBytes, ok2 = addChecked(c.ExclusiveBytes, d.exclusive)
		c.Blobs, ok3 = addChecked(c.Blobs, d.blobs)
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("the bytes of scope %d/%d would overflow", k.level, k.id)
		}
		if c.Bytes < 0 || c.ExclusiveBytes < 0 || c.Blobs < 0 {
			return fmt.Errorf("the bytes of scope %d/%d would go below zero (%d, %d exclusive, %d blobs)",
				k.level, k.id, c.Bytes, c.ExclusiveBytes, c.Blobs)
		}
		out = append(out, c)
	}
	// Written in key order, a chunk a statement; an existing row keeps
	// its parent.
	if err := upsertRows(a.db, "INSERT INTO usage_scopes (level, scope_id, parent_id, bytes, exclusive_bytes, blobs) VALUES ", 6, len(out),
		` ON CONFLICT (level, scope_id) DO UPDATE SET bytes = excluded.bytes,
			exclusive_bytes = excluded.exclusive_bytes, blobs = excluded.blobs`, func(i int, args []any) []any {
			r := out[i]
			return append(args, r.Level, r.ScopeID, r.ParentID, r.Bytes, r.ExclusiveBytes, r.Blobs)
		}); err != nil {
		return err
	}
	// Scopes touched here whose object is gone and which hold nothing any
	// more (only those: a scan of every scope would cost the registry).
	touched := map[int16][]int64{}
	for _, k := range keys {
		touched[k.level] = append(touched[k.level], k.id)
	}
	for _, g := range []struct {
		level int16
		table string
	}{{levelTag, "tags"}, {levelStream, "image_streams"}, {levelNamespace, "namespaces"}} {
		err := chunks(touched[g.level], chunk, func(part []int64) error {
			return a.db.Exec(`DELETE FROM usage_scopes WHERE level = ? AND scope_id IN ? AND blobs = 0
				AND NOT EXISTS (SELECT 1 FROM `+g.table+` o WHERE o.id = usage_scopes.scope_id)
				AND NOT EXISTS (SELECT 1 FROM usage_members m WHERE m.level = usage_scopes.level AND m.scope_id = usage_scopes.scope_id)`,
				g.level, part).Error
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func addChecked(a, b int64) (int64, bool) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, false
	}
	return a + b, true
}

// upsertCounts writes (level, scope, key, n) rows of a count table.
func upsertCounts(db *gorm.DB, table, keyCol string, level int16, n int, row func(i int) (int64, int64, int64)) error {
	return upsertRows(db, "INSERT INTO "+table+" (level, scope_id, "+keyCol+", n) VALUES ", 4, n,
		" ON CONFLICT (level, scope_id, "+keyCol+") DO UPDATE SET n = excluded.n", func(i int, args []any) []any {
			sc, k, c := row(i)
			return append(args, level, sc, k, c)
		})
}

// upsertRows writes n rows of width values each: head ("INSERT INTO t
// (columns) VALUES "), then row i's values (row appends them to args), then
// tail (the ON CONFLICT clause), at most 300 rows a statement so that
// every statement stays under SQLite's and PostgreSQL's parameter limits.
func upsertRows(db *gorm.DB, head string, width, n int, tail string, row func(i int, args []any) []any) error {
	const batch = 300
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var b strings.Builder
		args := make([]any, 0, width*(end-start))
		b.WriteString(head)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString(one)
			args = row(i, args)
		}
		b.WriteString(tail)
		if err := db.Exec(b.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// A pair is a two-column key (scope and blob, scope and image, level and
// scope): the settlement reads and deletes sets of them with one
// statement per chunk instead of one per key.
type pair struct{ a, b int64 }

// sortPairs orders keys as the primary keys do, so two writers take their
// row locks in the same order.
func sortPairs(keys []pair) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].a != keys[j].a {
			return keys[i].a < keys[j].a
		}
		return keys[i].b < keys[j].b
	})
}

// pairsIn is the right side of "(x, y) IN " for keys, with its arguments
// appended to args. SQLite takes a row-value list. PostgreSQL gets two
// arrays instead: it plans a row-value list as one OR branch per key
// (200 ms planning for 450 keys), two arrays as one index lookup per key
// with a plan it caches.
func pairsIn(pg bool, keys []pair, args []any) (string, []any) {
	var b strings.Builder
	if pg {
		var xs, ys strings.Builder
		xs.WriteString("{")
		ys.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				xs.WriteString(",")
				ys.WriteString(",")
			}
			xs.WriteString(strconv.FormatInt(k.a, 10))
			ys.WriteString(strconv.FormatInt(k.b, 10))
		}
		xs.WriteString("}")
		ys.WriteString("}")
		return "(SELECT * FROM unnest(CAST(CAST(? AS TEXT) AS BIGINT[]), CAST(CAST(? AS TEXT) AS BIGINT[])))",
			append(args, xs.String(), ys.String())
	}
	b.WriteString("(")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?)")
		args = append(args, k.a, k.b)
	}
	b.WriteString(")")
	return b.String(), args
}

// readPairs runs query (ending in "IN ", selecting a, b and n; its one
// argument level) for keys, in chunks, calling found for each row.
func (a *settlement) readPairs(query string, level int16, keys []pair, found func(pair, int64)) error {
	for start := 0; start < len(keys); start += chunk {
		list, args := pairsIn(a.pg, keys[start:min(start+chunk, len(keys))], []any{level})
		var rows []struct{ A, B, N int64 }
		if err := a.db.Raw(query+list, args...).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			found(pair{r.A, r.B}, r.N)
		}
	}
	return nil
}

// deletePairs runs the DELETE query (ending in "IN "; its one argument
// level) for keys, in chunks.
func (a *settlement) deletePairs(query string, level int16, keys []pair) error {
	for start := 0; start < len(keys); start += chunk {
		list, args := pairsIn(a.pg, keys[start:min(start+chunk, len(keys))], []any{level})
		if err := a.db.Exec(query+list, args...).Error; err != nil {
			return err
		}
	}
	return nil
}
