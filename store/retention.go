package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"time"
)

// Retention: why a history entry is kept, and when that ends. One rule,
// written here once in prose and once as a pure function (ruleSet.decide):
//
//  1. The current entry, an image the namespace pinned and an image in
//     use are always kept.
//  2. Then the namespace's rules, in order. A rule applies to the tags
//     whose whole name its pattern matches ("" matches every tag):
//     - never: every entry is kept;
//     - pulled-within D: an entry whose image was pulled from the stream
//     less than D ago is kept; any other entry goes on to the next rule;
//     - keep N / younger-than D: the newest N entries and those younger
//     than D are kept, the others are prunable (a part left out is the
//     namespace's policy). This decides: later rules are not read.
//  3. No rule decided: the namespace's policy (its own, or the platform's
//     keep-tag-revisions and keep-younger-than) keeps the newest N
//     entries and those younger than D; the others are prunable.
//
// Ages are strict: an entry exactly D old is not younger than D, and a
// pull exactly D ago is not within D. Time alone changes only the "younger
// than" and "pulled within" answers, so an entry kept for one of them
// becomes prunable at the first of those instants at which the rule no
// longer keeps it (PrunableOn); one kept for any other reason stays until
// the history or the rules change.

// MaxRetentionRules bounds a namespace's rules (they are matched as a
// bit mask per tag).
const MaxRetentionRules = 50

// MaxRulePattern bounds a tag pattern's length.
const MaxRulePattern = 256

// RetentionRule is one of a namespace's retention rules as people set it:
// the tags it applies to and exactly one of Never, PulledWithin, or a keep
// part (KeepTagRevisions and/or KeepYoungerThan; nil: the namespace's
// policy).
type RetentionRule struct {
	// Tags is an RE2 pattern the whole tag name must match; "" = every tag.
	Tags             string
	Never            bool
	PulledWithin     *time.Duration
	KeepTagRevisions *int
	KeepYoungerThan  *time.Duration
}

// retentionRuleRow is how a rule is kept: Position orders a namespace's
// rules from 0; durations are seconds.
type retentionRuleRow struct {
	ID               int64  `gorm:"primaryKey"`
	NamespaceID      int64  `gorm:"not null;uniqueIndex:ux_retention_rules_ns_pos,priority:1"`
	Position         int    `gorm:"not null;uniqueIndex:ux_retention_rules_ns_pos,priority:2"`
	Tags             string `gorm:"not null;default:''"`
	Never            bool   `gorm:"not null;default:false"`
	PulledWithin     *int64
	KeepTagRevisions *int
	KeepYoungerThan  *int64

	Namespace *Namespace `gorm:"constraint:OnDelete:CASCADE"`
}

func (retentionRuleRow) TableName() string { return "retention_rules" }

func (r RetentionRule) row(nsID int64, pos int) retentionRuleRow {
	out := retentionRuleRow{NamespaceID: nsID, Position: pos, Tags: r.Tags, Never: r.Never, KeepTagRevisions: r.KeepTagRevisions}
	secs := func(d *time.Duration) *int64 {
		if d == nil {
			return nil
		}
		n := int64(d.Seconds())
		return &n
	}
	out.PulledWithin, out.KeepYoungerThan = secs(r.PulledWithin), secs(r.KeepYoungerThan)
	return out
}

func (row retentionRuleRow) rule() RetentionRule {
	dur := func(n *int64) *time.Duration {
		if n == nil {
			return nil
		}
		d := time.Duration(*n) * time.Second
		return &d
	}
	return RetentionRule{Tags: row.Tags, Never: row.Never, PulledWithin: dur(row.PulledWithin),
		KeepTagRevisions: row.KeepTagRevisions, KeepYoungerThan: dur(row.KeepYoungerThan)}
}

// pattern compiles a rule's tag pattern to match whole tag names.
func (r RetentionRule) pattern() (*regexp.Regexp, error) {
	if r.Tags == "" {
		return nil, nil
	}
	return regexp.Compile(`^(?:` + r.Tags + `)$`)
}

