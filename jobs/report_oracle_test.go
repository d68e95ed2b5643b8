package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/oracle"
	"layerwise/views"
)

// TestReportFiguresAgreeWithTheOracle builds the weekly e-mail of every
// namespace of random registries and checks its figures against the oracle
// (store/oracle, docs/ORACLE.md): sizes and exclusive bytes of the
// namespace, its streams, tags and revisions, what tonight's prune frees,
// and the plan that gets it under its threshold — what is left once its
// deletions and tonight's prune are done.
func TestReportFiguresAgreeWithTheOracle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	s, err := store.Open(ctx, migratedDSN(t))
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
		// Inserted around Store.Tx: build the stored figures from it.
		if err := s.BuildUsage(ctx, nil); err != nil {
			t.Fatal(err)
		}
		_, err := planned(ctx, s)
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
			r, err := BuildReport(ctx, s, set, now, n.Name)
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
			diffs = append(diffs, checkPlan(reg, n.Name, r)...)
		}
		reports, err := BuildReports(ctx, s, set, now)
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

// checkPlan: the plan's figures are what the oracle counts once its
// deletions are taken out of the registry and prune ran, its steps add up,
// and it deletes no prod tag (the last rung of the default ladder) nor a
// stream that holds one.
func checkPlan(reg *oracle.Registry, ns string, r views.Report) []string {
	var out []string
	p := oracle.DefaultPolicy()
	now := r.Now
	bytesOf := func(r *oracle.Registry) int64 {
		for _, n := range oracle.Compute(r, p, now).Namespaces {
			if n.Name == ns {
				return n.Bytes
			}
		}
		return 0
	}
	without := reg.Clone()
	sum := r.Plan.AfterPrune
	type deletion struct{ stream, tag string }
	var dels []deletion
	for _, st := range r.Plan.Steps {
		sum -= st.Bytes
		for _, name := range strings.Split(st.Name, ", ") {
			stream, tag, _ := strings.Cut(name, ":")
			dels = append(dels, deletion{stream, tag})
		}
	}
	for _, d := range dels {
		stream, tag := d.stream, d.tag
		for ni := range without.Namespaces {
			n := &without.Namespaces[ni]
			if n.Name != ns {
				continue
			}
			for si := range n.Streams {
				s := &n.Streams[si]
				if s.Name != stream {
					continue
				}
				var keep []oracle.Tag
				for _, t := range s.Tags {
					if t.Name == "prod" && (tag == "" || tag == "prod") {
						out = append(out, fmt.Sprintf("%s: the plan deletes %s, which holds prod", ns, d))
					}
					if tag != "" && t.Name != tag {
						keep = append(keep, t)
					}
				}
				s.Tags = keep
			}
		}
	}
	if r.Plan.Over != (r.Bytes >= r.ThresholdBytes) {
		out = append(out, fmt.Sprintf("%s: plan over %v at %d, threshold %d", ns, r.Plan.Over, r.Bytes, r.ThresholdBytes))
	}
	if want := bytesOf(oracle.PlanPrune(reg, p, now).After); r.Plan.AfterPrune != want {
		out = append(out, fmt.Sprintf("%s: after tonight's prune %d, oracle %d", ns, r.Plan.AfterPrune, want))
	}
	if want := bytesOf(oracle.PlanPrune(without, p, now).After); r.Plan.After != want {
		out = append(out, fmt.Sprintf("%s: after the plan %d, oracle %d", ns, r.Plan.After, want))
	}
	if len(r.Plan.Steps) > 0 && sum != r.Plan.After {
		out = append(out, fmt.Sprintf("%s: the steps do not add up: %d, after %d", ns, sum, r.Plan.After))
	}
	return out
}
