package store

import (
	"fmt"

	"gorm.io/gorm"
)

// The usage accounting tables (0015_usage_accounting) hold the counted-once
// figures of every scope, kept up to date by every write in the same
// transaction (accounting.go) instead of recomputed from the whole registry:
//
//	usage_members      which images a scope holds, with a count: for a tag
//	                   the history entries naming the image (a manifest
//	                   list's platform images and the referrers of either
//	                   included: expandSQL), for a stream the
//	                   tags holding it, for a namespace the streams.
//	usage_scope_blobs  which blobs a scope holds, with a count: the links
//	                   (image_blobs rows) of the images it holds.
//	usage_blobs        per held blob: the size counted and how many tags,
//	                   streams and namespaces hold it (exclusive bytes move
//	                   when one of these crosses 1).
//	usage_scopes       per scope: bytes, exclusive bytes, blobs; level 0 is
//	                   the registry.
//	usage_images       per image: its counted-once bytes (a revision's size).
//
// Bytes move only when a count crosses 0 and 1, so a write costs the blobs
// of the images it touches, not the registry. Triggers on the five source
// tables note what a write touched (usage_dirty, usage_blob_deltas); the
// outermost Store.Tx settles it before committing. Nothing else writes here
// except the full rebuild (BuildUsage).

// Scope levels of the accounting tables.
const (
	levelRegistry  = 0
	levelTag       = 1
	levelStream    = 2
	levelNamespace = 3
)

// Kinds of usage_dirty rows.
const (
	dirtyTag  = 1 // a tag's history changed
	dirtyList = 2 // what an image holds changed: a list's platform images, a subject's referrers
	dirtyBlob = 3 // a blob's size changed
)

type usageMember struct {
	Level   int16 `gorm:"primaryKey;autoIncrement:false"`
	ScopeID int64 `gorm:"primaryKey;autoIncrement:false"`
	ImageID int64 `gorm:"primaryKey;autoIncrement:false;index"`
	N       int64 `gorm:"not null"`
}

func (usageMember) TableName() string { return "usage_members" }

// The second index finds a blob's holders at a level; it covers that
// query, or SQLite prefers the primary key's level prefix and scans it.
type usageScopeBlob struct {
	Level   int16 `gorm:"primaryKey;autoIncrement:false;index:ix_usage_scope_blobs_blob,priority:1"`
	ScopeID int64 `gorm:"primaryKey;autoIncrement:false;index:ix_usage_scope_blobs_blob,priority:3"`
	BlobID  int64 `gorm:"primaryKey;autoIncrement:false;index:ix_usage_scope_blobs_blob,priority:2"`
	N       int64 `gorm:"not null"`
}

func (usageScopeBlob) TableName() string { return "usage_scope_blobs" }

type usageBlob struct {
	BlobID     int64 `gorm:"primaryKey;autoIncrement:false"`
	Size       int64 `gorm:"not null"`
	Tags       int64 `gorm:"not null"`
	Streams    int64 `gorm:"not null"`
	Namespaces int64 `gorm:"not null"`
}

func (usageBlob) TableName() string { return "usage_blobs" }

type usageScope struct {
	Level          int16 `gorm:"primaryKey;autoIncrement:false"`
	ScopeID        int64 `gorm:"primaryKey;autoIncrement:false"`
	ParentID       int64 `gorm:"not null"`
	Bytes          int64 `gorm:"not null"`
	ExclusiveBytes int64 `gorm:"not null"`
	Blobs          int64 `gorm:"not null"`
}

func (usageScope) TableName() string { return "usage_scopes" }

type usageImage struct {
	ImageID int64 `gorm:"primaryKey;autoIncrement:false"`
	Bytes   int64 `gorm:"not null"`
}

func (usageImage) TableName() string { return "usage_images" }

type usageDirty struct {
	Kind int16 `gorm:"primaryKey;autoIncrement:false"`
	ID   int64 `gorm:"primaryKey;autoIncrement:false"`
}

func (usageDirty) TableName() string { return "usage_dirty" }

