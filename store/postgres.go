package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// writerLockKey is the transaction-scoped advisory lock every write
// transaction takes on PostgreSQL ("lw" + "tx" in ASCII).
const writerLockKey = 0x6c77_7478

// openPostgres opens a postgres:// DSN through pgx. Timestamps are
// timestamptz columns read back in UTC, as SQLite gives them, so that
// exports and comparisons do not depend on the machine's time zone.
func openPostgres(dsn string, cfg *gorm.Config) (*gorm.DB, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN (want postgres://user:password@host:port/dbname?sslmode=disable): %w", err)
	}
	if pc.RuntimeParams == nil {
		pc.RuntimeParams = map[string]string{}
	}
	pc.RuntimeParams["timezone"] = "UTC"
	if pc.RuntimeParams["application_name"] == "" {
		pc.RuntimeParams["application_name"] = "layerwise"
	}
	// JIT compiles a plan for a query the planner thinks big: 0.2 s each
	// time for the few-row reads and settlements every page and write
	// makes. The DSN may still turn it on (?jit=on).
	if pc.RuntimeParams["jit"] == "" {
		pc.RuntimeParams["jit"] = "off"
	}
	sqlDB := stdlib.OpenDB(*pc, stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}))
	return gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), cfg)
}

// Redact hides the password of a postgres:// DSN for messages and logs.
func Redact(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// isUniqueViolation says whether err is a unique-constraint failure on
// either database.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return errors.Is(err, gorm.ErrDuplicatedKey) || strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// epoch is SQL for a timestamp column as unix seconds (0 when NULL).
func (s *Store) epoch(col string) string {
	if s.postgres() {
		// FLOOR: whole seconds rounded down, as SQLite's strftime('%s')
		// and Go's Time.Unix (a bare CAST rounds to the nearest).
		return "COALESCE(CAST(FLOOR(EXTRACT(EPOCH FROM " + col + ")) AS BIGINT), 0)"
	}
	return "COALESCE(CAST(strftime('%s', " + col + ") AS INTEGER), 0)"
}

// groupConcat is SQL aggregating expr (an integer or text) with commas.
func (s *Store) groupConcat(expr string) string {
	if s.postgres() {
		return "string_agg(CAST(" + expr + " AS TEXT), ',')"
	}
	return "group_concat(" + expr + ")"
}

// FixSequencesSQL moves every serial (identity) sequence of the current
// schema past the largest id in its table. Bulk loads that write explicit
// ids (generate, the copy between databases) run it before commit, so that
// the next ordinary INSERT does not collide. PostgreSQL only.
const FixSequencesSQL = `DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT c.table_name, c.column_name,
			pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) AS seq
		FROM information_schema.columns c
		WHERE c.table_schema = current_schema()
		  AND pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) IS NOT NULL
	LOOP
		EXECUTE format('SELECT setval(%L, COALESCE((SELECT MAX(%I) FROM %I), 0) + 1, false)',
			r.seq, r.column_name, r.table_name);
	END LOOP;
END $$`

// like is the case-insensitive LIKE: SQLite's LIKE already ignores ASCII
// case, PostgreSQL's does not.
func (s *Store) like() string {
	if s.postgres() {
		return "ILIKE"
	}
	return "LIKE"
}
