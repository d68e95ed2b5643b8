package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// savingsNow is the clock of the savings tests; images are recorded when
// they are pushed, so that an image a deleted tag leaves behind is old
// enough for prune (or, for "fresh", young enough to stay).
var savingsNow = time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)

// savingsStore builds ml and web:
//
//	ml/train:v1    base 1000 + v1 10 + config 1
//	ml/train:v2    base 1000 + v2 20 + config 1 (the base shared with v1)
//	ml/train:prod  pbase 500 + p 5 + config 1
//	ml/scratch:exp e1..e5, each sbase 300 + eN 7 + config 1, a month old:
//	               e1 and e2 fall outside the newest 3, prune removes them
//	ml/scratch:old o 60 + config 1
//	ml/fresh:new   n 40 + config 1, pushed an hour ago
//	web/site:latest base 1000 (the same as ml's) + w 50 + config 1
//
// ml: 1980 bytes now, 1964 after tonight's prune, which frees 16.
func savingsStore(t *testing.T, pinE1 bool) *Store {
	t.Helper()
	s, err := Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clock := savingsNow.Add(-30 * 24 * time.Hour)
	s.SetClock(func() time.Time { return clock })
	push := func(ref string, img ImageSnapshot) {
		pushTo(t, s, ref, img, clock)
		clock = clock.Add(time.Hour)
	}
	push("ml/train:v1", image("v1", 1, layer{"base", 1000}, layer{"v1", 10}))
	push("ml/train:v2", image("v2", 1, layer{"base", 1000}, layer{"v2", 20}))
	push("ml/train:prod", image("p", 1, layer{"pbase", 500}, layer{"p", 5}))
	for i := 1; i <= 5; i++ {
		push("ml/scratch:exp", image(fmt.Sprint("e", i), 1, layer{"sbase", 300}, layer{fmt.Sprint("e", i), 7}))
	}
	push("ml/scratch:old", image("o", 1, layer{"o", 60}))
	push("web/site:latest", image("w", 1, layer{"base", 1000}, layer{"w", 50}))
	clock = savingsNow.Add(-time.Hour)
	push("ml/fresh:new", image("n", 1, layer{"n", 40}))
	if pinE1 {
		if _, err := s.PinImage(ctx, "ml", dg("image:e1"), "keep", "test"); err != nil {
			t.Fatal(err)
		}
	}
	clock = savingsNow
	return s
}

// TestEffectOfDeletionsCountsTheSetOnce measures sets of deletions: what
// a set takes off the namespace is counted for the set (two tags sharing
// a layer free it together, neither alone), and only blobs nothing else
// keeps leave the disk (a layer another namespace holds, a pinned image, an
// image too young for prune).
func TestEffectOfDeletionsCountsTheSetOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		pin   bool
		dels  []Deletion
		want  DeletionEffect
		error string
	}{
		{name: "nothing: tonight's prune alone", want: DeletionEffect{Bytes: 1980, AfterPrune: 1964, After: 1964, Freed: 16}},
		{name: "one tag: only its own layer leaves, v2 still holds the base",
			dels: []Deletion{{"train", "v1"}}, want: DeletionEffect{1980, 1964, 1953, 27}},
		{name: "the same tag twice counts once",
			dels: []Deletion{{"train", "v1"}, {"train", "v1"}}, want: DeletionEffect{1980, 1964, 1953, 27}},
		{name: "two tags sharing the base: 1032 off ml, not 11 + 21; web keeps the base on disk",
			dels: []Deletion{{"train", "v1"}, {"train", "v2"}}, want: DeletionEffect{1980, 1964, 932, 48}},
		{name: "a whole stream", dels: []Deletion{{Stream: "train"}}, want: DeletionEffect{1980, 1964, 426, 554}},
		{name: "a stream whose older revisions prune takes anyway",
			dels: []Deletion{{Stream: "scratch"}}, want: DeletionEffect{1980, 1964, 1579, 401}},
		{name: "an image recorded an hour ago is freed too, once prune's age has passed",
			dels: []Deletion{{"fresh", "new"}}, want: DeletionEffect{1980, 1964, 1923, 57}},
		{name: "a pinned image keeps its layers on disk", pin: true,
			dels: []Deletion{{Stream: "scratch"}}, want: DeletionEffect{1980, 1972, 1579, 93}},
		{name: "an unknown tag", dels: []Deletion{{"train", "nope"}}, error: "tag ml/train:nope not found"},
		{name: "an unknown stream", dels: []Deletion{{Stream: "nope"}}, error: "image stream ml/nope not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := savingsStore(t, tc.pin)
			got, err := s.EffectOfDeletions(ctx, DefaultPolicy, "ml", tc.dels)
			if tc.error != "" {
				if !errors.Is(err, ErrNotFound) || err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("error %v, want not found: %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("deleting %v: got %+v, want %+v", tc.dels, got, tc.want)
			}
		})
	}
}

