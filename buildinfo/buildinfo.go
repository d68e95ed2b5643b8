// Package buildinfo says which build of Layerwise is running, from what
// the Go toolchain stamps into every binary: the module version, the VCS
// revision and its time, and the Go version. Nothing is set by hand
// (no -ldflags), so a binary cannot claim a version it was not built from.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Unknown stands for a field the build did not record (a build with
// -buildvcs=false, or outside a Git checkout).
const Unknown = "unknown"

// Info is one build of Layerwise.
type Info struct {
	// Version is the module version: a tag (v1.2.0), a pseudo-version
	// (v0.0.0-20261202133100-83aeb84abcde, "+dirty" for a changed work
	// tree), or "(devel)" without VCS information.
	Version string `json:"version"`
	// Commit is the VCS revision.
	Commit string `json:"commit"`
	// Date is the commit's time (vcs.time, RFC 3339). It stands for the
	// build date: the same source builds the same binary whenever it is
	// built, so the wall clock of the build is deliberately not recorded.
	Date string `json:"date"`
	// Modified is true when the work tree had uncommitted changes.
	Modified bool `json:"modified"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
}

// Read is the running binary's build.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(devel)", Commit: Unknown, Date: Unknown, GoVersion: Unknown}
	}
	return From(bi)
}

// From reads an Info out of Go's build information.
func From(bi *debug.BuildInfo) Info {
	i := Info{Version: bi.Main.Version, Commit: Unknown, Date: Unknown, GoVersion: bi.GoVersion}
	if i.Version == "" {
		i.Version = "(devel)"
	}
	if i.GoVersion == "" {
		i.GoVersion = Unknown
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Commit = s.Value
		case "vcs.time":
			i.Date = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// ShortCommit is the first 12 characters of the revision.
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is what `layerwise version` prints: the version, then one line
// each for the commit, its date and the Go version.
func (i Info) String() string {
	commit := i.Commit
	if i.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("layerwise %s\ncommit: %s\ndate:   %s\ngo:     %s\n", i.Version, commit, i.Date, i.GoVersion)
}
