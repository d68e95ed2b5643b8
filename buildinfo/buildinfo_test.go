package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want Info
	}{
		{"a tagged build from Git",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "layerwise", Version: "v1.2.0"},
				Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "83aeb84a1b2c3d4e5f60718293a4b5c6d7e8f901"},
					{Key: "vcs.time", Value: "2026-12-02T13:31:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			Info{Version: "v1.2.0", Commit: "83aeb84a1b2c3d4e5f60718293a4b5c6d7e8f901", Date: "2026-12-02T13:31:00Z", GoVersion: "go1.26.8"}},
		{"a changed work tree",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261202133100-83aeb84a1b2c+dirty"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "83aeb84a1b2c"}, {Key: "vcs.modified", Value: "true"}}},
			Info{Version: "v0.0.0-20261202133100-83aeb84a1b2c+dirty", Commit: "83aeb84a1b2c", Date: Unknown, Modified: true, GoVersion: "go1.26.8"}},
		{"built with -buildvcs=false",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			Info{Version: "(devel)", Commit: Unknown, Date: Unknown, GoVersion: "go1.26.8"}},
		{"nothing recorded",
			debug.BuildInfo{},
			Info{Version: "(devel)", Commit: Unknown, Date: Unknown, GoVersion: Unknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := From(&tc.bi); got != tc.want {
				t.Errorf("From = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestShortCommit(t *testing.T) {
	for in, want := range map[string]string{
		"83aeb84a1b2c3d4e5f60718293a4b5c6d7e8f901": "83aeb84a1b2c",
		"83aeb84": "83aeb84",
		Unknown:   Unknown,
	} {
		if got := (Info{Commit: in}).ShortCommit(); got != want {
			t.Errorf("ShortCommit of %q = %q, want %q", in, got, want)
		}
	}
}