// TestEffectOfNothingIsTheUsage: with an empty set the figures are the
// namespace's usage and reclaimable bytes, as the usage pass counts them.
func TestEffectOfNothingIsTheUsage(t *testing.T) {
	t.Parallel()
	s := savingsStore(t, true)
	u, err := s.ComputeUsage(ctx, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"ml", "web"} {
		e, err := s.EffectOfDeletions(ctx, DefaultPolicy, ns, nil)
		if err != nil {
			t.Fatal(err)
		}
		nu, _ := u.Namespace(ns)
		if e.Bytes != nu.Bytes || e.Freed != nu.ReclaimableBytes || e.After != e.AfterPrune {
			t.Errorf("%s: effect of nothing %+v, usage %d bytes, %d reclaimable", ns, e, nu.Bytes, nu.ReclaimableBytes)
		}
	}
}

func stepsText(p *SavingsPlan) string {
	var parts []string
	for _, s := range p.Steps {
		parts = append(parts, fmt.Sprintf("%s %d", s, s.Bytes))
	}
	return strings.Join(parts, ", ")
}

// TestPlanSavingsReachesTheThreshold: the plan is a set whose combined
// effect gets the namespace under its threshold — the smallest single
// deletion when one suffices, tags that only free their shared layer
// together, never the ladder's last rung, a stream holding it or a tag
// holding a pinned image — and says so when no set can.
func TestPlanSavingsReachesTheThreshold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		threshold int64
		pin       bool
		ladder    string
		steps     string
		after     int64
		reaches   bool
		left      string
		rules     string
	}{
		{name: "under the threshold: nothing to do", threshold: 5000, after: 1964, reaches: true},
		{name: "tonight's prune suffices", threshold: 1970, after: 1964, reaches: true},
		{name: "the smallest deletion that suffices", threshold: 1960, steps: "train:v1 11", after: 1953, reaches: true},
		{name: "two tags that only free the base together, in one step; the steps before them dropped as unneeded",
			threshold: 1000, steps: "train:v1, train:v2 1032", after: 932, reaches: true},
		{name: "a whole stream when all its tags go (scratch chosen whole, fresh:new on its own)", threshold: 900,
			steps: "scratch 385, train:v1, train:v2 1032", after: 547, reaches: true},
		{name: "no plan: prod holds 506 bytes", threshold: 300,
			steps: "train:v1, train:v2 1032, scratch 385, fresh 41", after: 506, reaches: false},
		{name: "a pinned image's tag stays", threshold: 1000, pin: true,
			steps: "train:v1, train:v2 1032", after: 940, reaches: true, left: "scratch:exp, train:prod"},
		{name: "a tag a retention rule never prunes stays", threshold: 1000, rules: "^v1$ never",
			steps: "scratch 385, fresh 41, train:v2 21", after: 1517, reaches: false, left: "train:prod, train:v1"},
		{name: "the namespace's own ladder: its last rung v2 stays, prod may go", threshold: 1000, ladder: "v1,v2",
			steps: "train:prod, train:v1 517, scratch 385, fresh 41", after: 1021, reaches: false, left: "train:v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := savingsStore(t, tc.pin)
			if tc.ladder != "" {
				if err := s.SetNamespace(ctx, "ml", NamespaceSettings{Ladder: strings.Split(tc.ladder, ",")}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.rules != "" {
				rules, err := ParseRetentionRules(tc.rules)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.SetRetentionRules(ctx, "ml", rules); err != nil {
					t.Fatal(err)
				}
			}
			plans, err := s.PlanSavings(ctx, DefaultPolicy, map[string]int64{"ml": tc.threshold})
			if err != nil {
				t.Fatal(err)
			}
			p := plans["ml"]
			if got := stepsText(p); got != tc.steps || p.After != tc.after || p.Reaches != tc.reaches {
				t.Fatalf("plan %q, after %d, reaches %v; want %q, %d, %v", got, p.After, p.Reaches, tc.steps, tc.after, tc.reaches)
			}
			// The steps add up: each counts what it takes off after the ones before.
			sum := p.AfterPrune
			var dels []Deletion
			for _, st := range p.Steps {
				sum -= st.Bytes
				dels = append(dels, st.Deletions()...)
			}
			if sum != p.After {
				t.Fatalf("after prune %d minus the steps is %d, the plan says %d", p.AfterPrune, sum, p.After)
			}
			e, err := s.EffectOfDeletions(ctx, DefaultPolicy, "ml", dels)
			if err != nil {
				t.Fatal(err)
			}
			if e != p.DeletionEffect {
				t.Fatalf("the plan says %+v, measuring its set says %+v", p.DeletionEffect, e)
			}
			left := tc.left
			if left == "" {
				left = "train:prod"
			}
			var names []string
			for _, l := range p.LeftAlone {
				names = append(names, l.String())
			}
			if got := strings.Join(names, ", "); got != left {
				t.Fatalf("left alone %q, want %q", got, left)
			}
		})
	}
}

func TestPlanSavingsUnknownNamespace(t *testing.T) {
	t.Parallel()
	s := savingsStore(t, false)
	plans, err := s.PlanSavings(ctx, DefaultPolicy, map[string]int64{"nope": 1, "web": 1})
	if err != nil || plans["nope"] != nil || plans["web"] == nil {
		t.Fatalf("plans %v, error %v; want web's alone", plans, err)
	}
}
