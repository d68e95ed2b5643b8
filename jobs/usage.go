package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"layerwise/store"
)

// DataVersions polls the database's data version, which every write
// transaction bumps on any replica (and the CLI), and calls OnChange when
// it moved (the threshold alerts look again). Pages read the version per
// request (handlers' page cache). The usage figures themselves are stored
// and read per request: nothing here recomputes them.
type DataVersions struct {
	store *store.Store
	log   *slog.Logger

	// Every is how often the version is read.
	Every time.Duration
	// OnChange is called after each change seen (threshold alerts); it
	// must not block.
	OnChange func()

	version atomic.Int64
}

// NewDataVersions makes a poller; Run polls.
func NewDataVersions(s *store.Store, log *slog.Logger) *DataVersions {
	return &DataVersions{store: s, log: log, Every: time.Second}
}

// DataVersion is the database's data version as last read.
func (d *DataVersions) DataVersion() int64 { return d.version.Load() }

// Poll reads the version now; it says whether it changed.
func (d *DataVersions) Poll(ctx context.Context) bool {
	v, err := d.store.DataVersion(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("cannot read the data version", "err", err)
		}
		return false
	}
	return d.version.Swap(v) != v
}

// Run polls until ctx ends.
func (d *DataVersions) Run(ctx context.Context) {
	d.Poll(ctx)
	tick := time.NewTicker(d.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if d.Poll(ctx) && d.OnChange != nil {
				d.OnChange()
			}
		}
	}
}

// SnapshotJob records the stored usage for the trend lines
// (LAYERWISE_SNAPSHOT_SCHEDULE).
func SnapshotJob(s *store.Store, schedule string) Job {
	return Job{Name: "usage-snapshot", Schedule: schedule, Run: func(ctx context.Context) (Result, error) {
		u, _, err := s.ReadUsageSummary(ctx, 0)
		if err != nil {
			return Result{}, err
		}
		n, err := s.WriteSnapshots(ctx, u, s.Now())
		if err != nil {
			return Result{}, fmt.Errorf("write snapshots: %w", err)
		}
		return Result{Count: int64(n), Message: fmt.Sprintf("%d snapshots (registry and %d namespaces)", n, n-1)}, nil
	}}
}
