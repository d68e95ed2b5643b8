package store

import (
	"strings"
	"testing"
)

// Search ignores ASCII case on both databases (SQLite's LIKE does,
// PostgreSQL's needs ILIKE).
func TestSearchIgnoresCase(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	pushTo(t, s, "team-a/api:Release-1", image("r1", 5, layer{"l", 50}), t0)
	hits, err := s.Search(ctx, "release", 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Tag != "Release-1" {
		t.Fatalf("hits = %+v", hits)
	}
}

// A PostgreSQL password never appears in a message.
func TestPostgresPasswordIsRedacted(t *testing.T) {
	t.Parallel()
	dsn := "postgres://lw:s3cret-pw@127.0.0.1:1/layerwise?sslmode=disable&connect_timeout=2"
	if r := Redact(dsn); strings.Contains(r, "s3cret-pw") || !strings.Contains(r, "127.0.0.1:1/layerwise") {
		t.Errorf("Redact = %q", r)
	}
	_, err := Open(ctx, dsn)
	if err == nil {
		t.Fatal("opened a database on port 1")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
}
