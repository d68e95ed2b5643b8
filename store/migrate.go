package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// migration is one schema step. Steps are append-only: a database records
// the steps it has had in schema_migrations and gets the missing ones, in
// order, each in its own transaction, so an older database keeps its rows.
// A step that changes a model added after step 1 must check what exists
// first (Migrator().HasColumn), because a fresh database gets step 1 from
// the current models.
type migration struct {
	id string
	up func(tx *gorm.DB) error
}

type schemaMigration struct {
	ID        string `gorm:"primaryKey"`
	AppliedAt time.Time
}

var migrations = []migration{
	{"0001_image_streams", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Namespace{}, &ImageStream{}, &Tag{}, &Image{}, &Blob{},
			&TagEvent{}, &ImageBlob{}, &ImageManifest{})
	}},
	{"0002_operations", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&UsageSnapshot{}, &JobRun{}, &ReportDelivery{}, &AuditEvent{},
			&User{}, &APIToken{}, &RoleBinding{})
	}},
	{"0003_sessions", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Session{})
	}},
	{"0004_prune", func(tx *gorm.DB) error {
		// Namespaces are in step 1: a fresh database already has the
		// columns, an older one gets them here.
		for _, col := range []string{"PruneKeepTagRevisions", "PruneKeepYoungerThan"} {
			if !tx.Migrator().HasColumn(&Namespace{}, col) {
				if err := tx.Migrator().AddColumn(&Namespace{}, col); err != nil {
					return err
				}
			}
		}
		// It also made the prune lock's table, locks, which leases have
		// replaced (0013_one_lease_table drops it).
		return tx.AutoMigrate(&Pin{}, &ManifestDeletion{})
	}},
	{"0005_sync", func(tx *gorm.DB) error {
		// image_streams.source: which OpenShift cluster a stream is synced from.
		m := tx.Migrator()
		if !m.HasColumn(&ImageStream{}, "Source") {
			if err := m.AddColumn(&ImageStream{}, "Source"); err != nil {
				return err
			}
		}
		if !m.HasIndex(&ImageStream{}, "Source") {
			return m.CreateIndex(&ImageStream{}, "Source")
		}
		return nil
	}},
	// 0004 belongs to another change; ids, not positions, say what a
	// database has had.
	{"0005_import", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&ImportCheck{}, &RegistryBackoff{})
	}},
	{"0006_leases", migrateLeases},
	{"0007_job_run_holder", func(tx *gorm.DB) error {
		// job_runs.holder: who runs it, so that a run whose holder died is
		// told from one still going (Store.StartJobRun).
		if !tx.Migrator().HasColumn(&JobRun{}, "Holder") {
			return tx.Migrator().AddColumn(&JobRun{}, "Holder")
		}
		return nil
	}},
	{"0008_blob_size_source", migrateBlobSizeSource},
	{"0009_image_metadata", func(tx *gorm.DB) error {
		// images: the Image object's labels, annotations, signatures,
		// dockerImageMetadata as given, and the manifest's bytes.
		for _, col := range []string{"ObjectLabels", "ObjectAnnotations", "Signatures",
			"DockerImageMetadata", "DockerImageMetadataVersion", "RawManifest"} {
			if !tx.Migrator().HasColumn(&Image{}, col) {
				if err := tx.Migrator().AddColumn(&Image{}, col); err != nil {
					return err
				}
			}
		}
		return nil
	}},
	// Per-namespace retention rules, and when images were last pulled.
	{"0011_retention_rules", migrateRetention},
	// A namespace's side of its threshold; alerts in the delivery log.
	{"0012_threshold_alerts", migrateThresholdAlerts},
	{"0013_one_lease_table", migrateOneLeaseTable},
	// users.disabled_at: accounts a platform admin disabled.
	{"0014_user_disabled", func(tx *gorm.DB) error {
		if !tx.Migrator().HasColumn(&User{}, "DisabledAt") {
			return tx.Migrator().AddColumn(&User{}, "DisabledAt")
		}
		return nil
	}},
	// image_referrers: signatures, SBOMs and attestations of an image.
	{"0015_image_referrers", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&ImageReferrer{})
	}},
	// Cosign tags recorded as tags before 0015 become referrers.
	{"0016_cosign_tags_to_referrers", migrateCosignTags},
	// Counted-once usage kept up to date by every write (accounting*.go).
	{"0015_usage_accounting", migrateUsageAccounting},
	// The prune plan's clock-dependent figures, stored with their time.
	{"0016_usage_plan", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&usagePlan{}, &usagePlanNamespace{}, &usagePlanPrunable{})
	}},
	// in_use_images, in_use_reads: images the cluster's workloads use.
	{"0015_images_in_use", migrateInUse},
	// The images whose layers were never read, found without reading every
	// image row (the registry's unknownImages, read on the overview).
	{"0017_images_unknown_index", func(tx *gorm.DB) error {
		return tx.Exec(`CREATE INDEX IF NOT EXISTS ix_images_unknown ON images (id) WHERE NOT known`).Error
	}},
	// What the whole registry's usage read needs of the two biggest
	// tables, narrow enough to read without their rows (images' rows are
	// ~900 bytes, tag_events' ~220): a third of the pages
	// (accounting_read.go, readTagHistories).
	{"0018_usage_read_indexes", func(tx *gorm.DB) error {
		if err := tx.Exec(`CREATE INDEX IF NOT EXISTS ix_tag_events_history ON tag_events (tag_id, position, image_id, created)`).Error; err != nil {
			return err
		}
		return tx.Exec(`CREATE INDEX IF NOT EXISTS ix_images_id_digest ON images (id, digest)`).Error
	}},
	{"0019_usage_holder_index", migrateHolderIndex},
}

