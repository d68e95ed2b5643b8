package oracle

import (
	"flag"
	"os"
	"strconv"
)

// The knobs of the property tests, shared by every test binary that uses
// the oracle: `go test ./store -run Oracle -oracle.cases=5000`. The
// environment variables do the same for `go test ./...`.
var (
	casesFlag = flag.Int("oracle.cases", 0, "random cases per property test (default: the test's own; env LAYERWISE_ORACLE_CASES)")
	seedFlag  = flag.Uint64("oracle.seed", 0, "run only this seed (a failure prints it)")
	firstFlag = flag.Uint64("oracle.first", 1, "first seed of the run (env LAYERWISE_ORACLE_FIRST)")
)

// Seeds are the seeds a property test runs: -oracle.seed alone when set,
// else n seeds from -oracle.first, where n is -oracle.cases (or
// $LAYERWISE_ORACLE_CASES), else def (a quarter of it under -race).
func Seeds(def int) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	n := def
	if raceDetector {
		n = max(1, def/4)
	}
	if v, err := strconv.Atoi(os.Getenv("LAYERWISE_ORACLE_CASES")); err == nil && v > 0 {
		n = v
	}
	if *casesFlag > 0 {
		n = *casesFlag
	}
	first := *firstFlag
	if v, err := strconv.ParseUint(os.Getenv("LAYERWISE_ORACLE_FIRST"), 10, 64); err == nil && v > 0 && first == 1 {
		first = v
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = first + uint64(i)
	}
	return out
}

// Replaying says whether one seed was asked for.
func Replaying() bool { return *seedFlag != 0 }