// Validate checks one rule; the error says what to write instead.
func (r RetentionRule) Validate() error {
	if len(r.Tags) > MaxRulePattern {
		return invalidf("the tag pattern is longer than %d characters", MaxRulePattern)
	}
	if strings.ContainsAny(r.Tags, " \t\r\n;") {
		// Tag names hold none of these; the text form splits on them.
		return invalidf("the tag pattern %q holds white space or ';', which no tag name has (write \\s or [;] if you mean them)", r.Tags)
	}
	if _, err := r.pattern(); err != nil {
		msg := err.Error()
		var se *syntax.Error
		if _, err := regexp.Compile(r.Tags); errors.As(err, &se) {
			msg = se.Code.String() // the error of the pattern as typed, not as wrapped
		}
		return invalidf("the tag pattern %q is not a valid RE2 regular expression (%s); for example ^v\\d+\\.\\d+\\.\\d+$ or ^pr-\\d+$", r.Tags, msg)
	}
	keep := r.KeepTagRevisions != nil || r.KeepYoungerThan != nil
	kinds := 0
	for _, on := range []bool{r.Never, r.PulledWithin != nil, keep} {
		if on {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		return invalidf("say what the rule keeps: never, pulled-within D, or keep N and/or younger-than D")
	case kinds > 1:
		return invalidf("a rule is one of never, pulled-within D, or keep N / younger-than D; write two rules instead")
	}
	if k := r.KeepTagRevisions; k != nil && (*k < 0 || *k > MaxKeepTagRevisions) {
		return invalidf("keep %d: revisions kept per tag must be from 0 to %d", *k, MaxKeepTagRevisions)
	}
	if d := r.KeepYoungerThan; d != nil && (*d < 0 || *d > MaxKeepYoungerThan) {
		return invalidf("younger-than %s: want a duration from 0 to 10 years, such as 96h or 14d", durationText(*d))
	}
	if d := r.PulledWithin; d != nil && (*d < time.Second || *d > MaxKeepYoungerThan) {
		return invalidf("pulled-within %s: want a duration from 1s to 10 years, such as 30d", durationText(*d))
	}
	return nil
}

// ValidateRules checks a namespace's whole list; an error names the rule.
func ValidateRules(rules []RetentionRule) error {
	if len(rules) > MaxRetentionRules {
		return invalidf("a namespace has at most %d retention rules, not %d", MaxRetentionRules, len(rules))
	}
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return invalidf("rule %d (%s): %v", i+1, r, err)
		}
	}
	return nil
}

// String writes a rule in the form ParseRetentionRules reads:
// "^pr-\d+$ keep 1 younger-than 24h", "never" (every tag).
func (r RetentionRule) String() string {
	var parts []string
	if r.Tags != "" {
		parts = append(parts, r.Tags)
	}
	if r.Never {
		parts = append(parts, "never")
	}
	if r.PulledWithin != nil {
		parts = append(parts, "pulled-within", durationText(*r.PulledWithin))
	}
	if r.KeepTagRevisions != nil {
		parts = append(parts, "keep", fmt.Sprint(*r.KeepTagRevisions))
	}
	if r.KeepYoungerThan != nil {
		parts = append(parts, "younger-than", durationText(*r.KeepYoungerThan))
	}
	return strings.Join(parts, " ")
}

// durationText writes a duration as people type it: 14d, 96h, 90m, 1h30m
// (whole weeks and more in days).
func durationText(d time.Duration) string {
	day := 24 * time.Hour
	if d >= 7*day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

// ruleJSON is a rule in the API: durations as text ("24h", "30d").
type ruleJSON struct {
	Tags             string  `json:"tags"`
	Never            bool    `json:"never,omitempty"`
	PulledWithin     *string `json:"pulledWithin,omitempty"`
	KeepTagRevisions *int    `json:"keepTagRevisions,omitempty"`
	KeepYoungerThan  *string `json:"keepYoungerThan,omitempty"`
}

// MarshalJSON writes the rule as the API shows it.
func (r RetentionRule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{Tags: r.Tags, Never: r.Never, KeepTagRevisions: r.KeepTagRevisions}
	text := func(d *time.Duration) *string {
		if d == nil {
			return nil
		}
		s := durationText(*d)
		return &s
	}
	j.PulledWithin, j.KeepYoungerThan = text(r.PulledWithin), text(r.KeepYoungerThan)
	return json.Marshal(j)
}

// UnmarshalJSON reads a rule from the API; Validate checks it.
func (r *RetentionRule) UnmarshalJSON(b []byte) error {
	var j ruleJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return invalidf("a retention rule is {\"tags\": \"^pr-\\\\d+$\", \"keepTagRevisions\": 1, \"keepYoungerThan\": \"24h\"}, {\"never\": true} or {\"pulledWithin\": \"30d\"}: %v", err)
	}
	out := RetentionRule{Tags: j.Tags, Never: j.Never, KeepTagRevisions: j.KeepTagRevisions}
	for _, f := range []struct {
		name string
		in   *string
		out  **time.Duration
	}{{"pulledWithin", j.PulledWithin, &out.PulledWithin}, {"keepYoungerThan", j.KeepYoungerThan, &out.KeepYoungerThan}} {
		if f.in == nil {
			continue
		}
		d, ok := parseDuration(*f.in)
		if !ok {
			return invalidf("%s %q is not a duration such as 96h or 14d", f.name, *f.in)
		}
		*f.out = &d
	}
	*r = out
	return nil
}

