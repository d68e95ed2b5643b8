package change

import (
	"context"
	"fmt"

	"layerwise/store"
)

// JobRunner starts scheduled jobs by hand: jobs.Scheduler.
type JobRunner interface {
	Has(name string) bool
	Trigger(name string) (done <-chan bool, err error)
}

// RunJob starts the scheduled job name now through the scheduler (it never
// overlaps the job's own runs, here or on another replica), as p: platform
// admin only. The request is audited ("job.run" by p); what the run
// changes the job audits itself, as it does at night (prune.apply by
// prune:job, pushes by system:sync, …). done says whether it ran (false:
// skipped, it was running already).
func (svc *Service) RunJob(ctx context.Context, p *store.Principal, runner JobRunner, name string) (done <-chan bool, err error) {
	if err := NeedPlatformAdmin(p, "run jobs"); err != nil {
		return nil, err
	}
	if runner == nil || !runner.Has(name) {
		return nil, fmt.Errorf("no job %q is scheduled in this server (started with --no-jobs, or the job's setting is empty): %w", name, store.ErrNotFound)
	}
	err = svc.Store.Tx(ctx, func(tx *store.Store) error {
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Action: "job.run", Target: name, Before: "scheduled", After: "run now by hand"})
	})
	if err != nil {
		return nil, err
	}
	return runner.Trigger(name)
}
