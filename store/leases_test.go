package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLeases(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	now := time.Now()
	if ok, err := s.AcquireLease(ctx, "tick:x", "a", now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("first acquire: %v %v", ok, err)
	}
	for _, who := range []string{"b", "a"} {
		if ok, err := s.AcquireLease(ctx, "tick:x", who, now.Add(time.Hour)); err != nil || ok {
			t.Fatalf("%s took a held lease: %v %v", who, ok, err)
		}
	}
	if err := s.ReleaseLease(ctx, "tick:x", "b"); err != nil {
		t.Fatal(err)
	}
	l, err := s.Lease(ctx, "tick:x")
	if err != nil || l.Holder != "a" || !l.ExpiresAt.After(now) || l.AcquiredAt.Before(now.Add(-time.Second)) {
		t.Fatalf("b's release changed a's lease: %+v %v", l, err)
	}
	if err := s.extendLease(ctx, "tick:x", "a", now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Lease(ctx, "tick:x"); !l.ExpiresAt.After(now.Add(time.Hour)) {
		t.Fatalf("not extended: %+v", l)
	}
	expireLease(t, s, "tick:x")
	if ok, err := s.AcquireLease(ctx, "tick:x", "b", now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("b could not take an expired lease: %v %v", ok, err)
	}
	if err := s.extendLease(ctx, "tick:x", "a", now.Add(3*time.Hour)); !errors.Is(err, ErrBusy) {
		t.Fatalf("a extended a lease b took: %v", err)
	}
	if err := s.ReleaseLease(ctx, "tick:x", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lease(ctx, "tick:x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("released lease still there: %v", err)
	}
}

// Many contenders at once: exactly one wins.
func TestLeaseHasOneWinner(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	var wg sync.WaitGroup
	wins := make(chan string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := string(rune('a' + i))
			ok, err := s.AcquireLease(ctx, "run:race", who, time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins <- who
			}
		}()
	}
	wg.Wait()
	close(wins)
	if n := len(wins); n != 1 {
		t.Fatalf("%d winners", n)
	}
}

// WithLease refuses while another holds the lease, saying who since when;
// it keeps the lease past its TTL while fn runs (the heartbeat), lets fn
// see a loss, and releases the lease at the end.
func TestWithLease(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	if ok, err := s.AcquireLease(ctx, "prune", "job@host:1", time.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	err := s.WithLease(ctx, "prune", "cli@host:2", time.Minute, func(func() error) error {
		t.Fatal("ran while another held the lease")
		return nil
	})
	wantErr(t, err, ErrBusy, "another prune run (job@host:1, started ")
	if err := s.ReleaseLease(ctx, "prune", "job@host:1"); err != nil {
		t.Fatal(err)
	}

	const ttl = 30 * time.Millisecond
	stop := errors.New("done")
	err = s.WithLease(ctx, "prune", "cli@host:2", ttl, func(renew func() error) error {
		first, err := s.Lease(ctx, "prune")
		if err != nil {
			return err
		}
		// Wait for the heartbeat to carry the lease past its first expiry.
		for {
			l, err := s.Lease(ctx, "prune")
			if err != nil {
				return err
			}
			if l.Holder != "cli@host:2" {
				t.Errorf("lease changed hands: %+v", l)
			}
			if l.ExpiresAt.After(first.ExpiresAt.Add(ttl)) {
				break
			}
			time.Sleep(ttl / 10)
		}
		if err := renew(); err != nil {
			t.Errorf("renew of a held lease: %v", err)
		}
		// Another run takes it over (say this one was stuck past its TTL).
		// The heartbeat may renew the lease between its expiry and the
		// takeover (it still holds it then): expire and try again.
		took := false
		for try := 0; try < 100 && !took; try++ {
			expireLease(t, s, "prune")
			ok, err := s.AcquireLease(ctx, "prune", "job@host:3", time.Now().Add(time.Hour))
			if err != nil {
				t.Fatalf("take over: %v", err)
			}
			took = ok
		}
		if !took {
			t.Fatal("take over: an expired lease was never taken in 100 tries")
		}
		if err := renew(); !errors.Is(err, ErrBusy) {
			t.Errorf("renew of a lost lease: %v", err)
		}
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("WithLease did not return fn's error: %v", err)
	}
	// The release at the end leaves the new holder's lease alone.
	if l, err := s.Lease(ctx, "prune"); err != nil || l.Holder != "job@host:3" {
		t.Fatalf("after the lost run: %+v %v", l, err)
	}
	if err := s.WithLease(ctx, "other", "cli@host:2", time.Minute, func(func() error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lease(ctx, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("lease not released at the end: %v", err)
	}
}

// A run still marked running is abandoned once its holder holds neither
// the job's run lease nor its own lease (prune's "prune"); while either is
// held, it is left alone.
func TestStartJobRunAbandonsRunsWhoseHolderLostTheLease(t *testing.T) {
	t.Parallel()
	for _, lease := range []string{"run:prune", "prune"} {
		t.Run(lease, func(t *testing.T) {
			s := newTestStore(t)
			if ok, err := s.AcquireLease(ctx, lease, "a@host:1", time.Now().Add(time.Minute)); err != nil || !ok {
				t.Fatal(ok, err)
			}
			first, err := s.StartJobRun(ctx, "prune", "a@host:1")
			if err != nil {
				t.Fatal(err)
			}
			statusOf := func() string {
				t.Helper()
				var r JobRun
				if err := s.DB().First(&r, first.ID).Error; err != nil {
					t.Fatal(err)
				}
				return r.Status
			}
			if _, err := s.StartJobRun(ctx, "prune", "b@host:2"); err != nil {
				t.Fatal(err)
			}
			if got := statusOf(); got != "running" {
				t.Fatalf("a run whose holder holds %s is %s", lease, got)
			}
			expireLease(t, s, lease)
			if _, err := s.StartJobRun(context.Background(), "prune", "b@host:2"); err != nil {
				t.Fatal(err)
			}
			if got := statusOf(); got != "abandoned" {
				t.Fatalf("a run whose holder's %s lease expired is %s", lease, got)
			}
		})
	}
}

func TestEveryTransactionBumpsTheDataVersion(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	v0, err := s.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateStream(ctx, StreamRef{Namespace: "a", Stream: "b"}); err != nil {
		t.Fatal(err)
	}
	if v1, _ := s.DataVersion(ctx); v1 != v0+1 {
		t.Fatalf("data version %d after a change, was %d", v1, v0)
	}
	if err := s.CreateStream(ctx, StreamRef{Namespace: "a", Stream: "b"}); err == nil {
		t.Fatal("created twice")
	}
	if v2, _ := s.DataVersion(ctx); v2 != v0+1 {
		t.Fatalf("a refused change moved the data version to %d", v2)
	}
}
