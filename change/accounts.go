package change

import (
	"context"
	"fmt"
	"time"

	"layerwise/store"
)

// CreateUser adds a local account: platform admin only. The password is
// hashed by the store and never reaches the audit log.
func (svc *Service) CreateUser(ctx context.Context, p *store.Principal, name, password string, admin bool) (store.User, error) {
	if err := NeedPlatformAdmin(p, "create accounts"); err != nil {
		return store.User{}, err
	}
	var u store.User
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if u, err = tx.CreateUser(ctx, name, password, admin); err != nil {
			return err
		}
		kind := "user"
		if admin {
			kind = "platform admin"
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Action: "user.add", Target: name, Before: "none", After: kind})
	})
	svc.finish(err, true)
	return u, err
}

// CreateToken makes an API token for user: the user themselves or a
// platform admin. The token is returned once; the audit log names it by
// name and number, never by its secret.
func (svc *Service) CreateToken(ctx context.Context, p *store.Principal, user, name string, ttl time.Duration) (string, store.APIToken, error) {
	if err := needSelf(p, user, "create API tokens for"); err != nil {
		return "", store.APIToken{}, err
	}
	var token string
	var row store.APIToken
	err := svc.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if token, row, err = tx.CreateToken(ctx, user, name, ttl); err != nil {
			return err
		}
		after := "expires never"
		if row.ExpiresAt != nil {
			after = "expires " + row.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Action: "token.create",
			Target: fmt.Sprintf("token %q (#%d) of %s", row.Name, row.ID, user), Before: "none", After: after})
	})
	return token, row, err
}

// RevokeToken revokes one of user's live tokens: the user themselves or a
// platform admin.
func (svc *Service) RevokeToken(ctx context.Context, p *store.Principal, user string, id int64) error {
	if err := needSelf(p, user, "revoke API tokens of"); err != nil {
		return err
	}
	return svc.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.RevokeToken(ctx, user, id); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEvent{Actor: p.User, Action: "token.revoke",
			Target: fmt.Sprintf("token #%d of %s", id, user), Before: "active", After: "revoked"})
	})
}

// needSelf lets a user act on their own account, and a platform admin on
// anyone's.
func needSelf(p *store.Principal, user, what string) error {
	if p != nil && (p.User == user || p.PlatformAdmin) {
		return nil
	}
	return fmt.Errorf("%w: %s may not %s %s: only %s or a platform admin may", ErrForbidden, who(p), what, user, user)
}
