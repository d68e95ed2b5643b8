package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/oracle"
	"layerwise/store/storetest"
	"layerwise/views"
)

// TestReportFiguresAgreeWithTheOracle builds the weekly e-mail of every
// namespace of random registries and checks its figures against the oracle
// (store/oracle, docs/ORACLE.md): sizes and exclusive bytes of the
// namespace, its streams, tags and revisions, what tonight's prune frees,
// and "biggest savings first" — deleting each tag or stream listed frees
// exactly the bytes promised, and no bigger saving is left out.
func TestReportFiguresAgreeWithTheOracle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	s, err := store.Open(ctx, storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetClock(func() time.Time { return now })
	set := ReportSettings{Threshold: 1, BaseURL: "http://127.0.0.1:8080"}
	for _, seed := range oracle.Seeds(60) {
		reg := oracle.Generate(seed, now)
		if err := oracle.Reset(ctx, s.DB()); err != nil {
			t.Fatal(err)
		}
		if err := oracle.Insert(ctx, s.DB(), reg); err != nil {
			t.Fatal(err)
		}
		u, err := s.ComputeUsage(ctx, store.DefaultPolicy)
		if err != nil {
			t.Fatal(err)
		}
		f := oracle.Compute(reg, oracle.DefaultPolicy(), now)
		var diffs []string
		differ := func(scope string, got, want any) {
			if got != want {
				diffs = append(diffs, fmt.Sprintf("%s = %v, oracle %v", scope, got, want))
			}
		}
		for _, n := range f.Namespaces {
			r, err := BuildReport(ctx, s, u, set, now, n.Name)
			if err != nil {
				t.Fatal(err)
			}
			differ(n.Name+" bytes", r.Bytes, n.Bytes)
			differ(n.Name+" exclusive", r.ExclusiveBytes, n.Exclusive)
			differ(n.Name+" tonight's prune frees", r.Reclaimable, n.Reclaimable)
			differ(n.Name+" registry bytes", r.RegistryBytes, f.Registry.Bytes)
			streams := map[string]oracle.StreamFigures{}
			for _, st := range n.Streams {
				streams[st.Name] = st
			}
			differ(n.Name+" streams listed", len(r.Streams), len(n.Streams))
			for _, rs := range r.Streams {
				ws := streams[rs.Name]
				differ(n.Name+"/"+rs.Name+" bytes", rs.Bytes, ws.Bytes)
				differ(n.Name+"/"+rs.Name+" exclusive", rs.ExclusiveBytes, ws.Exclusive)
				tags := map[string]oracle.TagFigures{}
				for _, tg := range ws.Tags {
					tags[tg.Name] = tg
				}
				differ(n.Name+"/"+rs.Name+" tags listed", len(rs.Tags), len(ws.Tags))
				for _, rt := range rs.Tags {
					wt := tags[rt.Name]
					scope := n.Name + "/" + rs.Name + ":" + rt.Name
					differ(scope+" bytes", rt.Bytes, wt.Bytes)
					differ(scope+" exclusive", rt.ExclusiveBytes, wt.Exclusive)
					differ(scope+" revisions", len(rt.Revisions), len(wt.Revisions))
					for i := range min(len(rt.Revisions), len(wt.Revisions)) {
						g, w := rt.Revisions[i], wt.Revisions[i]
						differ(fmt.Sprintf("%s#%d", scope, i), fmt.Sprint(g.Image, g.Bytes, g.Current, g.Prunable), fmt.Sprint(w.Image, w.Bytes, w.Current, w.Prunable))
					}
				}
			}
			diffs = append(diffs, checkSavings(n, r.Savings)...)
		}
		reports, err := BuildReports(ctx, s, u, set, now)
		if err != nil {
			t.Fatal(err)
		}
		differ("digest registry bytes", reports.digest.RegistryBytes, f.Registry.Bytes)
		differ("digest reclaimable", reports.digest.Reclaimable, f.Registry.Reclaimable)
		if len(diffs) > 0 {
			t.Fatalf("seed %d: the e-mail disagrees with the oracle:\n  %v\nreplay: go test ./jobs -run TestReportFiguresAgreeWithTheOracle -oracle.seed=%d -v\nregistry:\n%s",
				seed, diffs, seed, reg)
		}
	}
}

// checkSavings: every saving shown frees what it says, they come biggest
// first, at most 10, and no saving left out is bigger than one shown.
func checkSavings(n oracle.NamespaceFigures, got []views.Saving) []string {
	var out []string
	all := n.Savings()
	want := map[string]int64{}
	for _, s := range all {
		want[s.Kind+" "+s.Name] = s.Bytes
	}
	if len(got) != min(10, len(all)) {
		out = append(out, fmt.Sprintf("%s: %d savings shown, oracle has %d", n.Name, len(got), len(all)))
	}
	shown := map[string]bool{}
	for i, s := range got {
		key := s.Kind + " " + s.Name
		shown[key] = true
		if w, ok := want[key]; !ok || w != s.Bytes {
			out = append(out, fmt.Sprintf("%s: deleting %s frees %d, oracle %d", n.Name, key, s.Bytes, w))
		}
		if i > 0 && s.Bytes > got[i-1].Bytes {
			out = append(out, fmt.Sprintf("%s: savings not biggest first at %s", n.Name, key))
		}
	}
	if len(got) > 0 {
		least := got[len(got)-1].Bytes
		for _, s := range all {
			if !shown[s.Kind+" "+s.Name] && s.Bytes > least {
				out = append(out, fmt.Sprintf("%s: saving %s %s (%d) left out for a smaller one", n.Name, s.Kind, s.Name, s.Bytes))
			}
		}
	}
	return out
}
