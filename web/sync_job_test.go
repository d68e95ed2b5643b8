package web

import (
	"log/slog"
	"slices"
	"strings"
	"testing"

	"layerwise/store"
)

// TestSyncJobWiring: the job "sync" exists when there is something to sync,
// on LAYERWISE_SYNC_SCHEDULE (default @hourly), and a run reads the managed
// registry into the store and is recorded.
func TestSyncJobWiring(t *testing.T) {
	t.Parallel()
	reg := newSwitchRegistry(t)
	d := reg.push(t, "team-a/api:latest")
	cases := []struct {
		name     string
		cfg      Config
		schedule string // "" = no sync job
		err      string
	}{
		{"nothing to sync", Config{}, "", ""},
		{"registry, default schedule", Config{RegistryURL: reg.URL}, "@hourly", ""},
		{"registry, own schedule", Config{RegistryURL: reg.URL, SyncSchedule: "@every 5m"}, "@every 5m", ""},
		{"cluster only", Config{OpenShiftURL: "https://api.example.com:6443", OpenShiftTokenFile: "/nonexistent"}, "@hourly", ""},
		{"bad registry URL", Config{RegistryURL: "ftp://x/y"}, "", "LAYERWISE_REGISTRY_URL"},
		{"bad schedule", Config{RegistryURL: reg.URL, SyncSchedule: "every hour"}, "", `job sync: schedule "every hour"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), migratedDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			cfg := c.cfg
			cfg.Addr, cfg.Policy, cfg.SnapshotSchedule = "127.0.0.1:0", store.DefaultPolicy, "@daily"
			srv, err := New(cfg, s, slog.New(slog.DiscardHandler))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, st := range srv.sched.Statuses() {
				if st.Name == "sync" {
					got = st.Schedule
				}
			}
			if got != c.schedule {
				t.Fatalf("sync job schedule %q, want %q", got, c.schedule)
			}
			if c.cfg.RegistryURL == "" || c.schedule == "" {
				return
			}
			if !srv.sched.RunNow(t.Context(), "sync") {
				t.Fatal("the sync job did not run")
			}
			if got := history(t, s, store.TagRef{Namespace: "team-a", Stream: "api", Tag: "latest"}); !slices.Equal(got, []string{d}) {
				t.Errorf("after the sync job: history %v", got)
			}
			runs, err := s.LastJobRuns(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if r := runs["sync"]; r.Status != "ok" || r.Count != 1 || !strings.Contains(r.Message, "1 changed") {
				t.Errorf("job run %+v", r)
			}
		})
	}
}
