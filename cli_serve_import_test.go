package main

import (
	"strings"
	"testing"
)

// TestServeImportFlags: serve refuses an import schedule cron cannot read
// and a worker count below one, before it listens.
func TestServeImportFlags(t *testing.T) {
	db := newDB(t)
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--import-workers", "0"}, 2, "--import-workers 0: want at least 1"},
		{[]string{"--import-schedule", "every 5 minutes", "--addr", "127.0.0.1:0"}, 1, `job import: schedule "every 5 minutes"`},
		{[]string{"--registry-url", "ftp://registry", "--addr", "127.0.0.1:0"}, 1, "LAYERWISE_REGISTRY_URL"},
	} {
		r := lw(t, db, "", append([]string{"serve"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.err, tc.says) {
			t.Errorf("serve %v: exit %d, %q; want %d saying %q", tc.args, r.code, r.err, tc.code, tc.says)
		}
	}
}
