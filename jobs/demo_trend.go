package jobs

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"layerwise/store"
)

// DemoWeeks is how many weekly snapshots the demo's history holds.
const DemoWeeks = 12

// SeedDemoTrend gives the demo a history: DemoWeeks weekly snapshots before
// now, written as the snapshot job writes them (store.WriteSnapshots, at
// midnight UTC), that end plausibly at today's figures u. Each namespace
// grew a few percent a week, with noise and one clean-up along the way,
// the same every time for the same name. A database that has snapshots
// already is left alone; it returns how many rows it wrote.
func SeedDemoTrend(ctx context.Context, s *store.Store, u *store.Usage, now time.Time) (int, error) {
	have, err := s.Trend(ctx, "", time.Time{})
	if err != nil {
		return 0, fmt.Errorf("seed the demo's history: %w", err)
	}
	if len(have) > 0 {
		return 0, nil
	}
	// factors[n][k] scales namespace n's figures k weeks ago.
	factors := make([][]float64, len(u.Namespaces))
	noise := make([]*rand.Rand, len(u.Namespaces))
	for i, n := range u.Namespaces {
		h := fnv.New64a()
		h.Write([]byte(n.Name))
		r := rand.New(rand.NewPCG(h.Sum64(), 16))
		noise[i] = r
		growth := 0.005 + 0.045*r.Float64() // 0.5% to 5% a week
		cleanup, drop := 3+r.IntN(7), 0.08+0.17*r.Float64()
		f := make([]float64, DemoWeeks+1)
		f[0] = 1
		for k := 1; k <= DemoWeeks; k++ {
			f[k] = f[k-1] / (1 + growth + 0.03*(r.Float64()-0.5))
			if k == cleanup {
				f[k] *= 1 + drop // before the clean-up it held more
			}
		}
		factors[i] = f
	}
	day := now.UTC().Truncate(24 * time.Hour)
	rows := 0
	for k := DemoWeeks; k >= 1; k-- {
		week := &store.Usage{Namespaces: make([]store.NamespaceUsage, len(u.Namespaces))}
		var sumNow, sumThen, recNow, recThen float64
		for i, n := range u.Namespaces {
			r, f := noise[i], factors[i][k]
			b := int64(math.Round(float64(n.Bytes) * f))
			e := min(b, int64(math.Round(float64(n.ExclusiveBytes)*f*(0.97+0.06*r.Float64()))))
			rec := min(b, int64(math.Round(float64(n.ReclaimableBytes)*f*(0.4+1.2*r.Float64()))))
			week.Namespaces[i] = store.NamespaceUsage{Name: n.Name, Bytes: b, ExclusiveBytes: e, ReclaimableBytes: rec}
			sumNow, sumThen = sumNow+float64(n.Bytes), sumThen+float64(b)
			recNow, recThen = recNow+float64(n.ReclaimableBytes), recThen+float64(rec)
		}
		// The registry counts shared layers once: scale today's total.
		if sumNow > 0 {
			week.Registry.Bytes = int64(math.Round(float64(u.Registry.Bytes) * sumThen / sumNow))
		}
		if recNow > 0 {
			week.Registry.ReclaimableBytes = int64(math.Round(float64(u.Registry.ReclaimableBytes) * recThen / recNow))
		}
		n, err := s.WriteSnapshots(ctx, week, day.AddDate(0, 0, -7*k))
		if err != nil {
			return rows, fmt.Errorf("seed the demo's history: %w", err)
		}
		rows += n
	}
	return rows, nil
}
