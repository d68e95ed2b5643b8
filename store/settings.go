package store

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"layerwise/format"
)

// The settings of a namespace as people type them — in the settings form,
// the API and `namespace set` alike. Each rule is here once: how a list
// splits, what "default" means, and the bounds.

// Bounds of the settings people type.
const (
	MaxKeepTagRevisions = 1000
	// MaxKeepYoungerThan is ten years: anything longer is a typo.
	MaxKeepYoungerThan = 10 * 365 * 24 * time.Hour
	// MaxThreshold is 1 EiB, far beyond any registry.
	MaxThreshold = int64(1) << 60
)

// isDefault says whether a typed value asks for the platform's default.
func isDefault(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default", "none":
		return true
	}
	return false
}

// SplitList reads contacts or ladder rungs separated by commas,
// semicolons, white space or arrows ("latest → test → prod"), dropping
// blanks. No e-mail address or tag name holds any of these.
func SplitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '→' || unicode.IsSpace(r) }) {
		out = append(out, f)
	}
	return out
}

// ParseLadder reads a promotion ladder; "", "default" or "none" clear it
// (the namespace follows DefaultLadder). Its rungs are checked by
// SetNamespace.
func ParseLadder(s string) []string {
	if isDefault(s) {
		return []string{}
	}
	return SplitList(s)
}

// ParseThreshold reads a usage threshold in IEC units ("50GiB", "2 GiB",
// "1073741824"); "", "default" or "none" clear the override (-1).
func ParseThreshold(s string) (int64, error) {
	if isDefault(s) {
		return -1, nil
	}
	n, err := format.ParseSize(strings.TrimSpace(s))
	if err != nil {
		return 0, invalidf("threshold %q: %v", s, err)
	}
	if n <= 0 || n > MaxThreshold {
		return 0, invalidf("threshold %q: want more than 0 B and at most 1 EiB", s)
	}
	return n, nil
}

// ParseKeepTagRevisions reads how many revisions prune keeps per tag,
// 0..MaxKeepTagRevisions; "" or "default" clear the override (-1).
func ParseKeepTagRevisions(s string) (int, error) {
	if isDefault(s) {
		return -1, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > MaxKeepTagRevisions {
		return 0, invalidf("revisions kept per tag: %q is not a whole number from 0 to %d (default means the platform's policy)", s, MaxKeepTagRevisions)
	}
	return n, nil
}

// ParseKeepYoungerThan reads the age under which prune keeps every
// revision: a Go duration (96h, 90m) or whole days (14d); "" or "default"
// clear the override (-1).
func ParseKeepYoungerThan(s string) (time.Duration, error) {
	if isDefault(s) {
		return -1, nil
	}
	d, ok := parseDuration(s)
	if !ok || d < 0 || d > MaxKeepYoungerThan {
		return 0, invalidf("keep revisions younger than: %q is not a duration such as 96h or 14d (at most 10 years; default means the platform's policy)", s)
	}
	return d, nil
}

// parseDuration reads a Go duration (96h, 90m) or whole days (14d).
func parseDuration(s string) (time.Duration, bool) {
	t := strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100000 || n < -100000 { // beyond, the nanoseconds overflow
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(t)
	return d, err == nil
}

// ParseRetentionRules reads a namespace's retention rules as people type
// them in the settings form, `namespace set --rules` and the API's text:
// one rule per line (or separated by ";"), "#" starts a comment, and
// "", "default" or "none" mean no rules. A rule is an optional tag pattern
// (RE2, matching the whole tag name; none: every tag) followed by
//
//	never                          keep every revision
//	pulled-within D                keep revisions pulled within D
//	keep N  and/or  younger-than D keep the newest N and those younger than D
//
// for example "^v\d+\.\d+\.\d+$ never" or "^pr-\d+$ keep 1 younger-than 24h".
func ParseRetentionRules(text string) ([]RetentionRule, error) {
	rules := []RetentionRule{}
	if isDefault(text) {
		return rules, nil
	}
	n := 0
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ';' }) {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		n++
		r, err := parseRule(words)
		if err != nil {
			return nil, invalidf("rule %d (%s): %v", n, strings.Join(words, " "), err)
		}
		rules = append(rules, r)
	}
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// ruleWords are the words a rule is made of after its pattern.
var ruleWords = map[string]bool{"never": true, "pulled-within": true, "keep": true, "younger-than": true}

func parseRule(words []string) (RetentionRule, error) {
	var r RetentionRule
	if !ruleWords[words[0]] {
		r.Tags, words = words[0], words[1:]
	}
	if len(words) == 0 {
		return r, invalidf("after the tag pattern, say what the rule keeps: never, pulled-within D, or keep N and/or younger-than D")
	}
	seen := map[string]bool{}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !ruleWords[w] {
			return r, invalidf("%q is not one of never, pulled-within D, keep N, younger-than D (a tag pattern comes first and holds no spaces)", w)
		}
		if seen[w] {
			return r, invalidf("%q is given twice", w)
		}
		seen[w] = true
		if w == "never" {
			r.Never = true
			continue
		}
		if i+1 >= len(words) {
			return r, invalidf("%q needs a value, e.g. %s", w, map[string]string{"keep": "keep 1", "younger-than": "younger-than 24h", "pulled-within": "pulled-within 30d"}[w])
		}
		i++
		v := words[i]
		switch w {
		case "keep":
			k, err := strconv.Atoi(v)
			if err != nil {
				return r, invalidf("keep %q: want a whole number of revisions from 0 to %d", v, MaxKeepTagRevisions)
			}
			r.KeepTagRevisions = &k
		default:
			d, ok := parseDuration(v)
			if !ok {
				return r, invalidf("%s %q: want a duration such as 96h or 14d", w, v)
			}
			if w == "younger-than" {
				r.KeepYoungerThan = &d
			} else {
				r.PulledWithin = &d
			}
		}
	}
	return r, nil
}

