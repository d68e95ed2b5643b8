// Package synth fills an empty database with a deterministic, realistic
// synthetic registry: namespaces of image streams whose builds share base OS
// and language runtime layers, long tag histories with promotions and
// rollbacks, manifest lists and failing scheduled imports. The benchmarks and
// `layerwise generate` use it; the same options always give the same rows.
package synth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"layerwise/store"
)

// Options choose the size and the randomness of the data.
type Options struct {
	// Namespaces is how many namespaces to create (about 10 streams each).
	Namespaces int
	// Seed selects the data: the same seed gives the same rows.
	Seed uint64
	// Anchor is the "now" every time is relative to (truncated to the
	// second). Zero means DefaultAnchor, so that runs are reproducible.
	Anchor time.Time
}

// Stats counts what Generate wrote.
type Stats struct {
	Namespaces     int64
	Streams        int64
	Tags           int64
	TagEvents      int64 // history entries
	Images         int64 // manifests, manifest lists and their children
	ManifestLists  int64
	Blobs          int64 // layers and config blobs
	BlobBytes      int64 // sum of the sizes of all blobs, each counted once
	ImageBlobs     int64 // image-blob links, config links included
	ImageManifests int64 // manifest list -> child links
	FailedImports  int64 // tags whose last scheduled import failed
	Elapsed        time.Duration
}

// DefaultAnchor is the fixed "now" used when Options.Anchor is zero.
func DefaultAnchor() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }

// maxNamespaces keeps a run within what a test or benchmark needs (20000 is
// the 10× dataset); the namespace names carry an at least 4-digit number.
const maxNamespaces = 99999

// Generate fills the empty database of s with a synthetic registry in one
// transaction: either everything lands or nothing. It refuses a database
// that already holds namespaces, images or blobs, because it assigns row IDs
// itself.
func Generate(ctx context.Context, s *store.Store, opt Options) (Stats, error) {
	start := time.Now() // only for Stats.Elapsed; the data never reads the clock
	if opt.Namespaces < 1 || opt.Namespaces > maxNamespaces {
		return Stats{}, fmt.Errorf("%w: generate: namespaces must be between 1 and %d, not %d",
			store.ErrInvalid, maxNamespaces, opt.Namespaces)
	}
	if opt.Anchor.IsZero() {
		opt.Anchor = DefaultAnchor()
	}
	sqlDB, err := s.DB().DB()
	if err != nil {
		return Stats{}, fmt.Errorf("generate: %w", err)
	}
	// One pinned connection: the pragmas below are per connection and must
	// be undone before it goes back to the pool.
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("generate: %w", err)
	}
	defer conn.Close()
	pg := s.Dialect() == "postgres"
	restore := func() error { return nil }
	if !pg {
		if restore, err = tuneForLoad(ctx, conn); err != nil {
			return Stats{}, err
		}
	}
	stats, err := load(ctx, conn, opt, pg)
	if rerr := restore(); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return Stats{}, err
	}
	// Give the pinned connection back first: a :memory: database has only
	// the one.
	if err := conn.Close(); err != nil {
		return Stats{}, fmt.Errorf("generate: %w", err)
	}
	if err := s.BuildUsage(ctx, nil); err != nil {
		return Stats{}, fmt.Errorf("generate: %w", err)
	}
	stats.Elapsed = time.Since(start)
	return stats, nil
}

