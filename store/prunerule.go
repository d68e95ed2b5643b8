package store

import (
	"time"
)

// Pruning. One definition of "prunable" serves usage (reclaimable bytes,
// the prunable marks) and the plan that prune applies: graph.keep below.
//
//   - Per tag: each history entry is kept or not by the retention rule
//     (retention.go: the current entry, pins, images in use, the
//     namespace's rules in order, then its policy — the newest
//     KeepTagRevisions entries and every entry younger than
//     KeepYoungerThan); the rest of the history goes.
//   - Images: an image stays while a remaining entry references it (or a
//     remaining manifest list lists it), while it is pinned anywhere or in
//     use on a cluster (a list with its platform images), or,
//     when no entry references it at all, while it is younger than the
//     threshold. The others go.
//   - Referrers (signatures, SBOMs, attestations: referrers.go) stay
//     exactly while their subject stays, whatever their own age; the
//     referrers of a subject that goes (or went) go with it.
//   - Blobs: a blob stays while a remaining image lists it.
//
// While a configured cluster's in-use read failed last (or never
// succeeded), nothing is proven unused: every revision and image stays
// (graph.hold, ReasonUnproven).
//
// A namespace may override the policy and add rules (its admins set them);
// the global policy is the default and decides about images no entry
// references.

// Policy is the prune policy that reclaimable bytes are computed with.
type Policy struct {
	KeepTagRevisions int
	KeepYoungerThan  time.Duration
}

// DefaultPolicy keeps 3 revisions per tag, and anything younger than 96h
// (docs/REFERENCE.md, LAYERWISE_KEEP_*).
var DefaultPolicy = Policy{KeepTagRevisions: 3, KeepYoungerThan: 96 * time.Hour}

// overriddenBy is p with a namespace's own settings (nil: not set, p's
// stays) in its place: the namespace's effective policy.
func (p Policy) overriddenBy(keepTagRevisions *int, keepYoungerThanSeconds *int64) Policy {
	if keepTagRevisions != nil {
		p.KeepTagRevisions = *keepTagRevisions
	}
	if keepYoungerThanSeconds != nil {
		p.KeepYoungerThan = time.Duration(*keepYoungerThanSeconds) * time.Second
	}
	return p
}

// policyOf is a namespace's effective policy.
func (g *graph) policyOf(n *gNamespace, def Policy) Policy {
	return def.overriddenBy(n.keepTagRevisions, n.keepYoungerThan)
}

func (g *graph) pinnedIn(ns, img int64) bool {
	for _, n := range g.pinned[img] {
		if n == ns {
			return true
		}
	}
	return false
}

// prunable applies the retention rule to one history entry of namespace n
// under its effective policy p at now (unix seconds).
func (g *graph) prunable(n *gNamespace, st *gStream, t *gTag, ev gEvent, p Policy, now int64) bool {
	return !n.rules.decide(g.facts(n, st, t, ev), p, now).Kept()
}

// keep decides which images and blobs survive the policy and the rules.
func (g *graph) keep(def Policy, now time.Time) (keptImage, keptBlob []bool) {
	keptImage, keptBlob, _ = g.keepReferenced(def, now)
	return keptImage, keptBlob
}

// keepReferenced is keep, and which images some history entry references
// (directly or as a platform of a list).
func (g *graph) keepReferenced(def Policy, now time.Time) (keptImage, keptBlob, referenced []bool) {
	keptImage = make([]bool, len(g.blobStart))
	referenced = make([]bool, len(g.blobStart))
	unix := now.Unix()
	for _, n := range g.namespaces {
		g.keepEntries(n, def, unix, keptImage, referenced, nil)
	}
	g.keepBeyondHistory(keptImage, referenced, now.Add(-def.KeepYoungerThan).Unix(), func(young func(img, created int64)) error {
		for img := range keptImage {
			if g.digest[img] != "" {
				young(int64(img), g.imgCreated[img])
			}
		}
		return nil
	})
	keptBlob = make([]bool, len(g.blobSize))
	for img, ok := range keptImage {
		if ok {
			for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
				keptBlob[b] = true
			}
		}
	}
	return keptImage, keptBlob, referenced
}

