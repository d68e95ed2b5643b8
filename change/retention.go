package change

import (
	"context"

	"layerwise/store"
)

// SetRetentionRules replaces a namespace's retention rules (none: remove
// them): namespace admin only. It says whether the rules changed.
func (svc *Service) SetRetentionRules(ctx context.Context, p *store.Principal, ns string, rules []store.RetentionRule) (bool, error) {
	if err := Need(p, ns, store.RoleAdmin); err != nil {
		return false, err
	}
	if err := store.ValidateRules(rules); err != nil {
		return false, err
	}
	var changed bool
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		before, err := tx.SetRetentionRules(ctx, ns, rules)
		if err != nil {
			return err
		}
		changed = store.RulesSummary(before) != store.RulesSummary(rules)
		return audit(ctx, tx, changed, store.AuditEvent{Actor: p.User, Namespace: ns, Action: "namespace.retention", Target: ns,
			Before: store.RulesSummary(before), After: store.RulesSummary(rules)})
	})
	svc.finish(err, changed)
	svc.policyChanged(err, changed)
	return changed, err
}
