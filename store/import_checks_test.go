package store

import (
	"fmt"
	"testing"

	"layerwise/store/storetest"
)

// TestScheduledTags: the scheduled import's one read lists every scheduled
// external tag with the digest its last import resolved to — forgotten
// when the tag's source or import mode changed since — and marks many tags
// failed in chunks.
func TestScheduledTags(t *testing.T) {
	t.Parallel()
	s, err := Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := image("v1", 10, layer{"l1", 100})
	imported := TagRef{"shop", "app", "1"}
	if _, err := s.RecordImport(ctx, imported, "quay.io/acme/app:1", TagOptions{Scheduled: true}, img, "quay.io/acme/app@"+img.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordImportCheck(ctx, imported, "quay.io/acme/app:1", "", dg("list")); err != nil {
		t.Fatal(err)
	}
	waiting := TagRef{"shop", "web", "1"}
	if _, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "quay.io/acme/web:1"}, waiting, TagOptions{Scheduled: true, Insecure: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "quay.io/acme/db:1"}, TagRef{"shop", "db", "1"}, TagOptions{}); err != nil {
		t.Fatal(err)
	}
	list := func() map[string]ScheduledTag {
		t.Helper()
		tags, err := s.ScheduledTags(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]ScheduledTag{}
		for _, tg := range tags {
			out[tg.Ref.String()] = tg
		}
		return out
	}
	got := list()
	if len(got) != 2 {
		t.Fatalf("scheduled tags %+v, want shop/app:1 and shop/web:1", got)
	}
	if a := got["shop/app:1"]; a.From != "quay.io/acme/app:1" || a.ImportMode != "Legacy" || a.LastDigest != dg("list") || a.CondStatus != "True" {
		t.Errorf("imported tag %+v", a)
	}
	if w := got["shop/web:1"]; w.LastDigest != "" || !w.Insecure || w.CondStatus != "" {
		t.Errorf("tag waiting for its first import %+v", w)
	}

	// Another import mode, then another source: the check no longer holds.
	if _, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "quay.io/acme/app:1"}, imported, TagOptions{Scheduled: true, ImportMode: "PreserveOriginal"}); err != nil {
		t.Fatal(err)
	}
	if d := list()["shop/app:1"].LastDigest; d != "" {
		t.Errorf("after a mode change the last digest is %s", d)
	}
	if err := s.RecordImportCheck(ctx, imported, "quay.io/acme/app:1", "PreserveOriginal", dg("list2")); err != nil {
		t.Fatal(err)
	}
	if d := list()["shop/app:1"].LastDigest; d != dg("list2") {
		t.Errorf("re-recorded check: %s", d)
	}
	if _, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "quay.io/acme/app:2"}, imported, TagOptions{Scheduled: true, ImportMode: "PreserveOriginal"}); err != nil {
		t.Fatal(err)
	}
	if d := list()["shop/app:1"].LastDigest; d != "" {
		t.Errorf("after a source change the last digest is %s", d)
	}

	// More tags than one IN list holds.
	err = s.Tx(ctx, func(tx *Store) error {
		for i := range 620 {
			ref := TagRef{"bulk", "s", fmt.Sprintf("t%d", i)}
			if _, err := tx.SetTag(ctx, Source{Kind: KindDockerImage, Ref: fmt.Sprintf("quay.io/acme/s:%d", i)}, ref, TagOptions{Scheduled: true}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, tg := range list() {
		ids = append(ids, tg.ID)
	}
	if err := s.SetImportFailures(ctx, ids, "Unreachable", "registry quay.io is unreachable"); err != nil {
		t.Fatal(err)
	}
	for name, tg := range list() {
		if tg.CondStatus != "False" {
			t.Fatalf("%s: condition %q after SetImportFailures", name, tg.CondStatus)
		}
	}
	st, err := s.GetStream(ctx, StreamRef{"bulk", "s"})
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Tags[0].Condition; c == nil || c.Reason != "Unreachable" || c.Message != "registry quay.io is unreachable" {
		t.Errorf("condition %+v", c)
	}

	// Deleting a tag forgets its check.
	if err := s.DeleteTag(ctx, imported); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.DB().Model(&ImportCheck{}).Count(&n).Error; err != nil || n != 0 {
		t.Errorf("import checks after the tag was deleted: %d %v", n, err)
	}
}

// TestMigrationAddsImportTables: a database from before 0005_import gets
// the import checks and registry backoffs.
func TestMigrationAddsImportTables(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	for _, tbl := range []string{"import_checks", "registry_backoffs"} {
		if err := db.Migrator().DropTable(tbl); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(`DELETE FROM schema_migrations WHERE id = ?`, "0005_import").Error; err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SaveRegistryBackoff(ctx, RegistryBackoff{Host: "quay.io", Failures: 1, Until: t0}); err != nil {
		t.Fatalf("0005_import did not create registry_backoffs: %v", err)
	}
	if !s.DB().Migrator().HasTable("import_checks") {
		t.Error("0005_import did not create import_checks")
	}
}
