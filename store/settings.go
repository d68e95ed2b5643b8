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
	t := strings.TrimSpace(s)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(t, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else {
		d, err = time.ParseDuration(t)
	}
	if err != nil || d < 0 || d > MaxKeepYoungerThan {
		return 0, invalidf("keep revisions younger than: %q is not a duration such as 96h or 14d (at most 10 years; default means the platform's policy)", s)
	}
	return d, nil
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
