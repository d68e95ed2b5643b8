package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"layerwise/bytesum"
)

// Pruning. One definition of "prunable" serves usage (reclaimable bytes,
// the prunable marks) and the plan that prune applies: graph.keep below.
//
//   - Per tag: each history entry is kept or not by the retention rule
//     (retention.go: the current entry, pins, images in use, the
//     namespace's rules in order, then its policy — the newest
//     KeepTagRevisions entries and every entry younger than
//     KeepYoungerThan); the rest of the history goes.
//   - Images: an image stays while a remaining entry references it (or a
//     remaining manifest list lists it), while it is pinned anywhere, or,
//     when no entry references it at all, while it is younger than the
//     threshold. The others go.
//   - Blobs: a blob stays while a remaining image lists it.
//
// A namespace may override the policy and add rules (its admins set them);
// the global policy is the default and decides about images no entry
// references.

// Pin keeps an image from being pruned: its history entries in the
// namespace and the image itself (with its layers) stay.
type Pin struct {
	ID          int64     `gorm:"primaryKey"`
	NamespaceID int64     `gorm:"not null;uniqueIndex:ux_pins_ns_image,priority:1"`
	ImageID     int64     `gorm:"not null;uniqueIndex:ux_pins_ns_image,priority:2;index"`
	Note        string    `gorm:"not null;default:''"`
	CreatedBy   string    `gorm:"not null;default:''"`
	CreatedAt   time.Time `gorm:"not null"`

	Namespace *Namespace `gorm:"constraint:OnDelete:CASCADE"`
	Image     *Image     `gorm:"constraint:OnDelete:RESTRICT"`
}

// Lock is a named lease that keeps two runs of something (prune) from
// overlapping, across processes: the CLI and the server's job.
type Lock struct {
	Name       string    `gorm:"primaryKey"`
	Holder     string    `gorm:"not null;default:''"`
	AcquiredAt time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null"`
}

// ManifestDeletion is a manifest prune removed from the database and that
// is still to be deleted from the managed registry (an outbox, written in
// the same transaction as the deletion, so a crash loses none).
type ManifestDeletion struct {
	ID         int64     `gorm:"primaryKey"`
	Repository string    `gorm:"not null;uniqueIndex:ux_manifest_deletions_repo_digest,priority:1"` // ns/name
	Digest     string    `gorm:"not null;uniqueIndex:ux_manifest_deletions_repo_digest,priority:2"`
	CreatedAt  time.Time `gorm:"not null"`
	Attempts   int       `gorm:"not null;default:0"`
	Error      string    `gorm:"not null;default:''"`
}

// ErrBusy is returned when another run holds the lock.
var ErrBusy = errors.New("busy")

// policyOf is a namespace's effective policy.
func (g *graph) policyOf(n *gNamespace, def Policy) Policy {
	p := def
	if n.keepTagRevisions != nil {
		p.KeepTagRevisions = *n.keepTagRevisions
	}
	if n.keepYoungerThan != nil {
		p.KeepYoungerThan = time.Duration(*n.keepYoungerThan) * time.Second
	}
	return p
}

func (g *graph) pinnedIn(ns, img int64) bool {
	for _, n := range g.pinned[img] {
		if n == ns {
			return true
		}
	}
	return false
}

// lastPulled is when img was last pulled from stream st: the image itself
// or, for a manifest list, any of its platform images (0: never recorded).
func (g *graph) lastPulled(st *gStream, img int64) int64 {
	if st.pulled == nil || img == 0 {
		return 0
	}
	t := st.pulled[img]
	for _, c := range g.children[img] {
		t = max(t, st.pulled[c])
	}
	return t
}

// facts is what the retention rule knows of entry ev of tag t.
func (g *graph) facts(n *gNamespace, st *gStream, t *gTag, ev gEvent) entryFacts {
	e := entryFacts{position: int(ev.position), created: ev.created, match: t.mask}
	if ev.image != 0 {
		e.pinned = g.pinnedIn(n.id, ev.image)
		if n.usesPulls {
			e.pulled = g.lastPulled(st, ev.image)
		}
	}
	return e
}

