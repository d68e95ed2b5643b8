package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"layerwise/bytesum"
)

// PruneResult is what applying a plan did.
type PruneResult struct {
	Revisions  int64 `json:"revisions"`
	Images     int64 `json:"images"`
	Blobs      int64 `json:"blobs"`
	BytesFreed int64 `json:"bytesFreed"`
	// Skipped counts planned entries that were no longer prunable when
	// their batch ran (they became current, were pinned, ...).
	Skipped int64 `json:"skipped"`
	// Manifests counts manifests queued for deletion in the registry.
	Manifests int64 `json:"manifests"`
	Batches   int   `json:"batches"`
}

// ApplyOptions tune ApplyPrune.
type ApplyOptions struct {
	// Holder names who runs (shown to a second run that has to wait).
	Holder string
	// BatchTags is how many tags one transaction handles (default and
	// most: 500).
	BatchTags int
	// QueueRegistry records, for the managed registry, every (repository,
	// digest) that no remaining entry of that stream references.
	QueueRegistry bool
	// Leased says the caller already holds the "prune" lease as Holder
	// (WithLease); otherwise ApplyPrune takes it for the run.
	Leased bool
}

// ApplyPrune removes what plan lists, in bounded transactions: per batch of
// tags, the history entries (re-checked against the current state: an
// entry that became current, moved into the kept revisions or got pinned
// since the plan stays), then the images those entries held that nothing
// references any more, then their blobs that no image lists. A final pass
// removes the plan's images that no entry referenced. Each transaction
// leaves the database consistent, so a run killed half way loses nothing
// the policy keeps, and the next run (with a new plan) finishes the job;
// cancelling ctx stops a run that way between two statements.
// Two runs never overlap: the "prune" lease is held throughout and renewed
// after every batch, and a run that lost it stops.
func (s *Store) ApplyPrune(ctx context.Context, plan *PrunePlan, opt ApplyOptions) (res PruneResult, err error) {
	if plan == nil {
		return res, invalidf("no plan to apply")
	}
	if opt.Holder == "" {
		opt.Holder = "prune"
	}
	if opt.BatchTags <= 0 || opt.BatchTags > chunk {
		opt.BatchTags = chunk
	}
	if opt.Leased {
		return s.applyPrune(ctx, plan, opt, func() error {
			return s.extendLease(ctx, "prune", opt.Holder, time.Now().Add(LeaseTTL))
		})
	}
	err = s.WithLease(ctx, "prune", opt.Holder, LeaseTTL, func(renew func() error) error {
		res, err = s.applyPrune(ctx, plan, opt, renew)
		return err
	})
	return res, err
}

func (s *Store) applyPrune(ctx context.Context, plan *PrunePlan, opt ApplyOptions, renew func() error) (PruneResult, error) {
	var res PruneResult
	// A plan made before a cluster's in-use read failed is not applied:
	// nothing is proven unused now.
	if hold, err := s.PruneHold(ctx); err != nil {
		return res, err
	} else if hold != nil {
		return res, invalidf("prune removes nothing now. %s", hold.Text())
	}
	planImage := make(map[int64]bool, len(plan.imageIDs))
	for _, id := range plan.imageIDs {
		planImage[id] = true
	}
	planBlob := make(map[int64]bool, len(plan.blobIDs))
	for _, id := range plan.blobIDs {
		planBlob[id] = true
	}
	// Planned entries by tag, tags in plan order.
	byTag := map[int64][]PruneRevision{}
	var tags []int64
	for _, r := range plan.Revisions {
		if _, ok := byTag[r.tagID]; !ok {
			tags = append(tags, r.tagID)
		}
		byTag[r.tagID] = append(byTag[r.tagID], r)
	}
	// inBatches runs fn on ids, size at a time, one transaction each, and
	// renews the lease after each.
	inBatches := func(what string, ids []int64, size int, fn func(tx *Store, part []int64) (PruneResult, error)) error {
		for i := 0; i < len(ids); i += size {
			part := ids[i:min(i+size, len(ids))]
			var r PruneResult
			err := s.Tx(ctx, func(tx *Store) error {
				var err error
				r, err = fn(tx, part)
				return err
			})
			if err != nil {
				return fmt.Errorf("prune batch %d (%s): %w", res.Batches+1, what, err)
			}
			res.add(r)
			res.Batches++
			if err := renew(); err != nil {
				return err
			}
		}
		return nil
	}
	err := inBatches("tags", tags, opt.BatchTags, func(tx *Store, part []int64) (PruneResult, error) {
		return tx.pruneTags(ctx, plan, part, byTag, planImage, planBlob, opt)
	})
	if err != nil {
		return res, err
	}
	// Images the plan found unreferenced (and their blobs), and whatever an
	// interrupted batch did not get to.
	// Lists first, so that their children can follow them; referrers after
	// their subjects.
	rest := append([]int64(nil), plan.imageIDs...)
	sort.SliceStable(rest, func(i, j int) bool {
		a, b := rest[i], rest[j]
		if plan.refDepth[a] != plan.refDepth[b] {
			return plan.refDepth[a] < plan.refDepth[b]
		}
		return plan.isList[a] && !plan.isList[b]
	})
	err = inBatches("images", rest, chunk, func(tx *Store, part []int64) (PruneResult, error) {
		return tx.pruneImages(ctx, plan, part, planBlob, opt.QueueRegistry)
	})
	if err != nil {
		return res, err
	}
	err = inBatches("blobs", plan.blobIDs, chunk, func(tx *Store, part []int64) (r PruneResult, err error) {
		r.Blobs, r.BytesFreed, err = tx.pruneBlobs(ctx, part)
		return r, err
	})
	return res, err
}

