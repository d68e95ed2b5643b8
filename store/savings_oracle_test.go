package store_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/oracle"
)

// The savings plan against the oracle: on random registries, deleting a
// set of tags and streams is measured by hand — the oracle's registry
// without them, then the oracle's prune — and the product's figures for the
// set must agree; every plan's own set is measured the same way, and a
// plan that says no set reaches the threshold is checked by deleting every
// tag it may.

// withoutDeletions is r without the named tags and streams of ns.
func withoutDeletions(r *oracle.Registry, ns string, dels []store.Deletion) *oracle.Registry {
	out := r.Clone()
	gone := func(stream, tag string) bool {
		for _, d := range dels {
			if d.Stream == stream && (d.Tag == "" || d.Tag == tag) {
				return true
			}
		}
		return false
	}
	for ni := range out.Namespaces {
		n := &out.Namespaces[ni]
		if n.Name != ns {
			continue
		}
		for si := range n.Streams {
			st := &n.Streams[si]
			var tags []oracle.Tag
			for _, t := range st.Tags {
				if !gone(st.Name, t.Name) {
					tags = append(tags, t)
				}
			}
			st.Tags = tags
		}
	}
	return out
}

// oracleBlobsOf is every blob the entries of ns reference (lists through
// their children), with its size.
func oracleBlobsOf(r *oracle.Registry, ns string) map[string]int64 {
	images := map[string]oracle.Image{}
	referrers := map[string][]string{}
	for _, img := range r.Images {
		images[img.Digest] = img
		if img.Subject != "" {
			referrers[img.Subject] = append(referrers[img.Subject], img.Digest)
		}
	}
	size := map[string]int64{}
	for _, b := range r.Blobs {
		size[b.Digest] = b.Size
	}
	out := map[string]int64{}
	var add func(d string)
	add = func(d string) {
		img := images[d]
		for _, b := range img.OwnBlobs() {
			out[b] = size[b]
		}
		for _, c := range img.Children {
			add(c)
		}
		// A signature or SBOM counts with its subject (the rule).
		for _, rf := range referrers[d] {
			add(rf)
		}
	}
	for _, n := range r.Namespaces {
		if n.Name != ns {
			continue
		}
		for _, st := range n.Streams {
			for _, t := range st.Tags {
				for _, e := range t.History {
					if e.Image != "" {
						add(e.Image)
					}
				}
			}
		}
	}
	return out
}

func oracleBytesOf(f *oracle.Figures, ns string) int64 {
	for _, n := range f.Namespaces {
		if n.Name == ns {
			return n.Bytes
		}
	}
	return 0
}

// oracleEffect measures deleting dels from ns with the oracle.
func oracleEffect(r *oracle.Registry, p oracle.Policy, ns string, dels []store.Deletion) store.DeletionEffect {
	var e store.DeletionEffect
	e.Bytes = oracleBytesOf(oracle.Compute(r, p, oracleNow), ns)
	e.AfterPrune = oracleBytesOf(oracle.Compute(oracle.PlanPrune(r, p, oracleNow).After, p, oracleNow), ns)
	// The images the deletions leave unnamed, as they are once older than
	// the policy's age (prune keeps younger ones until then).
	without := withoutDeletions(r, ns, dels)
	named := func(r *oracle.Registry) map[string]bool {
		lists := map[string][]string{}
		for _, img := range r.Images {
			lists[img.Digest] = img.Children
		}
		out := map[string]bool{}
		for _, n := range r.Namespaces {
			for _, st := range n.Streams {
				for _, t := range st.Tags {
					for _, e := range t.History {
						out[e.Image] = true
						for _, c := range lists[e.Image] {
							out[c] = true
						}
					}
				}
			}
		}
		return out
	}
	before, after := named(r), named(without)
	for i, img := range without.Images {
		if before[img.Digest] && !after[img.Digest] {
			without.Images[i].Recorded = oracleNow.AddDate(-10, 0, 0)
		}
	}
	plan := oracle.PlanPrune(without, p, oracleNow)
	e.After = oracleBytesOf(oracle.Compute(plan.After, p, oracleNow), ns)
	for b, size := range oracleBlobsOf(r, ns) {
		if plan.Blobs[b] {
			e.Freed += size
		}
	}
	return e
}

// mayDelete is the plan's rule, written again: not the last rung (prod, the
// default ladder), no image the namespace pinned in the tag's history, and
// no entry that a retention rule of the namespace keeps whatever its age
// (never; pulled-within, with a pull of its image from the stream since).
func mayDelete(r *oracle.Registry, ns, stream string, t oracle.Tag) bool {
	if t.Name == "prod" {
		return false
	}
	var rules []oracle.Rule
	for _, n := range r.Namespaces {
		if n.Name == ns {
			rules = n.Rules
		}
	}
	pulledSince := func(image string, d time.Duration) bool {
		names := map[string]bool{image: true}
		for _, img := range r.Images {
			if img.Digest == image {
				for _, c := range img.Children {
					names[c] = true
				}
			}
		}
		for _, p := range r.Pulls {
			if p.Namespace == ns && p.Stream == stream && names[p.Image] && p.At.After(oracleNow.Add(-d)) {
				return true
			}
		}
		return false
	}
	for _, e := range t.History {
		if e.Image == "" {
			continue
		}
	rules:
		for _, rl := range rules {
			if rl.Tags != "" && !regexp.MustCompile(`^(?:`+rl.Tags+`)$`).MatchString(t.Name) {
				continue
			}
			switch {
			case rl.Never:
				return false
			case rl.PulledWithin != nil:
				if pulledSince(e.Image, *rl.PulledWithin) {
					return false
				}
			default:
				break rules // a keep rule decides by age
			}
		}
	}
	lists := map[string][]string{}
	for _, img := range r.Images {
		lists[img.Digest] = img.Children
	}
	pinned := map[string]bool{}
	for _, p := range r.Pins {
		if p.Namespace == ns {
			pinned[p.Image] = true
		}
	}
	for _, e := range t.History {
		if pinned[e.Image] {
			return false
		}
		for _, c := range lists[e.Image] {
			if pinned[c] {
				return false
			}
		}
	}
	return true
}