// prunable applies the retention rule to one history entry of namespace n
// under its effective policy p at now (unix seconds).
func (g *graph) prunable(n *gNamespace, st *gStream, t *gTag, ev gEvent, p Policy, now int64) bool {
	return !n.rules.decide(g.facts(n, st, t, ev), p, now).Kept()
}

// keep decides which images and blobs survive the policy and the rules.
func (g *graph) keep(def Policy, now time.Time) (keptImage, keptBlob []bool) {
	keptImage = make([]bool, len(g.blobStart))
	referenced := make([]bool, len(g.blobStart))
	mark := func(set []bool, img int64) {
		if img <= 0 || int(img) >= len(set) {
			return
		}
		set[img] = true
		for _, c := range g.children[img] {
			set[c] = true
		}
	}
	unix := now.Unix()
	for _, n := range g.namespaces {
		p := g.policyOf(n, def)
		for _, st := range n.streams {
			for _, t := range st.tags {
				for _, ev := range t.events {
					if ev.image == 0 {
						continue
					}
					mark(referenced, ev.image)
					if !g.prunable(n, st, t, ev, p, unix) {
						mark(keptImage, ev.image)
					}
				}
			}
		}
	}
	cutoff := now.Add(-def.KeepYoungerThan).Unix()
	for img := range keptImage {
		// Images no history references stay while younger than the threshold.
		if !referenced[img] && g.digest[img] != "" && g.imgCreated[img] > cutoff {
			mark(keptImage, int64(img))
		}
	}
	for img := range g.pinned {
		mark(keptImage, img)
	}
	keptBlob = make([]bool, len(g.blobSize))
	for img, ok := range keptImage {
		if ok {
			for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
				keptBlob[b] = true
			}
		}
	}
	return keptImage, keptBlob
}

// PlanPolicy is the policy as `prune -o json` prints it.
type PlanPolicy struct {
	KeepTagRevisions int    `json:"keepTagRevisions"`
	KeepYoungerThan  string `json:"keepYoungerThan"`
}

// PruneRevision is one history entry the plan removes (or, in Kept, keeps),
// with the retention rule's answer for it.
type PruneRevision struct {
	Namespace string    `json:"namespace"`
	Stream    string    `json:"stream"`
	Tag       string    `json:"tag"`
	Image     string    `json:"image"`
	Created   time.Time `json:"created"`
	Position  int       `json:"position"`
	Retention Retention `json:"retention"`

	id, tagID, imageID, nsID, streamID int64
}

// PruneStream sums the plan for one stream.
type PruneStream struct {
	Name       string `json:"name"`
	Revisions  int    `json:"revisions"`
	BytesFreed int64  `json:"bytesFreed"`
}

// PruneNamespace sums the plan for one namespace. BytesFreed counts each
// blob once within the namespace; a blob freed in two namespaces counts in
// both, so the namespaces can add up to more than the plan's bytesFreed.
type PruneNamespace struct {
	Name string `json:"name"`
	// Policy is the namespace's effective policy; Override says whether the
	// namespace set its own.
	Policy   PlanPolicy `json:"policy"`
	Override bool       `json:"override,omitempty"`
	// Rules are the namespace's retention rules, in order (rule 1 first).
	Rules      []string      `json:"rules,omitempty"`
	Revisions  int           `json:"revisions"`
	BytesFreed int64         `json:"bytesFreed"`
	Streams    []PruneStream `json:"streams"`
}

// PrunePlan is what a prune run removes, in the shape of `prune -o json`.
type PrunePlan struct {
	DryRun     bool             `json:"dryRun"`
	Policy     PlanPolicy       `json:"policy"`
	Revisions  []PruneRevision  `json:"revisions"`
	Images     []string         `json:"images"`
	Blobs      int              `json:"blobs"`
	BytesFreed int64            `json:"bytesFreed"`
	Namespaces []PruneNamespace `json:"namespaces"`
	ComputedAt time.Time        `json:"computedAt"`
	// Kept are the revisions the plan keeps, with why and until when; only
	// when asked for (PlanOptions.Kept, prune --show-kept).
	Kept []PruneRevision `json:"kept,omitempty"`

	policy   Policy
	imageIDs []int64
	blobIDs  []int64
	isList   map[int64]bool
}

// PlanFilter narrows a plan to what a user may see: only these namespaces
// (nil: everything, for platform admins). Images and blobs are then the
// ones those namespaces' revisions free, and images no entry references
// are left out.
type PlanFilter struct {
	Namespaces []string
}

