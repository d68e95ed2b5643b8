package store

import (
	"context"
	"path/filepath"
	"testing"
)

func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesSchema(t *testing.T) {
	s := newTestStore(t)
	ids, err := s.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(migrations) {
		t.Fatalf("schema steps = %v, want %d", ids, len(migrations))
	}
}