type usageBlobDelta struct {
	ID      int64 `gorm:"primaryKey"`
	ImageID int64 `gorm:"not null"`
	BlobID  int64 `gorm:"not null"`
	D       int64 `gorm:"not null"`
}

func (usageBlobDelta) TableName() string { return "usage_blob_deltas" }

// usageState says whether the tables are built (false: a bulk load wrote
// around them, or they were never built; Open builds them) and when.
type usageState struct {
	ID      int64 `gorm:"primaryKey;autoIncrement:false"`
	Built   bool  `gorm:"not null"`
	BuiltAt int64 `gorm:"not null"` // unix seconds
}

func (usageState) TableName() string { return "usage_state" }

var usageTables = []any{&usageMember{}, &usageScopeBlob{}, &usageBlob{}, &usageScope{},
	&usageImage{}, &usageDirty{}, &usageBlobDelta{}, &usageState{}}

// UsageTables are the accounting tables: db copy leaves them out and the
// destination builds its own.
var UsageTables = []string{"usage_members", "usage_scope_blobs", "usage_blobs", "usage_scopes",
	"usage_images", "usage_dirty", "usage_blob_deltas", "usage_state"}

// migrateUsageAccounting makes the tables and the triggers; the tables are
// built (from the full pass's rules, in SQL) by Open right after.
func migrateUsageAccounting(tx *gorm.DB) error {
	if err := tx.AutoMigrate(usageTables...); err != nil {
		return err
	}
	// Not built: Open builds the tables from what the database holds.
	if err := tx.Exec(`DELETE FROM usage_state`).Error; err != nil {
		return err
	}
	if err := tx.Exec(`INSERT INTO usage_state (id, built, built_at) VALUES (1, ?, 0)`, false).Error; err != nil {
		return err
	}
	var ddl []string
	if tx.Dialector.Name() == "postgres" {
		ddl = usageTriggersPostgres
	} else {
		ddl = usageTriggersSQLite
	}
	for _, q := range ddl {
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("usage triggers: %w", err)
		}
	}
	return nil
}

// The triggers only note what changed; while the tables are not built
// (bulk loads) they note nothing.
const sqliteBuilt = `EXISTS (SELECT 1 FROM usage_state WHERE id = 1 AND built)`

var usageTriggersSQLite = []string{
	`CREATE TRIGGER IF NOT EXISTS usage_tag_events_ins AFTER INSERT ON tag_events WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (1, NEW.tag_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_tag_events_del AFTER DELETE ON tag_events WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (1, OLD.tag_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_tag_events_upd AFTER UPDATE OF tag_id, image_id ON tag_events WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (1, OLD.tag_id);
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (1, NEW.tag_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_manifests_ins AFTER INSERT ON image_manifests WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, NEW.list_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_manifests_del AFTER DELETE ON image_manifests WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, OLD.list_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_manifests_upd AFTER UPDATE OF list_id, child_id ON image_manifests WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, OLD.list_id);
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, NEW.list_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_referrers_ins AFTER INSERT ON image_referrers WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, NEW.subject_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_referrers_del AFTER DELETE ON image_referrers WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, OLD.subject_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_referrers_upd AFTER UPDATE OF subject_id, referrer_id ON image_referrers WHEN ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, OLD.subject_id);
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (2, NEW.subject_id); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_blobs_ins AFTER INSERT ON image_blobs WHEN ` + sqliteBuilt + ` BEGIN
		INSERT INTO usage_blob_deltas (image_id, blob_id, d) VALUES (NEW.image_id, NEW.blob_id, 1); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_blobs_del AFTER DELETE ON image_blobs WHEN ` + sqliteBuilt + ` BEGIN
		INSERT INTO usage_blob_deltas (image_id, blob_id, d) VALUES (OLD.image_id, OLD.blob_id, -1); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_image_blobs_upd AFTER UPDATE OF image_id, blob_id ON image_blobs WHEN ` + sqliteBuilt + ` BEGIN
		INSERT INTO usage_blob_deltas (image_id, blob_id, d) VALUES (OLD.image_id, OLD.blob_id, -1);
		INSERT INTO usage_blob_deltas (image_id, blob_id, d) VALUES (NEW.image_id, NEW.blob_id, 1); END`,
	`CREATE TRIGGER IF NOT EXISTS usage_blobs_size AFTER UPDATE OF size ON blobs WHEN OLD.size <> NEW.size AND ` + sqliteBuilt + ` BEGIN
		INSERT OR IGNORE INTO usage_dirty (kind, id) VALUES (3, NEW.id); END`,
}

