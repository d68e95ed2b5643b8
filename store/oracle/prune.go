package oracle

import (
	"regexp"
	"sort"
	"time"
)

// The prune rule, from README "Prune" and DESIGN.md "Pruning":
//
//  1. Per tag, an entry stays when it is the current one or its image is
//     pinned in the entry's namespace. Otherwise the namespace's retention
//     rules are read in order (README "Retention rules"), each applying to
//     the tags its pattern matches as a whole: "never" keeps the entry;
//     "pulled-within D" keeps it when its image — a manifest list: it or one
//     of its platform images — was pulled from the entry's stream strictly
//     after now - D, and otherwise goes on to the next rule; "keep N
//     younger-than D" decides: the entry stays when it is one of the newest
//     N or younger than D (a part left out is the namespace's policy). When
//     no rule decides, the namespace's policy does: one of the newest
//     KeepTagRevisions, or younger than KeepYoungerThan (created strictly
//     after now - KeepYoungerThan, as oc adm prune's Created.After). Every
//     other entry goes.
//  2. An image stays when a remaining entry names it, when it is pinned in
//     any namespace, when it is a child of a manifest list that stays, or
//     — only for an image no entry named before the prune, directly or as
//     a child — when it was recorded strictly after now minus the
//     platform's KeepYoungerThan. Every other image goes.
//     A referrer (an image with a subject) stays exactly when its subject
//     stays, whatever its own age (it is in the closure of its subject).
//  3. A blob goes when an image that goes lists it and no image that stays
//     does. Bytes freed are the sizes of those blobs, each once.

// Plan is what applying a policy removes.
type Plan struct {
	Policy     Policy
	Revisions  []PlannedRevision // namespace, stream, tag, position order
	Images     map[string]bool   // digests of the images that go
	Blobs      map[string]bool   // digests of the blobs that go
	BytesFreed int64
	Namespaces []PlanNamespace // those that lose revisions, by name
	// After is the registry once the plan is applied: histories without
	// the removed entries (renumbered), images and blobs without those
	// that go.
	After *Registry

	removes map[entryKey]bool
	o       *oracle
}

// PlannedRevision is one history entry the plan removes.
type PlannedRevision struct {
	Namespace, Stream, Tag string
	Position               int
	Image                  string
	Created                time.Time
}

// PlanNamespace sums the plan for one namespace.
type PlanNamespace struct {
	Name string
	// Policy is the namespace's effective policy; Override says whether it
	// set one of its own.
	Policy     Policy
	Override   bool
	Revisions  int
	BytesFreed int64 // the freed blobs its removed entries reference
	Streams    []PlanStream
}

// PlanStream sums the plan for one stream.
type PlanStream struct {
	Name       string
	Revisions  int
	BytesFreed int64
}

type entryKey struct {
	ns, stream, tag string
	pos             int
}

// PlanPrune computes the plan of r under the platform policy at now.
func PlanPrune(r *Registry, platform Policy, now time.Time) *Plan {
	return newOracle(r).plan(platform, now)
}

func (o *oracle) pinned(ns, image string) bool {
	for _, p := range o.r.Pins {
		if p.Namespace == ns && p.Image == image {
			return true
		}
	}
	return false
}

func younger(created time.Time, d time.Duration, now time.Time) bool {
	return created.After(now.Add(-d))
}

// keptByRules is rule 1 after the current entry and pins: the namespace's
// rules in order, then its policy pol.
func (o *oracle) keptByRules(rf ref, pol Policy, now time.Time) bool {
	var rules []Rule
	for _, n := range o.r.Namespaces {
		if n.Name == rf.ns {
			rules = n.Rules
		}
	}
	for _, r := range rules {
		if r.Tags != "" && !regexp.MustCompile(`^(?:`+r.Tags+`)$`).MatchString(rf.tag) {
			continue
		}
		switch {
		case r.Never:
			return true
		case r.PulledWithin != nil:
			if last := o.lastPulled(rf.ns, rf.stream, rf.Image); !last.IsZero() && last.After(now.Add(-*r.PulledWithin)) {
				return true
			}
		default:
			keep, age := pol.KeepTagRevisions, pol.KeepYoungerThan
			if r.Keep != nil {
				keep = *r.Keep
			}
			if r.Younger != nil {
				age = *r.Younger
			}
			return rf.pos < keep || younger(rf.Created, age, now)
		}
	}
	return rf.pos < pol.KeepTagRevisions || younger(rf.Created, pol.KeepYoungerThan, now)
}

// lastPulled is the newest pull of image, or of one of its platform
// images, from the stream; zero when none was recorded.
func (o *oracle) lastPulled(ns, stream, image string) time.Time {
	if image == "" {
		return time.Time{}
	}
	names := map[string]bool{image: true}
	for _, c := range o.images[image].Children {
		names[c] = true
	}
	var last time.Time
	for _, p := range o.r.Pulls {
		if p.Namespace == ns && p.Stream == stream && names[p.Image] && p.At.After(last) {
			last = p.At
		}
	}
	return last
}

