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
// full pass): the reference the streamed plan is compared with.
func (s *Store) FullPlan(ctx context.Context, policy Policy, filter *PlanFilter, opt PlanOptions) (*PrunePlan, error) {
	g, err := s.loadGraph(ctx)
	if err != nil {
		return nil, err
	}
	return g.plan(policy, s.now(), filter, opt), nil
}

// PlanInternals are the plan's unexported parts ApplyPrune acts on.
func PlanInternals(p *PrunePlan) (images, blobs []int64, lists map[int64]bool, depth map[int64]int) {
	return p.imageIDs, p.blobIDs, p.isList, p.refDepth
}

// SortPlanBlobs sorts the plan's blob ids (their order follows the reads).
func SortPlanBlobs(p *PrunePlan) { slices.Sort(p.blobIDs) }
