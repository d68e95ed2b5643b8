package store

import (
	"slices"
	"strings"
	"testing"
	"time"

	"layerwise/store/storetest"
)

// An older database (here: one that has only the first schema step) is
// migrated on open and keeps every row.
func TestOpenMigratesAnOlderDatabaseAndKeepsRows(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// A database from before referrers holds cosign signatures as tags: the
// migration makes each tag's current image a referrer of the digest its
// name gives (an unknown image when the store has none) and removes the
// tag and its history; a "sha256-" tag that is not cosign's stays. Its
// registry repository is kept for images read from the managed registry.
func TestMigrationTurnsCosignTagsIntoReferrers(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	subject := image("app", 10, layer{"base", 1000})
	sigOld, sigNew := image("sig-1", 5, layer{"sig-1", 100}), image("sig-2", 5, layer{"sig-2", 120})
	att := image("att", 5, layer{"att", 70})
	unknown := dg("never seen")
	hexOf := func(d string) string { return strings.TrimPrefix(d, "sha256:") }
	pushTo(t, s, "ns/app:latest", subject, t0)
	// MapImage records any tag name as a tag, as every write did before.
	pushTo(t, s, "ns/app:sha256-"+hexOf(subject.Digest)+".sig", sigOld, t0.Add(time.Minute))
	pushTo(t, s, "ns/app:sha256-"+hexOf(subject.Digest)+".sig", sigNew, t0.Add(2*time.Minute))
	pushTo(t, s, "ns/app:sha256-"+hexOf(unknown)+".att", att, t0.Add(3*time.Minute))
	pushTo(t, s, "ns/app:sha256-abc.sig", sigOld, t0.Add(4*time.Minute))
	// sigNew came from the managed registry.
	if err := s.DB().Exec(`UPDATE blobs SET size_source = ? WHERE digest IN ?`, SizeManaged,
		[]string{sigNew.Config.Digest, sigNew.Layers[0].Digest}).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(`DELETE FROM image_referrers`).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(`DELETE FROM schema_migrations WHERE id = ?`, "0016_cosign_tags_to_referrers").Error; err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.GetStream(ctx, StreamRef{Namespace: "ns", Stream: "app"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range st.Tags {
		names = append(names, tg.Name)
	}
	if strings.Join(names, " ") != "latest sha256-abc.sig" {
		t.Errorf("tags after the migration: %v", names)
	}
	refs, err := s.ReferrersOf(ctx, subject.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != sigNew.Digest || refs.Referrers[0].Type != ReferrerSignature ||
		refs.Referrers[0].Via != ViaTagScheme || refs.Bytes != 125 {
		t.Errorf("referrers of the subject: %+v", refs)
	}
	var repo string
	if err := s.DB().Raw(`SELECT repository FROM image_referrers r JOIN images i ON i.id = r.referrer_id WHERE i.digest = ?`, sigNew.Digest).Scan(&repo).Error; err != nil || repo != "ns/app" {
		t.Errorf("the managed signature's repository %q %v", repo, err)
	}
	refs, err = s.ReferrersOf(ctx, unknown)
	if err != nil || len(refs.Referrers) != 1 || refs.Referrers[0].Type != ReferrerAttestation {
		t.Errorf("referrers of the unknown subject: %+v %v", refs, err)
	}
	if img, err := s.GetImage(ctx, unknown); err != nil || img.Known {
		t.Errorf("the unknown subject: %+v %v", img.Known, err)
	}
	// The signature counts with its image; sig-1 with the tag that is
	// not cosign's; the attestation of an image no tag holds, with nothing.
	if got := usageOf(t, s); got.Registry.Bytes != 10+1000+5+120+5+100 {
		t.Errorf("usage after the migration: %d", got.Registry.Bytes)
	}
}

// A database that had 0015_usage_accounting before the holder index
// covered its lookup has the index on (blob_id, level): 0019 rebuilds it on
// (level, blob_id, scope_id), and SQLite then reads the settlement's
// holder lookup through it instead of scanning the level's links.
func TestMigrationRebuildsTheHolderIndex(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	for _, q := range []string{
		`DROP INDEX ix_usage_scope_blobs_blob`,
		`CREATE INDEX ix_usage_scope_blobs_blob ON usage_scope_blobs (blob_id, level)`,
		`DELETE FROM schema_migrations WHERE id = '0019_usage_holder_index'`,
	} {
		if err := db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cols, err := indexColumns(s.DB(), "ix_usage_scope_blobs_blob")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cols, holderIndexColumns) {
		t.Fatalf("the holder index after the migration is on %v, want %v", cols, holderIndexColumns)
	}
	if !s.postgres() {
		var plan []struct {
			ID, Parent, Notused int
			Detail              string
		}
		if err := s.DB().Raw(`EXPLAIN QUERY PLAN SELECT blob_id, scope_id FROM usage_scope_blobs WHERE level = ? AND blob_id IN ?`, 3, []int64{1, 2}).Scan(&plan).Error; err != nil {
			t.Fatal(err)
		}
		if len(plan) == 0 || !strings.Contains(plan[0].Detail, "ix_usage_scope_blobs_blob (level=? AND blob_id=?)") {
			t.Errorf("SQLite reads the holder lookup as %+v, want through ix_usage_scope_blobs_blob", plan)
		}
	}
	// A new database's index is the model's already: nothing to rebuild.
	fresh, err := Open(ctx, storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if cols, err := indexColumns(fresh.DB(), "ix_usage_scope_blobs_blob"); err != nil || !slices.Equal(cols, holderIndexColumns) {
		t.Fatalf("a new database's holder index is on %v (%v)", cols, err)
	}
}