func load(ctx context.Context, conn *sql.Conn, opt Options, pg bool) (Stats, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("generate: begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	if err := checkEmpty(ctx, tx); err != nil {
		return Stats{}, err
	}
	// The load writes around Store.Tx: the accounting triggers rest, and
	// Generate builds the tables from the result in one pass.
	if _, err := tx.ExecContext(ctx, store.SuspendUsageSQL); err != nil {
		return Stats{}, fmt.Errorf("generate: %w", err)
	}
	var indexes []string
	if pg {
		indexes, err = dropIndexesPostgres(ctx, tx)
	} else {
		indexes, err = dropIndexes(ctx, tx)
	}
	if err != nil {
		return Stats{}, err
	}
	w := newWriter(ctx, tx)
	if pg {
		if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return Stats{}, fmt.Errorf("generate: %w", err)
		}
		w.copyTo(conn)
	}
	g := newGenerator(opt, w)
	if err := g.run(ctx); err != nil {
		return Stats{}, err
	}
	if err := w.close(); err != nil {
		return Stats{}, fmt.Errorf("generate: %w", err)
	}
	for _, ddl := range indexes {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return Stats{}, fmt.Errorf("generate: rebuild index: %s: %w", ddl, err)
		}
	}
	if pg {
		if _, err := tx.ExecContext(ctx, store.FixSequencesSQL); err != nil {
			return Stats{}, fmt.Errorf("generate: move id sequences: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Stats{}, fmt.Errorf("generate: commit: %w", err)
	}
	if pg {
		// Fresh statistics, or the planner guesses on a table it thinks empty.
		if _, err := conn.ExecContext(ctx, "ANALYZE"); err != nil {
			return Stats{}, fmt.Errorf("generate: analyze: %w", err)
		}
		return g.stats(), nil
	}
	// The commit's checkpoint copied the load into the database file; give
	// the (now useless) WAL file's space back. Busy readers only delay this.
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return Stats{}, fmt.Errorf("generate: checkpoint: %w", err)
	}
	return g.stats(), nil
}

// loadedTables are the tables Generate fills.
var loadedTables = []string{"namespaces", "image_streams", "tags", "tag_events", "images",
	"blobs", "image_blobs", "image_manifests"}

// dropIndexes drops the secondary indexes of the loaded tables, inside the
// load's transaction, and returns the DDL that recreates them exactly.
// SQLite builds an index from sorted keys much faster than it maintains one
// under millions of random digest inserts: the large dataset loads in about
// half the time. Unique indexes still check the data when they are rebuilt.
func dropIndexes(ctx context.Context, tx *sql.Tx) ([]string, error) {
	q := "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (?" +
		strings.Repeat(",?", len(loadedTables)-1) + ") ORDER BY rowid"
	args := make([]any, len(loadedTables))
	for i, t := range loadedTables {
		args[i] = t
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("generate: list indexes: %w", err)
	}
	var names, ddl []string
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			rows.Close()
			return nil, fmt.Errorf("generate: list indexes: %w", err)
		}
		names, ddl = append(names, name), append(ddl, sql)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("generate: list indexes: %w", err)
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return nil, fmt.Errorf("generate: drop index %s: %w", name, err)
		}
	}
	return ddl, nil
}

// checkEmpty refuses a database with data: the generator numbers rows from 1
// and would collide with, or silently mix into, what is there.
func checkEmpty(ctx context.Context, tx *sql.Tx) error {
	for _, t := range []string{"namespaces", "images", "blobs"} {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM "`+t+`"`).Scan(&n); err != nil {
			return fmt.Errorf("generate: count %s: %w", t, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: generate needs an empty database, but table %s already has %d rows; "+
				"point LAYERWISE_DB at a new file", store.ErrInvalid, t, n)
		}
	}
	return nil
}

// tuneForLoad trades durability for speed during the load (the load is one
// transaction: a crash loses it whole either way) and gives SQLite a cache
// big enough for the indexes it builds. The returned func restores the
// connection's settings.
func tuneForLoad(ctx context.Context, conn *sql.Conn) (func() error, error) {
	var sync, cache int64
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return nil, fmt.Errorf("generate: read synchronous: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
		return nil, fmt.Errorf("generate: read cache_size: %w", err)
	}
	restore := func() error {
		// Restore even when ctx is cancelled: the connection goes back to
		// the pool and must not stay unsafe.
		rctx := context.WithoutCancel(ctx)
		_, err1 := conn.ExecContext(rctx, fmt.Sprintf("PRAGMA synchronous=%d", sync))
		_, err2 := conn.ExecContext(rctx, fmt.Sprintf("PRAGMA cache_size=%d", cache))
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("generate: restore connection settings: %w", err)
		}
		return nil
	}
	for _, p := range []string{"PRAGMA synchronous=OFF", fmt.Sprintf("PRAGMA cache_size=%d", loadCacheKiB)} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			restore()
			return nil, fmt.Errorf("generate: %s: %w", p, err)
		}
	}
	return restore, nil
}

// loadCacheKiB is the page cache during the load, as a negative (KiB)
// cache_size. With the indexes built after the load a bigger cache buys
// nothing (measured: 64 MiB and 1 GiB load equally fast); it also bounds the
// sorter that rebuilds the indexes, and so the peak memory.
const loadCacheKiB = -64 * 1024
