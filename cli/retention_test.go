package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"layerwise/store"
)

// Retention rules from the command line: set (audited), shown by prune
// --show-kept (text and JSON) and describe is; a bad rule is refused with
// the rule named and nothing changed.
func TestRetentionRulesCLI(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	r := ok(t, lw(t, db, "", "namespace", "set", "team-a", "--rules", `^latest$ keep 1 younger-than 0; ^v\d+$ never`))
	for _, want := range []string{"namespace team-a: retention rule 1: ^latest$ keep 1 younger-than 0s", `namespace team-a: retention rule 2: ^v\d+$ never`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("namespace set prints\n%s\nwant %q", r.out, want)
		}
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.AuditLog(context.Background(), store.AuditFilter{Action: "namespace.retention"})
	s.Close()
	if err != nil || len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "cli:") || evs[0].Before != "none" || !strings.HasPrefix(evs[0].After, "1. ^latest$ keep 1") {
		t.Errorf("audit: %+v, %v", evs, err)
	}

	before := dump(t, db)
	bad := lw(t, db, "", "namespace", "set", "team-a", "--rules", `^latest$ keep 1; ^v(\d+ never`)
	if bad.code != 2 || !strings.Contains(bad.err, "rule 2") || !strings.Contains(bad.err, "not a valid RE2") {
		t.Errorf("a bad pattern: exit %d, %q", bad.code, bad.err)
	}
	if dump(t, db) != before {
		t.Error("a refused rule changed the database")
	}

	r = ok(t, lw(t, db, "", "prune", "--show-kept"))
	for _, want := range []string{
		"namespace team-a rule 1: ^latest$ keep 1 younger-than 0s",
		"Keeping revisions ...",
		"team-a/api  latest  " + word("image:a5"),
		"team-b/web  prod    " + word("image:b2"),
		"among the newest 3",
		"Summary: would delete 4 image stream revisions in 1 streams",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("prune --show-kept lacks %q:\n%s", want, r.out)
		}
	}
	r = ok(t, lw(t, db, "", "prune", "--show-kept", "-o", "json"))
	var plan struct {
		Revisions []struct {
			Image     string `json:"image"`
			Retention struct {
				Reason string `json:"reason"`
				Rule   int    `json:"rule"`
				Detail string `json:"detail"`
			} `json:"retention"`
		} `json:"revisions"`
		Kept []struct {
			Tag       string `json:"tag"`
			Position  int    `json:"position"`
			Retention struct {
				Reason string `json:"reason"`
			} `json:"retention"`
		} `json:"kept"`
	}
	if err := json.Unmarshal([]byte(r.out), &plan); err != nil {
		t.Fatalf("prune --show-kept -o json: %v\n%s", err, r.out)
	}
	if len(plan.Revisions) != 4 || plan.Revisions[0].Retention.Reason != "prunable" || plan.Revisions[0].Retention.Rule != 1 ||
		!strings.HasPrefix(plan.Revisions[0].Retention.Detail, "rule 1: not among the newest 1") {
		t.Errorf("revisions: %+v", plan.Revisions)
	}
	kept := map[string]int{}
	for _, k := range plan.Kept {
		kept[k.Tag+" "+k.Retention.Reason]++
	}
	if len(plan.Kept) != 4 || kept["latest current"] != 1 || kept["prod current"] != 1 || kept["prod newest"] != 2 {
		t.Errorf("kept: %v", kept)
	}
	if r := ok(t, lw(t, db, "", "prune", "-o", "json")); strings.Contains(r.out, `"kept"`) {
		t.Error("prune -o json without --show-kept lists kept revisions")
	}

	r = ok(t, lw(t, db, "", "describe", "is", "team-a/api"))
	for _, want := range []string{
		"Retention Rules:\t",
		"\t1. ^latest$ keep 1 younger-than 0s\n",
		word("image:a5") + "\t1.0 MiB\n        kept: current\n",
		word("image:a1") + "\t1.0 MiB\n        prunable: rule 1: not among the newest 1 and not younger than 0s\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("describe is lacks %q:\n%s", want, r.out)
		}
	}

	// From a file on standard input; "none" removes them.
	ok(t, lw(t, db, "# PRs\n^pr-\\d+$ keep 1\n", "namespace", "set", "team-a", "--rules-file", "-"))
	if r := ok(t, lw(t, db, "", "namespace", "set", "team-a", "--rules", "none")); strings.Contains(r.out, "retention rule") {
		t.Errorf("rules left after --rules none:\n%s", r.out)
	}
}
