package synth

import (
	"context"
	"database/sql"
	"fmt"
)

// dropIndexesPostgres is dropIndexes on PostgreSQL: it drops the secondary
// indexes of the loaded tables (not those behind primary keys or
// constraints) and returns their exact definitions (pg_indexes.indexdef).
// Building an index once after COPY beats maintaining it row by row.
func dropIndexesPostgres(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
		ORDER BY i.tablename, i.indexname`, loadedTables)
	if err != nil {
		return nil, fmt.Errorf("generate: list indexes: %w", err)
	}
	var names, ddl []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, fmt.Errorf("generate: list indexes: %w", err)
		}
		names, ddl = append(names, name), append(ddl, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("generate: list indexes: %w", err)
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+name+`"`); err != nil {
			return nil, fmt.Errorf("generate: drop index %s: %w", name, err)
		}
	}
	return ddl, nil
}