// PlanOptions ask a plan for more.
type PlanOptions struct {
	// Kept lists every kept revision with its retention reason and date.
	Kept bool
}

func planPolicy(p Policy) PlanPolicy {
	return PlanPolicy{KeepTagRevisions: p.KeepTagRevisions, KeepYoungerThan: p.KeepYoungerThan.String()}
}

// PlanPrune computes what applying the policy removes now. It reads the
// registry graph once (the same graph usage reads) and writes nothing.
func (s *Store) PlanPrune(ctx context.Context, policy Policy, filter *PlanFilter) (*PrunePlan, error) {
	return s.PlanPruneWith(ctx, policy, filter, PlanOptions{})
}

// PlanPruneWith is PlanPrune with options.
func (s *Store) PlanPruneWith(ctx context.Context, policy Policy, filter *PlanFilter, opt PlanOptions) (*PrunePlan, error) {
	if policy.KeepTagRevisions < 0 || policy.KeepYoungerThan < 0 {
		return nil, invalidf("prune policy: keep-tag-revisions and keep-younger-than must not be negative")
	}
	g, err := s.loadGraph(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan prune: %w", err)
	}
	return g.plan(policy, s.now(), filter, opt), nil
}

func (g *graph) plan(policy Policy, now time.Time, filter *PlanFilter, opt PlanOptions) *PrunePlan {
	keptImage, keptBlob := g.keep(policy, now)
	unix := now.Unix()
	p := &PrunePlan{DryRun: true, Policy: planPolicy(policy), policy: policy, ComputedAt: now,
		Revisions: []PruneRevision{}, Images: []string{}, Namespaces: []PruneNamespace{}, isList: map[int64]bool{}}
	var visible map[string]bool
	if filter != nil {
		visible = map[string]bool{}
		for _, n := range filter.Namespaces {
			visible[n] = true
		}
	}
	// Size the revision list up front: on a large registry it holds
	// hundreds of thousands of entries, and growing it by appends would
	// allocate several times its final size.
	n, kept := 0, 0
	for _, ns := range g.namespaces {
		if visible != nil && !visible[ns.name] {
			continue
		}
		np := g.policyOf(ns, policy)
		for _, st := range ns.streams {
			for _, t := range st.tags {
				for _, ev := range t.events {
					if g.prunable(ns, st, t, ev, np, unix) {
						n++
					} else {
						kept++
					}
				}
			}
		}
	}
	p.Revisions = make([]PruneRevision, 0, n)
	if opt.Kept {
		p.Kept = make([]PruneRevision, 0, kept)
	}
	nb := len(g.blobSize)
	nsStamp := make([]int32, nb)
	stStamp := make([]int32, nb)
	planStamp := make([]bool, nb)
	imgInPlan := make([]bool, len(g.blobStart))
	var nsN, stN int32
	addImage := func(img int64) {
		add := func(i int64) {
			if !keptImage[i] && !imgInPlan[i] {
				imgInPlan[i] = true
				p.imageIDs = append(p.imageIDs, i)
				if len(g.children[i]) > 0 {
					p.isList[i] = true
				}
			}
		}
		add(img)
		for _, c := range g.children[img] {
			add(c)
		}
	}
	for _, n := range g.namespaces {
		if visible != nil && !visible[n.name] {
			continue
		}
		np := g.policyOf(n, policy)
		pn := PruneNamespace{Name: n.name, Policy: planPolicy(np), Override: n.keepTagRevisions != nil || n.keepYoungerThan != nil}
		pn.Rules = n.ruleText
		nsN++
		for _, st := range n.streams {
			stN++
			ps := PruneStream{Name: st.name}
			for _, t := range st.tags {
				for _, ev := range t.events {
					ret := n.rules.decide(g.facts(n, st, t, ev), np, unix)
					if ret.Kept() && !opt.Kept {
						continue
					}
					rev := PruneRevision{Namespace: n.name, Stream: st.name, Tag: t.name, Created: time.Unix(ev.created, 0).UTC(),
						Position: int(ev.position), Retention: ret, id: ev.id, tagID: t.id, imageID: ev.image, nsID: n.id, streamID: st.id}
					if ev.image != 0 {
						rev.Image = g.digest[ev.image]
					}
					if ret.Kept() {
						rev.Retention = n.rules.retain(g.facts(n, st, t, ev), np, unix)
						p.Kept = append(p.Kept, rev)
						continue
					}
					p.Revisions = append(p.Revisions, rev)
					ps.Revisions++
					if ev.image == 0 {
						continue
					}
					addImage(ev.image)
					g.forBlobs(ev.image, func(b int32) {
						if keptBlob[b] {
							return
						}
						if stStamp[b] != stN {
							stStamp[b] = stN
							ps.BytesFreed = bytesum.Add(ps.BytesFreed, g.blobSize[b])
						}
						if nsStamp[b] != nsN {
							nsStamp[b] = nsN
							pn.BytesFreed = bytesum.Add(pn.BytesFreed, g.blobSize[b])
						}
					})
				}
			}
			if ps.Revisions > 0 {
				pn.Streams = append(pn.Streams, ps)
				pn.Revisions += ps.Revisions
			}
		}
		if pn.Revisions > 0 || opt.Kept && len(pn.Rules) > 0 {
			p.Namespaces = append(p.Namespaces, pn)
		}
	}
	if visible == nil {
		// Images no entry references at all (and older than the threshold).
		for img := 1; img < len(keptImage); img++ {
			if !keptImage[img] && g.digest[img] != "" {
				addImage(int64(img))
			}
		}
	}
	sort.Slice(p.imageIDs, func(i, j int) bool { return p.imageIDs[i] < p.imageIDs[j] })
	for _, img := range p.imageIDs {
		p.Images = append(p.Images, g.digest[img])
		for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
			if !keptBlob[b] && !planStamp[b] {
				planStamp[b] = true
				p.blobIDs = append(p.blobIDs, int64(b))
				p.BytesFreed = bytesum.Add(p.BytesFreed, g.blobSize[b])
			}
		}
	}
	p.Blobs = len(p.blobIDs)
	return p
}

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
	// AfterBatch is called after each committed transaction; an error stops
	// the run there (tests use it to kill a run half way).
	AfterBatch func(batch int) error
	// Locked says the caller already holds the "prune" lock as Holder
	// (WithLock); otherwise ApplyPrune takes it for the run.
	Locked bool
}

