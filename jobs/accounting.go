package jobs

import (
	"context"
	"fmt"
	"strings"

	"layerwise/store"
)

// PlanSummaryJob names the job that stores the prune plan's clock-dependent
// figures (reclaimable and not-pulled bytes, prunable marks).
const PlanSummaryJob = "usage-plan"

// VerifyUsageJob names the nightly check of the stored figures.
const VerifyUsageJob = "usage-verify"

// PlanSummary computes the prune plan's figures, streamed in bounded memory, and
// stores them with their time (store.ComputePlanSummary); pages show them
// labelled with it. It runs on its own schedule (LAYERWISE_PLAN_SCHEDULE)
// and, through the scheduler's Trigger, after policy changes.
func PlanSummary(s *store.Store, policy store.Policy, schedule string) Job {
	return Job{Name: PlanSummaryJob, Schedule: schedule, Run: func(ctx context.Context) (Result, error) {
		sum, err := s.ComputePlanSummary(ctx, policy)
		if err != nil {
			return Result{}, err
		}
		return Result{Count: int64(len(sum.Namespaces)),
			Message: fmt.Sprintf("prune would free %d bytes in %d namespaces", sum.RegistryReclaimable, len(sum.Namespaces))}, nil
	}}
}

// VerifyUsage recomputes every figure from scratch and compares it with
// the accounting tables (LAYERWISE_VERIFY_SCHEDULE, nightly). A difference
// fails the run, naming the first ones: it is a bug to report, and it is
// never repaired silently (`layerwise usage --repair` does that, audited).
func VerifyUsage(s *store.Store, schedule string) Job {
	return Job{Name: VerifyUsageJob, Schedule: schedule, Run: func(ctx context.Context) (Result, error) {
		diffs, err := s.VerifyUsage(ctx)
		if err != nil {
			return Result{}, err
		}
		if len(diffs) == 0 {
			return Result{Message: "every stored figure equals the full pass"}, nil
		}
		var first []string
		for _, d := range diffs[:min(len(diffs), 5)] {
			first = append(first, d.String())
		}
		return Result{Count: int64(len(diffs))}, fmt.Errorf("%d differences between the stored usage figures and the full pass (a bug: please report it; `layerwise usage --repair` rebuilds them): %s",
			len(diffs), strings.Join(first, "; "))
	}}
}
