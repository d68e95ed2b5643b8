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

// Leases keep a run of something from overlapping itself across processes
// sharing the database: the scheduler's "tick:JOB" (which replica runs a
// period) and "run:JOB" (which one runs the job now), and "prune", which
// the nightly job and `prune --confirm` both take. One table and one set of
// functions serve them all, designed so:
//
//   - Leases run on the wall clock (time.Now), not the store's clock: they
//     coordinate processes, whose only shared time is the real one (NTP
//     keeps replicas within well under a period), the store's clock has
//     whole seconds, and tests move it to age histories, which must not
//     expire a lease.
//   - The holder names the process (host and pid), so that a run whose
//     process died is told from a live one (StartJobRun; jobs.Prune takes
//     over a dead local holder's lease at once); AcquiredAt tells a person
//     who is asked to wait since when the other run goes on.
//   - A holder renews its lease with a heartbeat (WithLease, every ttl/3),
//     so only a dead holder's lease expires, and the next run waits at most
//     ttl after a kill -9.

// JobLease is a lease: name is held by holder from AcquiredAt until
// ExpiresAt.
type JobLease struct {
	Name       string    `gorm:"primaryKey"`
	Holder     string    `gorm:"not null"`
	AcquiredAt time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null"`
}

// ErrBusy is returned when another run holds the lease.
var ErrBusy = errors.New("busy")

// LeaseTTL is how long a lease lives without renewal, for holders that do
// not choose (prune; the scheduler's default).
const LeaseTTL = time.Minute

func migrateLeases(tx *gorm.DB) error {
	if err := tx.AutoMigrate(&JobLease{}, &DataVersion{}); err != nil {
		return err
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&DataVersion{ID: 1}).Error
}

// migrateOneLeaseTable gives job_leases its acquired_at (the leases held
// now count as acquired now) and drops the prune lock's own table (locks),
// which leases replace. Nothing moves: a lock lives a minute, and a run of
// the old version still holding one stops at its next renewal, which no
// longer finds the table.
func migrateOneLeaseTable(tx *gorm.DB) error {
	m := tx.Migrator()
	if !m.HasColumn(&JobLease{}, "AcquiredAt") {
		// Nullable here: NOT NULL cannot be added to a table with rows.
		type acquiredAt struct{ AcquiredAt *time.Time }
		if err := tx.Table("job_leases").Migrator().AddColumn(&acquiredAt{}, "AcquiredAt"); err != nil {
			return err
		}
		if err := tx.Model(&JobLease{}).Where("acquired_at IS NULL").Update("acquired_at", time.Now().UTC()).Error; err != nil {
			return err
		}
	}
	if m.HasTable("locks") {
		return m.DropTable("locks")
	}
	return nil
}

// AcquireLease takes the lease on name for holder until the given time,
// when nobody holds it or the holder's lease has expired. It is one
// conditional UPDATE or INSERT, atomic on both databases; ok is false when
// another holder (or holder itself, earlier in the same period) has it.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	now := time.Now().UTC()
	until = until.UTC()
	db := s.conn(ctx)
	res := db.Model(&JobLease{}).Where("name = ? AND expires_at <= ?", name, now).
		Updates(map[string]any{"holder": holder, "acquired_at": now, "expires_at": until})
	if res.Error != nil {
		return false, fmt.Errorf("take the lease %s: %w", name, res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	res = db.Clauses(clause.OnConflict{DoNothing: true}).Create(&JobLease{Name: name, Holder: holder, AcquiredAt: now, ExpiresAt: until})
	if res.Error != nil {
		return false, fmt.Errorf("take the lease %s: %w", name, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// extendLease moves the holder's lease to until if that is later (a
// heartbeat); it fails with ErrBusy when holder no longer holds it (it
// expired and another took it, or it was released).
func (s *Store) extendLease(ctx context.Context, name, holder string, until time.Time) error {
	until = until.UTC()
	db := s.conn(ctx)
	res := db.Model(&JobLease{}).Where("name = ? AND holder = ? AND expires_at < ?", name, holder, until).
		Update("expires_at", until)
	if res.Error != nil {
		return fmt.Errorf("extend the lease %s: %w", name, res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := db.Model(&JobLease{}).Where("name = ? AND holder = ?", name, holder).Count(&n).Error; err != nil {
		return fmt.Errorf("extend the lease %s: %w", name, err)
	}
	if n == 0 {
		return kindError{ErrBusy, fmt.Sprintf("lost the %s lease (it expired and another run took it)", name)}
	}
	return nil // it already lasts until then
}

// ReleaseLease gives holder's lease back, so the next run may start at
// once. Only that holder's lease goes: releasing the lease of a holder
// known to be dead leaves alone a run that took it over meanwhile.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := s.conn(ctx).Where("name = ? AND holder = ?", name, holder).Delete(&JobLease{}).Error; err != nil {
		return fmt.Errorf("release the lease %s: %w", name, err)
	}
	return nil
}

// Lease returns the lease on name as it is, expired or not (ErrNotFound
// when nobody took it or it was released).
func (s *Store) Lease(ctx context.Context, name string) (JobLease, error) {
	var l JobLease
	err := s.conn(ctx).Where("name = ?", name).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return l, notFoundf("nobody holds the lease %s", name)
	}
	return l, err
}

// WithLease runs fn while holder holds the lease on name: it takes the
// lease for ttl (ErrBusy, saying who holds it since when, when another
// does), renews it every ttl/3 while fn runs and releases it when fn
// returns. fn's renew renews at once and fails with ErrBusy when the lease
// was lost; a long fn calls it where stopping is safe (between batches).
func (s *Store) WithLease(ctx context.Context, name, holder string, ttl time.Duration, fn func(renew func() error) error) error {
	ok, err := s.AcquireLease(ctx, name, holder, time.Now().Add(ttl))
	if err != nil {
		return err
	}
	if !ok {
		return s.busy(ctx, name)
	}
	defer s.ReleaseLease(context.WithoutCancel(ctx), name, holder) //nolint:errcheck // expires after ttl anyway
	stop := s.heartbeat(ctx, name, holder, ttl)
	defer stop()
	return fn(func() error { return s.extendLease(ctx, name, holder, time.Now().Add(ttl)) })
}

// heartbeat extends holder's lease every ttl/3 until stop is called. A
// failed beat is left to the next one and to the holder's own renew.
func (s *Store) heartbeat(ctx context.Context, name, holder string, ttl time.Duration) (stop func()) {
	ctx = context.WithoutCancel(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(max(ttl/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = s.extendLease(ctx, name, holder, time.Now().Add(ttl))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// busy is the ErrBusy of a refused WithLease, saying who holds the lease.
func (s *Store) busy(ctx context.Context, name string) error {
	l, err := s.Lease(ctx, name)
	if err != nil || l.AcquiredAt.IsZero() {
		return kindError{ErrBusy, fmt.Sprintf("another %s run is in progress; try again later", name)}
	}
	return kindError{ErrBusy, fmt.Sprintf("another %s run (%s, started %s) is in progress; try again when it has finished (if it died, its lease expires at %s)",
		name, l.Holder, l.AcquiredAt.UTC().Format(time.RFC3339), l.ExpiresAt.UTC().Format(time.RFC3339))}
}