var usageTriggersPostgres = []string{
	`CREATE OR REPLACE FUNCTION usage_note() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NOT EXISTS (SELECT 1 FROM usage_state WHERE id = 1 AND built) THEN
			RETURN NULL;
		END IF;
		IF TG_TABLE_NAME = 'tag_events' THEN
			IF TG_OP <> 'INSERT' THEN
				INSERT INTO usage_dirty (kind, id) VALUES (1, OLD.tag_id) ON CONFLICT DO NOTHING;
			END IF;
			IF TG_OP <> 'DELETE' THEN
				INSERT INTO usage_dirty (kind, id) VALUES (1, NEW.tag_id) ON CONFLICT DO NOTHING;
			END IF;
		ELSIF TG_TABLE_NAME = 'image_manifests' THEN
			IF TG_OP <> 'INSERT' THEN
				INSERT INTO usage_dirty (kind, id) VALUES (2, OLD.list_id) ON CONFLICT DO NOTHING;
			END IF;
			IF TG_OP <> 'DELETE' THEN
				INSERT INTO usage_dirty (kind, id) VALUES (2, NEW.list_id) ON CONFLICT DO NOTHING;
			END IF;
		ELSIF TG_TABLE_NAME = 'image_referrers' THEN
			IF TG_OP <> 'INSERT' THEN
				INSERT INTO usage_dirty (kind, id) VALUES (2, OLD.subject_id) ON CONFLICT DO NOTHING;
			END IF;
			IF TG_OP <> 'DELETE' THEN
				INSERT INTO usage_dirty (kind, id) VALUES (2, NEW.subject_id) ON CONFLICT DO NOTHING;
			END IF;
		ELSIF TG_TABLE_NAME = 'image_blobs' THEN
			IF TG_OP <> 'INSERT' THEN
				INSERT INTO usage_blob_deltas (image_id, blob_id, d) VALUES (OLD.image_id, OLD.blob_id, -1);
			END IF;
			IF TG_OP <> 'DELETE' THEN
				INSERT INTO usage_blob_deltas (image_id, blob_id, d) VALUES (NEW.image_id, NEW.blob_id, 1);
			END IF;
		ELSIF TG_TABLE_NAME = 'blobs' THEN
			IF OLD.size <> NEW.size THEN
				INSERT INTO usage_dirty (kind, id) VALUES (3, NEW.id) ON CONFLICT DO NOTHING;
			END IF;
		END IF;
		RETURN NULL;
	END $$`,
	`CREATE OR REPLACE TRIGGER usage_tag_events AFTER INSERT OR DELETE OR UPDATE OF tag_id, image_id ON tag_events
		FOR EACH ROW EXECUTE FUNCTION usage_note()`,
	`CREATE OR REPLACE TRIGGER usage_image_manifests AFTER INSERT OR DELETE OR UPDATE OF list_id, child_id ON image_manifests
		FOR EACH ROW EXECUTE FUNCTION usage_note()`,
	`CREATE OR REPLACE TRIGGER usage_image_referrers AFTER INSERT OR DELETE OR UPDATE OF subject_id, referrer_id ON image_referrers
		FOR EACH ROW EXECUTE FUNCTION usage_note()`,
	`CREATE OR REPLACE TRIGGER usage_image_blobs AFTER INSERT OR DELETE OR UPDATE OF image_id, blob_id ON image_blobs
		FOR EACH ROW EXECUTE FUNCTION usage_note()`,
	`CREATE OR REPLACE TRIGGER usage_blobs_size AFTER UPDATE OF size ON blobs
		FOR EACH ROW EXECUTE FUNCTION usage_note()`,
}
