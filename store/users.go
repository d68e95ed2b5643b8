package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Accounts as a platform admin manages them: the list with roles, password
// resets, disabling.

// ErrDisabled is returned for an account a platform admin disabled.
var ErrDisabled = errors.New("account disabled")

// CheckActive refuses a disabled account: the one rule every way in (the
// login form, sessions, API tokens, proxy and OIDC users, the CLI's --as)
// applies.
func (u User) CheckActive() error {
	if u.DisabledAt != nil {
		return kindError{ErrDisabled, fmt.Sprintf("the account %s is disabled; a platform admin can enable it again", u.Name)}
	}
	return nil
}

// hashPassword checks a new password and hashes it with bcrypt.
func (s *Store) hashPassword(name, password string) (string, error) {
	if len(password) < 4 {
		return "", invalidf("password for %s is too short: use at least 4 characters (12 or more for real accounts)", name)
	}
	if len(password) > 72 {
		return "", invalidf("password for %s is longer than bcrypt's 72 bytes", name)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.dummy.bcryptCost())
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(hash), nil
}

// UserInfo is an account as the accounts page lists it.
type UserInfo struct {
	Name          string
	PlatformAdmin bool
	HasPassword   bool // false: single sign-on or proxy login only
	CreatedAt     time.Time
	DisabledAt    *time.Time
	Roles         []NamespaceRole // by namespace
	Tokens        int             // live API tokens
}

// NamespaceRole is a user's role in one namespace.
type NamespaceRole struct {
	Namespace string
	Role      string
}

// ListUsers lists every account by name with its roles and live tokens.
func (s *Store) ListUsers(ctx context.Context) ([]UserInfo, error) {
	db := s.conn(ctx)
	var users []User
	if err := db.Order("name").Find(&users).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var roles []struct {
		UserID          int64
		Namespace, Role string
	}
	if err := db.Table("role_bindings b").Select("b.user_id, n.name AS namespace, b.role").
		Joins("JOIN namespaces n ON n.id = b.namespace_id").Order("n.name").Scan(&roles).Error; err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	var tokens []struct {
		UserID int64
		N      int
	}
	if err := db.Model(&APIToken{}).Select("user_id, COUNT(*) AS n").
		Where("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", s.now()).Group("user_id").Scan(&tokens).Error; err != nil {
		return nil, fmt.Errorf("count tokens: %w", err)
	}
	byID := make(map[int64]int, len(users))
	out := make([]UserInfo, len(users))
	for i, u := range users {
		byID[u.ID] = i
		out[i] = UserInfo{Name: u.Name, PlatformAdmin: u.PlatformAdmin, HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt, DisabledAt: u.DisabledAt}
	}
	for _, r := range roles {
		if i, ok := byID[r.UserID]; ok {
			out[i].Roles = append(out[i].Roles, NamespaceRole{r.Namespace, r.Role})
		}
	}
	for _, t := range tokens {
		if i, ok := byID[t.UserID]; ok {
			out[i].Tokens = t.N
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetPassword gives an account a new password (its sessions stay).
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	hash, err := s.hashPassword(name, password)
	if err != nil {
		return err
	}
	res := s.conn(ctx).Model(&User{}).Where("name = ?", name).Update("password_hash", hash)
	if res.Error != nil {
		return fmt.Errorf("set the password of %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		return notFoundf("user %s not found", name)
	}
	return nil
}

// SetUserDisabled disables an account (and ends its sessions) or enables
// it again; changed is false when it already was so. Its tokens are kept
// but refused while it is disabled.
func (s *Store) SetUserDisabled(ctx context.Context, name string, disabled bool) (changed bool, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		u, err := tx.GetUser(ctx, name)
		if err != nil {
			return err
		}
		if (u.DisabledAt != nil) == disabled {
			return nil
		}
		changed = true
		db := tx.conn(ctx)
		var at any
		if disabled {
			at = tx.now()
			if err := db.Where("user_id = ?", u.ID).Delete(&Session{}).Error; err != nil {
				return err
			}
		}
		return db.Model(&User{}).Where("id = ?", u.ID).Update("disabled_at", at).Error
	})
	if err != nil {
		return false, fmt.Errorf("disable %s: %w", name, err)
	}
	return changed, nil
}
