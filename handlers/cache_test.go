package handlers

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"layerwise/store"
	"layerwise/store/storetest"
)

// TestPageCache: requests that miss together read once; a write on the
// database (from anywhere: here a Store of its own, as another replica or
// the CLI) makes the next request read again; a failed read is not kept and
// does not fail the requests that waited for it.
func TestPageCache(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.DSN(t)
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	h := &Handler{Store: s}

	var reads atomic.Int32
	release := make(chan struct{})
	read := func() (int32, error) {
		n := reads.Add(1)
		<-release
		return n, nil
	}
	const requests = 16
	var wg sync.WaitGroup
	got := make([]int32, requests)
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = cached(ctx, h, "k", read)
		}()
	}
	// Let the reader go once every other request waits for it.
	waitFor(h, requests-1)
	close(release)
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d requests missing together read %d times, want once", requests, n)
	}
	for i, v := range got {
		if v != 1 {
			t.Fatalf("request %d got %d, want the one read's 1", i, v)
		}
	}
	if v, _ := cached(ctx, h, "k", read); v != 1 || reads.Load() != 1 {
		t.Fatalf("a later request read again (%d reads) with nothing written", reads.Load())
	}

	// A write through another Store (another replica, the CLI): read again.
	if err := other.Tx(ctx, func(*store.Store) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if v, _ := cached(ctx, h, "k", read); v != 2 {
		t.Fatalf("after a write elsewhere the page kept read %d, want a new read", v)
	}

	// One request reads the version once: a write in the middle of it does
	// not change what its later reads are keyed on (their values are newer,
	// never older, than that version).
	rctx := context.WithValue(ctx, versionKey{}, &requestVersion{})
	v1, _ := h.version(rctx)
	if err := other.Tx(ctx, func(*store.Store) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if v2, _ := h.version(rctx); v2 != v1 {
		t.Fatalf("one request's version moved from %v to %v", v1, v2)
	}
	if v3, _ := h.version(ctx); v3 == v1 {
		t.Fatalf("a new request did not see the write (version %v)", v3)
	}

	// A request that read its version before a write does not drop what
	// requests after the write keep: it is served the newer value.
	early := context.WithValue(ctx, versionKey{}, &requestVersion{})
	if _, err := h.version(early); err != nil {
		t.Fatal(err)
	}
	if err := other.Tx(ctx, func(*store.Store) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var loads atomic.Int32
	count := func(v string) func() (string, error) {
		return func() (string, error) { loads.Add(1); return v, nil }
	}
	if v, _ := cached(ctx, h, "n", count("after")); v != "after" {
		t.Fatalf("after the write: %q", v)
	}
	if v, _ := cached(early, h, "n", count("before")); v != "after" {
		t.Errorf("a request from before the write read %q, want the kept %q", v, "after")
	}
	if v, _ := cached(ctx, h, "n", count("again")); v != "after" || loads.Load() != 1 {
		t.Errorf("after a request from before the write: %q with %d reads, want the kept value and 1 read", v, loads.Load())
	}

	// A failed read (its client left, say) is not kept, and the requests
	// that waited for it read for themselves.
	boom := errors.New("boom")
	var calls atomic.Int32
	gate := make(chan struct{})
	flaky := func() (int, error) {
		if calls.Add(1) == 1 {
			<-gate
			return 0, boom
		}
		return 7, nil
	}
	first := make(chan error)
	go func() { _, err := cached(ctx, h, "f", flaky); first <- err }()
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	waited := make(chan int)
	go func() { v, _ := cached(ctx, h, "f", flaky); waited <- v }()
	waitFor(h, 1)
	close(gate)
	if err := <-first; !errors.Is(err, boom) {
		t.Fatalf("the failed read's request got %v", err)
	}
	if v := <-waited; v != 7 {
		t.Fatalf("a request that waited for a failed read got %d, want its own read's 7", v)
	}
	if v, err := cached(ctx, h, "f", flaky); err != nil || v != 7 {
		t.Fatalf("after a failed read: %d, %v; want a new read", v, err)
	}
}

// waitFor returns once the one read in flight has n requests waiting for it.
func waitFor(h *Handler, n int) {
	for {
		h.pages.mu.Lock()
		w := -1
		for _, l := range h.pages.loading {
			w = l.waiters
		}
		h.pages.mu.Unlock()
		if w == n {
			return
		}
		runtime.Gosched()
	}
}
