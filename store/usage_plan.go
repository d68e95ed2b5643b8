package store

import (
	"context"
	"fmt"
	"time"
)

// The figures that depend on the clock and the prune policy — reclaimable
// bytes, bytes not pulled lately, which revisions the policy would prune —
// cannot be kept by writes: revisions age past the policy with no write at
// all. They come from the prune plan, computed on its own schedule and after
// policy changes (jobs.PlanSummaryJob), stored here with when it was
// computed, and shown labelled with that time (0016_usage_plan).

type usagePlan struct {
	ID                  int64 `gorm:"primaryKey;autoIncrement:false"`
	ComputedAt          time.Time
	RegistryReclaimable int64 `gorm:"not null"`
	KeepTagRevisions    int   `gorm:"not null"`
	KeepYoungerThan     int64 `gorm:"not null"` // seconds
}

func (usagePlan) TableName() string { return "usage_plans" }

type usagePlanNamespace struct {
	NamespaceID      int64 `gorm:"primaryKey;autoIncrement:false"`
	ReclaimableBytes int64 `gorm:"not null"`
	NotPulledBytes   int64 `gorm:"not null"`
}

func (usagePlanNamespace) TableName() string { return "usage_plan_namespaces" }

// usagePlanPrunable lists the history entries (tag_events.id) the policy
// would prune, as of the plan.
type usagePlanPrunable struct {
	EventID int64 `gorm:"primaryKey;autoIncrement:false"`
}

func (usagePlanPrunable) TableName() string { return "usage_plan_prunable" }

// PlanSummary is the stored plan's figures.
type PlanSummary struct {
	// ComputedAt is zero when no plan was computed yet.
	ComputedAt          time.Time
	RegistryReclaimable int64
	Policy              Policy
	// Namespaces by id.
	Namespaces map[int64]PlanNamespace
}

// PlanNamespace is one namespace's time-dependent figures.
type PlanNamespace struct {
	ReclaimableBytes, NotPulledBytes int64
}

// ComputePlanSummary computes the plan's figures, streamed namespace by
// namespace in bounded memory (plan_stream.go), and stores them, replacing
// the previous ones, in one transaction.
func (s *Store) ComputePlanSummary(ctx context.Context, policy Policy) (PlanSummary, error) {
	sum, ids, err := s.planSummary(ctx, policy)
	if err != nil {
		return PlanSummary{}, fmt.Errorf("plan summary: %w", err)
	}
	now := sum.ComputedAt
	prunable := make([]usagePlanPrunable, len(ids))
	for i, id := range ids {
		prunable[i] = usagePlanPrunable{EventID: id}
	}
	err = s.Tx(ctx, func(tx *Store) error {
		db := tx.conn(ctx)
		for _, q := range []string{`DELETE FROM usage_plans`, `DELETE FROM usage_plan_namespaces`, `DELETE FROM usage_plan_prunable`} {
			if err := db.Exec(q).Error; err != nil {
				return err
			}
		}
		if err := db.Create(&usagePlan{ID: 1, ComputedAt: now, RegistryReclaimable: sum.RegistryReclaimable,
			KeepTagRevisions: policy.KeepTagRevisions, KeepYoungerThan: int64(policy.KeepYoungerThan / time.Second)}).Error; err != nil {
			return err
		}
		rows := make([]usagePlanNamespace, 0, len(sum.Namespaces))
		for id, n := range sum.Namespaces {
			rows = append(rows, usagePlanNamespace{NamespaceID: id, ReclaimableBytes: n.ReclaimableBytes, NotPulledBytes: n.NotPulledBytes})
		}
		if len(rows) > 0 {
			if err := db.CreateInBatches(rows, 500).Error; err != nil {
				return err
			}
		}
		if len(prunable) > 0 {
			return db.CreateInBatches(prunable, 1000).Error
		}
		return nil
	})
	if err != nil {
		return PlanSummary{}, fmt.Errorf("store the plan summary: %w", err)
	}
	return sum, nil
}

// ReadPlanSummary reads the stored plan's figures (ComputedAt zero: none yet).
func (s *Store) ReadPlanSummary(ctx context.Context) (PlanSummary, error) {
	sum := PlanSummary{Namespaces: map[int64]PlanNamespace{}}
	err := s.Snapshot(ctx, func(s *Store) error {
		db := s.conn(ctx)
		var plans []usagePlan
		if err := db.Find(&plans).Error; err != nil {
			return err
		}
		if len(plans) == 0 {
			return nil
		}
		p := plans[0]
		sum.ComputedAt, sum.RegistryReclaimable = p.ComputedAt.UTC(), p.RegistryReclaimable
		sum.Policy = Policy{KeepTagRevisions: p.KeepTagRevisions, KeepYoungerThan: time.Duration(p.KeepYoungerThan) * time.Second}
		var rows []usagePlanNamespace
		if err := db.Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			sum.Namespaces[r.NamespaceID] = PlanNamespace{ReclaimableBytes: r.ReclaimableBytes, NotPulledBytes: r.NotPulledBytes}
		}
		return nil
	})
	if err != nil {
		return PlanSummary{}, fmt.Errorf("read the plan summary: %w", err)
	}
	return sum, nil
}