// RulesText writes rules back in the form ParseRetentionRules reads, one per line.
func RulesText(rules []RetentionRule) string {
	lines := make([]string, len(rules))
	for i, r := range rules {
		lines[i] = r.String()
	}
	return strings.Join(lines, "\n")
}

// ParsePolicy reads the platform's prune policy (LAYERWISE_KEEP_TAG_REVISIONS,
// LAYERWISE_KEEP_YOUNGER_THAN); empty values take DefaultPolicy's.
func ParsePolicy(keep, younger string) (Policy, error) {
	p := DefaultPolicy
	if strings.TrimSpace(keep) != "" {
		n, err := ParseKeepTagRevisions(keep)
		if err != nil {
			return p, err
		}
		if n >= 0 {
			p.KeepTagRevisions = n
		}
	}
	if strings.TrimSpace(younger) != "" {
		d, err := ParseKeepYoungerThan(younger)
		if err != nil {
			return p, err
		}
		if d >= 0 {
			p.KeepYoungerThan = d
		}
	}
	return p, nil
}

// SettingsInput is a namespace's settings as typed, each field nil when not
// given (the CLI's flags) — the form gives them all.
type SettingsInput struct {
	Contacts, Threshold, Ladder, KeepTagRevisions, KeepYoungerThan *string
}

// Parse turns typed settings into NamespaceSettings; a refusal names the
// field it is about (contacts, threshold, ladder, keep, younger).
func (in SettingsInput) Parse() (set NamespaceSettings, field string, err error) {
	if in.Contacts != nil {
		set.Contacts = SplitList(*in.Contacts)
	}
	if in.Threshold != nil {
		n, err := ParseThreshold(*in.Threshold)
		if err != nil {
			return set, "threshold", err
		}
		set.ThresholdBytes = &n
	}
	if in.Ladder != nil {
		set.Ladder = ParseLadder(*in.Ladder)
	}
	if in.KeepTagRevisions != nil {
		n, err := ParseKeepTagRevisions(*in.KeepTagRevisions)
		if err != nil {
			return set, "keep", err
		}
		set.PruneKeepTagRevisions = &n
	}
	if in.KeepYoungerThan != nil {
		d, err := ParseKeepYoungerThan(*in.KeepYoungerThan)
		if err != nil {
			return set, "younger", err
		}
		set.PruneKeepYoungerThan = &d
	}
	return set, "", nil
}

// Threshold is the namespace's usage threshold: its own, or def (the
// platform's LAYERWISE_REPORT_THRESHOLD).
func (n Namespace) Threshold(def int64) int64 {
	if n.ThresholdBytes != nil {
		return *n.ThresholdBytes
	}
	return def
}

// NextRung is the tag after from on a ladder; ok is false at the top or off it.
func NextRung(ladder []string, from string) (string, bool) {
	for i, rung := range ladder {
		if rung == from && i+1 < len(ladder) {
			return ladder[i+1], true
		}
	}
	return "", false
}

// RulesSummary writes rules on one line, numbered, for the audit log:
// "1. ^v.* never; 2. keep 1", or "none".
func RulesSummary(rules []RetentionRule) string {
	if len(rules) == 0 {
		return "none"
	}
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = strconv.Itoa(i+1) + ". " + r.String()
	}
	return strings.Join(parts, "; ")
}
