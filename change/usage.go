package change

import (
	"context"
	"fmt"
	"time"

	"layerwise/store"
)

// RepairUsage rebuilds the usage accounting tables from the full pass:
// platform admin only, audited with the differences it found (a
// difference is a bug to report; the repair only makes the figures true
// again). It verifies first and changes nothing when they agree.
func (svc *Service) RepairUsage(ctx context.Context, p *store.Principal, progress func(string, time.Duration)) (diffs []store.UsageDifference, err error) {
	if err := NeedPlatformAdmin(p, "repair the usage accounting"); err != nil {
		return nil, err
	}
	changed := false
	err = svc.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if diffs, err = tx.VerifyUsage(ctx); err != nil || len(diffs) == 0 {
			return err
		}
		if err := tx.BuildUsage(ctx, progress); err != nil {
			return err
		}
		changed = true
		before := fmt.Sprintf("%d differences", len(diffs))
		if len(diffs) > 0 {
			before += "; first: " + diffs[0].String()
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Action: "usage.repair", Target: "usage accounting",
			Before: before, After: "rebuilt from the full pass"})
	})
	svc.finish(err, changed)
	return diffs, err
}
