package views

import (
	"strings"
	"testing"
)

// TestPlanIntroSaysWhatThePlanDoes: the plan's first sentence for each
// case — under the threshold, prune suffices, a plan, no plan — in plain
// words, with the figures the plan carries.
func TestPlanIntroSaysWhatThePlanDoes(t *testing.T) {
	base := Report{Namespace: "ml", Bytes: 1900 * mailMiB, ThresholdBytes: 1 * mailGiB}
	for _, c := range []struct {
		name string
		plan ReportPlan
		th   int64
		want string
	}{
		{"no threshold", ReportPlan{}, -1, "ml has no threshold: nothing to delete."},
		{"under", ReportPlan{Over: false}, 0, "ml uses 1.9 GiB, under its threshold of 1.0 GiB: nothing to delete."},
		{"prune suffices", ReportPlan{Over: true, Reaches: true, PruneBytes: 1000 * mailMiB, AfterPrune: 900 * mailMiB, After: 900 * mailMiB}, 0,
			"Tonight's prune alone takes 1000.0 MiB off and brings ml to 900.0 MiB, under its threshold of 1.0 GiB: nothing to delete."},
		{"a plan of tags", ReportPlan{Over: true, Reaches: true, After: 1000 * mailMiB, Steps: []Saving{{Kind: "tag"}, {Kind: "tag"}}}, 0,
			"Delete 2 tags below and, with tonight's prune, ml goes from 1.9 GiB to 1000.0 MiB, under its threshold of 1.0 GiB."},
		{"no plan", ReportPlan{Over: true, After: 1200 * mailMiB, Steps: []Saving{{Kind: "stream"}}}, 0,
			"No plan gets ml under its threshold of 1.0 GiB: deleting every tag that may go, with tonight's prune, brings it to 1.2 GiB at best, still 176.0 MiB over. The most deleting can do:"},
		{"nothing may go", ReportPlan{Over: true, After: 1200 * mailMiB}, 0,
			"No plan gets ml under its threshold of 1.0 GiB: no tag that may be deleted frees anything, and tonight's prune brings it to 1.2 GiB, still 176.0 MiB over."},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := base
			if c.th != 0 {
				r.ThresholdBytes = c.th
			}
			r.Plan = c.plan
			if got := mailPlanIntro(r); !strings.HasPrefix(got, c.want) {
				t.Errorf("intro %q\nwant %q", got, c.want)
			}
		})
	}
}
