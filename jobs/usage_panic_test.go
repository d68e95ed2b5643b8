package jobs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/storetest"
)

// syncBuffer is a log sink the cache's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A panic inside the background usage computation is recovered: the
// process goes on, the figures computed before stay served, the panic is
// logged with its stack, counted and recorded on /jobs, and the next change
// is computed again.
func TestUsageCacheSurvivesAPanic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := store.Open(ctx, storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// The store's clock is read by the usage pass; it panics once when told
	// to, as a bug in the pass would.
	var boom atomic.Bool
	s.SetClock(func() time.Time {
		if boom.CompareAndSwap(true, false) {
			panic("clock broke")
		}
		return time.Now()
	})
	var logs syncBuffer
	c := NewUsageCache(s, store.DefaultPolicy, slog.New(slog.NewTextHandler(&logs, nil)))
	panicked := make(chan string, 1)
	c.OnPanic = func(job string) { panicked <- job }
	go c.Run(ctx)
	<-c.Ready()
	good := c.Get()

	boom.Store(true)
	c.Invalidate()
	select {
	case job := <-panicked:
		if job != UsageRefreshJob {
			t.Errorf("panic counted for %q, want %q", job, UsageRefreshJob)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the panic was never reported")
	}
	if c.Get() != good {
		t.Error("the figures from before the panic are no longer served")
	}
	if l := logs.String(); !strings.Contains(l, "clock broke") || !strings.Contains(l, "stack=") || !strings.Contains(l, "usage.go") {
		t.Errorf("the log has no panic with its stack:\n%s", l)
	}
	// Recorded on /jobs just after the panic is counted: poll (generously:
	// a loaded machine and PostgreSQL take their time).
	var run store.JobRun
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		runs, err := s.LastJobRuns(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if run = runs[UsageRefreshJob]; run.Status != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if run.Status != "failed" || run.Message != "panic: clock broke" {
		t.Errorf("/jobs records %+v, want a failed %s run saying the panic", run, UsageRefreshJob)
	}

	// The next change is computed as usual.
	c.Invalidate()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if c.Get() != good {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("no usage computed after the panic")
}
