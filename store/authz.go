package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Role is what a user may do in a namespace; each includes the ones below.
type Role int

// The roles of docs/REFERENCE.md ("Roles").
const (
	RoleNone Role = iota
	RoleViewer
	RoleEditor
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleEditor:
		return "editor"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads viewer, editor or admin.
func ParseRole(s string) (Role, error) {
	switch s {
	case "viewer":
		return RoleViewer, nil
	case "editor":
		return RoleEditor, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, invalidf("role %q must be viewer, editor or admin", s)
}

// GetUser returns a user by name.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	var u User
	err := s.conn(ctx).Where("name = ?", name).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return u, notFoundf("user %s not found", name)
	}
	return u, err
}

// EnsureUser finds or creates an account without a password, for users
// who log in through OIDC or a trusted proxy.
func (s *Store) EnsureUser(ctx context.Context, name string) (User, error) {
	if err := ValidateUserName(name); err != nil {
		return User{}, err
	}
	u := User{Name: name, CreatedAt: s.now()}
	err := s.conn(ctx).Where("name = ?", name).Attrs(u).FirstOrCreate(&u).Error
	return u, err
}

// AddRoleBinding gives a user a role in a namespace, replacing any other.
func (s *Store) AddRoleBinding(ctx context.Context, ns, user string, role Role) error {
	if role == RoleNone {
		return invalidf("role must be viewer, editor or admin")
	}
	return s.Tx(ctx, func(tx *Store) error {
		n, err := tx.GetNamespace(ctx, ns)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, user)
		if err != nil {
			return err
		}
		db := tx.conn(ctx)
		if err := db.Where("namespace_id = ? AND user_id = ?", n.ID, u.ID).Delete(&RoleBinding{}).Error; err != nil {
			return err
		}
		return db.Create(&RoleBinding{NamespaceID: n.ID, UserID: u.ID, Role: role.String()}).Error
	})
}

// RemoveRoleBinding takes a user's role in a namespace away.
func (s *Store) RemoveRoleBinding(ctx context.Context, ns, user string) error {
	return s.Tx(ctx, func(tx *Store) error {
		n, err := tx.GetNamespace(ctx, ns)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, user)
		if err != nil {
			return err
		}
		return tx.conn(ctx).Where("namespace_id = ? AND user_id = ?", n.ID, u.ID).Delete(&RoleBinding{}).Error
	})
}

// Member is a role binding as the members page shows it.
type Member struct {
	User string
	Role string
}

// Members lists the role bindings of a namespace.
func (s *Store) Members(ctx context.Context, ns string) ([]Member, error) {
	var out []Member
	err := s.conn(ctx).Table("role_bindings b").Select("u.name AS user, b.role").
		Joins("JOIN users u ON u.id = b.user_id").Joins("JOIN namespaces n ON n.id = b.namespace_id").
		Where("n.name = ?", ns).Order("u.name").Scan(&out).Error
	return out, err
}

// Principal is who is asking: a user with their platform flag and roles.
type Principal struct {
	User          string
	PlatformAdmin bool
	Roles         map[string]Role // by namespace
}

// RoleIn is the principal's role in a namespace.
func (p *Principal) RoleIn(ns string) Role {
	if p == nil {
		return RoleNone
	}
	if p.PlatformAdmin {
		return RoleAdmin
	}
	return p.Roles[ns]
}

// Can says whether the principal holds at least role in ns.
func (p *Principal) Can(ns string, role Role) bool { return p.RoleIn(ns) >= role }

// LoadPrincipal reads a user's roles.
func (s *Store) LoadPrincipal(ctx context.Context, u User) (*Principal, error) {
	if err := u.CheckActive(); err != nil {
		return nil, err
	}
	p := &Principal{User: u.Name, PlatformAdmin: u.PlatformAdmin, Roles: map[string]Role{}}
	var rows []struct{ Namespace, Role string }
	err := s.conn(ctx).Table("role_bindings b").Select("n.name AS namespace, b.role").
		Joins("JOIN namespaces n ON n.id = b.namespace_id").Where("b.user_id = ?", u.ID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("roles of %s: %w", u.Name, err)
	}
	for _, r := range rows {
		role, err := ParseRole(r.Role)
		if err == nil {
			p.Roles[r.Namespace] = role
		}
	}
	return p, nil
}

