package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"layerwise/format"
	"layerwise/jobs/registry"
	"layerwise/store"
)

// PruneSettings configure prune runs.
type PruneSettings struct {
	// Policy is the global policy; namespaces may override it.
	Policy store.Policy
	// Registry is the managed registry (LAYERWISE_REGISTRY_URL); nil: none.
	Registry *registry.Deleter
	// BatchTags bounds each transaction (default 500 tags).
	BatchTags int
	// RecordRun records the run on /jobs once the lease is held (the CLI;
	// the scheduler records its own runs).
	RecordRun bool
	// Actor is who prunes, for the audit log; "" means "prune:" and the
	// holder (the nightly job is prune:job).
	Actor string
}

// PruneOutcome is what one run did.
type PruneOutcome struct {
	Plan     *store.PrunePlan        `json:"-"`
	Result   store.PruneResult       `json:"result"`
	Registry *registry.DeleteOutcome `json:"registry,omitempty"`
}

// Prune applies a plan (nil: a new one) holding the prune lease, so that
// two runs — the nightly job and `prune --confirm` — never overlap; then
// deletes the dropped manifests from the managed registry and writes an
// audit event, unless the run removed nothing. holder names the runner
// ("job", "cli").
func Prune(ctx context.Context, s *store.Store, set PruneSettings, holder string, plan *store.PrunePlan) (out PruneOutcome, err error) {
	// The lease's holder names this process, so that a run of a dead
	// process is told from a live one (abandoned runs on /jobs).
	leaseHolder := holder + "@" + processName()
	var run *store.JobRun // recorded once the lease is held
	defer func() {
		if run == nil && set.RecordRun && errors.Is(err, store.ErrBusy) {
			// Refused: /jobs says so too.
			if r, serr := s.StartJobRun(context.WithoutCancel(ctx), "prune", leaseHolder); serr == nil {
				run = &r
			}
		}
		if run != nil {
			finishPruneRun(ctx, s, *run, holder, out, err)
		}
	}()
	leased := func(renew func() error) error {
		return prune(ctx, s, set, holder, leaseHolder, plan, &out, &run, renew)
	}
	err = s.WithLease(ctx, "prune", leaseHolder, store.LeaseTTL, leased)
	if errors.Is(err, store.ErrBusy) {
		// The holder may be a process of this host that died (kill -9):
		// then take its lease over now rather than after its TTL.
		if l, lerr := s.Lease(ctx, "prune"); lerr == nil && deadHere(l.Holder) {
			if err = s.ReleaseLease(ctx, "prune", l.Holder); err == nil {
				err = s.WithLease(ctx, "prune", leaseHolder, store.LeaseTTL, leased)
			}
		}
	}
	if out.Plan != nil && out.Changed() {
		// Record what changed, also when a run failed half way.
		after := out.Summary()
		if err != nil {
			after += " (stopped: " + err.Error() + ")"
		}
		actor := set.Actor
		if actor == "" {
			actor = "prune:" + holder
		}
		if aerr := s.Audit(context.WithoutCancel(ctx), store.AuditEvent{Actor: actor, Action: "prune.apply", Target: "registry",
			Before: fmt.Sprintf("keep %d revisions per tag, younger than %s", set.Policy.KeepTagRevisions, set.Policy.KeepYoungerThan),
			After:  after}); aerr != nil && err == nil {
			err = aerr
		}
	}
	return out, err
}

// prune is one run holding the lease: record it (CLI), plan if needed, apply,
// then delete from the managed registry.
func prune(ctx context.Context, s *store.Store, set PruneSettings, holder, leaseHolder string, plan *store.PrunePlan,
	out *PruneOutcome, run **store.JobRun, renew func() error) error {
	var err error
	if set.RecordRun {
		r, err := s.StartJobRun(ctx, "prune", leaseHolder)
		if err != nil {
			return fmt.Errorf("record the prune run: %w", err)
		}
		*run = &r
	}
	if plan == nil {
		if plan, err = s.PlanPrune(ctx, set.Policy, nil); err != nil {
			return err
		}
	}
	out.Plan = plan
	out.Result, err = s.ApplyPrune(ctx, plan, store.ApplyOptions{Holder: leaseHolder, Leased: true, BatchTags: set.BatchTags,
		QueueRegistry: set.Registry != nil})
	if err != nil {
		return err
	}
	if set.Registry != nil {
		if err := renew(); err != nil {
			return err
		}
		d, err := set.Registry.DeletePending(ctx, s)
		out.Registry = &d
		if err != nil {
			return fmt.Errorf("registry %s: %w", set.Registry.URL, err)
		}
	}
	return nil
}

// finishPruneRun records how a run that the CLI started ended.
func finishPruneRun(ctx context.Context, s *store.Store, run store.JobRun, holder string, out PruneOutcome, err error) {
	run.Status, run.Count, run.BytesFreed, run.Message = "ok", out.Result.Revisions, out.Result.BytesFreed, holder+": "+out.Summary()
	if err != nil {
		run.Status, run.Message = "failed", holder+": "+err.Error()
	}
	_ = s.FinishJobRun(context.WithoutCancel(ctx), run) // the run's own error matters more
}

// Changed says the run removed something, from the database or the
// managed registry: a run that removed nothing writes no audit event.
func (o PruneOutcome) Changed() bool {
	r := o.Result
	return r.Revisions+r.Images+r.Blobs > 0 || o.Registry != nil && o.Registry.Deleted > 0
}

// Summary is one line, in the manner of `oc adm prune images`.
func (o PruneOutcome) Summary() string {
	r := o.Result
	var b strings.Builder
	fmt.Fprintf(&b, "deleted %d image stream revisions, %d images, %d blobs, freed %s", r.Revisions, r.Images, r.Blobs, format.Size(r.BytesFreed))
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "; kept %d planned revisions that were no longer prunable", r.Skipped)
	}
	if d := o.Registry; d != nil {
		fmt.Fprintf(&b, "; registry: deleted %d manifests", d.Deleted)
		if d.Kept > 0 {
			fmt.Fprintf(&b, ", kept %d still tagged there", d.Kept)
		}
		if d.Failed > 0 {
			fmt.Fprintf(&b, ", %d failed (retried next run: %s)", d.Failed, strings.Join(first(d.Errors, 3), "; "))
		}
		fmt.Fprintf(&b, "; the registry's garbage-collect will then reclaim %s in %d blobs no remaining image uses",
			format.Size(r.BytesFreed), r.Blobs)
	}
	return b.String()
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// PruneJob is the nightly prune (LAYERWISE_PRUNE_SCHEDULE); changed is
// called after a run that removed something (the page cache, the threshold alerts).
// A run started by hand (Scheduler.Trigger) writes its prune.apply event as
// the one who started it.
func PruneJob(s *store.Store, set PruneSettings, schedule string, changed func()) Job {
	return Job{Name: "prune", Schedule: schedule, Audits: true, Run: func(ctx context.Context) (Result, error) {
		set := set
		if a := ActorOf(ctx); a != "" {
			set.Actor = a
		}
		out, err := Prune(ctx, s, set, "job", nil)
		if changed != nil && out.Changed() {
			changed()
		}
		res := Result{Count: out.Result.Revisions, BytesFreed: out.Result.BytesFreed, Message: out.Summary()}
		return res, err
	}}
}