func (o *oracle) plan(platform Policy, now time.Time) *Plan {
	p := &Plan{Policy: platform, Images: map[string]bool{}, Blobs: map[string]bool{}, removes: map[entryKey]bool{}, o: o}

	// 1. Entries.
	policies := map[string]Policy{}
	for _, n := range o.r.Namespaces {
		policies[n.Name] = n.Of(platform)
	}
	var kept, removed []ref
	for _, rf := range o.refs {
		pol := policies[rf.ns]
		stays := rf.pos == 0 || (rf.Image != "" && o.pinned(rf.ns, rf.Image)) || o.keptByRules(rf, pol, now)
		if stays {
			kept = append(kept, rf)
			continue
		}
		removed = append(removed, rf)
		p.removes[entryKey{rf.ns, rf.stream, rf.tag, rf.pos}] = true
		p.Revisions = append(p.Revisions, PlannedRevision{rf.ns, rf.stream, rf.tag, rf.pos, rf.Image, rf.Created})
	}

	// 2. Images.
	namedBefore := o.imagesOf(o.refs)
	stay := o.imagesOf(kept)
	for _, pin := range o.r.Pins {
		stay.add(o.closure(pin.Image))
	}
	for _, img := range o.r.Images {
		if !namedBefore[img.Digest] && img.Subject == "" && younger(img.Recorded, platform.KeepYoungerThan, now) {
			stay.add(o.closure(img.Digest))
		}
	}
	keptBlobs := set{}
	for _, img := range o.r.Images {
		if stay[img.Digest] {
			for _, b := range img.OwnBlobs() {
				keptBlobs[b] = true
			}
		}
	}
	// 3. Blobs.
	for _, img := range o.r.Images {
		if stay[img.Digest] {
			continue
		}
		p.Images[img.Digest] = true
		for _, b := range img.OwnBlobs() {
			if !keptBlobs[b] {
				p.Blobs[b] = true
			}
		}
	}
	p.BytesFreed = o.bytes(p.Blobs)

	// Sums per namespace and stream: the freed blobs their removed entries
	// reference, each once within the scope.
	for _, n := range o.r.Namespaces {
		pol := policies[n.Name]
		pn := PlanNamespace{Name: n.Name, Policy: pol, Override: n.KeepTagRevisions != nil || n.KeepYoungerThan != nil}
		var nsRemoved []ref
		for _, st := range n.Streams {
			var stRemoved []ref
			for _, rf := range removed {
				if rf.ns == n.Name && rf.stream == st.Name {
					stRemoved = append(stRemoved, rf)
				}
			}
			if len(stRemoved) == 0 {
				continue
			}
			nsRemoved = append(nsRemoved, stRemoved...)
			pn.Streams = append(pn.Streams, PlanStream{Name: st.Name, Revisions: len(stRemoved),
				BytesFreed: o.bytes(o.blobsOf(stRemoved).and(p.Blobs))})
		}
		if len(nsRemoved) == 0 {
			continue
		}
		pn.Revisions = len(nsRemoved)
		pn.BytesFreed = o.bytes(o.blobsOf(nsRemoved).and(p.Blobs))
		p.Namespaces = append(p.Namespaces, pn)
	}

	// The registry afterwards.
	after := o.r.Clone()
	for ni := range after.Namespaces {
		n := &after.Namespaces[ni]
		for si := range n.Streams {
			st := &n.Streams[si]
			for ti := range st.Tags {
				t := &st.Tags[ti]
				var h []Entry
				for pos, e := range t.History {
					if !p.removes[entryKey{n.Name, st.Name, t.Name, pos}] {
						h = append(h, e)
					}
				}
				t.History = h
			}
		}
	}
	var imgs []Image
	for _, img := range after.Images {
		if !p.Images[img.Digest] {
			if p.Images[img.Subject] {
				// A referrer a tag history keeps outlives its subject as
				// an image like any other: the link went with the subject.
				img.Subject = ""
			}
			imgs = append(imgs, img)
		}
	}
	after.Images = imgs
	var blobs []Blob
	for _, b := range after.Blobs {
		if !p.Blobs[b.Digest] {
			blobs = append(blobs, b)
		}
	}
	after.Blobs = blobs
	// An image that goes takes its pull times along.
	var pulls []Pull
	for _, pl := range after.Pulls {
		if !p.Images[pl.Image] {
			pulls = append(pulls, pl)
		}
	}
	after.Pulls = pulls
	p.After = after
	return p
}

// VisiblePlan is the part of a plan a user who holds a role in some
// namespaces sees: their revisions, and the images and blobs (and bytes)
// whose removal those revisions cause; images no entry names are left out.
type VisiblePlan struct {
	Revisions  []PlannedRevision
	Images     map[string]bool
	Blobs      map[string]bool
	BytesFreed int64
}

// Visible narrows the plan to the namespaces named.
func (p *Plan) Visible(namespaces []string) VisiblePlan {
	in := map[string]bool{}
	for _, n := range namespaces {
		in[n] = true
	}
	v := VisiblePlan{Images: map[string]bool{}, Blobs: map[string]bool{}}
	var refs []ref
	for _, r := range p.Revisions {
		if in[r.Namespace] {
			v.Revisions = append(v.Revisions, r)
			refs = append(refs, ref{r.Namespace, r.Stream, r.Tag, r.Position, Entry{Image: r.Image}})
		}
	}
	for d := range p.o.imagesOf(refs) {
		if p.Images[d] {
			v.Images[d] = true
			for _, b := range p.o.images[d].OwnBlobs() {
				if p.Blobs[b] {
					v.Blobs[b] = true
				}
			}
		}
	}
	v.BytesFreed = p.o.bytes(v.Blobs)
	return v
}

// SortedImages lists the plan's image digests in order.
func SortedImages(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
