package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"layerwise/buildinfo"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	b := buildinfo.Read()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := ok(t, lw(t, "", "", args...))
		if r.out != b.String() {
			t.Errorf("%v printed %q, want %q", args, r.out, b.String())
		}
		if !strings.HasPrefix(r.out, "layerwise "+b.Version+"\n") || !strings.Contains(r.out, "go:     "+b.GoVersion+"\n") {
			t.Errorf("%v: want the version first and the Go version, got %q", args, r.out)
		}
	}
	var got buildinfo.Info
	if err := json.Unmarshal([]byte(ok(t, lw(t, "", "", "version", "-o", "json")).out), &got); err != nil || got != b {
		t.Errorf("version -o json = %+v (%v), want %+v", got, err, b)
	}
	if r := lw(t, "", "", "version", "extra"); r.code != 2 {
		t.Errorf("version extra: exit %d, want 2", r.code)
	}
	if !strings.Contains(ok(t, lw(t, "", "", "help")).out, "version [-o json]") {
		t.Error("help does not list version")
	}
}