func (r *PruneResult) add(o PruneResult) {
	r.Revisions += o.Revisions
	r.Images += o.Images
	r.Blobs += o.Blobs
	r.BytesFreed = bytesum.Add(r.BytesFreed, o.BytesFreed)
	r.Skipped += o.Skipped
	r.Manifests += o.Manifests
}

type freshEvent struct {
	ID       int64
	TagID    int64
	Position int
	ImageID  *int64
	Created  time.Time
}

// pruneTags is one batch: entries, then the images they held, then blobs.
func (s *Store) pruneTags(ctx context.Context, plan *PrunePlan, tags []int64, byTag map[int64][]PruneRevision,
	planImage, planBlob map[int64]bool, opt ApplyOptions) (PruneResult, error) {
	var res PruneResult
	db := s.conn(ctx)
	now := s.now()
	// The current state of these tags' histories. On PostgreSQL the first
	// read locks the rows (a push in progress finishes first, a later one
	// waits for this batch) and the second, a new snapshot, also sees
	// entries a finished push added; SQLite runs one writer at a time and
	// ignores the lock.
	var locked []int64
	if err := db.Model(&TagEvent{}).Clauses(clause.Locking{Strength: "UPDATE"}).Where("tag_id IN ?", tags).
		Pluck("id", &locked).Error; err != nil {
		return res, fmt.Errorf("lock history: %w", err)
	}
	var fresh []freshEvent
	if err := db.Model(&TagEvent{}).Select("id, tag_id, position, image_id, created").Where("tag_id IN ?", tags).
		Scan(&fresh).Error; err != nil {
		return res, fmt.Errorf("read history: %w", err)
	}
	freshByID := make(map[int64]freshEvent, len(fresh))
	for _, e := range fresh {
		freshByID[e.ID] = e
	}
	// Namespaces of these tags, with their current policy overrides, and pins.
	nsIDs := map[int64]bool{}
	var imgs []int64
	for _, t := range tags {
		for _, r := range byTag[t] {
			nsIDs[r.nsID] = true
			if r.imageID != 0 {
				imgs = append(imgs, r.imageID)
			}
		}
	}
	policies, err := s.namespacePolicies(ctx, keys(nsIDs), plan.policy)
	if err != nil {
		return res, err
	}
	rules, err := s.namespaceRules(ctx, keys(nsIDs))
	if err != nil {
		return res, err
	}
	pins := map[[2]int64]bool{}
	err = chunks(dedupe(imgs), chunk, func(part []int64) error {
		var rows []Pin
		if err := db.Select("namespace_id, image_id").Where("image_id IN ?", part).Find(&rows).Error; err != nil {
			return err
		}
		for _, p := range rows {
			pins[[2]int64{p.NamespaceID, p.ImageID}] = true
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("read pins: %w", err)
	}
	// Images in use since the plan stay.
	inUse, err := s.inUseOf(ctx, imgs)
	if err != nil {
		return res, err
	}
	// Pull times, where a rule reads them (a pull since the plan keeps).
	var pullStreams []int64
	for _, t := range tags {
		for _, r := range byTag[t] {
			if rules[r.nsID].usesPulls() {
				pullStreams = append(pullStreams, r.streamID)
			}
		}
	}
	pulls, err := s.readPulls(ctx, dedupe(pullStreams), dedupe(imgs))
	if err != nil {
		return res, err
	}
	var del []int64
	candidates := map[int64]bool{}
	var dropped []tagImage
	for _, t := range tags {
		for _, r := range byTag[t] {
			e, ok := freshByID[r.id]
			if !ok {
				continue // already gone (an earlier, interrupted run)
			}
			rs := rules[r.nsID]
			f := entryFacts{position: e.Position, created: e.Created.Unix(), match: rs.match(r.Tag)}
			if e.ImageID != nil {
				f.pinned = pins[[2]int64{r.nsID, *e.ImageID}]
				f.inUse = len(inUse[*e.ImageID]) > 0
				f.pulled = pulls.last(r.streamID, *e.ImageID)
			}
			if rs.decide(f, policies[r.nsID], now.Unix()).Kept() {
				res.Skipped++
				continue
			}
			del = append(del, e.ID)
			if e.ImageID != nil {
				dropped = append(dropped, tagImage{t, *e.ImageID})
				if planImage[*e.ImageID] {
					candidates[*e.ImageID] = true
				}
			}
		}
	}
	if len(del) > 0 {
		err := chunks(del, chunk, func(part []int64) error {
			return db.Where("id IN ?", part).Delete(&TagEvent{}).Error
		})
		if err != nil {
			return res, fmt.Errorf("delete history entries: %w", err)
		}
		res.Revisions = int64(len(del))
		if err := s.renumberPruned(ctx, fresh, del); err != nil {
			return res, fmt.Errorf("renumber history: %w", err)
		}
	}
	if opt.QueueRegistry && len(dropped) > 0 {
		n, err := s.queueManifestDeletions(ctx, dropped)
		if err != nil {
			return res, err
		}
		res.Manifests = n
	}
	// The planned images these entries held (lists with their children).
	var cand []int64
	for id := range candidates {
		cand = append(cand, id)
	}
	children, err := pluckIn(db, `SELECT child_id FROM image_manifests WHERE list_id IN ?`, cand)
	if err != nil {
		return res, err
	}
	for _, c := range children {
		if planImage[c] && !candidates[c] {
			candidates[c] = true
			cand = append(cand, c)
		}
	}
	// Their planned referrers (and those of their platforms) go with them.
	for next := cand; len(next) > 0; {
		refs, err := pluckIn(db, `SELECT referrer_id FROM image_referrers WHERE subject_id IN ?`, next)
		if err != nil {
			return res, err
		}
		next = nil
		for _, r := range refs {
			if planImage[r] && !candidates[r] {
				candidates[r] = true
				cand = append(cand, r)
				next = append(next, r)
			}
		}
	}
	r, err := s.pruneImages(ctx, plan, cand, planBlob, opt.QueueRegistry)
	if err != nil {
		return res, err
	}
	res.add(r)
	return res, nil
}

// renumberPruned closes the gaps the deleted entries left: the remaining entries
// of each tag get positions 0..n-1 in their old order (0 stays the
// current one). New positions are computed here from the rows read in this
// transaction and written with one UPDATE … CASE per chunk (the CAST
// types the parameters for PostgreSQL); a correlated
// "count the rows before me" UPDATE is wrong on SQLite, whose subquery sees
// the rows the same statement already changed.
func (s *Store) renumberPruned(ctx context.Context, fresh []freshEvent, deleted []int64) error {
	gone := make(map[int64]bool, len(deleted))
	for _, id := range deleted {
		gone[id] = true
	}
	byTag := map[int64][]freshEvent{}
	for _, e := range fresh {
		if !gone[e.ID] {
			byTag[e.TagID] = append(byTag[e.TagID], e)
		}
	}
	type move struct {
		id  int64
		pos int
	}
	var moves []move
	for _, evs := range byTag {
		sort.Slice(evs, func(i, j int) bool {
			if evs[i].Position != evs[j].Position {
				return evs[i].Position < evs[j].Position
			}
			return evs[i].ID > evs[j].ID
		})
		for i, e := range evs {
			if e.Position != i {
				moves = append(moves, move{e.ID, i})
			}
		}
	}
	db := s.conn(ctx)
	const per = 250
	for i := 0; i < len(moves); i += per {
		part := moves[i:min(i+per, len(moves))]
		var b strings.Builder
		args := make([]any, 0, 3*len(part))
		ids := make([]int64, 0, len(part))
		b.WriteString("UPDATE tag_events SET position = CASE id")
		for _, m := range part {
			b.WriteString(" WHEN ? THEN CAST(? AS INTEGER)")
			args = append(args, m.id, m.pos)
			ids = append(ids, m.id)
		}
		b.WriteString(" END WHERE id IN ?")
		args = append(args, ids)
		if err := db.Exec(b.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// pruneImages deletes those of ids that nothing holds any more: no history
// entry, no pin, no remaining manifest list, no remaining subject (a
// referrer goes with its subject). It deletes in rounds, so that a list's
// platforms and a subject's referrers among ids go in the same call once
// their holder went. With queue, the managed registry's manifests of the
// referrers that go are queued for deletion. Then their blobs.
func (s *Store) pruneImages(ctx context.Context, plan *PrunePlan, ids []int64, planBlob map[int64]bool, queue bool) (PruneResult, error) {
	var res PruneResult
	if len(ids) == 0 {
		return res, nil
	}
	db := s.conn(ctx)
	// Only those still there (an earlier batch may have removed some).
	ids, err := pluckIn(db, `SELECT id FROM images WHERE id IN ?`, ids)
	if err != nil {
		return res, fmt.Errorf("check images: %w", err)
	}
	var blobs []int64
	for rest := ids; len(rest) > 0; {
		var held []int64
		for _, q := range []string{
			`SELECT DISTINCT image_id FROM tag_events WHERE image_id IN ?`,
			`SELECT DISTINCT image_id FROM pins WHERE image_id IN ?`,
			`SELECT DISTINCT image_id FROM in_use_images WHERE image_id IN ?`,
			`SELECT DISTINCT m.list_id FROM image_manifests m JOIN in_use_images u ON u.image_id = m.child_id WHERE m.list_id IN ?`,
			`SELECT DISTINCT child_id FROM image_manifests WHERE child_id IN ?`,
			`SELECT DISTINCT r.referrer_id FROM image_referrers r JOIN images s ON s.id = r.subject_id WHERE r.referrer_id IN ?`,
		} {
			got, err := pluckIn(db, q, rest)
			if err != nil {
				return res, fmt.Errorf("check images: %w", err)
			}
			held = append(held, got...)
		}
		gone := except(rest, held)
		if len(gone) == 0 {
			break
		}
		rest = except(rest, gone)
		b, err := pluckIn(db, `SELECT DISTINCT blob_id FROM image_blobs WHERE image_id IN ?`, gone)
		if err != nil {
			return res, err
		}
		blobs = append(blobs, b...)
		if queue {
			n, err := s.queueReferrerDeletions(ctx, gone)
			if err != nil {
				return res, err
			}
			res.Manifests += n
		}
		err = chunks(gone, chunk, func(part []int64) error {
			if err := db.Where("image_id IN ?", part).Delete(&ImageBlob{}).Error; err != nil {
				return err
			}
			if err := db.Where("list_id IN ?", part).Delete(&ImageManifest{}).Error; err != nil {
				return err
			}
			if err := db.Where("referrer_id IN ?", part).Delete(&ImageReferrer{}).Error; err != nil {
				return err
			}
			return db.Where("id IN ?", part).Delete(&Image{}).Error
		})
		if err != nil {
			return res, fmt.Errorf("delete images: %w", err)
		}
		res.Images += int64(len(gone))
	}
	var planned []int64
	for _, b := range dedupe(blobs) {
		if planBlob[b] {
			planned = append(planned, b)
		}
	}
	n, bytes, err := s.pruneBlobs(ctx, planned)
	if err != nil {
		return res, err
	}
	res.Blobs, res.BytesFreed = n, bytes
	return res, nil
}

// pruneBlobs deletes those of ids that no image lists; it returns how many
// went and their bytes.
func (s *Store) pruneBlobs(ctx context.Context, ids []int64) (int64, int64, error) {
	if len(ids) == 0 {
		return 0, 0, nil
	}
	db := s.conn(ctx)
	used, err := pluckIn(db, `SELECT DISTINCT blob_id FROM image_blobs WHERE blob_id IN ?`, ids)
	if err != nil {
		return 0, 0, fmt.Errorf("check blobs: %w", err)
	}
	gone := except(ids, used)
	var n, bytes int64
	err = chunks(gone, chunk, func(part []int64) error {
		// Summed here, not by SUM(): a sum in SQL can overflow.
		var sizes []int64
		if err := db.Model(&Blob{}).Where("id IN ?", part).Pluck("size", &sizes).Error; err != nil {
			return err
		}
		if err := db.Where("id IN ?", part).Delete(&Blob{}).Error; err != nil {
			return err
		}
		n += int64(len(sizes))
		bytes = bytesum.Add(bytes, bytesum.Sum(sizes...))
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("delete blobs: %w", err)
	}
	return n, bytes, nil
}

// namespacePolicies reads the current policy of namespaces by ID.
func (s *Store) namespacePolicies(ctx context.Context, ids []int64, def Policy) (map[int64]Policy, error) {
	out := map[int64]Policy{}
	err := chunks(ids, chunk, func(part []int64) error {
		var rows []Namespace
		if err := s.conn(ctx).Select("id, prune_keep_tag_revisions, prune_keep_younger_than").Where("id IN ?", part).
			Find(&rows).Error; err != nil {
			return err
		}
		for _, n := range rows {
			out[n.ID] = n.PrunePolicy(def)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read namespace prune policies: %w", err)
	}
	return out, nil
}