// LockTTL is how long a prune lock lives without being renewed. WithLock
// renews it every LockTTL/3 while its run goes on (and ApplyPrune every
// batch), so only a dead run's lock expires, and the next run waits at
// most this long after a kill -9.
const LockTTL = time.Minute

// AcquireLock takes the named lock for holder, or fails with ErrBusy. An
// expired lock (its holder died) is taken over.
func (s *Store) AcquireLock(ctx context.Context, name, holder string, ttl time.Duration) error {
	db := s.conn(ctx)
	now := s.now()
	if err := db.Where("name = ? AND expires_at < ?", name, now).Delete(&Lock{}).Error; err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&Lock{Name: name, Holder: holder, AcquiredAt: now, ExpiresAt: now.Add(ttl)})
	if res.Error != nil {
		return fmt.Errorf("lock %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		var l Lock
		if err := db.Where("name = ?", name).Take(&l).Error; err != nil {
			return kindError{ErrBusy, fmt.Sprintf("another %s run is in progress; try again later", name)}
		}
		return kindError{ErrBusy, fmt.Sprintf("another %s run (%s, started %s) is in progress; try again when it has finished (if it died, its lock expires at %s)",
			name, l.Holder, l.AcquiredAt.UTC().Format(time.RFC3339), l.ExpiresAt.UTC().Format(time.RFC3339))}
	}
	return nil
}

// WithLock runs fn holding the named lock (ErrBusy when another holds it);
// fn may renew it.
func (s *Store) WithLock(ctx context.Context, name, holder string, fn func(renew func() error) error) error {
	if err := s.AcquireLock(ctx, name, holder, LockTTL); err != nil {
		return err
	}
	defer s.ReleaseLock(context.WithoutCancel(ctx), name, holder)
	// A heartbeat keeps the lock while fn works on something long (a
	// registry's deletions); a renewal that fails is seen by fn's own renew.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = s.RenewLock(context.WithoutCancel(ctx), name, holder, LockTTL)
			}
		}
	}()
	defer func() { close(done); wg.Wait() }()
	return fn(func() error { return s.RenewLock(ctx, name, holder, LockTTL) })
}

