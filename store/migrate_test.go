package store

import (
	"strings"
	"testing"
	"time"

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
			// usage_state says when the accounting was built: the re-run
			// steps rebuild it (the accounting tables must come out the same).
			skip = strings.HasPrefix(line, "== schema_migrations") || strings.HasPrefix(line, "== usage_state")
		}
		if !skip {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// The tables of leases and prune locks before 0013_one_lease_table.
type leaseBefore0013 struct {
	Name      string    `gorm:"primaryKey"`
	Holder    string    `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null"`
}

func (leaseBefore0013) TableName() string { return "job_leases" }

type lockBefore0013 struct {
	Name       string    `gorm:"primaryKey"`
	Holder     string    `gorm:"not null;default:''"`
	AcquiredAt time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null"`
}

func (lockBefore0013) TableName() string { return "locks" }

// A database from before one lease table: job_leases gets acquired_at and
// keeps the leases held (a replica mid-run keeps its job), locks goes.
func TestMigrationLeavesOneLeaseTable(t *testing.T) {
	dsn := storetest.DSN(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if s.DB().Migrator().HasTable("locks") {
		t.Error("a new database has the locks table")
	}
	db := s.DB()
	if err := db.Migrator().DropTable("job_leases"); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&leaseBefore0013{}, &lockBefore0013{}); err != nil {
		t.Fatal(err)
	}
	until := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	if err := db.Create(&leaseBefore0013{Name: "run:report", Holder: "replica-a", ExpiresAt: until}).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&lockBefore0013{Name: "prune", Holder: "job@host:1", AcquiredAt: t0, ExpiresAt: until}).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`DELETE FROM schema_migrations WHERE id = ?`, "0013_one_lease_table").Error; err != nil {
		t.Fatal(err)
	}
	s.Close()

	before := time.Now().Add(-time.Second)
	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.DB().Migrator().HasTable("locks") {
		t.Error("0013_one_lease_table left the locks table")
	}
	l, err := s.Lease(ctx, "run:report")
	if err != nil || l.Holder != "replica-a" || !l.ExpiresAt.Equal(until) || l.AcquiredAt.Before(before) {
		t.Fatalf("the held lease after the migration: %+v %v", l, err)
	}
	if ok, err := s.AcquireLease(ctx, "run:report", "replica-b", time.Now().Add(time.Minute)); err != nil || ok {
		t.Errorf("another replica took a lease held across the migration: %v %v", ok, err)
	}
	if ok, err := s.AcquireLease(ctx, "prune", "cli@host:2", time.Now().Add(time.Minute)); err != nil || !ok {
		t.Errorf("prune lease after the migration: %v %v", ok, err)
	}
}
