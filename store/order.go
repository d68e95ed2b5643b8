package store

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var versionRe = regexp.MustCompile(`^v?(\d+(?:\.\d+)*)(?:-[\w.]+)?$`)

// OrderTags sorts tags the way oc describe shows them: "latest" first, then
// version-like tags newest first ("3.11" before "3.9", "v2" before "v1.4"),
// then the rest alphabetically.
func OrderTags[T any](tags []T, name func(T) string) {
	type key struct {
		rank    int
		version []int
		name    string
	}
	keys := make(map[string]key, len(tags))
	for _, t := range tags {
		n := name(t)
		k := key{rank: 2, name: n}
		if n == "latest" {
			k.rank = 0
		} else if m := versionRe.FindStringSubmatch(n); m != nil {
			k.rank = 1
			for _, p := range strings.Split(m[1], ".") {
				v, _ := strconv.Atoi(p)
				k.version = append(k.version, v)
			}
		}
		keys[n] = k
	}
	sort.SliceStable(tags, func(i, j int) bool {
		a, b := keys[name(tags[i])], keys[name(tags[j])]
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if a.rank == 1 {
			for k := 0; k < len(a.version) && k < len(b.version); k++ {
				if a.version[k] != b.version[k] {
					return a.version[k] > b.version[k]
				}
			}
			if len(a.version) != len(b.version) {
				return len(a.version) < len(b.version)
			}
		}
		return a.name < b.name
	})
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
		switch {
		case aok && bok:
			return a < b
		default:
			return aok && !bok
		}
	})
}
