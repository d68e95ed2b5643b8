package openshift

import (
	"context"
	"os"
	"testing"

	"layerwise/store"
	"layerwise/store/storetest"
)

// TestMain removes the template database migratedDSN copies from.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// migratedDSN is a new database for t, already migrated: a copy of one
// migrated once per test run instead of migrating each test's own.
func migratedDSN(t testing.TB) string {
	t.Helper()
	return storetest.Template(t, "migrated", func(ctx context.Context, dsn string) error {
		s, err := store.Open(ctx, dsn)
		if err != nil {
			return err
		}
		return s.Close()
	})
}
