package store

import (
	"context"
	"testing"

	"layerwise/store/storetest"
)

func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesSchema(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	ids, err := s.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(migrations) {
		t.Fatalf("schema steps = %v, want %d", ids, len(migrations))
	}
}

// TestPostgresConfigured says, in the test output, whether the PostgreSQL
// variants of the tests ran.
func TestPostgresConfigured(t *testing.T) {
	t.Parallel()
	storetest.SkipUnlessPostgres(t)
	s := newTestStore(t)
	if s.Dialect() != "postgres" {
		t.Fatalf("dialect = %s with %s set", s.Dialect(), storetest.Env)
	}
	var v string
	if err := s.DB().Raw(`SHOW server_version`).Scan(&v).Error; err != nil {
		t.Fatal(err)
	}
	t.Logf("tests run on PostgreSQL %s", v)
}

func TestSQLiteSettings(t *testing.T) {
	t.Parallel()
	storetest.SkipOnPostgres(t, "checks SQLite PRAGMAs")
	s := newTestStore(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := s.DB().Raw("PRAGMA " + pragma).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	// Foreign keys hold: a history entry cannot point at a missing tag.
	err := s.DB().Exec(`INSERT INTO tag_events (tag_id, position, created) VALUES (999, 0, '2026-01-01 00:00:00+00:00')`).Error
	if err == nil {
		t.Fatal("a dangling history entry was accepted")
	}
}
