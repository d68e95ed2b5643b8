package store

import (
	"context"
	"fmt"
	"strings"
)

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
