package jobs

import (
	"context"
	"strings"
	"testing"

	"layerwise/store"
)

// The weekly e-mail marks a revision whose image runs on the cluster,
// naming the namespace's own workload and counting another namespace's;
// tonight's prune keeps it (it is no longer "pruned tonight").
func TestWeeklyReportSaysWhatIsInUse(t *testing.T) {
	t.Parallel()
	s, now := reportStore(t)
	ctx := context.Background()
	report := func() (string, string) {
		t.Helper()
		// The plan's figures as the plan job stores them after the sync.
		if _, err := s.ComputePlanSummary(ctx, store.DefaultPolicy); err != nil {
			t.Fatal(err)
		}
		r, err := BuildReport(ctx, s, settings, now, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := Message(r, []string{"a@example.com"}, now)
		if err != nil {
			t.Fatal(err)
		}
		return msg.Text, msg.HTML
	}
	const want = "in use by deployment team-a/api and 1 more"
	text, html := report()
	if strings.Contains(text, "in use") || strings.Contains(html, "in use by") {
		t.Fatalf("nothing runs yet, the e-mail says in use:\n%s", text)
	}
	// api0 is the oldest revision: pruned tonight before it is in use.
	line := func(text string) string {
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, dg("img:api0")[7:19]) {
				return l
			}
		}
		return ""
	}
	if l := line(text); !strings.Contains(l, "pruned tonight") {
		t.Fatalf("api0's line %q is not pruned tonight", l)
	}
	if _, err := s.ReplaceInUse(ctx, "openshift:https://api.example.com:6443", []store.InUseRef{
		{Workload: store.Workload{Kind: "deployment", Namespace: "team-a", Name: "api"}, PullSpec: "r.example/team-a/api@" + dg("img:api0")},
		{Workload: store.Workload{Kind: "deployment", Namespace: "team-b", Name: "secret-project"}, PullSpec: "r.example/team-a/api@" + dg("img:api0")},
	}); err != nil {
		t.Fatal(err)
	}
	text, html = report()
	if l := line(text); !strings.Contains(l, want) || strings.Contains(l, "pruned tonight") {
		t.Errorf("api0's line %q, want %q and not pruned tonight", l, want)
	}
	if !strings.Contains(html, want) || strings.Contains(html+text, "secret-project") {
		t.Errorf("the HTML lacks %q or names team-b's workload", want)
	}
}
