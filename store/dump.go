package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

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

// DumpTables prints every row of every table in a stable order. Tests use it
// to prove that a refused or repeated operation changed nothing. The data
// version and the job leases are left out: they are bookkeeping.
func (s *Store) DumpTables(ctx context.Context) (string, error) {
	db := s.conn(ctx)
	tables, err := s.Tables(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, t := range tables {
		if t == "data_versions" || t == "job_leases" {
			continue // bookkeeping: every transaction bumps the version
		}
		rows, err := db.Raw(`SELECT * FROM "` + t + `" ORDER BY 1, 2`).Rows()
		if err != nil {
			return "", fmt.Errorf("dump %s: %w", t, err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "== %s %v\n", t, cols)
		for rows.Next() {
			vals, err := scanAny(rows, len(cols))
			if err != nil {
				rows.Close()
				return "", err
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					vals[i] = string(bs)
				}
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String(), nil
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