// TokenPrefix marks Layerwise API tokens so they are recognisable in a
// leaked-secret scan.
const TokenPrefix = "lw_"

// CreateToken makes an API token for a user and returns it; only its hash
// is stored. A zero ttl means no expiry.
func (s *Store) CreateToken(ctx context.Context, user, name string, ttl time.Duration) (string, APIToken, error) {
	u, err := s.GetUser(ctx, user)
	if err != nil {
		return "", APIToken{}, err
	}
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return "", APIToken{}, invalidf("token name must be 1 to 100 characters")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", APIToken{}, err
	}
	token := TokenPrefix + hex.EncodeToString(b)
	t := APIToken{UserID: u.ID, Name: name, Hash: tokenHash(token), CreatedAt: s.now()}
	if ttl > 0 {
		exp := s.now().Add(ttl)
		t.ExpiresAt = &exp
	}
	if err := s.conn(ctx).Create(&t).Error; err != nil {
		return "", APIToken{}, fmt.Errorf("create token: %w", err)
	}
	return token, t, nil
}

// ErrBadToken is returned for unknown, expired and revoked tokens alike.
var ErrBadToken = errors.New("unknown, expired or revoked API token")

// TokenUser returns the user of a live token. The lookup is by hash (a
// database index); the final comparison is constant-time.
func (s *Store) TokenUser(ctx context.Context, token string) (User, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return User{}, ErrBadToken
	}
	h := tokenHash(token)
	var t APIToken
	err := s.conn(ctx).Where("hash = ?", h).Take(&t).Error
	if err != nil || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return User{}, ErrBadToken
	}
	now := s.now()
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) {
		return User{}, ErrBadToken
	}
	var u User
	if err := s.conn(ctx).Take(&u, t.UserID).Error; err != nil {
		return User{}, ErrBadToken
	}
	if err := u.CheckActive(); err != nil {
		return User{}, err
	}
	return u, nil
}

// Tokens lists a user's tokens (never the secrets).
func (s *Store) Tokens(ctx context.Context, user string) ([]APIToken, error) {
	u, err := s.GetUser(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []APIToken
	err = s.conn(ctx).Where("user_id = ?", u.ID).Order("id DESC").Find(&out).Error
	return out, err
}

// RevokeToken revokes one of a user's tokens.
func (s *Store) RevokeToken(ctx context.Context, user string, id int64) error {
	u, err := s.GetUser(ctx, user)
	if err != nil {
		return err
	}
	res := s.conn(ctx).Model(&APIToken{}).Where("id = ? AND user_id = ? AND revoked_at IS NULL", id, u.ID).Update("revoked_at", s.now())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return notFoundf("token %d of %s not found or already revoked", id, user)
	}
	return nil
}

// Audit records one change. Callers write it in the same transaction as
// the change, so there is no change without its record.
func (s *Store) Audit(ctx context.Context, ev AuditEvent) error {
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	return s.conn(ctx).Create(&ev).Error
}

// AuditFilter narrows the audit log; empty fields match everything.
type AuditFilter struct {
	Namespace, Actor, Action string
	Limit                    int
	// Scope, when set, keeps only what a user may read: events of these
	// namespaces, and the user's own events outside any namespace.
	Scope *AuditScope
}

// AuditScope is the part of the audit log a user who is not a platform
// admin may read.
type AuditScope struct {
	Namespaces []string
	Actor      string
}

// AuditLog lists audit events, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	q := s.conn(ctx).Order("id DESC")
	if f.Namespace != "" {
		q = q.Where("namespace = ?", f.Namespace)
	}
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if sc := f.Scope; sc != nil {
		if len(sc.Namespaces) > 0 {
			q = q.Where("(namespace IN ? OR (namespace = '' AND actor = ?))", sc.Namespaces, sc.Actor)
		} else {
			q = q.Where("namespace = '' AND actor = ?", sc.Actor)
		}
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	var out []AuditEvent
	err := q.Limit(f.Limit).Find(&out).Error
	return out, err
}