// compiledRule is a rule ready to evaluate; durations in seconds, -1: the
// namespace's policy.
type compiledRule struct {
	re           *regexp.Regexp // nil: every tag
	never        bool
	pulledWithin int64 // > 0 for a pulled-within rule
	keep         int
	younger      int64
}

// ruleSet is a namespace's rules in order, compiled.
type ruleSet []compiledRule

// compileRules readies validated rules.
func compileRules(rules []RetentionRule) (ruleSet, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	out := make(ruleSet, len(rules))
	for i, r := range rules {
		re, _ := r.pattern()
		c := compiledRule{re: re, never: r.Never, keep: -1, younger: -1}
		if r.PulledWithin != nil {
			c.pulledWithin = int64(r.PulledWithin.Seconds())
		}
		if r.KeepTagRevisions != nil {
			c.keep = *r.KeepTagRevisions
		}
		if r.KeepYoungerThan != nil {
			c.younger = int64(r.KeepYoungerThan.Seconds())
		}
		out[i] = c
	}
	return out, nil
}

// match is the set of rules that apply to a tag, one bit per rule.
func (rs ruleSet) match(tag string) uint64 {
	var m uint64
	for i, r := range rs {
		if r.re == nil || r.re.MatchString(tag) {
			m |= 1 << i
		}
	}
	return m
}

// usesPulls says whether some rule reads pull times.
func (rs ruleSet) usesPulls() bool {
	for _, r := range rs {
		if r.pulledWithin > 0 {
			return true
		}
	}
	return false
}

// RetentionReason says why an entry is kept, or that it is not.
type RetentionReason uint8

// The reasons, in the order the rule looks at them.
const (
	ReasonPrunable RetentionReason = iota // kept by nothing: prune removes it
	ReasonCurrent
	ReasonPinned
	ReasonInUse
	ReasonNever   // a rule keeps every revision of the tag
	ReasonPulled  // pulled within a rule's window
	ReasonNewest  // among the newest N
	ReasonYounger // younger than D
	// ReasonUnproven: a cluster's in-use read failed (or never succeeded),
	// so nothing is proven unused; decided right after ReasonInUse.
	ReasonUnproven
)

var reasonNames = [...]string{"prunable", "current", "pinned", "in-use", "never", "pulled", "newest", "younger", "in-use-unknown"}

