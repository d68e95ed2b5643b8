package change

import (
	"context"

	"layerwise/jobs"
	"layerwise/store"
)

// Prune applies a prune plan (nil: a new one) as p: platform admin only.
// jobs.Prune holds the prune lease, deletes from the managed registry and
// writes the one audit event "prune.apply" as p (none when the run removed
// nothing); the nightly job calls it directly as prune:job, since jobs
// cannot import this package (it imports jobs).
func (svc *Service) Prune(ctx context.Context, p *store.Principal, set jobs.PruneSettings, holder string, plan *store.PrunePlan) (jobs.PruneOutcome, error) {
	if err := NeedPlatformAdmin(p, "prune"); err != nil {
		return jobs.PruneOutcome{}, err
	}
	set.Actor = p.User
	out, err := jobs.Prune(ctx, svc.Store, set, holder, plan)
	if out.Changed() {
		svc.done()
	}
	return out, err
}
