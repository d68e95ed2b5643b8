// Package storetest hands each test a fresh, empty database name (DSN).
//
// By default that is a SQLite file in the test's temp dir. When
// LAYERWISE_TEST_POSTGRES holds the DSN of a PostgreSQL server, it will be a
// new database on that server instead, so the same tests run on both.
package storetest

import (
	"path/filepath"
	"testing"
)

// DSN returns the name of a new, empty database for t; it is removed when
// the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "test.db")
}