func (r RetentionReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Retention is the computed answer for one history entry. Times are unix
// seconds (0: none); kept small, as a plan holds one per revision.
type Retention struct {
	Reason RetentionReason
	// Rule is the number (from 1) of the namespace rule that decided; 0:
	// the policy, or a reason that needs no rule.
	Rule int32
	// Keep and Age are the N and D of the deciding rule or policy: "among
	// the newest N", "younger than D", "pulled within D"; for a prunable
	// entry, the N and D it falls outside of.
	Keep int32
	Age  int64 // seconds
	// Until is when "younger than" or "pulled within" ends; Pulled the last pull.
	Until, Pulled int64
	// PrunableOn is when the entry becomes prunable if nothing but time
	// changes; 0: not by time alone (or it is prunable now).
	PrunableOn int64
}

// Kept says whether prune keeps the entry.
func (r Retention) Kept() bool { return r.Reason != ReasonPrunable }

// PrunableAt is PrunableOn as a time (zero: none).
func (r Retention) PrunableAt() time.Time { return unixTime(r.PrunableOn) }

func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// Text says it in words: "younger than 96h (until 2026-05-01 12:00 UTC)",
// "rule 2: never pruned", "not among the newest 3 and not younger than 96h".
func (r Retention) Text() string {
	age := durationText(time.Duration(r.Age) * time.Second)
	var s string
	switch r.Reason {
	case ReasonCurrent:
		s = "current"
	case ReasonPinned:
		s = "pinned"
	case ReasonInUse:
		s = "in use"
	case ReasonUnproven:
		s = "could be in use (the cluster's in-use read failed or has not run)"
	case ReasonNever:
		s = "never pruned"
	case ReasonPulled:
		s = fmt.Sprintf("pulled within %s (last %s)", age, stamp(r.Pulled))
	case ReasonNewest:
		s = fmt.Sprintf("among the newest %d", r.Keep)
	case ReasonYounger:
		s = fmt.Sprintf("younger than %s (until %s)", age, stamp(r.Until))
	default:
		s = fmt.Sprintf("not among the newest %d and not younger than %s", r.Keep, age)
	}
	if r.Rule > 0 {
		s = fmt.Sprintf("rule %d: %s", r.Rule, s)
	}
	return s
}

func stamp(unix int64) string { return unixTime(unix).Format("2006-01-02 15:04 UTC") }

// retentionJSON is a Retention as the API and `prune -o json` write it.
type retentionJSON struct {
	Reason     string     `json:"reason"`
	Rule       int32      `json:"rule,omitempty"`
	Detail     string     `json:"detail"`
	Until      *time.Time `json:"until,omitempty"`
	LastPulled *time.Time `json:"lastPulled,omitempty"`
	PrunableOn *time.Time `json:"prunableOn,omitempty"`
}

// MarshalJSON writes the reason, its words and the dates.
func (r Retention) MarshalJSON() ([]byte, error) {
	at := func(s int64) *time.Time {
		if s == 0 {
			return nil
		}
		t := unixTime(s)
		return &t
	}
	return json.Marshal(retentionJSON{Reason: r.Reason.String(), Rule: r.Rule, Detail: r.Text(),
		Until: at(r.Until), LastPulled: at(r.Pulled), PrunableOn: at(r.PrunableOn)})
}

// entryFacts is what the rule knows of one history entry.
type entryFacts struct {
	position int
	created  int64  // unix seconds
	match    uint64 // the rules that apply to its tag (ruleSet.match)
	pinned   bool   // its image is pinned in the namespace
	inUse    bool   // its image runs on the cluster
	unproven bool   // the cluster's in-use read failed: nothing is proven unused
	pulled   int64  // last pull of its image from the stream; 0: none recorded
}

// decide is the rule above at time now (unix seconds), without PrunableOn.
func (rs ruleSet) decide(e entryFacts, p Policy, now int64) Retention {
	switch {
	case e.position == 0:
		return Retention{Reason: ReasonCurrent}
	case e.pinned:
		return Retention{Reason: ReasonPinned}
	case e.inUse:
		return Retention{Reason: ReasonInUse}
	case e.unproven:
		return Retention{Reason: ReasonUnproven}
	}
	for i, r := range rs {
		if e.match&(1<<i) == 0 {
			continue
		}
		n := int32(i + 1)
		switch {
		case r.never:
			return Retention{Reason: ReasonNever, Rule: n}
		case r.pulledWithin > 0:
			if e.pulled != 0 && now < e.pulled+r.pulledWithin {
				return Retention{Reason: ReasonPulled, Rule: n, Age: r.pulledWithin, Pulled: e.pulled, Until: e.pulled + r.pulledWithin}
			}
		default:
			keep, younger := r.keep, r.younger
			if keep < 0 {
				keep = p.KeepTagRevisions
			}
			if younger < 0 {
				younger = int64(p.KeepYoungerThan.Seconds())
			}
			return byAge(e, keep, younger, now, n)
		}
	}
	return byAge(e, p.KeepTagRevisions, int64(p.KeepYoungerThan.Seconds()), now, 0)
}

func byAge(e entryFacts, keep int, younger, now int64, rule int32) Retention {
	r := Retention{Rule: rule, Keep: int32(keep), Age: younger}
	switch {
	case e.position < keep:
		r.Reason = ReasonNewest
	case now < e.created+younger:
		r.Reason, r.Until = ReasonYounger, e.created+younger
	default:
		r.Reason = ReasonPrunable
	}
	return r
}

// retain is decide with PrunableOn: the decision changes with time only
// where a "younger than" or "pulled within" answer ends, so the first of
// those instants after now at which decide says prunable is the date.
func (rs ruleSet) retain(e entryFacts, p Policy, now int64) Retention {
	r := rs.decide(e, p, now)
	if r.Reason != ReasonYounger && r.Reason != ReasonPulled {
		return r
	}
	var at [MaxRetentionRules + 1]int64
	n := 0
	add := func(t int64) {
		if t > now {
			at[n] = t
			n++
		}
	}
	for i, c := range rs {
		if e.match&(1<<i) == 0 {
			continue
		}
		if c.pulledWithin > 0 {
			if e.pulled != 0 {
				add(e.pulled + c.pulledWithin)
			}
			continue
		}
		if !c.never {
			younger := c.younger
			if younger < 0 {
				younger = int64(p.KeepYoungerThan.Seconds())
			}
			add(e.created + younger)
		}
		break // never and keep rules decide: later ones are not read
	}
	add(e.created + int64(p.KeepYoungerThan.Seconds()))
	times := at[:n]
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	for _, t := range times {
		if !rs.decide(e, p, t).Kept() {
			r.PrunableOn = t
			break
		}
	}
	return r
}
