package store

import (
	"strings"
	"testing"

	"layerwise/store/storetest"
)

// An older database (here: one that has only the first schema step) is
// migrated on open and keeps every row.
func TestOpenMigratesAnOlderDatabaseAndKeepsRows(t *testing.T) {
	path := storetest.DSN(t)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, s, "keep/me:latest", image("old", 5, layer{"l", 50}), t0)
	before := dumpTables(t, s)
	// Turn it back into a step-1 database: drop what later steps made.
	db := s.DB()
	for _, tbl := range []string{"usage_snapshots", "job_runs", "report_deliveries", "audit_events", "api_tokens", "role_bindings", "users"} {
		if err := db.Migrator().DropTable(tbl); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(`DELETE FROM schema_migrations WHERE id <> ?`, migrations[0].id).Error; err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	ids, _ := s.SchemaVersion(ctx)
	if len(ids) != len(migrations) {
		t.Fatalf("steps after reopen = %v", ids)
	}
	after := dumpTables(t, s)
	// Same rows; only the schema_migrations applied_at of the re-run steps differ.
	if got := usageOf(t, s); got.Registry.Bytes != 55 {
		t.Fatalf("usage after migration = %+v", got.Registry)
	}
	if trimMigrations(before) != trimMigrations(after) {
		t.Fatalf("rows changed across migration:\n%s\n---\n%s", before, after)
	}
	for _, m := range []any{&UsageSnapshot{}, &JobRun{}, &User{}, &RoleBinding{}} {
		if !s.DB().Migrator().HasTable(m) {
			t.Errorf("table for %T missing after migration", m)
		}
	}
}

// trimMigrations drops the schema_migrations section, whose timestamps differ.
func trimMigrations(dump string) string {
	var out []string
	skip := false
	for _, line := range strings.Split(dump, "\n") {
		if strings.HasPrefix(line, "== ") {
			skip = strings.HasPrefix(line, "== schema_migrations")
		}
		if !skip {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
