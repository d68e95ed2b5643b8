package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"layerwise/panics"
	"layerwise/store"
)

// UsageCache keeps the latest full usage computation so that pages never
// compute the whole registry per request. It recomputes when the data
// changes (a cheap fingerprint, checked every CheckEvery), when told to,
// and at least every MaxAge so that ages and prunable marks stay true.
type UsageCache struct {
	store  *store.Store
	policy store.Policy
	log    *slog.Logger

	CheckEvery time.Duration
	MaxAge     time.Duration
	// VersionEvery is how often the database's data version is read: a
	// change on any replica (or by the CLI) bumps it, pages cached under
	// the old version are dropped, and the fingerprint is checked at once.
	VersionEvery time.Duration
	// OnRefresh is called with each new result (metrics).
	OnRefresh func(*store.Usage)
	// OnPanic is called when a computation panicked (metrics); the last
	// good figures stay served.
	OnPanic func(job string)

	mu    sync.RWMutex
	cur   *store.Usage
	fp    string
	kick  chan struct{}
	ready chan struct{}
	once  sync.Once

	dataVersion atomic.Int64
}

// DataVersion is the database's data version as last read (pages key
// their cache on it).
func (c *UsageCache) DataVersion() int64 { return c.dataVersion.Load() }

// pollDataVersion reads the data version; it says whether it changed.
func (c *UsageCache) pollDataVersion(ctx context.Context) bool {
	v, err := c.store.DataVersion(ctx)
	if err != nil {
		return false
	}
	return c.dataVersion.Swap(v) != v
}

// NewUsageCache makes a cache; Run fills it.
func NewUsageCache(s *store.Store, policy store.Policy, log *slog.Logger) *UsageCache {
	return &UsageCache{store: s, policy: policy, log: log, CheckEvery: 15 * time.Second, MaxAge: 10 * time.Minute,
		VersionEvery: time.Second, kick: make(chan struct{}, 1), ready: make(chan struct{})}
}

// Get returns the latest usage, nil until the first computation is done.
func (c *UsageCache) Get() *store.Usage {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur
}

// Ready is closed once the first computation is done.
func (c *UsageCache) Ready() <-chan struct{} { return c.ready }

// Invalidate asks for a recomputation soon (after a change made here).
func (c *UsageCache) Invalidate() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// UsageRefreshJob names usage computations that failed on /jobs.
const UsageRefreshJob = "usage-refresh"

// Refresh computes now. A panic in the computation comes back as a
// panics.Error and leaves the figures served before it in place.
func (c *UsageCache) Refresh(ctx context.Context) (u *store.Usage, err error) {
	defer panics.Recover(&err)
	fp, err := c.store.Fingerprint(ctx)
	if err != nil {
		return nil, err
	}
	u, err = c.store.ComputeUsage(ctx, c.policy)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cur, c.fp = u, fp
	c.mu.Unlock()
	c.once.Do(func() { close(c.ready) })
	if c.OnRefresh != nil {
		c.OnRefresh(u)
	}
	return u, nil
}

// Run keeps the cache fresh until ctx ends.
func (c *UsageCache) Run(ctx context.Context) {
	refresh := func(why string) {
		start := time.Now()
		if _, err := c.Refresh(ctx); err != nil {
			if pe, ok := panics.As(err); ok {
				c.panicked(ctx, pe)
			} else if ctx.Err() == nil {
				c.log.Error("usage computation failed", "err", err)
			}
			return
		}
		c.log.Info("usage computed", "why", why, "duration", time.Since(start).Round(time.Millisecond))
	}
	c.pollDataVersion(ctx)
	refresh("start")
	tick := time.NewTicker(c.CheckEvery)
	defer tick.Stop()
	versions := time.NewTicker(c.VersionEvery)
	defer versions.Stop()
	check := func() {
		cur := c.Get()
		if cur == nil || time.Since(cur.ComputedAt) > c.MaxAge {
			refresh("periodic")
			return
		}
		fp, err := c.store.Fingerprint(ctx)
		if err != nil {
			return
		}
		c.mu.RLock()
		changed := fp != c.fp
		c.mu.RUnlock()
		if changed {
			refresh("data changed")
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			refresh("changed here")
		case <-versions.C:
			if c.pollDataVersion(ctx) {
				check()
			}
		case <-tick.C:
			// Bulk loads (generate, db copy) write outside Store.Tx.
			check()
		}
	}
}

// panicked logs a panic of the background computation with its stack,
// counts it and records it on /jobs as a failed run.
func (c *UsageCache) panicked(ctx context.Context, pe *panics.Error) {
	c.log.Error("usage computation panicked; the last good figures stay served", "err", pe, "stack", string(pe.Stack))
	if c.OnPanic != nil {
		c.OnPanic(UsageRefreshJob)
	}
	ctx = context.WithoutCancel(ctx)
	run, err := c.store.StartJobRun(ctx, UsageRefreshJob, "usage-cache")
	if err == nil {
		run.Status, run.Message = "failed", pe.Error()
		err = c.store.FinishJobRun(ctx, run)
	}
	if err != nil {
		c.log.Error("cannot record the failed usage computation", "err", err)
	}
}

// SnapshotJob records usage for the trend lines (LAYERWISE_SNAPSHOT_SCHEDULE).
func SnapshotJob(s *store.Store, cache *UsageCache, schedule string) Job {
	return Job{Name: "usage-snapshot", Schedule: schedule, Run: func(ctx context.Context) (Result, error) {
		u, err := cache.Refresh(ctx)
		if err != nil {
			return Result{}, err
		}
		n, err := s.WriteSnapshots(ctx, u, u.ComputedAt)
		if err != nil {
			return Result{}, fmt.Errorf("write snapshots: %w", err)
		}
		return Result{Count: int64(n), Message: fmt.Sprintf("%d snapshots (registry and %d namespaces)", n, n-1)}, nil
	}}
}
