package cli

import (
	"io"
	"testing"

	"layerwise/web"
)

// The demo's scheduled tags point at public registries: serve --demo runs the
// import job only when a schedule is asked for; otherwise the default holds.
func TestImportScheduleDefaultsAndDemo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  string
		args []string
		demo bool
		want string
	}{
		{"default", "", nil, false, "@every 15m"},
		{"off", "", []string{"--import-schedule", "off"}, false, ""},
		{"demo without a schedule runs no import", "", nil, true, ""},
		{"demo with the flag", "", []string{"--import-schedule", "@every 1h"}, true, "@every 1h"},
		{"demo with the environment", "@every 2h", nil, true, "@every 2h"},
		{"environment", "@every 2h", nil, false, "@every 2h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
				if k == "LAYERWISE_IMPORT_SCHEDULE" {
					return tc.env
				}
				return ""
			}}
			f := c.newFlags("serve", false)
			apply := c.importFlags(f)
			if _, err := f.parse(tc.args); err != nil {
				t.Fatal(err)
			}
			var cfg web.Config
			if err := apply(&cfg, tc.demo); err != nil {
				t.Fatal(err)
			}
			if cfg.ImportSchedule != tc.want {
				t.Errorf("import schedule %q, want %q", cfg.ImportSchedule, tc.want)
			}
		})
	}
}