// RenewLock extends a held lock; it fails if the lock was lost.
func (s *Store) RenewLock(ctx context.Context, name, holder string, ttl time.Duration) error {
	res := s.conn(ctx).Model(&Lock{}).Where("name = ? AND holder = ?", name, holder).Update("expires_at", s.now().Add(ttl))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return kindError{ErrBusy, fmt.Sprintf("lost the %s lock (it expired and another run took it)", name)}
	}
	return nil
}

// Lock returns the named lock as it is (ErrNotFound when nobody holds it).
func (s *Store) Lock(ctx context.Context, name string) (Lock, error) {
	var l Lock
	err := s.conn(ctx).Where("name = ?", name).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return l, notFoundf("nobody holds the %s lock", name)
	}
	return l, err
}

// BreakLock removes the lock of a holder known to be dead (its process is
// gone); only that holder's lock goes, so a run that took it meanwhile keeps
// its own.
func (s *Store) BreakLock(ctx context.Context, name, deadHolder string) error {
	return s.ReleaseLock(ctx, name, deadHolder)
}

// ReleaseLock gives a held lock back.
func (s *Store) ReleaseLock(ctx context.Context, name, holder string) error {
	return s.conn(ctx).Where("name = ? AND holder = ?", name, holder).Delete(&Lock{}).Error
}

// chunk is the most ids one IN (?) list carries.
const chunk = 500

func chunks(ids []int64, n int, fn func([]int64) error) error {
	for i := 0; i < len(ids); i += n {
		j := min(i+n, len(ids))
		if err := fn(ids[i:j]); err != nil {
			return err
		}
	}
	return nil
}

// pluckIn runs "SELECT col FROM ... WHERE x IN (ids)" in chunks of 500.
func pluckIn(db *gorm.DB, query string, ids []int64) ([]int64, error) {
	var out []int64
	err := chunks(ids, chunk, func(part []int64) error {
		var got []int64
		if err := db.Raw(query, part).Scan(&got).Error; err != nil {
			return err
		}
		out = append(out, got...)
		return nil
	})
	return out, err
}

