//go:build race

package oracle

// raceDetector: under -race every case costs several times more, so the
// default number of cases is cut (CI runs the suite with -race twice).
const raceDetector = true
