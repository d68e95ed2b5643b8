// Package storetest hands each test a fresh, empty database name (DSN).
//
// By default that is a SQLite file in the test's temp dir. When
// LAYERWISE_TEST_POSTGRES holds the DSN of a PostgreSQL server on which the
// tests may create databases (e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable; `.ci/postgres
// start` prints one), it is a new database on that server instead, dropped
// when the test ends, so the same tests run on both.
//
// Template gives a copy of a database prepared once per test binary (the
// migrated schema), for the many tests that start from one.
package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env is the variable that switches the tests to PostgreSQL.
const Env = "LAYERWISE_TEST_POSTGRES"

// Postgres says whether the tests run on PostgreSQL.
func Postgres() bool { return os.Getenv(Env) != "" }

// SkipUnlessPostgres skips a PostgreSQL-only test with a message saying how
// to run it.
func SkipUnlessPostgres(t testing.TB) {
	t.Helper()
	if !Postgres() {
		t.Skip(Env + " not set: PostgreSQL tests run in CI (.ci/run) or with " +
			`eval "$(.ci/postgres start)"`)
	}
}

// SkipOnPostgres skips a test that is about SQLite itself.
func SkipOnPostgres(t testing.TB, why string) {
	t.Helper()
	if Postgres() {
		t.Skip("SQLite only: " + why)
	}
}

// DSN returns the name of a new, empty database for t; it is removed when
// the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(Env)
	if admin == "" {
		return filepath.Join(t.TempDir(), "test.db")
	}
	return newPostgresDB(t, admin, "template0")
}

// SQLitePath is a SQLite file for tests that are about SQLite files
// whatever LAYERWISE_TEST_POSTGRES says (the copy between databases).
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "test.db")
}

func newPostgresDB(t testing.TB, admin, template string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	defer db.Close()
	name := "lw_" + randomHex()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	create := `CREATE DATABASE ` + name + ` TEMPLATE ` + template
	if template == "template0" {
		// template0: no objects, whatever someone left in template1.
		create += ` ENCODING 'UTF8'`
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		t.Fatalf("create test database on %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() {
		if err := dropPostgresDB(admin, name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func dropPostgresDB(admin, name string) error {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// FORCE (PostgreSQL 13+) ends connections a test left open.
	_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	return err
}
