package store

import "testing"

// Search ignores ASCII case on both databases (SQLite's LIKE does,
// PostgreSQL's needs ILIKE).
func TestSearchIgnoresCase(t *testing.T) {
	s := newTestStore(t)
	pushTo(t, s, "team-a/api:Release-1", image("r1", 5, layer{"l", 50}), t0)
	hits, err := s.Search(ctx, "release", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Tag != "Release-1" {
		t.Fatalf("hits = %+v", hits)
	}
}
