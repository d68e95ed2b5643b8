package change

import (
	"context"
	"fmt"

	"layerwise/store"
)

// JobRunner starts scheduled jobs by hand: jobs.Scheduler.
type JobRunner interface {
	Has(name string) bool
	Audits(name string) bool
	Trigger(name, actor string) (done <-chan bool, err error)
}

// RunJob starts the scheduled job name now through the scheduler (it never
// overlaps the job's own runs, here or on another replica), as p: platform
// admin only. A job that audits what it changes (prune: prune.apply) does
// so as p, once; any other run is audited here ("job.run" by p), and what
// it changes the job audits as it does at night (pushes by system:sync,
// imports by system:import). done says whether it ran (false: skipped, it
// was running already).
func (svc *Service) RunJob(ctx context.Context, p *store.Principal, runner JobRunner, name string) (done <-chan bool, err error) {
	if err := NeedPlatformAdmin(p, "run jobs"); err != nil {
		return nil, err
	}
	if runner == nil || !runner.Has(name) {
		return nil, fmt.Errorf("no job %q is scheduled in this server (started with --no-jobs, or the job's setting is empty): %w", name, store.ErrNotFound)
	}
	if !runner.Audits(name) {
		err = svc.Store.Tx(ctx, func(tx *store.Store) error {
			return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Action: "job.run", Target: name, Before: "scheduled", After: "run now by hand"})
		})
		if err != nil {
			return nil, err
		}
	}
	return runner.Trigger(name, p.User)
}
