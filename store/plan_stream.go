package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gorm.io/gorm"

	"layerwise/bytesum"
)

// A streamed plan reads the registry a batch of namespaces at a time and
// keeps, for the whole registry, only what is small: one mark per image id
// and per blob id (which are kept, linked, pulled lately), the platforms of
// manifest lists, referrers, pins and images in use. Its memory is a few
// bytes per image and blob id plus one batch, where the full pass (graph)
// holds every link, history entry and digest at once (≈ 2.8 GiB at 10×).
// The rule is the full pass's (keepEntries, keepBeyondHistory); the
// per-namespace sums read the namespace's blobs from the accounting tables
// (usage_scope_blobs, usage_blobs).

// planBatch is how many namespaces a streamed plan reads at once.
const planBatch = 200

// planFrame is the registry-wide part of a streamed plan.
type planFrame struct {
	g                     *graph // children, referrers, pins, in use, hold; namespaces: the current batch
	maxImage, maxBlob     int64
	keptImage, referenced []bool // by image id
	recentImage           []bool // images pulled within NotPulledWindow from a stream that holds them
	batch                 int
}

// readPlanFrame reads the small registry-wide parts. Call it inside a
// Snapshot: the marks are indexed by the ids later statements return.
func (s *Store) readPlanFrame(ctx context.Context) (*planFrame, error) {
	db := s.conn(ctx)
	f := &planFrame{batch: planBatch, g: &graph{children: map[int64][]int64{}, pinned: map[int64][]int64{},
		referrers: map[int64][]int64{}, refType: map[int64]ReferrerType{}, subjectOf: map[int64][]int64{}}}
	if s.planBatch > 0 {
		f.batch = s.planBatch
	}
	if err := db.Raw(`SELECT COALESCE(MAX(id), 0) FROM blobs`).Scan(&f.maxBlob).Error; err != nil {
		return nil, err
	}
	if err := db.Raw(`SELECT COALESCE(MAX(id), 0) FROM images`).Scan(&f.maxImage).Error; err != nil {
		return nil, err
	}
	g := f.g
	f.keptImage = make([]bool, f.maxImage+1)
	f.referenced = make([]bool, f.maxImage+1)
	f.recentImage = make([]bool, f.maxImage+1)
	g.isReferrer = make([]bool, f.maxImage+1)
	err := scanRows(db.Raw(`SELECT list_id, child_id FROM image_manifests ORDER BY list_id, position`), func(sc func(...any) error) error {
		var list, child int64
		if err := sc(&list, &child); err != nil {
			return err
		}
		g.children[list] = append(g.children[list], child)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read manifest lists: %w", err)
	}
	// As readGraph: a link whose subject is gone makes the referrer an
	// image like any other.
	err = scanRows(db.Raw(`SELECT DISTINCT r.subject_id, r.referrer_id, r.type FROM image_referrers r
		JOIN images i ON i.id = r.subject_id ORDER BY r.subject_id, r.referrer_id`), func(sc func(...any) error) error {
		var subject, referrer int64
		var typ string
		if err := sc(&subject, &referrer, &typ); err != nil {
			return err
		}
		if referrer <= 0 || referrer > f.maxImage || subject <= 0 || subject > f.maxImage {
			return fmt.Errorf("image id out of range in referrer %d of %d", referrer, subject)
		}
		g.isReferrer[referrer] = true
		if _, ok := g.refType[referrer]; !ok {
			g.refType[referrer] = ReferrerType(typ)
		}
		if l := g.referrers[subject]; len(l) == 0 || l[len(l)-1] != referrer {
			g.referrers[subject] = append(l, referrer)
			g.subjectOf[referrer] = append(g.subjectOf[referrer], subject)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read referrers: %w", err)
	}
	err = scanRows(db.Raw(`SELECT namespace_id, image_id FROM pins`), func(sc func(...any) error) error {
		var ns, img int64
		if err := sc(&ns, &img); err != nil {
			return err
		}
		g.pinned[img] = append(g.pinned[img], ns)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pins: %w", err)
	}
	err = scanRows(db.Raw(`SELECT `+s.epoch("since")+` FROM pull_recordings WHERE id = 1`), func(sc func(...any) error) error {
		return sc(&g.pullsSince)
	})
	if err != nil {
		return nil, fmt.Errorf("read pull recordings: %w", err)
	}
	if err := g.readInUse(ctx, s); err != nil {
		return nil, err
	}
	return f, nil
}

// eachNamespaceBatch reads the namespaces in name order (bytes, as the
// full pass sorts them), f.batch at a time, each with its streams, tags,
// history, retention rules and pull times, and calls fn with them.
func (s *Store) eachNamespaceBatch(ctx context.Context, f *planFrame, fn func([]*gNamespace) error) error {
	db := s.conn(ctx)
	after, first := "", true
	for {
		var page []*gNamespace
		const cols = `SELECT id, name, prune_keep_tag_revisions, prune_keep_younger_than FROM namespaces `
		order := ` ORDER BY ` + s.byteOrder("name") + ` LIMIT ?`
		q := db.Raw(cols+order, f.batch)
		if !first {
			q = db.Raw(cols+`WHERE `+s.byteOrder("name")+` > ?`+order, after, f.batch)
		}
		err := scanRows(q, func(sc func(...any) error) error {
			n := &gNamespace{}
			var keep, younger sql.NullInt64
			if err := sc(&n.id, &n.name, &keep, &younger); err != nil {
				return err
			}
			if keep.Valid {
				k := int(keep.Int64)
				n.keepTagRevisions = &k
			}
			if younger.Valid {
				n.keepYoungerThan = &younger.Int64
			}
			page = append(page, n)
			return nil
		})
		if err != nil {
			return fmt.Errorf("read namespaces: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		sort.SliceStable(page, func(i, j int) bool { return page[i].name < page[j].name })
		if err := s.readBatch(db, f, page); err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		after, first = page[len(page)-1].name, false
		if len(page) < f.batch {
			return nil
		}
	}
}

// readBatch fills the namespaces' hierarchy, history, rules and pulls.
func (s *Store) readBatch(db *gorm.DB, f *planFrame, page []*gNamespace) error {
	nsByID := make(map[int64]*gNamespace, len(page))
	ids := make([]int64, len(page))
	for i, n := range page {
		nsByID[n.id], ids[i] = n, n.id
	}
	streamByID := map[int64]*gStream{}
	var streamIDs []int64
	err := scanLevel(db.Raw(`SELECT id, namespace_id, name FROM image_streams WHERE namespace_id IN ?`, ids), func(id, nsID int64, name string) {
		st := &gStream{id: id, name: name}
		streamByID[id] = st
		streamIDs = append(streamIDs, id)
		if n := nsByID[nsID]; n != nil {
			n.streams = append(n.streams, st)
		}
	})
	if err != nil {
		return fmt.Errorf("read image streams: %w", err)
	}
	tagByID := map[int64]*gTag{}
	var tagIDs []int64
	err = chunks(streamIDs, chunk, func(part []int64) error {
		return scanLevel(db.Raw(`SELECT id, stream_id, name FROM tags WHERE stream_id IN ?`, part), func(id, stID int64, name string) {
			t := &gTag{id: id, name: name}
			tagByID[id] = t
			tagIDs = append(tagIDs, id)
			if st := streamByID[stID]; st != nil {
				st.tags = append(st.tags, t)
			}
		})
	})
	if err != nil {
		return fmt.Errorf("read tags: %w", err)
	}
	for _, st := range streamByID {
		OrderTags(st.tags, func(t *gTag) string { return t.name })
	}
	for _, n := range page {
		sort.SliceStable(n.streams, func(i, j int) bool { return n.streams[i].name < n.streams[j].name })
	}
	err = chunks(tagIDs, chunk, func(part []int64) error {
		return s.readTagEvents(db, tagByID, `WHERE tag_id IN ?`, []any{part})
	})
	if err != nil {
		return err
	}
	// Rules and pull times: readRetention on the batch.
	var rows []retentionRuleRow
	if err := db.Where("namespace_id IN ?", ids).Order("namespace_id, position").Find(&rows).Error; err != nil {
		return fmt.Errorf("read retention rules: %w", err)
	}
	byNS := map[int64][]RetentionRule{}
	for _, r := range rows {
		byNS[r.NamespaceID] = append(byNS[r.NamespaceID], r.rule())
	}
	for id, rules := range byNS {
		if err := nsByID[id].setRules(rules); err != nil {
			return err
		}
	}
	return chunks(streamIDs, chunk, func(part []int64) error {
		return scanRows(db.Raw(`SELECT stream_id, image_id, `+s.epoch("last_pulled")+` FROM image_pulls WHERE stream_id IN ?`, part), func(sc func(...any) error) error {
			var st, img, at int64
			if err := sc(&st, &img, &at); err != nil {
				return err
			}
			if stream := streamByID[st]; stream != nil {
				if stream.pulled == nil {
					stream.pulled = map[int64]int64{}
				}
				stream.pulled[img] = at
			}
			return nil
		})
	})
}

// keep runs the retention rule over the whole registry, batch by batch
// (fn, when not nil, sees each batch after its entries were decided and
// prunable each entry the rule prunes), then keeps what history does not
// decide (keepBeyondHistory). now is unix seconds; cut, when not zero,
// marks the images pulled after it in recentImage.
func (s *Store) streamKeep(ctx context.Context, f *planFrame, def Policy, now, cut int64,
	prunable func(n *gNamespace, st *gStream, t *gTag, ev gEvent), fn func([]*gNamespace) error) error {
	g := f.g
	err := s.eachNamespaceBatch(ctx, f, func(batch []*gNamespace) error {
		g.namespaces = batch
		for _, n := range batch {
			var each func(st *gStream, t *gTag, ev gEvent)
			if prunable != nil {
				each = func(st *gStream, t *gTag, ev gEvent) { prunable(n, st, t, ev) }
			}
			g.keepEntries(n, def, now, f.keptImage, f.referenced, each)
			if cut == 0 {
				continue
			}
			for _, st := range n.streams {
				for _, t := range st.tags {
					for _, ev := range t.events {
						if ev.image != 0 && g.lastPulled(st, ev.image) > cut {
							f.recentImage[ev.image] = true
						}
					}
				}
			}
		}
		if fn != nil {
			return fn(batch)
		}
		return nil
	})
	g.namespaces = nil
	if err != nil {
		return err
	}
	return g.keepBeyondHistory(f.keptImage, f.referenced, now-int64(def.KeepYoungerThan.Seconds()), func(young func(img, created int64)) error {
		return scanRows(s.conn(ctx).Raw(`SELECT id, `+s.epoch("created_at")+` FROM images`), func(sc func(...any) error) error {
			var id, created int64
			if err := sc(&id, &created); err != nil {
				return err
			}
			young(id, created)
			return nil
		})
	})
}

// forImages calls fn for every image whose blobs graph.forBlobs visits
// from img: itself, its platforms, and referrers of either, theirs in turn.
func (g *graph) forImages(img int64, fn func(int64), depth int) {
	fn(img)
	for _, c := range g.children[img] {
		fn(c)
	}
	if depth >= maxReferrerDepth {
		return
	}
	for _, r := range g.referrers[img] {
		g.forImages(r, fn, depth+1)
	}
	for _, c := range g.children[img] {
		for _, r := range g.referrers[c] {
			g.forImages(r, fn, depth+1)
		}
	}
}

// blobMarks are the blob-level marks of a streamed plan, read with one
// pass over the image-blob links: which blobs a kept image holds, which
// any image links, and which a recently pulled image holds.
type blobMarks struct {
	kept, linked, recent []bool
}

func (s *Store) readBlobMarks(ctx context.Context, f *planFrame, recent bool) (*blobMarks, error) {
	m := &blobMarks{kept: make([]bool, f.maxBlob+1), linked: make([]bool, f.maxBlob+1)}
	var recentAll []bool // images whose blobs count as pulled lately
	if recent {
		m.recent = make([]bool, f.maxBlob+1)
		recentAll = make([]bool, f.maxImage+1)
		for img, ok := range f.recentImage {
			if ok {
				f.g.forImages(int64(img), func(i int64) {
					if i > 0 && i <= f.maxImage {
						recentAll[i] = true
					}
				}, 0)
			}
		}
	}
	err := s.eachGrouped(s.conn(ctx), "image_id", []string{"blob_id"}, `FROM image_blobs`, nil, false, func(img int64, v []int64) error {
		b := v[0]
		if img <= 0 || img > f.maxImage || b <= 0 || b > f.maxBlob {
			return fmt.Errorf("link of image %d to blob %d out of range", img, b)
		}
		m.linked[b] = true
		if f.keptImage[img] {
			m.kept[b] = true
		}
		if recentAll != nil && recentAll[img] {
			m.recent[b] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read image blobs: %w", err)
	}
	return m, nil
}

// planSummary computes the plan summary streamed: the figures of
// ComputePlanSummary and the history entries the policy would prune.
func (s *Store) planSummary(ctx context.Context, policy Policy) (sum PlanSummary, prunable []int64, err error) {
	now := s.now()
	sum = PlanSummary{ComputedAt: now, Policy: policy, Namespaces: map[int64]PlanNamespace{}}
	err = s.Snapshot(ctx, func(s *Store) error {
		f, err := s.readPlanFrame(ctx)
		if err != nil {
			return err
		}
		pulls := f.g.pullsSince != 0
		var cut int64
		if pulls {
			cut = now.Add(-NotPulledWindow).Unix()
		}
		err = s.streamKeep(ctx, f, policy, now.Unix(), cut, func(_ *gNamespace, _ *gStream, _ *gTag, ev gEvent) {
			prunable = append(prunable, ev.id)
		}, func(batch []*gNamespace) error {
			for _, n := range batch {
				sum.Namespaces[n.id] = PlanNamespace{}
			}
			return nil
		})
		if err != nil {
			return err
		}
		m, err := s.readBlobMarks(ctx, f, pulls)
		if err != nil {
			return err
		}
		f.keptImage, f.referenced, f.recentImage = nil, nil, nil
		db := s.conn(ctx)
		// Every linked blob no kept image holds is freed.
		err = s.eachGrouped(db, "id / 1024", []string{"id", "size"}, `FROM blobs`, nil, false, func(_ int64, v []int64) error {
			if id, size := v[0], v[1]; id > 0 && id <= f.maxBlob && m.linked[id] && !m.kept[id] {
				sum.RegistryReclaimable = bytesum.Add(sum.RegistryReclaimable, size)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read blobs: %w", err)
		}
		// Per namespace, from the blobs each holds (the accounting's
		// namespace level): reclaimable where no kept image holds the
		// blob; not pulled where it is the only holder and no recently
		// pulled image holds it.
		err = s.eachGrouped(db, "sb.scope_id", []string{"sb.blob_id", "ub.size", "ub.namespaces"}, `FROM usage_scope_blobs sb
			JOIN usage_blobs ub ON ub.blob_id = sb.blob_id WHERE sb.level = ?`, []any{levelNamespace}, false, func(ns int64, v []int64) error {
			b, size, holders := v[0], v[1], v[2]
			if b <= 0 || b > f.maxBlob {
				return fmt.Errorf("blob id %d out of range", b)
			}
			reclaim, notPulled := !m.kept[b], pulls && holders == 1 && !m.recent[b]
			if !reclaim && !notPulled {
				return nil
			}
			pn, ok := sum.Namespaces[ns]
			if !ok {
				return nil // a namespace deleted with its figures pending: none to show
			}
			if reclaim {
				pn.ReclaimableBytes = bytesum.Add(pn.ReclaimableBytes, size)
			}
			if notPulled {
				pn.NotPulledBytes = bytesum.Add(pn.NotPulledBytes, size)
			}
			sum.Namespaces[ns] = pn
			return nil
		})
		if err != nil {
			return fmt.Errorf("read namespaces' blobs: %w", err)
		}
		return nil
	})
	return sum, prunable, err
}

// planStreamed is PlanPruneWith's plan, streamed: the keep marks first
// (every namespace, then what history does not decide), then the plan a
// batch at a time with only the digests and blob lists that batch needs.
func (s *Store) planStreamed(ctx context.Context, policy Policy, filter *PlanFilter, opt PlanOptions) (*PrunePlan, error) {
	var plan *PrunePlan
	err := s.Snapshot(ctx, func(s *Store) error {
		now := s.now()
		f, err := s.readPlanFrame(ctx)
		if err != nil {
			return err
		}
		// Count the revisions the plan lists while deciding, to size its
		// lists once: grown batch by batch they would peak at twice that.
		var visible map[string]bool
		if filter != nil {
			visible = map[string]bool{}
			for _, n := range filter.Namespaces {
				visible[n] = true
			}
		}
		pruned, entries := 0, 0
		err = s.streamKeep(ctx, f, policy, now.Unix(), 0, func(n *gNamespace, _ *gStream, _ *gTag, _ gEvent) {
			if visible == nil || visible[n.name] {
				pruned++
			}
		}, func(batch []*gNamespace) error {
			for _, n := range batch {
				if visible == nil || visible[n.name] {
					for _, st := range n.streams {
						for _, t := range st.tags {
							entries += len(t.events)
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		m, err := s.readBlobMarks(ctx, f, false)
		if err != nil {
			return err
		}
		m.linked = nil
		g := f.g
		g.digest = make([]string, f.maxImage+1)
		g.blobStart = make([]int32, f.maxImage+1)
		g.blobEnd = make([]int32, f.maxImage+1)
		g.blobSize = make([]int64, f.maxBlob+1)
		b := newPlanBuilder(policy, now, filter, opt, g.hold, f.keptImage, m.kept, f.referenced)
		b.p.Revisions = make([]PruneRevision, 0, pruned)
		if opt.Kept {
			b.p.Kept = make([]PruneRevision, 0, entries-pruned)
		}
		err = s.eachNamespaceBatch(ctx, f, func(batch []*gNamespace) error {
			g.namespaces = batch
			var named, open []int64
			for _, n := range batch {
				if b.visible != nil && !b.visible[n.name] {
					continue
				}
				for _, st := range n.streams {
					for _, t := range st.tags {
						for _, ev := range t.events {
							if ev.image == 0 {
								continue
							}
							named = append(named, ev.image)
							if !f.keptImage[ev.image] {
								g.forImages(ev.image, func(i int64) { open = append(open, i) }, 0)
							}
						}
					}
				}
			}
			loaded, err := s.loadPlanImages(ctx, f, open, named)
			if err != nil {
				return err
			}
			b.namespaces(g)
			g.forget(loaded)
			return nil
		})
		g.namespaces = nil
		if err != nil {
			return err
		}
		if b.visible == nil {
			// Images no entry references (older than the threshold).
			var cands []int64
			err := scanRows(s.conn(ctx).Raw(`SELECT id FROM images`), func(sc func(...any) error) error {
				var id int64
				if err := sc(&id); err != nil {
					return err
				}
				if id > 0 && id <= f.maxImage && b.wantsUnreferenced(g, id) {
					cands = append(cands, id)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("read images: %w", err)
			}
			sort.Slice(cands, func(i, j int) bool { return cands[i] < cands[j] })
			err = chunks(cands, chunk, func(part []int64) error {
				var open []int64
				for _, id := range part {
					g.forImages(id, func(i int64) { open = append(open, i) }, 0)
				}
				loaded, err := s.loadPlanImages(ctx, f, nil, open)
				if err != nil {
					return err
				}
				for _, id := range part {
					b.unreferenced(g, id)
				}
				g.forget(loaded)
				return nil
			})
			if err != nil {
				return err
			}
		}
		err = b.finish(func(ids []int64, fn func(img int64, digest string, blobs []int32)) error {
			return chunks(ids, chunk, func(part []int64) error {
				loaded, err := s.loadPlanImages(ctx, f, part, part)
				if err != nil {
					return err
				}
				for _, img := range part {
					fn(img, g.digest[img], g.blobList[g.blobStart[img]:g.blobEnd[img]])
				}
				g.forget(loaded)
				return nil
			})
		}, func(bl int32) int64 { return g.blobSize[bl] })
		plan = b.p
		return err
	})
	return plan, err
}

// loadPlanImages reads into f.g the blob lists (with the blobs' sizes) of
// the images open and the digests of those and of named; it returns the
// images it set, for forget.
func (s *Store) loadPlanImages(ctx context.Context, f *planFrame, open, named []int64) ([]int64, error) {
	db, g := s.conn(ctx), f.g
	open = dedupe(open)
	all := dedupe(append(append([]int64(nil), named...), open...))
	err := chunks(all, chunk, func(part []int64) error {
		return scanRows(db.Raw(`SELECT id, digest FROM images WHERE id IN ?`, part), func(sc func(...any) error) error {
			var id int64
			var digest string
			if err := sc(&id, &digest); err != nil {
				return err
			}
			if id <= 0 || id > f.maxImage {
				return fmt.Errorf("image id %d out of range", id)
			}
			g.digest[id] = digest
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read images: %w", err)
	}
	g.blobList = g.blobList[:0]
	err = chunks(open, chunk, func(part []int64) error {
		last := int64(0)
		return s.eachGrouped(db, "ib.image_id", []string{"ib.blob_id", "b.size"}, `FROM image_blobs ib JOIN blobs b ON b.id = ib.blob_id
			WHERE ib.image_id IN ?`, []any{part}, true, func(img int64, v []int64) error {
			blob, size := v[0], v[1]
			if img <= 0 || img > f.maxImage || blob <= 0 || blob > f.maxBlob {
				return fmt.Errorf("link of image %d to blob %d out of range", img, blob)
			}
			if img != last {
				if g.blobEnd[img] != 0 {
					return fmt.Errorf("the links of image %d came apart", img)
				}
				g.blobStart[img] = int32(len(g.blobList))
				last = img
			}
			g.blobList = append(g.blobList, int32(blob))
			g.blobEnd[img] = int32(len(g.blobList))
			g.blobSize[blob] = size
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read image blobs: %w", err)
	}
	return all, nil
}

// forget clears what loadPlanImages set, so that the next batch sees only
// its own images.
func (g *graph) forget(ids []int64) {
	for _, id := range ids {
		g.digest[id] = ""
		g.blobStart[id], g.blobEnd[id] = 0, 0
	}
}

// eachGrouped reads rows (key, v1, ... vn) of integers, n <= 3: "SELECT key,
// v1, ..., vn " + rest. On SQLite each key's values come grouped in one
// string (one driver crossing per key, the cost that matters there), on
// PostgreSQL as plain rows, ordered by key when ordered is set (else in
// whatever order the scan gives). fn sees one (key, values) at a time.
func (s *Store) eachGrouped(db *gorm.DB, key string, vals []string, rest string, args []any, ordered bool, fn func(key int64, v []int64) error) error {
	if s.postgres() {
		if ordered {
			rest += ` ORDER BY ` + key
		}
		dest := make([]int64, 1+len(vals))
		ptrs := make([]any, len(dest))
		for i := range dest {
			ptrs[i] = &dest[i]
		}
		return scanRows(db.Raw(`SELECT `+key+`, `+strings.Join(vals, ", ")+` `+rest, args...), func(sc func(...any) error) error {
			if err := sc(ptrs...); err != nil {
				return err
			}
			return fn(dest[0], dest[1:])
		})
	}
	return scanRows(db.Raw(`SELECT `+key+`, group_concat(`+strings.Join(vals, ` || ':' || `)+`) `+rest+` GROUP BY `+key, args...), func(sc func(...any) error) error {
		var k int64
		var raw sql.RawBytes
		if err := sc(&k, &raw); err != nil {
			return err
		}
		return eachInts(raw, len(vals), func(v []int64) error { return fn(k, v) })
	})
}

// previewStreamed is PreviewPrune in bounded memory: the rule runs over
// every other namespace once (batch by batch), the moved namespace is read
// twice (as it is, and with the move applied in memory), the keep marks
// are finished for both and one scan of the links marks both kept-blob
// sets; then the namespace is planned both ways.
func (s *Store) previewStreamed(ctx context.Context, policy Policy, move TagMove) (PruneEffect, error) {
	var e PruneEffect
	err := s.Snapshot(ctx, func(s *Store) error {
		now := s.now()
		unix := now.Unix()
		db := s.conn(ctx)
		f, err := s.readPlanFrame(ctx)
		if err != nil {
			return err
		}
		g := f.g
		var img int64 // 0 when the registry has no such image, as in the graph
		if err := db.Raw(`SELECT COALESCE(MAX(id), 0) FROM images WHERE digest = ?`, move.Image).Scan(&img).Error; err != nil {
			return err
		}
		var row *gNamespace
		err = s.eachNamespaceBatch(ctx, f, func(batch []*gNamespace) error {
			g.namespaces = batch
			for _, n := range batch {
				if n.name == move.Ref.Namespace {
					row = n
					continue
				}
				g.keepEntries(n, policy, unix, f.keptImage, f.referenced, nil)
			}
			return nil
		})
		g.namespaces = nil
		if err != nil {
			return err
		}
		if row == nil {
			return notFoundf("image stream %s/%s not found", move.Ref.Namespace, move.Ref.Stream)
		}
		// The namespace as it is, and a second copy to move the tag in.
		before := row
		after := &gNamespace{id: row.id, name: row.name, keepTagRevisions: row.keepTagRevisions, keepYoungerThan: row.keepYoungerThan}
		if err := s.readBatch(db, f, []*gNamespace{after}); err != nil {
			return err
		}
		g.namespaces = []*gNamespace{after}
		if !g.moveTag(move, img, unix) {
			return notFoundf("image stream %s/%s not found", move.Ref.Namespace, move.Ref.Stream)
		}
		cutoff := unix - int64(policy.KeepYoungerThan.Seconds())
		var young [][2]int64 // images younger than the threshold: the only ones keepBeyondHistory keeps by age
		err = scanRows(db.Raw(`SELECT id, `+s.epoch("created_at")+` FROM images`), func(sc func(...any) error) error {
			var id, created int64
			if err := sc(&id, &created); err != nil {
				return err
			}
			if created > cutoff {
				young = append(young, [2]int64{id, created})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read images: %w", err)
		}
		type variant struct {
			n                     *gNamespace
			keptImage, referenced []bool
			keptBlob              []bool
		}
		vs := []*variant{{n: before}, {n: after}}
		for _, v := range vs {
			v.keptImage, v.referenced = slices.Clone(f.keptImage), slices.Clone(f.referenced)
			g.namespaces = []*gNamespace{v.n}
			g.keepEntries(v.n, policy, unix, v.keptImage, v.referenced, nil)
			err := g.keepBeyondHistory(v.keptImage, v.referenced, cutoff, func(fn func(img, created int64)) error {
				for _, y := range young {
					fn(y[0], y[1])
				}
				return nil
			})
			if err != nil {
				return err
			}
			v.keptBlob = make([]bool, f.maxBlob+1)
		}
		f.keptImage, f.referenced = nil, nil
		err = s.eachGrouped(db, "image_id", []string{"blob_id"}, `FROM image_blobs`, nil, false, func(img int64, b []int64) error {
			if img <= 0 || img > f.maxImage || b[0] <= 0 || b[0] > f.maxBlob {
				return fmt.Errorf("link of image %d to blob %d out of range", img, b[0])
			}
			for _, v := range vs {
				if v.keptImage[img] {
					v.keptBlob[b[0]] = true
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read image blobs: %w", err)
		}
		g.digest = make([]string, f.maxImage+1)
		g.blobStart = make([]int32, f.maxImage+1)
		g.blobEnd = make([]int32, f.maxImage+1)
		g.blobSize = make([]int64, f.maxBlob+1)
		filter := &PlanFilter{Namespaces: []string{move.Ref.Namespace}}
		var plans [2]*PrunePlan
		for i, v := range vs {
			var named, open []int64
			for _, st := range v.n.streams {
				for _, t := range st.tags {
					for _, ev := range t.events {
						if ev.image == 0 {
							continue
						}
						named = append(named, ev.image)
						if !v.keptImage[ev.image] {
							g.forImages(ev.image, func(i int64) { open = append(open, i) }, 0)
						}
					}
				}
			}
			loaded, err := s.loadPlanImages(ctx, f, open, named)
			if err != nil {
				return err
			}
			b := newPlanBuilder(policy, now, filter, PlanOptions{}, g.hold, v.keptImage, v.keptBlob, v.referenced)
			g.namespaces = []*gNamespace{v.n}
			b.namespaces(g)
			g.forget(loaded)
			plans[i] = b.p
		}
		g.namespaces = nil
		e = effectOf(plans[0], plans[1])
		return nil
	})
	return e, err
}
