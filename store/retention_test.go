package store

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The retention rule as a pure function: rule order, patterns, pull
// windows, the reasons and the date an entry becomes prunable.
func TestRetentionDecides(t *testing.T) {
	t.Parallel()
	const now = int64(1_800_000_000)
	h := int64(3600)
	day := 24 * h
	rules := func(text string) ruleSet {
		t.Helper()
		rr, err := ParseRetentionRules(text)
		if err != nil {
			t.Fatalf("rules %q: %v", text, err)
		}
		rs, err := compileRules(rr)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	type entry struct {
		tag      string
		position int
		age      int64 // seconds before now
		pulled   int64 // seconds before now the image was last pulled; -1: never
		pinned   bool
		inUse    bool
	}
	type want struct {
		reason     RetentionReason
		rule       int32
		prunableOn int64 // seconds after now; 0: none
		text       string
	}
	release := "^v\\d+\\.\\d+\\.\\d+$ never\n^pr-\\d+$ keep 1 younger-than 24h\npulled-within 30d\n^nightly-.* keep 7"
	tests := []struct {
		name  string
		rules string
		e     entry
		want  want
	}{
		// The platform default, no rules: the seeds' keep 3, younger than 96h.
		{"current is always kept", "", entry{"latest", 0, 1000 * day, -1, false, false}, want{ReasonCurrent, 0, 0, "current"}},
		{"among the newest 3", "", entry{"latest", 2, 1000 * day, -1, false, false}, want{ReasonNewest, 0, 0, "among the newest 3"}},
		{"younger than 96h, prunable when it is 96h old", "", entry{"latest", 3, 95 * h, -1, false, false},
			want{ReasonYounger, 0, h, "younger than 96h (until "}},
		{"exactly 96h old is not younger", "", entry{"latest", 3, 96 * h, -1, false, false},
			want{ReasonPrunable, 0, 0, "not among the newest 3 and not younger than 96h"}},
		{"pinned beats age", "", entry{"latest", 9, 1000 * day, -1, true, false}, want{ReasonPinned, 0, 0, "pinned"}},
		{"in use beats age", "", entry{"latest", 9, 1000 * day, -1, false, true}, want{ReasonInUse, 0, 0, "in use"}},
		{"current beats a rule that keeps nothing", "^x$ keep 0 younger-than 0", entry{"x", 0, 1000 * day, -1, false, false}, want{ReasonCurrent, 0, 0, "current"}},
		{"pinned beats a rule that keeps nothing", "keep 0 younger-than 0", entry{"x", 1, day, -1, true, false}, want{ReasonPinned, 0, 0, "pinned"}},

		// Tag patterns match the whole tag name.
		{"release tag: never pruned", release, entry{"v1.2.3", 40, 1000 * day, -1, false, false}, want{ReasonNever, 1, 0, "rule 1: never pruned"}},
		{"the pattern is anchored: v1.2.3-rc1 is not a release", release, entry{"v1.2.3-rc1", 40, 1000 * day, -1, false, false},
			want{ReasonPrunable, 0, 0, "not among the newest 3"}},
		{"an unanchored pattern still matches whole names", "pr-\\d+ keep 1 younger-than 0", entry{"xpr-12", 3, 1000 * day, -1, false, false},
			want{ReasonPrunable, 0, 0, "not among the newest 3"}},
		{"PR tag: only the newest 1", release, entry{"pr-12", 1, 30 * h, -1, false, false},
			want{ReasonPrunable, 2, 0, "rule 2: not among the newest 1 and not younger than 24h"}},
		{"PR tag: a young revision is kept for a day", release, entry{"pr-12", 1, 2 * h, -1, false, false},
			want{ReasonYounger, 2, 22 * h, "rule 2: younger than 24h"}},
		{"PR tag: a keep rule decides, the pull rule after it is not read", release, entry{"pr-12", 1, 30 * h, 60, false, false},
			want{ReasonPrunable, 2, 0, "rule 2"}},

		// Pull windows: a pulled-within rule keeps what was pulled, anything else falls through.
		{"pulled 10 days ago: kept until 30 days after that pull", release, entry{"latest", 5, 1000 * day, 10 * day, false, false},
			want{ReasonPulled, 3, 20 * day, "rule 3: pulled within 30d (last "}},
		{"pulled exactly 30 days ago is not within 30 days", release, entry{"latest", 5, 1000 * day, 30 * day, false, false},
			want{ReasonPrunable, 0, 0, "not among the newest 3"}},
		{"never pulled: the next rule decides (nightly keeps 7)", release, entry{"nightly-2030-01-01", 5, 1000 * day, -1, false, false},
			want{ReasonNewest, 4, 0, "rule 4: among the newest 7"}},
		{"not pulled recently: the default decides", release, entry{"latest", 5, 1000 * day, 40 * day, false, false},
			want{ReasonPrunable, 0, 0, "not among the newest 3 and not younger than 96h"}},
		{"pulled, and younger by the default: prunable when both have ended", "pulled-within 1d", entry{"latest", 5, 2 * day, 20 * h, false, false},
			want{ReasonPulled, 1, 2 * day, "rule 1: pulled within 24h"}},
		{"pulled window ends first, then the age keeps it", "pulled-within 1d", entry{"latest", 5, h, 20 * h, false, false},
			want{ReasonPulled, 1, 95 * h, "rule 1"}},
		{"a pull within a window that keeps it past a later rule's date", "pulled-within 30d\nkeep 1 younger-than 1h",
			entry{"latest", 5, 10 * h, 10 * day, false, false}, want{ReasonPulled, 1, 20 * day, "rule 1"}},

		// Rule order: the first rule that decides wins.
		{"first matching keep rule wins over a later never", "^app-.* keep 1 younger-than 0\n^app-prod$ never",
			entry{"app-prod", 3, 1000 * day, -1, false, false}, want{ReasonPrunable, 1, 0, "rule 1"}},
		{"a never rule first wins over a later keep rule", "^app-prod$ never\n^app-.* keep 1 younger-than 0",
			entry{"app-prod", 3, 1000 * day, -1, false, false}, want{ReasonNever, 1, 0, "rule 1: never pruned"}},
		{"a rule that does not match is skipped", "^other$ never\nkeep 5",
			entry{"app", 4, 1000 * day, -1, false, false}, want{ReasonNewest, 2, 0, "rule 2: among the newest 5"}},
		{"keep N only: younger-than is the namespace's policy", "keep 1", entry{"app", 2, 10 * h, -1, false, false},
			want{ReasonYounger, 1, 86 * h, "rule 1: younger than 96h"}},
		{"younger-than only: keep N is the namespace's policy", "younger-than 1h", entry{"app", 2, 10 * h, -1, false, false},
			want{ReasonNewest, 1, 0, "rule 1: among the newest 3"}},
		{"younger-than only, outside the newest", "younger-than 1h", entry{"app", 3, 10 * h, -1, false, false},
			want{ReasonPrunable, 1, 0, "rule 1: not among the newest 3 and not younger than 1h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := rules(tt.rules)
			e := entryFacts{position: tt.e.position, created: now - tt.e.age, match: rs.match(tt.e.tag), pinned: tt.e.pinned, inUse: tt.e.inUse}
			if tt.e.pulled >= 0 {
				e.pulled = now - tt.e.pulled
			}
			got := rs.retain(e, DefaultPolicy, now)
			if got.Reason != tt.want.reason || got.Rule != tt.want.rule {
				t.Fatalf("reason %s (rule %d), %q; want %s (rule %d)", got.Reason, got.Rule, got.Text(), tt.want.reason, tt.want.rule)
			}
			wantOn := int64(0)
			if tt.want.prunableOn != 0 {
				wantOn = now + tt.want.prunableOn
			}
			if got.PrunableOn != wantOn {
				t.Errorf("prunable on %v, want %v", got.PrunableAt(), unixTime(wantOn))
			}
			if !strings.HasPrefix(got.Text(), tt.want.text) {
				t.Errorf("text %q, want it to start with %q", got.Text(), tt.want.text)
			}
			// decide is retain without the date; both agree on the answer,
			// and the entry is prunable at its date and kept just before.
			if d := rs.decide(e, DefaultPolicy, now); d.Reason != got.Reason || d.Rule != got.Rule {
				t.Errorf("decide says %s, retain %s", d.Reason, got.Reason)
			}
			if on := got.PrunableOn; on != 0 {
				if rs.decide(e, DefaultPolicy, on).Kept() || !rs.decide(e, DefaultPolicy, on-1).Kept() {
					t.Errorf("not prunable exactly from %v", got.PrunableAt())
				}
			}
		})
	}
}

func TestParseRetentionRules(t *testing.T) {
	t.Parallel()
	intp := func(n int) *int { return &n }
	dur := func(d time.Duration) *time.Duration { return &d }
	got, err := ParseRetentionRules("# releases stay\n^v\\d+\\.\\d+\\.\\d+$   never\n\n^pr-\\d+$ keep 1 younger-than 24h; pulled-within 30d # every tag\n^nightly-.* younger-than 14d keep 7")
	if err != nil {
		t.Fatal(err)
	}
	want := []RetentionRule{
		{Tags: `^v\d+\.\d+\.\d+$`, Never: true},
		{Tags: `^pr-\d+$`, KeepTagRevisions: intp(1), KeepYoungerThan: dur(24 * time.Hour)},
		{PulledWithin: dur(30 * 24 * time.Hour)},
		{Tags: `^nightly-.*`, KeepTagRevisions: intp(7), KeepYoungerThan: dur(14 * 24 * time.Hour)},
	}
	if RulesText(got) != RulesText(want) || len(got) != len(want) {
		t.Fatalf("got\n%s\nwant\n%s", RulesText(got), RulesText(want))
	}
	// The text form reads back the same; so does the API's JSON.
	again, err := ParseRetentionRules(RulesText(got))
	if err != nil || RulesText(again) != RulesText(got) {
		t.Errorf("text round trip: %v\n%s", err, RulesText(again))
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back []RetentionRule
	if err := json.Unmarshal(b, &back); err != nil || RulesText(back) != RulesText(got) {
		t.Errorf("JSON round trip: %v\n%s\n%s", err, b, RulesText(back))
	}
	for _, empty := range []string{"", "none", "default", " \n# nothing\n"} {
		if r, err := ParseRetentionRules(empty); err != nil || len(r) != 0 {
			t.Errorf("%q: %v, %v; want no rules", empty, r, err)
		}
	}
}

func TestRetentionRulesRefused(t *testing.T) {
	t.Parallel()
	for text, says := range map[string]string{
		"^v(\\d+$ never":                    "is not a valid RE2 regular expression (missing closing )",
		"^(?P<x>a)\\1$ never":               "not a valid RE2", // back-references are not RE2
		"^pr-\\d+$":                         "say what the rule keeps",
		"^pr-\\d+$ keep":                    `"keep" needs a value`,
		"^pr-\\d+$ keep one":                `keep "one": want a whole number`,
		"^pr-\\d+$ keep 1001":               "from 0 to 1000",
		"^pr-\\d+$ keep -1":                 "from 0 to 1000",
		"^pr-\\d+$ younger-than soon":       `younger-than "soon": want a duration`,
		"pulled-within 0s":                  "pulled-within 0s: want a duration from 1s",
		"never keep 3":                      "write two rules instead",
		"^a$ never never":                   "given twice",
		"^a$ nevr":                          `"nevr" is not one of`,
		"^a$ ^b$ never":                     `"^b$" is not one of`,
		"younger-than 100000h":              "from 0 to 10 years",
		strings.Repeat("a", 300) + " never": "longer than 256",
	} {
		_, err := ParseRetentionRules("keep 3\n" + text)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), says) || !strings.Contains(err.Error(), "rule 2") {
			t.Errorf("%q: %v; want an invalid error about rule 2 saying %q", text, err, says)
		}
	}
	if _, err := ParseRetentionRules(strings.Repeat("never\n", MaxRetentionRules+1)); err == nil || !strings.Contains(err.Error(), "at most 50") {
		t.Errorf("51 rules: %v", err)
	}
	var r RetentionRule
	if err := json.Unmarshal([]byte(`{"tags": "^a$", "pulledWithin": "a while"}`), &r); err == nil || !strings.Contains(err.Error(), "pulledWithin") {
		t.Errorf("JSON with a bad duration: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"tags": "^a$", "keep": 3}`), &r); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("JSON with an unknown field: %v", err)
	}
}
