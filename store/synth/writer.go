package synth

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// maxParams is SQLite's default SQLITE_MAX_VARIABLE_NUMBER.
const maxParams = 32766

// maxRowsPerInsert bounds one statement: beyond a few hundred rows a bigger
// statement saves nothing and only costs memory.
const maxRowsPerInsert = 500

// table buffers rows for one multi-row INSERT. Parents are flushed before
// the table itself so foreign keys always find their rows.
type table struct {
	name    string
	cols    []string
	perStmt int
	args    []any
	n       int
	total   int64
	full    *sql.Stmt // the prepared statement for a full batch
	parents []*table
}

// writer batches rows of several tables into one transaction. Like
// bufio.Writer it keeps the first error and ignores everything after it, so
// the generator checks once per stream instead of once per row.
type writer struct {
	ctx    context.Context
	tx     *sql.Tx
	err    error
	tables []*table
	// conn, on PostgreSQL, takes the rows through COPY (pgx CopyFrom) on
	// the connection of tx instead of INSERT statements.
	conn *sql.Conn
}

// copyPerBatch is how many rows one COPY carries on PostgreSQL.
const copyPerBatch = 20000

// copyTo switches the writer to COPY on conn (the connection of its tx);
// call it before declaring tables.
func (w *writer) copyTo(conn *sql.Conn) { w.conn = conn }

func newWriter(ctx context.Context, tx *sql.Tx) *writer {
	return &writer{ctx: ctx, tx: tx}
}

// table declares a table; declare parents first.
func (w *writer) table(name string, cols []string, parents ...*table) *table {
	per := min(maxParams/len(cols), maxRowsPerInsert)
	if w.conn != nil {
		per = copyPerBatch
	}
	t := &table{name: name, cols: cols, perStmt: per, parents: parents,
		args: make([]any, 0, per*len(cols))}
	w.tables = append(w.tables, t)
	return t
}

// add buffers one row; vals must follow t.cols.
func (w *writer) add(t *table, vals ...any) {
	if w.err != nil {
		return
	}
	if len(vals) != len(t.cols) {
		w.err = fmt.Errorf("insert into %s: %d values for %d columns", t.name, len(vals), len(t.cols))
		return
	}
	t.args = append(t.args, vals...)
	t.n++
	if t.n == t.perStmt {
		w.flush(t)
	}
}

func (w *writer) flush(t *table) {
	if w.err != nil || t.n == 0 {
		return
	}
	for _, p := range t.parents {
		w.flush(p)
	}
	var err error
	if w.conn != nil {
		err = w.copyRows(t)
	} else if t.n == t.perStmt {
		if t.full == nil {
			t.full, err = w.tx.PrepareContext(w.ctx, insertSQL(t, t.n))
			if err != nil {
				w.err = fmt.Errorf("prepare insert into %s: %w", t.name, err)
				return
			}
		}
		_, err = t.full.ExecContext(w.ctx, t.args...)
	} else {
		_, err = w.tx.ExecContext(w.ctx, insertSQL(t, t.n), t.args...)
	}
	if err != nil {
		w.err = fmt.Errorf("insert into %s: %w", t.name, err)
		return
	}
	t.total += int64(t.n)
	clear(t.args) // drop references so the strings can be collected
	t.args = t.args[:0]
	t.n = 0
}

// close flushes every table and releases the prepared statements.
func (w *writer) close() error {
	for _, t := range w.tables {
		w.flush(t)
	}
	for _, t := range w.tables {
		if t.full != nil {
			if err := t.full.Close(); err != nil && w.err == nil {
				w.err = fmt.Errorf("close insert into %s: %w", t.name, err)
			}
			t.full = nil
		}
	}
	return w.err
}

// copyRows sends t's buffered rows with COPY on the transaction's connection.
func (w *writer) copyRows(t *table) error {
	rows := make([][]any, t.n)
	nc := len(t.cols)
	for i := range rows {
		rows[i] = t.args[i*nc : (i+1)*nc]
	}
	return w.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("COPY needs a pgx connection, not %T", dc)
		}
		_, err := c.Conn().CopyFrom(w.ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(rows))
		return err
	})
}

func insertSQL(t *table, rows int) string {
	var b strings.Builder
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", len(t.cols)), ",") + ")"
	b.Grow(len(t.name) + 64 + rows*(len(group)+1))
	b.WriteString("INSERT INTO `")
	b.WriteString(t.name)
	b.WriteString("` (`")
	b.WriteString(strings.Join(t.cols, "`,`"))
	b.WriteString("`) VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(group)
	}
	return b.String()
}
