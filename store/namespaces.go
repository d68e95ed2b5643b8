package store

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"
)

// NamespaceSettings are what `namespace set` and the settings page change;
// nil fields stay as they are.
type NamespaceSettings struct {
	Contacts       []string
	ThresholdBytes *int64 // a negative value clears the override
	Ladder         []string
	// The namespace's prune policy; a negative value clears the override.
	PruneKeepTagRevisions *int
	PruneKeepYoungerThan  *time.Duration
}

// SetNamespace changes a namespace's settings, creating the namespace if it
// does not exist yet (contacts may be known before the first push).
func (s *Store) SetNamespace(ctx context.Context, name string, set NamespaceSettings) error {
	if set.Contacts != nil {
		for _, c := range set.Contacts {
			if a, err := mail.ParseAddress(c); err != nil || a.Address != c {
				return invalidf("contact %q is not an e-mail address like team@example.com", c)
			}
		}
	}
	// An empty ladder clears the namespace's own (DefaultLadder applies).
	if len(set.Ladder) > 0 {
		if len(set.Ladder) < 2 {
			return invalidf("a promotion ladder needs at least two tags, e.g. latest,test,prod")
		}
		seen := map[string]bool{}
		for _, t := range set.Ladder {
			if err := ValidateTag(t); err != nil {
				return fmt.Errorf("promotion ladder: %w", err)
			}
			if seen[t] {
				return invalidf("promotion ladder lists %q twice", t)
			}
			seen[t] = true
		}
	}
	return s.Tx(ctx, func(tx *Store) error {
		ns, err := tx.ensureNamespace(ctx, name)
		if err != nil {
			return err
		}
		upd := map[string]any{}
		if set.Contacts != nil {
			upd["contacts"] = strings.Join(set.Contacts, ",")
		}
		if set.ThresholdBytes != nil {
			if *set.ThresholdBytes < 0 {
				upd["threshold_bytes"] = nil
			} else {
				upd["threshold_bytes"] = *set.ThresholdBytes
			}
		}
		if set.Ladder != nil {
			upd["ladder"] = strings.Join(set.Ladder, ",")
		}
		if k := set.PruneKeepTagRevisions; k != nil {
			if *k < 0 {
				upd["prune_keep_tag_revisions"] = nil
			} else {
				upd["prune_keep_tag_revisions"] = *k
			}
		}
		if d := set.PruneKeepYoungerThan; d != nil {
			if *d < 0 {
				upd["prune_keep_younger_than"] = nil
			} else {
				upd["prune_keep_younger_than"] = int64(d.Seconds())
			}
		}
		if len(upd) == 0 {
			return nil
		}
		return tx.conn(ctx).Model(&Namespace{}).Where("id = ?", ns.ID).Updates(upd).Error
	})
}

// GetNamespace returns a namespace by name.
func (s *Store) GetNamespace(ctx context.Context, name string) (Namespace, error) {
	var ns Namespace
	err := s.conn(ctx).Where("name = ?", name).Take(&ns).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ns, notFoundf("namespace %s not found", name)
	}
	if err != nil {
		return ns, fmt.Errorf("look up namespace %s: %w", name, err)
	}
	return ns, nil
}

// ContactList splits the stored contacts.
func (n Namespace) ContactList() []string {
	if n.Contacts == "" {
		return nil
	}
	return strings.Split(n.Contacts, ",")
}
