package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"layerwise/bytesum"
)

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
	// InUseBy names the workloads that use the image when the reason is
	// in-use: "in use by deployment payments/api and 2 more" (workloads in
	// namespaces the plan's reader does not see are counted, not named).
	InUseBy string `json:"inUseBy,omitempty"`
	// Referrers counts the signatures, SBOMs and attestations that go with
	// this entry's image (listed in the plan's referrers).
	Referrers int `json:"referrers,omitempty"`

	id, tagID, imageID, nsID, streamID int64
}

// PruneReferrer is a referrer the plan removes with its subject: a
// referrer goes exactly when its subject goes. Orphaned ones have a
// subject no tag history holds any more (nothing keeps it).
type PruneReferrer struct {
	Subject  string       `json:"subject"`
	Digest   string       `json:"digest"`
	Type     ReferrerType `json:"type"`
	Orphaned bool         `json:"orphaned,omitempty"`
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
	DryRun    bool            `json:"dryRun"`
	Policy    PlanPolicy      `json:"policy"`
	Revisions []PruneRevision `json:"revisions"`
	Images    []string        `json:"images"`
	// Referrers are the signatures, SBOMs and attestations among Images,
	// each with its subject.
	Referrers  []PruneReferrer  `json:"referrers"`
	Blobs      int              `json:"blobs"`
	BytesFreed int64            `json:"bytesFreed"`
	Namespaces []PruneNamespace `json:"namespaces"`
	ComputedAt time.Time        `json:"computedAt"`
	// Kept are the revisions the plan keeps, with why and until when; only
	// when asked for (PlanOptions.Kept, prune --show-kept).
	Kept []PruneRevision `json:"kept,omitempty"`
	// Hold is set while a cluster's in-use read failed or never succeeded:
	// the plan then keeps every revision and image.
	Hold *InUseHold `json:"hold,omitempty"`

	policy   Policy
	imageIDs []int64
	blobIDs  []int64
	isList   map[int64]bool
	// refDepth orders deletions: a referrer after its subject (1), one of
	// a referrer after that (2)...
	refDepth map[int64]int
}

// PlanFilter narrows a plan to what a user may see: only these namespaces
// (nil: everything, for platform admins). Images and blobs are then the
// ones those namespaces' revisions free, and images no entry references
// are left out.
type PlanFilter struct {
	Namespaces []string
}

func planPolicy(p Policy) PlanPolicy {
	return PlanPolicy{KeepTagRevisions: p.KeepTagRevisions, KeepYoungerThan: p.KeepYoungerThan.String()}
}

// PlanPrune computes what applying the policy removes now. It reads the
// registry graph once (the same graph usage reads) and writes nothing.
func (s *Store) PlanPrune(ctx context.Context, policy Policy, filter *PlanFilter) (*PrunePlan, error) {
	return s.PlanPruneWith(ctx, policy, filter, PlanOptions{})
}

// planBuilder builds a plan from the keep marks, a namespace (or a batch
// of them) at a time: the full pass hands it the whole graph, a streamed
// plan one batch after another (plan_stream.go).
type planBuilder struct {
	p                               *PrunePlan
	opt                             PlanOptions
	policy                          Policy
	unix                            int64
	visible                         map[string]bool
	sees                            func(string) bool
	keptImage, keptBlob, referenced []bool
	// Stamps per blob id: the namespace and stream that last counted it.
	nsStamp, stStamp []int32
	nsN, stN         int32
	imgInPlan        []bool
}

func newPlanBuilder(policy Policy, now time.Time, filter *PlanFilter, opt PlanOptions, hold *InUseHold, keptImage, keptBlob, referenced []bool) *planBuilder {
	b := &planBuilder{opt: opt, policy: policy, unix: now.Unix(), keptImage: keptImage, keptBlob: keptBlob, referenced: referenced,
		nsStamp: make([]int32, len(keptBlob)), stStamp: make([]int32, len(keptBlob)), imgInPlan: make([]bool, len(keptImage))}
	b.p = &PrunePlan{DryRun: true, Policy: planPolicy(policy), policy: policy, ComputedAt: now,
		Revisions: []PruneRevision{}, Images: []string{}, Referrers: []PruneReferrer{}, Namespaces: []PruneNamespace{},
		isList: map[int64]bool{}, refDepth: map[int64]int{}, Hold: hold}
	if opt.Kept {
		b.p.Kept = []PruneRevision{}
	}
	if filter != nil {
		b.visible = map[string]bool{}
		for _, n := range filter.Namespaces {
			b.visible[n] = true
		}
		b.sees = func(ns string) bool { return b.visible[ns] }
	}
	return b
}

