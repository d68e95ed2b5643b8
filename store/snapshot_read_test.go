package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Writers adding images while the usage pass and the prune plan read: every
// read builds one consistent picture (no error, no index out of range), and
// once the writers stop the figures include every push.
func TestUsageReadsOneSnapshotUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.SetClock(func() time.Time { return t0 })
	pushTo(t, s, "team-a/api:latest", image("seed", 1, layer{"base", 100}), t0)

	const writers, pushes = 2, 40
	var wg sync.WaitGroup
	var done atomic.Bool
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range pushes {
				img := image(fmt.Sprintf("w%d-%d", w, i), 1, layer{"base", 100}, layer{fmt.Sprintf("l%d-%d", w, i), 10})
				if _, err := s.RecordPush(ctx, Push{Tag: TagRef{Namespace: "team-a", Stream: "crash", Tag: fmt.Sprintf("c%d", w)},
					Images: []ImageSnapshot{img}, PullSpec: "registry.example.com/team-a/crash@" + img.Digest,
					At: t0.Add(time.Duration(i) * time.Second)}); err != nil {
					t.Errorf("push: %v", err)
					return
				}
			}
		}()
	}
	readErrs := make(chan error, 1)
	go func() {
		defer close(readErrs)
		for !done.Load() {
			if _, err := s.ComputeUsage(ctx, DefaultPolicy); err != nil {
				readErrs <- fmt.Errorf("usage: %w", err)
				return
			}
			if _, err := s.PlanPrune(ctx, DefaultPolicy, nil); err != nil {
				readErrs <- fmt.Errorf("prune plan: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	done.Store(true)
	if err := <-readErrs; err != nil {
		t.Fatal(err)
	}
	u := usageOf(t, s)
	// base once, 1-byte configs of seed and every push, 10 bytes per push.
	want := int64(100 + 1 + writers*pushes*(1+10))
	if u.Registry.Bytes != want {
		t.Errorf("registry bytes = %d, want %d", u.Registry.Bytes, want)
	}
}
