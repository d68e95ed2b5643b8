package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"layerwise/store"
)

// The streamed plan is byte for byte what encoding/json prints: for a plan
// with revisions, for an empty one, and wrapped with what was applied.
func TestWritePlanJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, pruneDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	full, err := s.PlanPrune(ctx, store.DefaultPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Revisions) == 0 || len(full.Images) == 0 {
		t.Fatalf("the test plan removes nothing: %+v", full)
	}
	empty, err := s.PlanPrune(ctx, store.Policy{KeepTagRevisions: 100, KeepYoungerThan: store.DefaultPolicy.KeepYoungerThan}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Revisions) != 0 {
		t.Fatalf("the empty plan removes %d revisions", len(empty.Revisions))
	}
	type applied struct {
		*store.PrunePlan
		Applied map[string]int `json:"applied"`
	}
	for name, tc := range map[string]struct {
		v    any
		plan *store.PrunePlan
	}{
		"plan":         {full, full},
		"empty plan":   {empty, empty},
		"with applied": {applied{full, map[string]int{"revisions": len(full.Revisions)}}, full},
	} {
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(tc.v); err != nil {
			t.Fatal(err)
		}
		if err := writePlanJSON(&got, tc.v, tc.plan); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: streamed\n%s\nencoding/json\n%s", name, got.String(), want.String())
		}
		if len(tc.plan.Revisions) != len(full.Revisions) && tc.plan == full {
			t.Errorf("%s: writing the plan changed it", name)
		}
	}
}

// `usage -o json` streamed is byte for byte what encoding/json prints.
func TestWriteUsageJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, pruneDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Namespaces) < 2 {
		t.Fatalf("the test usage has %d namespaces", len(u.Namespaces))
	}
	for name, u := range map[string]*store.Usage{"two namespaces": u, "none": {Namespaces: []store.NamespaceUsage{}}} {
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(u); err != nil {
			t.Fatal(err)
		}
		err := writeUsageJSON(&got, *u, func(yield func(store.NamespaceUsage) error) error {
			for _, n := range u.Namespaces {
				if err := yield(n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: streamed\n%s\nencoding/json\n%s", name, got.String(), want.String())
		}
	}
}
