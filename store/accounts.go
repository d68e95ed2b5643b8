package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
)

// Session is a logged-in browser; only the token's hash is stored.
type Session struct {
	ID        int64  `gorm:"primaryKey"`
	TokenHash string `gorm:"not null;uniqueIndex"`
	UserID    int64  `gorm:"not null;index"`
	CreatedAt time.Time
	ExpiresAt time.Time `gorm:"not null;index"`

	User *User `gorm:"constraint:OnDelete:CASCADE"`
}

// ErrBadCredentials is returned for an unknown user or a wrong password
// alike, so a login form cannot tell which one.
var ErrBadCredentials = errors.New("unknown user or wrong password")

// CreateUser adds a local account with a bcrypt-hashed password.
func (s *Store) CreateUser(ctx context.Context, name, password string, admin bool) (User, error) {
	if err := ValidateUserName(name); err != nil {
		return User{}, err
	}
	hash, err := s.hashPassword(name, password)
	if err != nil {
		return User{}, err
	}
	u := User{Name: name, PasswordHash: hash, PlatformAdmin: admin, CreatedAt: s.now()}
	err = s.conn(ctx).Create(&u).Error
	if err != nil {
		if isUniqueViolation(err) {
			return User{}, existsf("user %s already exists", name)
		}
		if n, _ := s.countUsersNamed(ctx, name); n > 0 {
			return User{}, existsf("user %s already exists", name)
		}
		return User{}, fmt.Errorf("create user %s: %w", name, err)
	}
	return u, nil
}

func (s *Store) countUsersNamed(ctx context.Context, name string) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&User{}).Where("name = ?", name).Count(&n).Error
	return n, err
}

// ValidateUserName keeps account names printable and short.
func ValidateUserName(name string) error {
	if name == "" || len(name) > 64 {
		return invalidf("user name %q must be 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r == '.' || r == '@' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return invalidf("user name %q may hold letters, digits and - _ . @ only", name)
		}
	}
	return nil
}

// CountUsers tells whether accounts exist (then pages require a login).
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&User{}).Count(&n).Error
	return n, err
}

// Authenticate checks a name and password.
func (s *Store) Authenticate(ctx context.Context, name, password string) (User, error) {
	var u User
	err := s.conn(ctx).Where("name = ?", name).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && u.PasswordHash == "") {
		// Spend the same time as a real check so timing tells nothing.
		d := s.dummy
		d.once.Do(func() { d.hash, _ = bcrypt.GenerateFromPassword([]byte("x"), d.bcryptCost()) })
		bcrypt.CompareHashAndPassword(d.hash, []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	// Only who knows the password learns that the account is disabled.
	if err := u.CheckActive(); err != nil {
		return User{}, err
	}
	return u, nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateSession starts a session and returns its token (shown to the
// browser once, in a cookie).
func (s *Store) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	token := hex.EncodeToString(b)
	now := s.now()
	sess := Session{TokenHash: tokenHash(token), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.conn(ctx).Create(&sess).Error; err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	// Old sessions go on the way: no separate cleanup job needed.
	s.conn(ctx).Where("expires_at < ?", now).Delete(&Session{})
	return token, nil
}

// SessionUser returns the user of a live session.
func (s *Store) SessionUser(ctx context.Context, token string) (User, error) {
	var u User
	err := s.conn(ctx).Table("users").Select("users.*").
		Joins("JOIN sessions ON sessions.user_id = users.id").
		Where("sessions.token_hash = ? AND sessions.expires_at > ?", tokenHash(token), s.now()).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return u, notFoundf("session not found or expired")
	}
	if err == nil {
		err = u.CheckActive()
	}
	return u, err
}

// DeleteSession ends a session (logout).
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	return s.conn(ctx).Where("token_hash = ?", tokenHash(token)).Delete(&Session{}).Error
}
