package storetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// Tabled is what Dump reads: a *store.Store (this package cannot import
// store, whose own tests import it).
type Tabled interface {
	DB() *gorm.DB
	Tables(ctx context.Context) ([]string, error)
}

// Dump prints every row of every table in a stable order, for tests that
// prove a refused or repeated operation changed nothing. The data version
// and the leases are left out: bookkeeping, moved by every transaction and
// every job run; so are the job runs and the stored plan figures, which
// background jobs write whenever they run.
func Dump(t testing.TB, s Tabled) string {
	t.Helper()
	tables, err := s.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB().WithContext(t.Context())
	var b strings.Builder
	for _, table := range tables {
		switch table {
		case "data_versions", "job_leases",
			// Background runs, such as the plan figures a policy change
			// asks for, write their own bookkeeping at any moment.
			"job_runs", "usage_plans", "usage_plan_namespaces", "usage_plan_prunable":
			continue
		}
		// Every column, in order: rows that tie on their first columns
		// (usage_members, usage_scope_blobs) come back in whatever order
		// PostgreSQL's plan gives, which made equal dumps differ.
		order := "1"
		if probe, err := db.Raw(`SELECT * FROM "` + table + `" LIMIT 0`).Rows(); err == nil {
			cols, _ := probe.Columns()
			for i := 2; i <= len(cols); i++ {
				order += ", " + strconv.Itoa(i)
			}
			probe.Close()
		}
		rows, err := db.Raw(`SELECT * FROM "` + table + `" ORDER BY ` + order).Rows()
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "== %s %v\n", table, cols)
		row := make([]any, len(cols))
		into := make([]any, len(cols))
		for i := range row {
			into[i] = &row[i]
		}
		for rows.Next() {
			if err := rows.Scan(into...); err != nil {
				rows.Close()
				t.Fatalf("dump %s: %v", table, err)
			}
			for i, v := range row {
				if bs, ok := v.([]byte); ok {
					row[i] = string(bs)
				}
			}
			fmt.Fprintln(&b, row...)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		rows.Close()
	}
	return b.String()
}
