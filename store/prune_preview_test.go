package store

import (
	"sort"
	"testing"
	"time"
)

// TestPreviewPruneAgreesWithTheChange: what PreviewPrune says a promotion
// or rollback does to the next prune is what planning after the real
// change shows, and nothing is written by the preview.
func TestPreviewPruneAgreesWithTheChange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		setup       func(t *testing.T, s *Store)
		move        TagMove
		apply       func(t *testing.T, s *Store)
		added       []string // images of the revisions moved into the plan
		removed     []string
		before, now int64 // bytes the namespace's part of the plan frees
		none        bool
	}{
		{"a promotion pushes the third revision out",
			func(t *testing.T, s *Store) {
				pushOld(t, s, "p/app:prod", "a", "b", "c")
				pushTo(t, s, "p/app:latest", rev("x"), ago(time.Hour))
			},
			TagMove{TagRef{"p", "app", "prod"}, dg("image:x")},
			func(t *testing.T, s *Store) {
				if _, err := s.Promote(ctx, StreamRef{"p", "app"}, "latest", "prod"); err != nil {
					t.Fatal(err)
				}
			},
			[]string{"a"}, nil, 0, 11, false},
		{"a rollback keeps its image and moves the next revision out",
			func(t *testing.T, s *Store) { pushOld(t, s, "p/app:prod", "a", "b", "c", "d") },
			TagMove{TagRef{"p", "app", "prod"}, dg("image:a")},
			func(t *testing.T, s *Store) {
				if _, err := s.Rollback(ctx, TagRef{"p", "app", "prod"}, dg("image:a")); err != nil {
					t.Fatal(err)
				}
			},
			// b's entry joins the plan; a's old entry stays in it, but its
			// image is current again: b's 11 bytes instead of a's.
			[]string{"b"}, nil, 11, 11, false},
		{"young revisions stay",
			func(t *testing.T, s *Store) {
				for i, n := range []string{"a", "b", "c"} {
					pushTo(t, s, "p/app:prod", rev(n), ago(time.Duration(3-i)*time.Hour))
				}
				pushTo(t, s, "p/app:latest", rev("x"), ago(time.Hour))
			},
			TagMove{TagRef{"p", "app", "prod"}, dg("image:x")},
			func(t *testing.T, s *Store) {
				if _, err := s.Promote(ctx, StreamRef{"p", "app"}, "latest", "prod"); err != nil {
					t.Fatal(err)
				}
			},
			nil, nil, 0, 0, true},
		{"a promotion to a new tag",
			func(t *testing.T, s *Store) { pushOld(t, s, "p/app:latest", "a") },
			TagMove{TagRef{"p", "app", "test"}, dg("image:a")},
			func(t *testing.T, s *Store) {
				if _, err := s.Promote(ctx, StreamRef{"p", "app"}, "latest", "test"); err != nil {
					t.Fatal(err)
				}
			},
			nil, nil, 0, 0, true},
	}
	images := func(revs []PruneRevision) []string {
		var out []string
		for _, r := range revs {
			out = append(out, r.Image)
		}
		sort.Strings(out)
		return out
	}
	names := func(ns []string) []string {
		var out []string
		for _, n := range ns {
			out = append(out, dg("image:"+n))
		}
		sort.Strings(out)
		return out
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newPruneStore(t)
			c.setup(t, s)
			before := dumpTables(t, s)
			e, err := s.PreviewPrune(ctx, DefaultPolicy, c.move)
			if err != nil {
				t.Fatal(err)
			}
			if dumpTables(t, s) != before {
				t.Fatal("the preview wrote to the database")
			}
			if !equalStrings(images(e.Added), names(c.added)) || !equalStrings(images(e.Removed), names(c.removed)) {
				t.Errorf("added %v removed %v, want %v and %v", images(e.Added), images(e.Removed), names(c.added), names(c.removed))
			}
			if e.BytesBefore != c.before || e.BytesAfter != c.now || e.None() != c.none {
				t.Errorf("bytes %d → %d (none %v), want %d → %d (none %v)", e.BytesBefore, e.BytesAfter, e.None(), c.before, c.now, c.none)
			}
			// The oracle: plan after the real change.
			c.apply(t, s)
			plan, err := s.PlanPrune(ctx, DefaultPolicy, &PlanFilter{Namespaces: []string{"p"}})
			if err != nil {
				t.Fatal(err)
			}
			var freed int64
			for _, n := range plan.Namespaces {
				freed = n.BytesFreed
			}
			if freed != e.BytesAfter {
				t.Errorf("after the change the plan frees %d, the preview said %d", freed, e.BytesAfter)
			}
		})
	}
	t.Run("unknown stream", func(t *testing.T) {
		s := newPruneStore(t)
		pushOld(t, s, "p/app:latest", "a")
		_, err := s.PreviewPrune(ctx, DefaultPolicy, TagMove{TagRef{"p", "nope", "prod"}, dg("image:a")})
		wantErr(t, err, ErrNotFound, "p/nope")
	})
}