// mark sets img and its platform images in set.
func (g *graph) mark(set []bool, img int64) {
	if img <= 0 || int(img) >= len(set) {
		return
	}
	set[img] = true
	for _, c := range g.children[img] {
		if c > 0 && int(c) < len(set) {
			set[c] = true
		}
	}
}

// keepEntries applies the retention rule to every history entry of
// namespace n: the images of kept entries go in keptImage, every entry's
// in referenced; prunable, when not nil, is called with each entry the
// rule prunes. The first half of keep; a streamed plan calls it namespace
// by namespace.
func (g *graph) keepEntries(n *gNamespace, def Policy, now int64, keptImage, referenced []bool, prunable func(st *gStream, t *gTag, ev gEvent)) {
	p := g.policyOf(n, def)
	for _, st := range n.streams {
		for _, t := range st.tags {
			for _, ev := range t.events {
				kept := !g.prunable(n, st, t, ev, p, now)
				if !kept && prunable != nil {
					prunable(st, t, ev)
				}
				if ev.image == 0 {
					continue
				}
				g.mark(referenced, ev.image)
				if kept {
					g.mark(keptImage, ev.image)
				}
			}
		}
	}
}

// keepBeyondHistory is the second half of keep, once every entry was
// decided: images no entry references stay while younger than cutoff
// (eachImage yields every image with its creation time); pinned images
// and images in use stay; referrers stay with what they refer to; a hold
// keeps everything.
func (g *graph) keepBeyondHistory(keptImage, referenced []bool, cutoff int64, eachImage func(fn func(img, created int64)) error) error {
	err := eachImage(func(img, created int64) {
		// Not referrers: their subject decides for them.
		if img > 0 && int(img) < len(keptImage) && !referenced[img] && !g.isReferrer[img] && created > cutoff {
			g.mark(keptImage, img)
		}
	})
	if err != nil {
		return err
	}
	for img := range g.pinned {
		g.mark(keptImage, img)
	}
	for img := range g.inUse {
		g.mark(keptImage, img)
	}
	// Referrers stay with their subject (and a list's platforms' ones with
	// the platform), nested ones too.
	if len(g.referrers) > 0 {
		var todo []int64
		for img, ok := range keptImage {
			if ok && len(g.referrers[int64(img)]) > 0 {
				todo = append(todo, int64(img))
			}
		}
		for len(todo) > 0 {
			img := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			for _, r := range g.referrers[img] {
				if r <= 0 || int(r) >= len(keptImage) || keptImage[r] {
					continue
				}
				g.mark(keptImage, r)
				todo = append(todo, r)
				todo = append(todo, g.children[r]...)
			}
		}
	}
	if g.hold != nil {
		// Nothing is proven unused: every image stays.
		for img := range keptImage {
			keptImage[img] = true
		}
	}
	return nil
}

// PrunePolicy is the namespace's effective policy given the global one.
func (n Namespace) PrunePolicy(def Policy) Policy {
	return def.overriddenBy(n.PruneKeepTagRevisions, n.PruneKeepYoungerThan)
}

// facts is what the retention rule knows of entry ev of tag t.
func (g *graph) facts(n *gNamespace, st *gStream, t *gTag, ev gEvent) entryFacts {
	e := entryFacts{position: int(ev.position), created: ev.created, match: t.mask, unproven: g.hold != nil}
	if ev.image != 0 {
		e.pinned = g.pinnedIn(n.id, ev.image)
		e.inUse = len(g.inUse[ev.image]) > 0
		if n.usesPulls {
			e.pulled = g.lastPulled(st, ev.image)
		}
	}
	return e
}
