package store

import (
	"sync"
	"testing"
	"time"
)

func TestLeases(t *testing.T) {
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
	if err := s.SetLease(ctx, "tick:x", "b", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Lease(ctx, "tick:x"); l.Holder != "a" || !l.ExpiresAt.After(now) {
		t.Fatalf("b changed a's lease: %+v", l)
	}
	if err := s.SetLease(ctx, "tick:x", "a", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AcquireLease(ctx, "tick:x", "b", now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("b could not take an expired lease: %v %v", ok, err)
	}
}

// Many contenders at once: exactly one wins.
func TestLeaseHasOneWinner(t *testing.T) {
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

func TestEveryTransactionBumpsTheDataVersion(t *testing.T) {
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
