package store_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"layerwise/store"
	"layerwise/store/oracle"
)

// TestStreamedPlanEqualsTheFullPass compares the prune plan computed a
// batch of namespaces at a time (what a reader's plan of their namespaces
// and the plan summary use) with the plan of the whole graph in memory
// (what prune of the whole registry uses), on random registries: every
// revision, kept revision with its reason, referrer, image, blob and sum,
// for the whole registry and for a reader who sees some namespaces, with
// batches of 1, 2 and 200 namespaces.
func TestStreamedPlanEqualsTheFullPass(t *testing.T) {
	s := openOracleStore(t)
	for _, seed := range oracle.Seeds(60) {
		reg := oracle.Generate(seed, oracleNow)
		policy := casePolicy(seed)
		if d := runCase(t, s, reg, policy); len(d) > 0 {
			t.Fatalf("seed %d: the registry disagrees with the oracle already: %v", seed, d[:min(len(d), 4)])
		}
		var names []string
		for _, n := range reg.Namespaces {
			names = append(names, n.Name)
		}
		filters := []*store.PlanFilter{nil}
		if len(names) > 0 {
			filters = append(filters, &store.PlanFilter{Namespaces: []string{names[len(names)-1], "not-there"}})
		}
		for _, filter := range filters {
			for _, opt := range []store.PlanOptions{{}, {Kept: true}} {
				want, err := s.FullPlan(octx, policy, filter, opt)
				if err != nil {
					t.Fatal(err)
				}
				for _, batch := range []int{1, 2, 200} {
					s.SetPlanBatch(batch)
					got, err := s.StreamedPlan(octx, policy, filter, opt)
					if err != nil {
						t.Fatal(err)
					}
					label := fmt.Sprintf("seed %d, filter %v, kept %v, batch %d", seed, filter, opt.Kept, batch)
					samePlan(t, label, got, want)
				}
				s.SetPlanBatch(2)
			}
		}
	}
}

func samePlan(t *testing.T, label string, got, want *store.PrunePlan) {
	t.Helper()
	store.SortPlanBlobs(got)
	store.SortPlanBlobs(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: the streamed plan differs from the full pass:\n got %+v\nwant %+v", label, got, want)
		return
	}
	gi, gb, gl, gd := store.PlanInternals(got)
	wi, wb, wl, wd := store.PlanInternals(want)
	if !slices.Equal(gi, wi) || !slices.Equal(gb, wb) || !reflect.DeepEqual(gl, wl) || !reflect.DeepEqual(gd, wd) {
		t.Errorf("%s: images %v, blobs %v, lists %v, depths %v; the full pass: %v, %v, %v, %v", label, gi, gb, gl, gd, wi, wb, wl, wd)
	}
}

// TestStreamedPreviewEqualsTheFullPass compares what a tag move does to
// the next prune (the confirmation page of a promotion or rollback),
// streamed, with the full pass's answer, on random registries: each
// stream's first tag gets another image of the registry (or a new tag of
// that name appears), with batches of 1 and 200 namespaces.
func TestStreamedPreviewEqualsTheFullPass(t *testing.T) {
	s := openOracleStore(t)
	moves := 0
	seeds := oracle.Seeds(40)
	for _, seed := range seeds {
		reg := oracle.Generate(seed, oracleNow)
		policy := casePolicy(seed)
		if d := runCase(t, s, reg, policy); len(d) > 0 {
			t.Fatalf("seed %d: the registry disagrees with the oracle already: %v", seed, d[:min(len(d), 4)])
		}
		var digests []string
		for _, img := range reg.Images {
			digests = append(digests, img.Digest)
		}
		if len(digests) == 0 {
			continue
		}
		r := oracle.Rand(seed)
		for _, n := range reg.Namespaces {
			for _, st := range n.Streams {
				tag := "new-tag"
				if len(st.Tags) > 0 && r.IntN(4) != 0 {
					tag = st.Tags[0].Name
				}
				move := store.TagMove{Ref: store.TagRef{Namespace: n.Name, Stream: st.Name, Tag: tag}, Image: digests[r.IntN(len(digests))]}
				want, werr := s.FullPreview(octx, policy, move)
				for _, batch := range []int{1, 200} {
					s.SetPlanBatch(batch)
					got, err := s.PreviewPrune(octx, policy, move)
					if (err != nil) != (werr != nil) || !reflect.DeepEqual(got, want) {
						t.Errorf("seed %d, move %v, batch %d: streamed %+v (%v), the full pass %+v (%v)", seed, move, batch, got, err, want, werr)
					}
				}
				s.SetPlanBatch(2)
				moves++
			}
		}
	}
	// About five streams per random registry; fewer than one move per seed
	// means the generator changed and the test no longer exercises anything.
	if moves < len(seeds) {
		t.Fatalf("only %d moves tried over %d seeds", moves, len(seeds))
	}
}
