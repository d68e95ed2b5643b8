package store_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"layerwise/store"
)

// BenchmarkPrunePlan is the whole registry's prune plan (default policy).
func BenchmarkPrunePlan(b *testing.B) {
	s := benchDB(b)
	ctx := context.Background()
	b.ResetTimer()
	var p *store.PrunePlan
	for i := 0; i < b.N; i++ {
		var err error
		if p, err = s.PlanPrune(ctx, store.DefaultPolicy, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(p.Revisions)), "revisions")
}

// BenchmarkPruneApply applies a plan of at least 100,000 history entries
// (the first namespaces' plan under keep-tag-revisions 1) to a fresh copy
// of LAYERWISE_BENCH_DB each time; only the apply is timed.
func BenchmarkPruneApply(b *testing.B) {
	src := os.Getenv("LAYERWISE_BENCH_DB")
	if src == "" {
		b.Skip("set LAYERWISE_BENCH_DB to a generated database (it is copied, never changed)")
	}
	ctx := context.Background()
	policy := store.Policy{KeepTagRevisions: 1, KeepYoungerThan: store.DefaultPolicy.KeepYoungerThan}
	var entries int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := filepath.Join(b.TempDir(), "apply.db")
		copyFile(b, src, dst)
		s, err := store.Open(ctx, dst)
		if err != nil {
			b.Fatal(err)
		}
		full, err := s.PlanPrune(ctx, policy, nil)
		if err != nil {
			b.Fatal(err)
		}
		var names []string
		n := 0
		for _, ns := range full.Namespaces {
			if n >= 100_000 {
				break
			}
			names = append(names, ns.Name)
			n += ns.Revisions
		}
		p, err := s.PlanPrune(ctx, policy, &store.PlanFilter{Namespaces: names})
		if err != nil {
			b.Fatal(err)
		}
		entries = len(p.Revisions)
		b.StartTimer()
		res, err := s.ApplyPrune(ctx, p, store.ApplyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if res.Revisions != int64(entries) {
			b.Fatalf("applied %d of %d entries", res.Revisions, entries)
		}
		b.ReportMetric(float64(res.Images), "images")
		b.ReportMetric(float64(res.Blobs), "blobs")
		s.Close()
	}
	b.ReportMetric(float64(entries), "entries")
}

func copyFile(b *testing.B, src, dst string) {
	for _, suffix := range []string{"", "-wal"} {
		in, err := os.Open(src + suffix)
		if err != nil {
			if suffix != "" && os.IsNotExist(err) {
				continue
			}
			b.Fatal(err)
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// BenchmarkPlanMemory sets the streamed plans (the whole registry's, a
// team's plan of one namespace as PlanPrune streams it, and the plan
// summary of the usage-plan job) beside the full pass's plan, which holds
// the whole graph (what PlanPrune uses for the whole registry): seconds per plan and the heap's peak while it
// runs (sampled every 5 ms: the bound the issue sets is on memory).
func BenchmarkPlanMemory(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		run  func(s *store.Store) error
	}{
		{"streamed-plan", func(s *store.Store) error {
			_, err := s.StreamedPlan(ctx, store.DefaultPolicy, nil, store.PlanOptions{})
			return err
		}},
		{"one-namespace-plan", func(s *store.Store) error {
			var ns string
			if err := s.DB().Raw(`SELECT name FROM namespaces ORDER BY name LIMIT 1`).Scan(&ns).Error; err != nil {
				return err
			}
			_, err := s.PlanPrune(ctx, store.DefaultPolicy, &store.PlanFilter{Namespaces: []string{ns}})
			return err
		}},
		{"streamed-summary", func(s *store.Store) error { _, err := s.ComputePlanSummary(ctx, store.DefaultPolicy); return err }},
		{"full-pass-plan", func(s *store.Store) error {
			_, err := s.FullPlan(ctx, store.DefaultPolicy, nil, store.PlanOptions{})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := benchDB(b)
			runtime.GC()
			var peak uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p, err := peakHeap(func() error { return c.run(s) })
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, p)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// peakHeap runs fn and samples the heap's live and unswept objects
// meanwhile, returning the largest sample.
func peakHeap(fn func() error) (uint64, error) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var p uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			p = max(p, read())
			select {
			case <-done:
				peak <- max(p, read())
				return
			case <-t.C:
			}
		}
	}()
	err := fn()
	close(done)
	return <-peak, err
}
