package store_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"layerwise/store"
	"layerwise/store/synth"
)

// benchDB opens (and on first use generates) a synthetic registry. The
// large dataset (2000 namespaces) is built only when LAYERWISE_BENCH_LARGE=1;
// LAYERWISE_BENCH_DB names a file or a postgres:// DSN to keep it between
// runs (bench/run sets both).
func benchDB(b *testing.B) *store.Store {
	b.Helper()
	ctx := context.Background()
	namespaces := 50
	if os.Getenv("LAYERWISE_BENCH_LARGE") == "1" {
		namespaces = 2000
	}
	path := os.Getenv("LAYERWISE_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	s, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	s.DB().Model(&store.Namespace{}).Count(&n)
	if n == 0 {
		if _, err := synth.Generate(ctx, s, synth.Options{Namespaces: namespaces, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkComputeUsage is the full-registry usage pass: every namespace,
// stream, tag and revision, with exclusive and reclaimable bytes.
func BenchmarkComputeUsage(b *testing.B) {
	s := benchDB(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u, err := s.ComputeUsage(ctx, store.DefaultPolicy)
		if err != nil {
			b.Fatal(err)
		}
		if u.Registry.Bytes == 0 {
			b.Fatal("empty usage")
		}
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB-sys")
}

// BenchmarkBlobLinksInMemory is the lower bound: one plain in-memory pass
// over the same (image, blob) links, already loaded, summing distinct blob
// sizes per namespace. No database, no hierarchy.
func BenchmarkBlobLinksInMemory(b *testing.B) {
	s := benchDB(b)
	ctx := context.Background()
	links, sizes, nsOf, err := store.LoadLinksForBenchmark(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seen := make([]int32, len(sizes))
		var total int64
		for _, l := range links {
			ns := nsOf[l[0]]
			if seen[l[1]] != ns {
				seen[l[1]] = ns
				total += sizes[l[1]]
			}
		}
		if total == 0 {
			b.Fatal("no bytes")
		}
	}
}
