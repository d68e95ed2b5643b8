package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// JobLease says which replica runs a scheduled job, until when. A replica
// runs a job only while it holds the job's lease, so replicas sharing one
// database run each job once per period (see jobs.Scheduler).
type JobLease struct {
	Name      string    `gorm:"primaryKey"`
	Holder    string    `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null"`
}

// DataVersion is one row whose Version every write transaction (Store.Tx)
// bumps: replicas poll it to drop cached pages after a change made anywhere.
type DataVersion struct {
	ID      int64 `gorm:"primaryKey;autoIncrement:false"`
	Version int64 `gorm:"not null;default:0"`
}

func migrateLeases(tx *gorm.DB) error {
	if err := tx.AutoMigrate(&JobLease{}, &DataVersion{}); err != nil {
		return err
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&DataVersion{ID: 1}).Error
}

// AcquireLease takes the lease on name for holder until the given time,
// when nobody holds it or the holder's lease has expired. It is one
// conditional UPDATE or INSERT, atomic on both databases; ok is false when
// another holder (or holder itself, earlier in the same period) has it.
//
// Leases use the wall clock (time.Now, not the store's clock, which tests
// move and which has whole seconds): replicas' clocks must agree to well
// within a job's period (NTP).
func (s *Store) AcquireLease(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	now := time.Now().UTC()
	until = until.UTC()
	db := s.conn(ctx)
	res := db.Model(&JobLease{}).Where("name = ? AND expires_at <= ?", name, now).
		Updates(map[string]any{"holder": holder, "expires_at": until})
	if res.Error != nil {
		return false, fmt.Errorf("take the lease of job %s: %w", name, res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	res = db.Clauses(clause.OnConflict{DoNothing: true}).Create(&JobLease{Name: name, Holder: holder, ExpiresAt: until})
	if res.Error != nil {
		return false, fmt.Errorf("take the lease of job %s: %w", name, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ExtendLease moves the holder's lease to until if that is later (a
// heartbeat of a long run); it fails when holder lost the lease.
func (s *Store) ExtendLease(ctx context.Context, name, holder string, until time.Time) error {
	until = until.UTC()
	res := s.conn(ctx).Model(&JobLease{}).Where("name = ? AND holder = ? AND expires_at < ?", name, holder, until).
		Update("expires_at", until)
	if res.Error != nil {
		return fmt.Errorf("extend the lease of job %s: %w", name, res.Error)
	}
	return nil
}

// SetLease sets the holder's lease to expire at until (earlier or later);
// a finished run shortens its lease to the end of its period this way.
func (s *Store) SetLease(ctx context.Context, name, holder string, until time.Time) error {
	err := s.conn(ctx).Model(&JobLease{}).Where("name = ? AND holder = ?", name, holder).
		Update("expires_at", until.UTC()).Error
	if err != nil {
		return fmt.Errorf("set the lease of job %s: %w", name, err)
	}
	return nil
}

// Lease returns the lease of a job (ErrNotFound when never taken).
func (s *Store) Lease(ctx context.Context, name string) (JobLease, error) {
	var l JobLease
	err := s.conn(ctx).Where("name = ?", name).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return l, notFoundf("job %s has no lease", name)
	}
	return l, err
}

// DataVersion is bumped by every write transaction; polling it is one
// primary-key read.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.conn(ctx).Model(&DataVersion{}).Where("id = 1").Pluck("version", &v).Error
	return v, err
}

func bumpDataVersion(db *gorm.DB) error {
	return db.Exec(`UPDATE data_versions SET version = version + 1 WHERE id = 1`).Error
}
