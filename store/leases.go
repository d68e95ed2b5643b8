package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Lock is a named lease that keeps two runs of something (prune) from
// overlapping, across processes: the CLI and the server's job.
type Lock struct {
	Name       string    `gorm:"primaryKey"`
	Holder     string    `gorm:"not null;default:''"`
	AcquiredAt time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null"`
}

// ErrBusy is returned when another run holds the lock.
var ErrBusy = errors.New("busy")

// LockTTL is how long a prune lock lives without being renewed. WithLock
// renews it every LockTTL/3 while its run goes on (and ApplyPrune every
// batch), so only a dead run's lock expires, and the next run waits at
// most this long after a kill -9.
const LockTTL = time.Minute

// AcquireLock takes the named lock for holder, or fails with ErrBusy. An
// expired lock (its holder died) is taken over.
func (s *Store) AcquireLock(ctx context.Context, name, holder string, ttl time.Duration) error {
	db := s.conn(ctx)
	now := s.now()
	if err := db.Where("name = ? AND expires_at < ?", name, now).Delete(&Lock{}).Error; err != nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&Lock{Name: name, Holder: holder, AcquiredAt: now, ExpiresAt: now.Add(ttl)})
	if res.Error != nil {
		return fmt.Errorf("lock %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		var l Lock
		if err := db.Where("name = ?", name).Take(&l).Error; err != nil {
			return kindError{ErrBusy, fmt.Sprintf("another %s run is in progress; try again later", name)}
		}
		return kindError{ErrBusy, fmt.Sprintf("another %s run (%s, started %s) is in progress; try again when it has finished (if it died, its lock expires at %s)",
			name, l.Holder, l.AcquiredAt.UTC().Format(time.RFC3339), l.ExpiresAt.UTC().Format(time.RFC3339))}
	}
	return nil
}

// WithLock runs fn holding the named lock (ErrBusy when another holds it);
// fn may renew it.
func (s *Store) WithLock(ctx context.Context, name, holder string, fn func(renew func() error) error) error {
	if err := s.AcquireLock(ctx, name, holder, LockTTL); err != nil {
		return err
	}
	defer s.ReleaseLock(context.WithoutCancel(ctx), name, holder)
	// A heartbeat keeps the lock while fn works on something long (a
	// registry's deletions); a renewal that fails is seen by fn's own renew.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = s.RenewLock(context.WithoutCancel(ctx), name, holder, LockTTL)
			}
		}
	}()
	defer func() { close(done); wg.Wait() }()
	return fn(func() error { return s.RenewLock(ctx, name, holder, LockTTL) })
}

// RenewLock extends a held lock; it fails if the lock was lost.
func (s *Store) RenewLock(ctx context.Context, name, holder string, ttl time.Duration) error {
	res := s.conn(ctx).Model(&Lock{}).Where("name = ? AND holder = ?", name, holder).Update("expires_at", s.now().Add(ttl))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return kindError{ErrBusy, fmt.Sprintf("lost the %s lock (it expired and another run took it)", name)}
	}
	return nil
}

// Lock returns the named lock as it is (ErrNotFound when nobody holds it).
func (s *Store) Lock(ctx context.Context, name string) (Lock, error) {
	var l Lock
	err := s.conn(ctx).Where("name = ?", name).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return l, notFoundf("nobody holds the %s lock", name)
	}
	return l, err
}

// BreakLock removes the lock of a holder known to be dead (its process is
// gone); only that holder's lock goes, so a run that took it meanwhile keeps
// its own.
func (s *Store) BreakLock(ctx context.Context, name, deadHolder string) error {
	return s.ReleaseLock(ctx, name, deadHolder)
}

// ReleaseLock gives a held lock back.
func (s *Store) ReleaseLock(ctx context.Context, name, holder string) error {
	return s.conn(ctx).Where("name = ? AND holder = ?", name, holder).Delete(&Lock{}).Error
}
