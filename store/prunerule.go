package store

import (
	"time"
)

// Pruning. One definition of "prunable" serves usage (reclaimable bytes,
// the prunable marks) and the plan that prune applies: graph.keep below.
//
//   - Per tag: the current entry, the newest KeepTagRevisions entries, every
//     entry younger than KeepYoungerThan and every entry whose image is
//     pinned in that namespace stay; the rest of the history goes.
//   - Images: an image stays while a remaining entry references it (or a
//     remaining manifest list lists it), while it is pinned anywhere, or,
//     when no entry references it at all, while it is younger than the
//     threshold. The others go.
//   - Blobs: a blob stays while a remaining image lists it.
//
// A namespace may override the policy (its admins set it); the global
// policy is the default and decides about images no entry references.

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

// prunable applies the policy to one history entry of namespace n: never
// the current one, never one of the newest KeepTagRevisions, never one
// younger than the cutoff, never one whose image n pinned.
func (g *graph) prunable(n *gNamespace, ev gEvent, p Policy, cutoff int64) bool {
	return entryPrunable(int(ev.position), ev.created, p.KeepTagRevisions, cutoff, ev.image != 0 && g.pinnedIn(n.id, ev.image))
}

// entryPrunable is the rule on one entry; apply re-checks with it. An
// entry created exactly at the cutoff is not younger than the policy's age,
// so it goes (oc adm prune keeps what was created after the cutoff).
func entryPrunable(position int, created int64, keep int, cutoff int64, pinned bool) bool {
	if position == 0 || position < keep || pinned {
		return false
	}
	return created <= cutoff
}

// keep decides which images and blobs survive the policy; cutoffs are the
// per-namespace cutoffs (unix seconds), in g.namespaces order.
func (g *graph) keep(def Policy, now time.Time) (keptImage, keptBlob []bool, cutoffs []int64) {
	keptImage = make([]bool, len(g.blobStart))
	referenced := make([]bool, len(g.blobStart))
	mark := func(set []bool, img int64) {
		if img <= 0 || int(img) >= len(set) {
			return
		}
		set[img] = true
		for _, c := range g.children[img] {
			set[c] = true
		}
	}
	cutoffs = make([]int64, len(g.namespaces))
	for ni, n := range g.namespaces {
		p := g.policyOf(n, def)
		cutoff := now.Add(-p.KeepYoungerThan).Unix()
		cutoffs[ni] = cutoff
		for _, st := range n.streams {
			for _, t := range st.tags {
				for _, ev := range t.events {
					if ev.image == 0 {
						continue
					}
					mark(referenced, ev.image)
					if !g.prunable(n, ev, p, cutoff) {
						mark(keptImage, ev.image)
					}
				}
			}
		}
	}
	cutoff := now.Add(-def.KeepYoungerThan).Unix()
	for img := range keptImage {
		// Images no history references stay while younger than the threshold.
		if !referenced[img] && g.digest[img] != "" && g.imgCreated[img] > cutoff {
			mark(keptImage, int64(img))
		}
	}
	for img := range g.pinned {
		mark(keptImage, img)
	}
	keptBlob = make([]bool, len(g.blobSize))
	for img, ok := range keptImage {
		if ok {
			for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
				keptBlob[b] = true
			}
		}
	}
	return keptImage, keptBlob, cutoffs
}

// PrunePolicy is the namespace's effective policy given the global one.
func (n Namespace) PrunePolicy(def Policy) Policy {
	return def.overriddenBy(n.PruneKeepTagRevisions, n.PruneKeepYoungerThan)
}