// holderIndexColumns is ix_usage_scope_blobs_blob as the model declares it
// (UsageScopeBlob): the settlement's lookup of a blob's holders at a level
// (accounting.go) reads it without touching the table.
var holderIndexColumns = []string{"level", "blob_id", "scope_id"}

// migrateHolderIndex (0019) rebuilds ix_usage_scope_blobs_blob when it is
// not on holderIndexColumns. A database that had 0015_usage_accounting
// before the index covered the lookup has it on (blob_id, level), and
// SQLite then reads the lookup through the primary key's level prefix,
// every link of the level: 0.2–0.4 s a push at 1× instead of a
// millisecond, which held the webhook to ≈ 20 pushes/s.
func migrateHolderIndex(tx *gorm.DB) error {
	cols, err := indexColumns(tx, "ix_usage_scope_blobs_blob")
	if err != nil {
		return err
	}
	if slices.Equal(cols, holderIndexColumns) {
		return nil
	}
	if err := tx.Exec(`DROP INDEX IF EXISTS ix_usage_scope_blobs_blob`).Error; err != nil {
		return err
	}
	return tx.Exec(`CREATE INDEX ix_usage_scope_blobs_blob ON usage_scope_blobs (` + strings.Join(holderIndexColumns, ", ") + `)`).Error
}

// indexColumns are an index's columns in order (none when there is no
// such index).
func indexColumns(tx *gorm.DB, index string) ([]string, error) {
	q := `SELECT name FROM pragma_index_info(?) ORDER BY seqno`
	if tx.Dialector.Name() == "postgres" {
		// to_regclass resolves the name on the search path, as DROP does.
		q = `SELECT a.attname FROM pg_index i
			CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			WHERE i.indexrelid = to_regclass(?) ORDER BY k.ord`
	}
	var cols []string
	if err := tx.Raw(q, index).Scan(&cols).Error; err != nil {
		return nil, fmt.Errorf("read the columns of index %s: %w", index, err)
	}
	return cols, nil
}

// migrateBlobSizeSource adds blobs.size_source. The sizes a database holds
// already are kept as registry reads (SizeImported): nothing but the
// managed registry may change them.
func migrateBlobSizeSource(tx *gorm.DB) error {
	if tx.Migrator().HasColumn(&Blob{}, "SizeSource") {
		return nil // a database made with step 1 of these models has it
	}
	if err := tx.Migrator().AddColumn(&Blob{}, "SizeSource"); err != nil {
		return err
	}
	return tx.Exec(`UPDATE blobs SET size_source = ?`, SizeImported).Error
}

// migrateLockKey is the advisory lock that keeps replicas starting at the
// same time from migrating the same PostgreSQL database twice ("lw" "mg").
const migrateLockKey = 0x6c77_6d67

// migrate applies the first n steps that the database does not have yet.
// On PostgreSQL every step runs under an advisory lock and the list of
// applied steps is read again under it, so replicas may start together.
func (s *Store) migrate(ctx context.Context, n int) error {
	if !s.postgres() {
		return s.migrateWith(s.conn(ctx), n)
	}
	return s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, migrateLockKey).Error; err != nil {
			return err
		}
		return s.migrateWith(tx, n)
	})
}

func (s *Store) migrateWith(db *gorm.DB, n int) error {
	if err := db.AutoMigrate(&schemaMigration{}); err != nil {
		return err
	}
	var done []string
	if err := db.Model(&schemaMigration{}).Pluck("id", &done).Error; err != nil {
		return err
	}
	have := map[string]bool{}
	for _, id := range done {
		have[id] = true
	}
	for _, m := range migrations[:n] {
		if have[m.id] {
			continue
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := m.up(tx); err != nil {
				return err
			}
			return tx.Create(&schemaMigration{ID: m.id, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("step %s: %w", m.id, err)
		}
	}
	return nil
}

// SchemaVersion lists the migration steps the database has had.
func (s *Store) SchemaVersion(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&schemaMigration{}).Order("id").Pluck("id", &ids).Error
	return ids, err
}
