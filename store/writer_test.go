package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestReadsGoOnWhileWritersQueue is the webhook under load: a burst of
// write transactions queues for the database's one writer while a page
// reads. The writers must wait without holding the pool's connections, so
// the read is answered while the first writer is still in its
// transaction, and then every writer's change lands. (Before, each queued
// writer sat on a connection in BEGIN IMMEDIATE's busy wait: the read got
// none until they failed with "database is locked" — on PostgreSQL, in
// pg_advisory_xact_lock, never.)
func TestReadsGoOnWhileWritersQueue(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	sqlDB, err := s.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	write := func(i int, inside func()) error {
		return s.Tx(ctx, func(tx *Store) error {
			inside()
			return tx.Audit(ctx, AuditEvent{Actor: fmt.Sprintf("writer-%d", i), Action: "test.write"})
		})
	}
	held, release := make(chan struct{}), make(chan struct{})
	writers := sqlDB.Stats().MaxOpenConnections + 2
	errs := make([]error, writers)
	var wg sync.WaitGroup
	wg.Add(writers)
	go func() {
		defer wg.Done()
		errs[0] = write(0, func() { close(held); <-release })
	}()
	<-held
	for i := 1; i < writers; i++ {
		go func() {
			defer wg.Done()
			errs[i] = write(i, func() {})
		}()
	}
	// Let the queued writers take what they would take: before, every
	// connection of the pool.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && sqlDB.Stats().InUse < sqlDB.Stats().MaxOpenConnections; {
		time.Sleep(10 * time.Millisecond)
	}

	var n int64
	if err := s.DB().WithContext(ctx).Raw(`SELECT count(*) FROM audit_events WHERE action = 'test.write'`).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the read saw %d writes while the first writer had not committed", n)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if err := s.DB().WithContext(ctx).Raw(`SELECT count(*) FROM audit_events WHERE action = 'test.write'`).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != int64(writers) {
		t.Fatalf("%d of %d writes landed", n, writers)
	}
}
