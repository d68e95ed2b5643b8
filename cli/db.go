package cli

import (
	"context"
	"fmt"
	"time"

	"layerwise/store"
)

// cmdDB is `db copy --from DSN --to DSN`: moves a registry between SQLite
// and PostgreSQL (either way) into an empty destination.
func (c *cli) cmdDB(ctx context.Context, args []string) error {
	f := c.newFlags("db copy", false)
	from := f.String("from", "", "the source database: a SQLite file or a postgres:// DSN")
	to := f.String("to", "", "the destination: an empty SQLite file or PostgreSQL database")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "copy" {
		return usagef("db: want `db copy --from DSN --to DSN`")
	}
	if *from == "" || *to == "" {
		return usagef("db copy: both --from and --to are needed, e.g. --from layerwise.db --to postgres://user@host/layerwise")
	}
	if *from == *to {
		return usagef("db copy: --from and --to name the same database")
	}
	start := time.Now()
	src, err := store.Open(ctx, *from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := store.Open(ctx, *to)
	if err != nil {
		return err
	}
	defer dst.Close()
	var rows int64
	tables, err := store.Copy(ctx, src, dst, func(t store.CopyTable) {
		rows += t.Rows
		fmt.Fprintf(c.stderr, "copied %-20s %10d rows\n", t.Name, t.Rows)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "copied %d rows in %d tables from %s to %s in %s; row counts checked\n",
		rows, len(tables), store.Redact(*from), store.Redact(*to), time.Since(start).Round(10*time.Millisecond))
	return nil
}
