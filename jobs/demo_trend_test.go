package jobs

import (
	"context"
	"testing"
	"time"

	"layerwise/store"
)

// TestSeedDemoTrend: twelve weekly snapshots that end near today's figures
// (last week within a few percent, as a registry grows), the same for the
// same data, written once; the weekly e-mail then has last week's change.
func TestSeedDemoTrend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := demoStore(t)
	u, err := planned(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	now := s.Now()
	n, err := SeedDemoTrend(ctx, s, u, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := DemoWeeks * (len(u.Namespaces) + 1); n != want {
		t.Fatalf("%d rows, want %d", n, want)
	}
	if again, err := SeedDemoTrend(ctx, s, u, now); err != nil || again != 0 {
		t.Fatalf("a second seed wrote %d rows (%v)", again, err)
	}
	for _, nu := range u.Namespaces {
		snaps, err := s.Trend(ctx, nu.Name, time.Time{})
		if err != nil || len(snaps) != DemoWeeks {
			t.Fatalf("%s: %d snapshots, %v", nu.Name, len(snaps), err)
		}
		last := snaps[len(snaps)-1]
		if r := float64(last.Bytes) / float64(nu.Bytes); r < 0.9 || r > 1.01 {
			t.Errorf("%s: last week %d, today %d: not a week's growth", nu.Name, last.Bytes, nu.Bytes)
		}
	}
	set := ReportSettings{Threshold: 1 << 30}
	r, err := BuildReport(ctx, s, set, now, "ml")
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := s.Trend(ctx, "ml", time.Time{})
	if !r.HasChange || r.Change != mlBytes(u)-snaps[len(snaps)-1].Bytes {
		t.Errorf("ml's e-mail: change %d (has %v), want today's usage less last week's snapshot", r.Change, r.HasChange)
	}

	// The same data gives the same history.
	s2 := demoStore(t)
	if _, err := SeedDemoTrend(ctx, s2, u, now); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Trend(ctx, "payments", time.Time{})
	b, _ := s2.Trend(ctx, "payments", time.Time{})
	for i := range a {
		if a[i].Bytes != b[i].Bytes || !a[i].TakenAt.Equal(b[i].TakenAt) {
			t.Fatalf("history differs at week %d: %+v, %+v", i, a[i], b[i])
		}
	}
}

func mlBytes(u *store.Usage) int64 {
	n, _ := u.Namespace("ml")
	return n.Bytes
}