func TestSavingsAgreeWithTheOracle(t *testing.T) {
	t.Parallel()
	s := openOracleStore(t)
	for _, seed := range oracle.Seeds(60) {
		reg := oracle.Generate(seed, oracleNow)
		if err := oracle.Reset(octx, s.DB()); err != nil {
			t.Fatal(err)
		}
		if err := oracle.Insert(octx, s.DB(), reg); err != nil {
			t.Fatal(err)
		}
		policy := casePolicy(seed)
		op := toOracle(policy)
		rnd := oracle.Rand(seed ^ 0x5a71)
		var problems []string
		for _, n := range reg.Namespaces {
			// Random sets: each tag or stream in with probability 1/3.
			var all []store.Deletion
			for _, st := range n.Streams {
				all = append(all, store.Deletion{Stream: st.Name})
				for _, tg := range st.Tags {
					all = append(all, store.Deletion{Stream: st.Name, Tag: tg.Name})
				}
			}
			for k := 0; k < 4; k++ {
				var dels []store.Deletion
				for _, d := range all {
					if rnd.IntN(3) == 0 {
						dels = append(dels, d)
					}
				}
				got, err := s.EffectOfDeletions(octx, policy, n.Name, dels)
				if err != nil {
					t.Fatal(err)
				}
				if want := oracleEffect(reg, op, n.Name, dels); got != want {
					problems = append(problems, fmt.Sprintf("%s: deleting %v: %+v, oracle %+v", n.Name, dels, got, want))
				}
			}

			// A plan for a threshold between the usage after prune and half of it.
			bytes := oracleBytesOf(oracle.Compute(reg, op, oracleNow), n.Name)
			threshold := 1 + bytes/2 + rnd.Int64N(bytes/2+1)
			plans, err := s.PlanSavings(octx, policy, map[string]int64{n.Name: threshold})
			if err != nil {
				t.Fatal(err)
			}
			p := plans[n.Name]
			var dels []store.Deletion
			sum := p.AfterPrune
			for _, st := range p.Steps {
				dels = append(dels, st.Deletions()...)
				sum -= st.Bytes
			}
			want := oracleEffect(reg, op, n.Name, dels)
			if p.DeletionEffect != want {
				problems = append(problems, fmt.Sprintf("%s: plan %v says %+v, oracle %+v", n.Name, dels, p.DeletionEffect, want))
			}
			if len(p.Steps) > 0 && sum != p.After {
				problems = append(problems, fmt.Sprintf("%s: the steps of %v do not add up: %d, after %d", n.Name, dels, sum, p.After))
			}
			if p.Reaches != (p.After < threshold) {
				problems = append(problems, fmt.Sprintf("%s: reaches %v with %d after, threshold %d", n.Name, p.Reaches, p.After, threshold))
			}
			var allowed []store.Deletion
			for _, st := range n.Streams {
				streamOK := true
				for _, tg := range st.Tags {
					if mayDelete(reg, n.Name, st.Name, tg) {
						allowed = append(allowed, store.Deletion{Stream: st.Name, Tag: tg.Name})
					} else {
						streamOK = false
					}
				}
				for _, d := range dels {
					if d.Stream != st.Name {
						continue
					}
					for _, tg := range st.Tags {
						if (d.Tag == tg.Name || d.Tag == "") && !mayDelete(reg, n.Name, st.Name, tg) {
							problems = append(problems, fmt.Sprintf("%s: the plan deletes %s, which holds %s:%s", n.Name, d, st.Name, tg.Name))
						}
					}
					if d.Tag == "" && !streamOK {
						problems = append(problems, fmt.Sprintf("%s: the plan deletes stream %s", n.Name, d))
					}
				}
			}
			if !p.Reaches && p.Bytes >= threshold {
				if best := oracleEffect(reg, op, n.Name, allowed); best.After < threshold {
					problems = append(problems, fmt.Sprintf("%s: no plan, but deleting %v gets to %d, under %d", n.Name, allowed, best.After, threshold))
				}
			}
		}
		if len(problems) > 0 {
			t.Fatalf("seed %d:\n  %s\nreplay: go test ./store -run TestSavingsAgreeWithTheOracle -oracle.seed=%d -v\nregistry:\n%s",
				seed, strings.Join(problems, "\n  "), seed, reg)
		}
	}
}