// ApplyPrune removes what plan lists, in bounded transactions: per batch of
// tags, the history entries (re-checked against the current state: an
// entry that became current, moved into the kept revisions or got pinned
// since the plan stays), then the images those entries held that nothing
// references any more, then their blobs that no image lists. A final pass
// removes the plan's images that no entry referenced. Each transaction
// leaves the database consistent, so a run killed half way loses nothing
// the policy keeps, and the next run (with a new plan) finishes the job.
// Two runs never overlap: the "prune" lock is held throughout.
func (s *Store) ApplyPrune(ctx context.Context, plan *PrunePlan, opt ApplyOptions) (PruneResult, error) {
	var res PruneResult
	if plan == nil {
		return res, invalidf("no plan to apply")
	}
	if opt.Holder == "" {
		opt.Holder = "prune"
	}
	if opt.BatchTags <= 0 || opt.BatchTags > chunk {
		opt.BatchTags = chunk
	}
	if !opt.Locked {
		if err := s.AcquireLock(ctx, "prune", opt.Holder, LockTTL); err != nil {
			return res, err
		}
		defer s.ReleaseLock(context.WithoutCancel(ctx), "prune", opt.Holder)
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
	batch := 0
	next := func() error {
		batch++
		res.Batches = batch
		if err := s.RenewLock(ctx, "prune", opt.Holder, LockTTL); err != nil {
			return err
		}
		if opt.AfterBatch != nil {
			return opt.AfterBatch(batch)
		}
		return nil
	}
	for i := 0; i < len(tags); i += opt.BatchTags {
		part := tags[i:min(i+opt.BatchTags, len(tags))]
		var r PruneResult
		err := s.Tx(ctx, func(tx *Store) error {
			var err error
			r, err = tx.pruneTags(ctx, plan, part, byTag, planImage, planBlob, opt)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("prune batch %d: %w", batch+1, err)
		}
		res.add(r)
		if err := next(); err != nil {
			return res, err
		}
	}
	// Images the plan found unreferenced (and their blobs), and whatever an
	// interrupted batch did not get to.
	// Lists first, so that their children can follow them.
	var rest []int64
	for _, id := range plan.imageIDs {
		if plan.isList[id] {
			rest = append(rest, id)
		}
	}
	for _, id := range plan.imageIDs {
		if !plan.isList[id] {
			rest = append(rest, id)
		}
	}
	for i := 0; i < len(rest); i += chunk {
		part := rest[i:min(i+chunk, len(rest))]
		var r PruneResult
		err := s.Tx(ctx, func(tx *Store) error {
			var err error
			r, err = tx.pruneImages(ctx, plan, part, planBlob)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("prune images: %w", err)
		}
		res.add(r)
		if err := next(); err != nil {
			return res, err
		}
	}
	for i := 0; i < len(plan.blobIDs); i += chunk {
		part := plan.blobIDs[i:min(i+chunk, len(plan.blobIDs))]
		var r PruneResult
		err := s.Tx(ctx, func(tx *Store) error {
			var err error
			r.Blobs, r.BytesFreed, err = tx.pruneBlobs(ctx, part)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("prune blobs: %w", err)
		}
		res.add(r)
		if err := next(); err != nil {
			return res, err
		}
	}
	return res, nil
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
	r, err := s.pruneImages(ctx, plan, cand, planBlob)
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

type tagImage struct{ tag, image int64 }

// queueManifestDeletions records, per stream, the images of dropped
// entries (and their children) that no remaining entry of the stream
// references, directly or through a manifest list: the registry will be
// asked to delete them from the stream's repository.
func (s *Store) queueManifestDeletions(ctx context.Context, dropped []tagImage) (int64, error) {
	db := s.conn(ctx)
	var tagIDs, imgIDs []int64
	for _, d := range dropped {
		tagIDs = append(tagIDs, d.tag)
		imgIDs = append(imgIDs, d.image)
	}
	tagIDs, imgIDs = dedupe(tagIDs), dedupe(imgIDs)
	type tagRow struct {
		TagID, StreamID int64
		Stream, Ns      string
	}
	repoOf := map[int64]string{} // stream ID → ns/name
	streamOf := map[int64]int64{}
	err := chunks(tagIDs, chunk, func(part []int64) error {
		var rows []tagRow
		if err := db.Table("tags t").Select("t.id AS tag_id, st.id AS stream_id, st.name AS stream, n.name AS ns").
			Joins("JOIN image_streams st ON st.id = t.stream_id").Joins("JOIN namespaces n ON n.id = st.namespace_id").
			Where("t.id IN ?", part).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			repoOf[r.StreamID] = r.Ns + "/" + r.Stream
			streamOf[r.TagID] = r.StreamID
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	// Children of dropped lists are manifests of the repository too.
	childrenOf := map[int64][]int64{}
	err = chunks(imgIDs, chunk, func(part []int64) error {
		var rows []ImageManifest
		if err := db.Select("list_id, child_id").Where("list_id IN ?", part).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			childrenOf[r.ListID] = append(childrenOf[r.ListID], r.ChildID)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	want := map[[2]int64]bool{} // (stream, image)
	var all []int64
	for _, d := range dropped {
		st := streamOf[d.tag]
		want[[2]int64{st, d.image}] = true
		all = append(all, d.image)
		for _, c := range childrenOf[d.image] {
			want[[2]int64{st, c}] = true
			all = append(all, c)
		}
	}
	all = dedupe(all)
	streams := keys(func() map[int64]bool {
		m := map[int64]bool{}
		for _, st := range streamOf {
			m[st] = true
		}
		return m
	}())
	// What the remaining history of those streams still holds.
	type pair struct{ StreamID, ImageID int64 }
	err = chunks(streams, chunk, func(sp []int64) error {
		return chunks(all, chunk, func(ip []int64) error {
			var rows []pair
			if err := db.Raw(`SELECT DISTINCT t.stream_id, e.image_id FROM tag_events e JOIN tags t ON t.id = e.tag_id
				WHERE t.stream_id IN ? AND e.image_id IN ?`, sp, ip).Scan(&rows).Error; err != nil {
				return err
			}
			var via []pair
			if err := db.Raw(`SELECT DISTINCT t.stream_id, m.child_id AS image_id FROM tag_events e JOIN tags t ON t.id = e.tag_id
				JOIN image_manifests m ON m.list_id = e.image_id WHERE t.stream_id IN ? AND m.child_id IN ?`, sp, ip).Scan(&via).Error; err != nil {
				return err
			}
			for _, r := range append(rows, via...) {
				delete(want, [2]int64{r.StreamID, r.ImageID})
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	digests := map[int64]string{}
	err = chunks(all, chunk, func(part []int64) error {
		var rows []Image
		if err := db.Select("id, digest").Where("id IN ?", part).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			digests[r.ID] = r.Digest
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	var out []ManifestDeletion
	now := s.now()
	for k := range want {
		if repo, d := repoOf[k[0]], digests[k[1]]; repo != "" && d != "" {
			out = append(out, ManifestDeletion{Repository: repo, Digest: d, CreatedAt: now})
		}
	}
	if len(out) == 0 {
		return 0, nil
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Digest < out[j].Digest
	})
	res := db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(&out, 200)
	if res.Error != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// PendingManifestDeletions lists what is still to be deleted from the
// managed registry, oldest first, after the row afterID.
func (s *Store) PendingManifestDeletions(ctx context.Context, afterID int64, limit int) ([]ManifestDeletion, error) {
	var out []ManifestDeletion
	err := s.conn(ctx).Where("id > ?", afterID).Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// ManifestDeleted removes a done deletion from the queue; with a non-nil
// err it records the failure instead (the next run tries again).
func (s *Store) ManifestDeleted(ctx context.Context, id int64, failure error) error {
	if failure == nil {
		return s.conn(ctx).Delete(&ManifestDeletion{}, id).Error
	}
	return s.conn(ctx).Model(&ManifestDeletion{}).Where("id = ?", id).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "error": failure.Error()}).Error
}

// pruneImages deletes those of ids that nothing holds any more: no history
// entry, no pin, no remaining manifest list. Lists go first, so children of
// a deleted list can go in the same call. Then their blobs.
func (s *Store) pruneImages(ctx context.Context, plan *PrunePlan, ids []int64, planBlob map[int64]bool) (PruneResult, error) {
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
	var lists, others []int64
	for _, id := range ids {
		if plan.isList[id] {
			lists = append(lists, id)
		} else {
			others = append(others, id)
		}
	}
	var blobs []int64
	for _, group := range [][]int64{lists, others} {
		if len(group) == 0 {
			continue
		}
		held := map[int64]bool{}
		for _, q := range []string{
			`SELECT DISTINCT image_id FROM tag_events WHERE image_id IN ?`,
			`SELECT DISTINCT image_id FROM pins WHERE image_id IN ?`,
			`SELECT DISTINCT child_id FROM image_manifests WHERE child_id IN ?`,
		} {
			got, err := pluckIn(db, q, group)
			if err != nil {
				return res, fmt.Errorf("check images: %w", err)
			}
			for _, id := range got {
				held[id] = true
			}
		}
		var gone []int64
		for _, id := range group {
			if !held[id] {
				gone = append(gone, id)
			}
		}
		if len(gone) == 0 {
			continue
		}
		b, err := pluckIn(db, `SELECT DISTINCT blob_id FROM image_blobs WHERE image_id IN ?`, gone)
		if err != nil {
			return res, err
		}
		blobs = append(blobs, b...)
		err = chunks(gone, chunk, func(part []int64) error {
			if err := db.Where("image_id IN ?", part).Delete(&ImageBlob{}).Error; err != nil {
				return err
			}
			if err := db.Where("list_id IN ?", part).Delete(&ImageManifest{}).Error; err != nil {
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
	isUsed := map[int64]bool{}
	for _, id := range used {
		isUsed[id] = true
	}
	var gone []int64
	for _, id := range ids {
		if !isUsed[id] {
			gone = append(gone, id)
		}
	}
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

// PrunePolicy is the namespace's effective policy given the global one.
func (n Namespace) PrunePolicy(def Policy) Policy {
	p := def
	if n.PruneKeepTagRevisions != nil {
		p.KeepTagRevisions = *n.PruneKeepTagRevisions
	}
	if n.PruneKeepYoungerThan != nil {
		p.KeepYoungerThan = time.Duration(*n.PruneKeepYoungerThan) * time.Second
	}
	return p
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func dedupe(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// PinInfo is a pin as the pages and the API show it.
type PinInfo struct {
	Namespace string    `json:"namespace"`
	Image     string    `json:"image"`
	Note      string    `json:"note"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// MaxPinNote is the longest note a pin keeps.
const MaxPinNote = 500

// PinImage pins an image in a namespace with a note; the image must be in
// the namespace (some tag there holds or held it). Pinning again updates
// the note. It returns the pin as it was before ("" note and false when new).
func (s *Store) PinImage(ctx context.Context, ns, digest, note, by string) (before *PinInfo, err error) {
	if err := ValidateDigest(digest); err != nil {
		return nil, err
	}
	note = strings.TrimSpace(note)
	if len([]rune(note)) > MaxPinNote {
		return nil, invalidf("a pin note is at most %d characters", MaxPinNote)
	}
	err = s.Tx(ctx, func(tx *Store) error {
		n, img, err := tx.imageInNamespace(ctx, ns, digest)
		if err != nil {
			return err
		}
		db := tx.conn(ctx)
		var have Pin
		err = db.Where("namespace_id = ? AND image_id = ?", n.ID, img).Take(&have).Error
		if err == nil {
			before = &PinInfo{Namespace: ns, Image: digest, Note: have.Note, CreatedBy: have.CreatedBy, CreatedAt: have.CreatedAt}
			return db.Model(&Pin{}).Where("id = ?", have.ID).Update("note", note).Error
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		return db.Create(&Pin{NamespaceID: n.ID, ImageID: img, Note: note, CreatedBy: by, CreatedAt: tx.now()}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("pin %s in %s: %w", digest, ns, err)
	}
	return before, nil
}

// UnpinImage removes a pin; it returns the pin removed.
func (s *Store) UnpinImage(ctx context.Context, ns, digest string) (PinInfo, error) {
	var out PinInfo
	if err := ValidateDigest(digest); err != nil {
		return out, err
	}
	err := s.Tx(ctx, func(tx *Store) error {
		pins, err := tx.Pins(ctx, ns, digest)
		if err != nil {
			return err
		}
		if len(pins) == 0 {
			return notFoundf("image %s is not pinned in namespace %s", digest, ns)
		}
		out = pins[0]
		return tx.conn(ctx).Where("namespace_id = (SELECT id FROM namespaces WHERE name = ?) AND image_id = (SELECT id FROM images WHERE digest = ?)",
			ns, digest).Delete(&Pin{}).Error
	})
	return out, err
}

// Pins lists the pins of a namespace ("" = every namespace), of one image
// when digest is set, newest first.
func (s *Store) Pins(ctx context.Context, ns, digest string) ([]PinInfo, error) {
	q := s.conn(ctx).Table("pins p").
		Select("n.name AS namespace, i.digest AS image, p.note, p.created_by, p.created_at").
		Joins("JOIN namespaces n ON n.id = p.namespace_id").Joins("JOIN images i ON i.id = p.image_id")
	if ns != "" {
		q = q.Where("n.name = ?", ns)
	}
	if digest != "" {
		q = q.Where("i.digest = ?", digest)
	}
	var out []PinInfo
	if err := q.Order("p.id DESC").Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("read pins: %w", err)
	}
	return out, nil
}

// imageInNamespace finds a namespace and an image some tag there holds or held.
func (s *Store) imageInNamespace(ctx context.Context, ns, digest string) (Namespace, int64, error) {
	n, err := s.GetNamespace(ctx, ns)
	if err != nil {
		return n, 0, err
	}
	var ids []int64
	err = s.conn(ctx).Table("tag_events e").Select("i.id").Joins("JOIN images i ON i.id = e.image_id").
		Joins("JOIN tags t ON t.id = e.tag_id").Joins("JOIN image_streams st ON st.id = t.stream_id").
		Where("st.namespace_id = ? AND i.digest = ?", n.ID, digest).Limit(1).Pluck("i.id", &ids).Error
	if err != nil {
		return n, 0, err
	}
	if len(ids) == 0 {
		return n, 0, notFoundf("image %s is not in namespace %s (no tag there holds it)", digest, ns)
	}
	return n, ids[0], nil
}