// addImage puts an image, its platforms and its referrers (nested ones
// too) in the plan; it returns how many referrers go with it.
func (b *planBuilder) addImage(g *graph, img int64, depth int, orphaned bool) int {
	p := b.p
	add := func(i int64) bool {
		if b.keptImage[i] || b.imgInPlan[i] {
			return false
		}
		b.imgInPlan[i] = true
		p.imageIDs = append(p.imageIDs, i)
		if len(g.children[i]) > 0 {
			p.isList[i] = true
		}
		if depth > 0 {
			p.refDepth[i] = depth
		}
		return true
	}
	add(img)
	for _, c := range g.children[img] {
		add(c)
	}
	n := 0
	if depth >= maxReferrerDepth {
		return n
	}
	subjects := append([]int64{img}, g.children[img]...)
	for _, sub := range subjects {
		for _, r := range g.referrers[sub] {
			if b.keptImage[r] {
				continue
			}
			n++
			if !b.imgInPlan[r] {
				p.Referrers = append(p.Referrers, PruneReferrer{Subject: g.digest[sub], Digest: g.digest[r], Type: g.refType[r], Orphaned: orphaned})
			}
			n += b.addImage(g, r, depth+1, orphaned)
		}
	}
	return n
}

// namespaces adds g's namespaces (visible ones) to the plan: their
// revisions, kept ones when asked, and what each frees. g holds the
// digests of their entries' images and the blob lists of the images the
// plan may remove.
func (b *planBuilder) namespaces(g *graph) {
	p, opt := b.p, b.opt
	// Size the revision list up front: on a large registry it holds
	// hundreds of thousands of entries, and growing it by appends would
	// allocate several times its final size.
	n, kept := 0, 0
	for _, ns := range g.namespaces {
		if b.visible != nil && !b.visible[ns.name] {
			continue
		}
		np := g.policyOf(ns, b.policy)
		for _, st := range ns.streams {
			for _, t := range st.tags {
				for _, ev := range t.events {
					if g.prunable(ns, st, t, ev, np, b.unix) {
						n++
					} else {
						kept++
					}
				}
			}
		}
	}
	p.Revisions = slices.Grow(p.Revisions, n)
	if opt.Kept {
		p.Kept = slices.Grow(p.Kept, kept)
	}
	for _, n := range g.namespaces {
		if b.visible != nil && !b.visible[n.name] {
			continue
		}
		np := g.policyOf(n, b.policy)
		pn := PruneNamespace{Name: n.name, Policy: planPolicy(np), Override: n.keepTagRevisions != nil || n.keepYoungerThan != nil}
		pn.Rules = n.ruleText
		b.nsN++
		for _, st := range n.streams {
			b.stN++
			ps := PruneStream{Name: st.name}
			for _, t := range st.tags {
				for _, ev := range t.events {
					ret := n.rules.decide(g.facts(n, st, t, ev), np, b.unix)
					if ret.Kept() && !opt.Kept {
						continue
					}
					rev := PruneRevision{Namespace: n.name, Stream: st.name, Tag: t.name, Created: time.Unix(ev.created, 0).UTC(),
						Position: int(ev.position), Retention: ret, id: ev.id, tagID: t.id, imageID: ev.image, nsID: n.id, streamID: st.id}
					if ev.image != 0 {
						rev.Image = g.digest[ev.image]
					}
					if ret.Kept() {
						rev.Retention = n.rules.retain(g.facts(n, st, t, ev), np, b.unix)
						if ret.Reason == ReasonInUse {
							rev.InUseBy = g.inUse[ev.image].Describe(b.sees)
						}
						p.Kept = append(p.Kept, rev)
						continue
					}
					if ev.image != 0 && !b.keptImage[ev.image] {
						rev.Referrers = b.addImage(g, ev.image, 0, false)
					}
					p.Revisions = append(p.Revisions, rev)
					ps.Revisions++
					if ev.image == 0 {
						continue
					}
					g.forBlobs(ev.image, func(bl int32) {
						if b.keptBlob[bl] {
							return
						}
						if b.stStamp[bl] != b.stN {
							b.stStamp[bl] = b.stN
							ps.BytesFreed = bytesum.Add(ps.BytesFreed, g.blobSize[bl])
						}
						if b.nsStamp[bl] != b.nsN {
							b.nsStamp[bl] = b.nsN
							pn.BytesFreed = bytesum.Add(pn.BytesFreed, g.blobSize[bl])
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
}

// wantsUnreferenced says whether image img, which no entry of the plan's
// namespaces put in it, goes as an image no entry references (older than
// the threshold: younger ones are kept).
func (b *planBuilder) wantsUnreferenced(g *graph, img int64) bool {
	return b.visible == nil && !b.keptImage[img] && !g.isReferrer[img]
}

// unreferenced adds img when wantsUnreferenced; g holds its digest and
// those of the referrers that go with it.
func (b *planBuilder) unreferenced(g *graph, img int64) {
	if b.wantsUnreferenced(g, img) && g.digest[img] != "" {
		b.addImage(g, img, 0, !b.referenced[img])
	}
}

// finish lists the plan's images (in id order) and the blobs they free:
// each image's own blobs no kept image holds (its platforms and referrers
// are in the plan themselves). each yields the plan's images with their
// digests and blob lists; size is a blob's size.
func (b *planBuilder) finish(each func(ids []int64, fn func(img int64, digest string, blobs []int32)) error, size func(int32) int64) error {
	p := b.p
	sort.Slice(p.imageIDs, func(i, j int) bool { return p.imageIDs[i] < p.imageIDs[j] })
	planStamp := b.stStamp // reused: the stream stamps are done with
	clear(planStamp)
	p.Images = slices.Grow(p.Images, len(p.imageIDs))
	err := each(p.imageIDs, func(img int64, digest string, blobs []int32) {
		p.Images = append(p.Images, digest)
		for _, bl := range blobs {
			if !b.keptBlob[bl] && planStamp[bl] == 0 {
				planStamp[bl] = 1
				p.blobIDs = append(p.blobIDs, int64(bl))
				p.BytesFreed = bytesum.Add(p.BytesFreed, size(bl))
			}
		}
	})
	p.Blobs = len(p.blobIDs)
	return err
}

// PlanOptions ask a plan for more.
type PlanOptions struct {
	// Kept lists every kept revision with its retention reason and date.
	Kept bool
}

// planFull is the plan of the whole graph in memory (the full pass).
func (s *Store) planFull(ctx context.Context, policy Policy, filter *PlanFilter, opt PlanOptions) (*PrunePlan, error) {
	g, err := s.loadGraph(ctx)
	if err != nil {
		return nil, err
	}
	return g.plan(policy, s.now(), filter, opt), nil
}

// plan is the prune plan from the whole graph in memory: the full pass's
// way, what PlanPrune uses for the whole registry.
func (g *graph) plan(policy Policy, now time.Time, filter *PlanFilter, opt PlanOptions) *PrunePlan {
	keptImage, keptBlob, referenced := g.keepReferenced(policy, now)
	b := newPlanBuilder(policy, now, filter, opt, g.hold, keptImage, keptBlob, referenced)
	b.namespaces(g)
	if b.visible == nil {
		for img := 1; img < len(keptImage); img++ {
			b.unreferenced(g, int64(img))
		}
	}
	b.finish(func(ids []int64, fn func(img int64, digest string, blobs []int32)) error {
		for _, img := range ids {
			fn(img, g.digest[img], g.blobList[g.blobStart[img]:g.blobEnd[img]])
		}
		return nil
	}, func(b int32) int64 { return g.blobSize[b] })
	return b.p
}

// PlanPruneWith is PlanPrune with options.
func (s *Store) PlanPruneWith(ctx context.Context, policy Policy, filter *PlanFilter, opt PlanOptions) (*PrunePlan, error) {
	if policy.KeepTagRevisions < 0 || policy.KeepYoungerThan < 0 {
		return nil, invalidf("prune policy: keep-tag-revisions and keep-younger-than must not be negative")
	}
	// The whole registry's plan lists every prunable revision (3 million
	// at 10×): its memory is the list's whichever way it is computed, and
	// the full pass reads the links in one sequential scan where the
	// streamed plan looks each batch's images up by key (10× PostgreSQL:
	// 25 s against 204–441 s, both ≈ 2 GiB; docs/PERFORMANCE.md). A
	// reader's plan of their own namespaces is streamed: it never holds
	// the other namespaces' graph.
	compute := s.planFull
	if filter != nil {
		compute = s.planStreamed
	}
	plan, err := compute(ctx, policy, filter, opt)
	if err != nil {
		return nil, fmt.Errorf("plan prune: %w", err)
	}
	return plan, nil
}
