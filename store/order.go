package store

import (
	"regexp"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
)

// OrderTags sorts tags the way oc shows them (library-go's
// imageutil.PrioritizeTags, which `oc describe is` uses): "latest" first,
// then minor versions ("5.1", "v5.1", "5.1-rc1") newest first, then full
// semantic versions ("5.1.3", "v5.1.3-other") newest first, then the rest
// alphabetically.
func OrderTags[T any](tags []T, name func(T) string) {
	keys := make(map[string]tagPriority, len(tags))
	for _, t := range tags {
		n := name(t)
		keys[n] = prioritizeTag(n)
	}
	sort.SliceStable(tags, func(i, j int) bool {
		return keys[name(tags[i])].before(keys[name(tags[j])])
	})
}

var (
	reMinorSemantic  = regexp.MustCompile(`^[\d]+\.[\d]+$`)
	reMinorWithPatch = regexp.MustCompile(`^([\d]+\.[\d]+)-\w+$`)
)

// The ranks of PrioritizeTags.
const (
	rankLatest = iota
	rankMinor
	rankFull
	rankOther
)

type tagPriority struct {
	tag    string
	rank   int
	semver semver.Version
	prefix string
}

func prioritizeTag(tag string) tagPriority {
	if tag == "latest" {
		return tagPriority{tag: tag, rank: rankLatest}
	}
	short, prefix := tag, ""
	if strings.HasPrefix(tag, "v") {
		prefix, short = "v", tag[1:]
	}
	if v, err := semver.Parse(short); err == nil { // 5.1.3
		return tagPriority{tag: tag, rank: rankFull, semver: v, prefix: prefix}
	}
	if reMinorSemantic.MatchString(short) { // 5.1
		if v, err := semver.Parse(short + ".0"); err == nil {
			return tagPriority{tag: tag, rank: rankMinor, semver: v, prefix: prefix}
		}
	}
	if m := reMinorWithPatch.FindStringSubmatch(short); m != nil { // 5.1-rc1
		if v, err := semver.Parse(strings.Replace(short, m[1], m[1]+".0", 1)); err == nil {
			return tagPriority{tag: tag, rank: rankMinor, semver: v, prefix: prefix}
		}
	}
	return tagPriority{tag: tag, rank: rankOther, prefix: prefix}
}

func (a tagPriority) before(b tagPriority) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	if a.rank == rankOther {
		return a.tag < b.tag
	}
	if c := a.semver.Compare(b.semver); c != 0 {
		return c > 0 // newer first
	}
	return a.prefix < b.prefix
}

// OrderTagsByLadder puts the rungs of a promotion ladder first, in the
// ladder's order (latest, test, prod: where an image goes next), then the
// other tags in OrderTags' order.
func OrderTagsByLadder[T any](tags []T, name func(T) string, ladder []string) {
	OrderTags(tags, name)
	rung := make(map[string]int, len(ladder))
	for i, r := range ladder {
		if _, dup := rung[r]; !dup {
			rung[r] = i
		}
	}
	sort.SliceStable(tags, func(i, j int) bool {
		a, aok := rung[name(tags[i])]
		b, bok := rung[name(tags[j])]
		if aok && bok {
			return a < b
		}
		return aok && !bok
	})
}
