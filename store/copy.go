package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// CopyTable is what Copy did to one table.
type CopyTable struct {
	Name string
	Rows int64
}

// copySkip are tables the destination keeps its own rows of: its schema
// steps (made by its migration), its data version, the job leases and the
// usage accounting (built from the copied rows).
var copySkip = func() map[string]bool {
	m := map[string]bool{"schema_migrations": true, "data_versions": true, "job_leases": true}
	for _, t := range UsageTables {
		m[t] = true
	}
	return m
}()

// Copy copies every row of src into dst, which must be migrated and hold
// no rows: tables in foreign-key order (parents first), ids kept, in one
// transaction on dst (all or nothing), then PostgreSQL's id sequences are
// moved past the copied ids and every table's row count is compared.
// progress, if not nil, is called after each table.
func Copy(ctx context.Context, src, dst *Store, progress func(CopyTable)) ([]CopyTable, error) {
	srcTables, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	dstTables, err := dst.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: destination: %w", err)
	}
	have := map[string]bool{}
	for _, t := range dstTables {
		have[t] = true
	}
	var tables []string
	for _, t := range srcTables {
		if copySkip[t] {
			continue
		}
		if !have[t] {
			return nil, fmt.Errorf("copy: the destination has no table %s: are both databases from the same layerwise version?", t)
		}
		tables = append(tables, t)
	}
	if err := dst.checkEmpty(ctx, tables); err != nil {
		return nil, err
	}
	tables, err = dst.parentsFirst(ctx, tables)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}

	sqlDst, err := dst.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDst.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: destination: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("copy: begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	// The accounting tables are not copied: the destination builds its own
	// from what it holds once the copy is in.
	if _, err := tx.ExecContext(ctx, SuspendUsageSQL); err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	var done []CopyTable
	// Every source table from one snapshot: a serving source keeps taking
	// pushes, and a copy whose tables were read at different moments would
	// hold history rows naming images it never copied.
	err = src.Snapshot(ctx, func(src *Store) error {
		for _, t := range tables {
			n, err := copyTable(ctx, src, dst, conn, tx, t)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
			ct := CopyTable{Name: t, Rows: n}
			done = append(done, ct)
			if progress != nil {
				progress(ct)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if dst.postgres() {
		if _, err := tx.ExecContext(ctx, FixSequencesSQL); err != nil {
			return nil, fmt.Errorf("copy: move id sequences: %w", err)
		}
	}
	for _, ct := range done {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+ct.Name+`"`).Scan(&n); err != nil {
			return nil, fmt.Errorf("copy: count %s: %w", ct.Name, err)
		}
		if n != ct.Rows {
			return nil, fmt.Errorf("copy: %s has %d rows in the destination after copying %d; nothing was committed", ct.Name, n, ct.Rows)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("copy: commit: %w", err)
	}
	if err := dst.BuildUsage(ctx, nil); err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	if dst.postgres() {
		if _, err := conn.ExecContext(ctx, "ANALYZE"); err != nil {
			return nil, fmt.Errorf("copy: analyze: %w", err)
		}
	}
	return done, nil
}

// checkEmpty refuses a destination with rows in any of the tables.
func (s *Store) checkEmpty(ctx context.Context, tables []string) error {
	for _, t := range tables {
		var n int64
		if err := s.conn(ctx).Raw(`SELECT COUNT(*) FROM "` + t + `"`).Scan(&n).Error; err != nil {
			return fmt.Errorf("copy: count %s in the destination: %w", t, err)
		}
		if n > 0 {
			return invalidf("copy: the destination is not empty (table %s has %d rows); copy into a new, empty database", t, n)
		}
	}
	return nil
}

// parentsFirst orders tables so that every table comes after the tables
// its foreign keys point to (by name where nothing else decides).
func (s *Store) parentsFirst(ctx context.Context, tables []string) ([]string, error) {
	parents := map[string][]string{}
	for _, t := range tables {
		q := `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`
		if s.postgres() {
			q = `SELECT DISTINCT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND conrelid = CAST(? AS regclass)`
		}
		var ps []string
		if err := s.conn(ctx).Raw(q, t).Scan(&ps).Error; err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", t, err)
		}
		for _, p := range ps {
			if p = strings.Trim(p, `"`); p != t {
				parents[t] = append(parents[t], p)
			}
		}
	}
	sorted := append([]string(nil), tables...)
	sort.Strings(sorted)
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("foreign keys form a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		ps := parents[t]
		sort.Strings(ps)
		for _, p := range ps {
			if err := visit(p); err != nil {
				return err
			}
		}
		state[t] = 2
		out = append(out, t)
		return nil
	}
	for _, t := range sorted {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// copyBatch is how many rows go in one COPY (PostgreSQL) or how many rows
// at most one INSERT carries (SQLite, also bounded by its 32766 parameters).
const copyBatch = 10000

// copyTable streams one table from src into the destination transaction.
func copyTable(ctx context.Context, src, dst *Store, conn *sql.Conn, tx *sql.Tx, table string) (int64, error) {
	// The destination's column types decide conversions (SQLite keeps
	// booleans as integers, PostgreSQL wants booleans).
	probe, err := tx.QueryContext(ctx, `SELECT * FROM "`+table+`" WHERE 1 = 0`)
	if err != nil {
		return 0, err
	}
	dstTypes, err := probe.ColumnTypes()
	probe.Close()
	if err != nil {
		return 0, err
	}
	kind := map[string]string{}
	for _, ct := range dstTypes {
		kind[ct.Name()] = strings.ToLower(ct.DatabaseTypeName())
	}

	rows, err := src.conn(ctx).Raw(`SELECT * FROM "` + table + `"`).Rows()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	for _, c := range cols {
		if _, ok := kind[c]; !ok {
			return 0, fmt.Errorf("the destination has no column %s.%s", table, c)
		}
	}
	per := copyBatch
	if !dst.postgres() {
		per = min(copyBatch, 32766/len(cols), 500)
	}
	var (
		batch [][]any
		total int64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var err error
		if dst.postgres() {
			err = conn.Raw(func(dc any) error {
				c, ok := dc.(*stdlib.Conn)
				if !ok {
					return fmt.Errorf("COPY needs a pgx connection, not %T", dc)
				}
				_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(batch))
				return err
			})
		} else {
			err = insertRows(ctx, tx, table, cols, batch)
		}
		total += int64(len(batch))
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		vals, err := scanAny(rows, len(cols))
		if err != nil {
			return total, err
		}
		for i, c := range cols {
			vals[i] = convertValue(vals[i], kind[c])
		}
		batch = append(batch, vals)
		if len(batch) == per {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return total, err
	}
	return total, flush()
}

// convertValue makes a value read from one database fit the other's column.
func convertValue(v any, dstType string) any {
	switch x := v.(type) {
	case []byte:
		if dstType == "bytea" || dstType == "blob" {
			return x
		}
		return string(x)
	case int64:
		if dstType == "bool" || dstType == "boolean" {
			return x != 0
		}
	case time.Time:
		return x.UTC()
	}
	return v
}

func insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, batch [][]any) error {
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	var b strings.Builder
	b.WriteString(`INSERT INTO "` + table + `" ("` + strings.Join(cols, `","`) + `") VALUES `)
	args := make([]any, 0, len(batch)*len(cols))
	for i, r := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
		args = append(args, r...)
	}
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

// Tables lists the database's tables by name.
func (s *Store) Tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if s.postgres() {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	var tables []string
	if err := s.conn(ctx).Raw(q).Scan(&tables).Error; err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return tables, nil
}

// scanAny scans the current row's n columns into plain values.
func scanAny(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}
