package store

import (
	"context"
	"slices"
)

// LoadLinksForBenchmark returns the (tag-image, blob) links of every history
// entry, ordered by namespace, with blob sizes and each link's namespace
// stamp: the input of the in-memory lower bound in the usage benchmark.
func LoadLinksForBenchmark(ctx context.Context, s *Store) (links [][2]int32, sizes []int64, nsOf []int32, err error) {
	g, err := s.loadGraph(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var ns int32
	for _, n := range g.namespaces {
		ns++
		for _, st := range n.streams {
			for _, t := range st.tags {
				for _, ev := range t.events {
					g.forBlobs(ev.image, func(b int32) {
						links = append(links, [2]int32{int32(len(nsOf)), b})
					})
					nsOf = append(nsOf, ns)
				}
			}
		}
	}
	return links, g.blobSize, nsOf, nil
}

// SetPlanBatch makes streamed plans read n namespaces at a time, so that
// small test registries cross batch boundaries.
func (s *Store) SetPlanBatch(n int) { s.planBatch = n }

// FullPlan is the prune plan computed from the whole graph in memory (the
// full pass), filtered or not: the reference the streamed plan is compared
// with.
func (s *Store) FullPlan(ctx context.Context, policy Policy, filter *PlanFilter, opt PlanOptions) (*PrunePlan, error) {
	return s.planFull(ctx, policy, filter, opt)
}

// StreamedPlan is the plan computed a batch of namespaces at a time, also
// for the whole registry (PlanPrune streams only a reader's namespaces).
func (s *Store) StreamedPlan(ctx context.Context, policy Policy, filter *PlanFilter, opt PlanOptions) (*PrunePlan, error) {
	return s.planStreamed(ctx, policy, filter, opt)
}

// PlanInternals are the plan's unexported parts ApplyPrune acts on.
func PlanInternals(p *PrunePlan) (images, blobs []int64, lists map[int64]bool, depth map[int64]int) {
	return p.imageIDs, p.blobIDs, p.isList, p.refDepth
}

// SortPlanBlobs sorts the plan's blob ids (their order follows the reads).
func SortPlanBlobs(p *PrunePlan) { slices.Sort(p.blobIDs) }

// FullPreview is PreviewPrune on the whole graph in memory: the reference
// the streamed preview is compared with.
func (s *Store) FullPreview(ctx context.Context, policy Policy, move TagMove) (PruneEffect, error) {
	g, err := s.loadGraph(ctx)
	if err != nil {
		return PruneEffect{}, err
	}
	var img int64
	for id, d := range g.digest {
		if d == move.Image && d != "" {
			img = int64(id)
			break
		}
	}
	filter := &PlanFilter{Namespaces: []string{move.Ref.Namespace}}
	now := s.now()
	before := g.plan(policy, now, filter, PlanOptions{})
	if !g.moveTag(move, img, now.Unix()) {
		return PruneEffect{}, notFoundf("image stream %s/%s not found", move.Ref.Namespace, move.Ref.Stream)
	}
	return effectOf(before, g.plan(policy, now, filter, PlanOptions{})), nil
}
