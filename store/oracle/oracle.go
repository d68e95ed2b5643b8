package oracle

import (
	"sort"
	"time"
)

// Policy is a prune policy: per tag keep the newest KeepTagRevisions
// entries and every entry younger than KeepYoungerThan.
type Policy struct {
	KeepTagRevisions int
	KeepYoungerThan  time.Duration
}

// Of is the namespace's effective policy given the platform's.
func (n Namespace) Of(platform Policy) Policy {
	p := platform
	if n.KeepTagRevisions != nil {
		p.KeepTagRevisions = *n.KeepTagRevisions
	}
	if n.KeepYoungerThan != nil {
		p.KeepYoungerThan = *n.KeepYoungerThan
	}
	return p
}

// Figures are every number the product shows, computed by the oracle.
type Figures struct {
	Registry   RegistryFigures
	Namespaces []NamespaceFigures
	// ImageBytes is every image's size: its config and distinct layers,
	// for a manifest list the union over its children.
	ImageBytes map[string]int64
	// Shares says for every blob how many images list it and how many
	// tags, streams and namespaces hold it in their history.
	Shares map[string]Shares
	// Holders names, for every blob, the streams ("ns/stream") and the
	// namespaces whose history holds it, sorted.
	Holders map[string]Holders
	// Plan is what applying the policy removes.
	Plan *Plan
}

// RegistryFigures are the registry's totals.
type RegistryFigures struct {
	Bytes, Blobs  int64
	Reclaimable   int64
	UnknownImages int64
}

// NamespaceFigures are one namespace's.
type NamespaceFigures struct {
	Name                          string
	Bytes, Exclusive, Reclaimable int64
	Streams                       []StreamFigures
}

// StreamFigures are one stream's.
type StreamFigures struct {
	Name             string
	Bytes, Exclusive int64
	UniqueImages     int
	Updated          time.Time       // newest history entry; zero when none
	Unknown          map[string]bool // images of its entries with no layer data
	// ImageBytes is the size of every image its history names.
	ImageBytes map[string]int64
	Tags       []TagFigures
}

// TagFigures are one tag's.
type TagFigures struct {
	Name             string
	Bytes, Exclusive int64
	Revisions        []RevisionFigures
}

// RevisionFigures are one history entry's.
type RevisionFigures struct {
	Image, Ref string
	Created    time.Time
	Bytes      int64
	Current    bool
	Prunable   bool
}

// Shares are the "shared by" counts of a blob.
type Shares struct {
	Images, Tags, Streams, Namespaces int
}

// Holders are the streams and namespaces sharing a blob.
type Holders struct {
	Streams, Namespaces []string
}

// Saving is a line of the weekly e-mail's "biggest savings first":
// deleting the tag or stream frees its exclusive bytes.
type Saving struct {
	Kind  string // "tag" or "stream"
	Name  string // "stream:tag" or "stream"
	Bytes int64
}

// Savings lists every tag and stream of the namespace whose deletion frees
// something, biggest first (ties by kind and name).
func (n NamespaceFigures) Savings() []Saving {
	var out []Saving
	for _, st := range n.Streams {
		for _, t := range st.Tags {
			if t.Exclusive > 0 {
				out = append(out, Saving{"tag", st.Name + ":" + t.Name, t.Exclusive})
			}
		}
		if st.Exclusive > 0 {
			out = append(out, Saving{"stream", st.Name, st.Exclusive})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// set is a set of digests.
type set map[string]bool

func (s set) minus(o set) set {
	out := set{}
	for d := range s {
		if !o[d] {
			out[d] = true
		}
	}
	return out
}

func (s set) and(o set) set {
	out := set{}
	for d := range s {
		if o[d] {
			out[d] = true
		}
	}
	return out
}

func (s set) add(o set) {
	for d := range o {
		s[d] = true
	}
}

// ref is one history entry with where it is.
type ref struct {
	ns, stream, tag string
	pos             int
	Entry
}

// oracle indexes a registry for lookups by digest.
type oracle struct {
	r      *Registry
	images map[string]Image
	size   map[string]int64
	refs   []ref // every history entry, in namespace, stream, tag, position order
	// referrers of each subject, by digest.
	referrers map[string][]string
}

func newOracle(r *Registry) *oracle {
	o := &oracle{r: r, images: map[string]Image{}, size: map[string]int64{}, referrers: map[string][]string{}}
	for _, img := range r.Images {
		o.images[img.Digest] = img
		if img.Subject != "" {
			o.referrers[img.Subject] = append(o.referrers[img.Subject], img.Digest)
		}
	}
	for _, b := range r.Blobs {
		o.size[b.Digest] = b.Size
	}
	for _, n := range r.Namespaces {
		for _, st := range n.Streams {
			for _, t := range st.Tags {
				for pos, e := range t.History {
					o.refs = append(o.refs, ref{n.Name, st.Name, t.Name, pos, e})
				}
			}
		}
	}
	return o
}

// closure is an image, for a manifest list its children (and theirs),
// and the referrers of each (and theirs): what holding the image holds.
func (o *oracle) closure(digest string) set {
	return o.walk(digest, true)
}

func (o *oracle) walk(digest string, referrers bool) set {
	out := set{}
	var walk func(d string)
	walk = func(d string) {
		if d == "" || out[d] {
			return
		}
		out[d] = true
		for _, c := range o.images[d].Children {
			walk(c)
		}
		if referrers {
			for _, r := range o.referrers[d] {
				walk(r)
			}
		}
	}
	walk(digest)
	return out
}

// imageBlobs are the blobs a tag holding the image holds: its own, its
// children's and its referrers'.
func (o *oracle) imageBlobs(digest string) set {
	out := set{}
	for d := range o.closure(digest) {
		for _, b := range o.images[d].OwnBlobs() {
			out[b] = true
		}
	}
	return out
}

// ownImageBlobs are the blobs the image is made of (the image page's
// size): its own and its children's, not its referrers'.
func (o *oracle) ownImageBlobs(digest string) set {
	out := set{}
	for d := range o.walk(digest, false) {
		for _, b := range o.images[d].OwnBlobs() {
			out[b] = true
		}
	}
	return out
}

func (o *oracle) where(in func(ref) bool) []ref {
	var out []ref
	for _, r := range o.refs {
		if in(r) {
			out = append(out, r)
		}
	}
	return out
}

// blobsOf are the distinct blobs the entries reference.
func (o *oracle) blobsOf(refs []ref) set {
	out := set{}
	for _, r := range refs {
		out.add(o.imageBlobs(r.Image))
	}
	return out
}

// imagesOf are the images the entries reference, with list children.
func (o *oracle) imagesOf(refs []ref) set {
	out := set{}
	for _, r := range refs {
		out.add(o.closure(r.Image))
	}
	return out
}

func (o *oracle) bytes(s set) int64 {
	var n int64
	for d := range s {
		n += o.size[d]
	}
	return n
}

// exclusive is what no entry outside the scope references: what deleting
// the scope frees.
func (o *oracle) exclusive(in func(ref) bool) int64 {
	inside := o.blobsOf(o.where(in))
	outside := o.blobsOf(o.where(func(r ref) bool { return !in(r) }))
	return o.bytes(inside.minus(outside))
}

func inNamespace(ns string) func(ref) bool {
	return func(r ref) bool { return r.ns == ns }
}

func inStream(ns, stream string) func(ref) bool {
	return func(r ref) bool { return r.ns == ns && r.stream == stream }
}

func inTag(ns, stream, tag string) func(ref) bool {
	return func(r ref) bool { return r.ns == ns && r.stream == stream && r.tag == tag }
}

// Compute computes every figure of r under the platform policy at now.
func Compute(r *Registry, platform Policy, now time.Time) *Figures {
	o := newOracle(r)
	plan := o.plan(platform, now)
	f := &Figures{Plan: plan, ImageBytes: map[string]int64{}, Shares: map[string]Shares{}, Holders: map[string]Holders{}}
	for _, img := range r.Images {
		f.ImageBytes[img.Digest] = o.bytes(o.ownImageBlobs(img.Digest))
	}

	held := o.blobsOf(o.refs)
	f.Registry.Bytes, f.Registry.Blobs = o.bytes(held), int64(len(held))
	f.Registry.Reclaimable = plan.BytesFreed
	for d := range o.imagesOf(o.refs) {
		if !o.images[d].Known {
			f.Registry.UnknownImages++
		}
	}

	// Shares: count the holders of each level that hold the blob.
	shares := map[string]*Shares{}
	for _, b := range r.Blobs {
		shares[b.Digest] = &Shares{}
	}
	for _, img := range r.Images {
		for _, b := range img.OwnBlobs() {
			shares[b].Images++
		}
	}

	for _, n := range r.Namespaces {
		nsRefs := o.where(inNamespace(n.Name))
		nsBlobs := o.blobsOf(nsRefs)
		nf := NamespaceFigures{Name: n.Name, Bytes: o.bytes(nsBlobs), Exclusive: o.exclusive(inNamespace(n.Name)),
			Reclaimable: o.bytes(nsBlobs.and(plan.Blobs))}
		for b := range nsBlobs {
			shares[b].Namespaces++
			h := f.Holders[b]
			h.Namespaces = append(h.Namespaces, n.Name)
			f.Holders[b] = h
		}
		for _, st := range n.Streams {
			stRefs := o.where(inStream(n.Name, st.Name))
			stBlobs := o.blobsOf(stRefs)
			sf := StreamFigures{Name: st.Name, Bytes: o.bytes(stBlobs), Exclusive: o.exclusive(inStream(n.Name, st.Name)),
				Unknown: map[string]bool{}, ImageBytes: map[string]int64{}}
			for b := range stBlobs {
				shares[b].Streams++
				h := f.Holders[b]
				h.Streams = append(h.Streams, n.Name+"/"+st.Name)
				f.Holders[b] = h
			}
			for _, rf := range stRefs {
				if rf.Created.After(sf.Updated) {
					sf.Updated = rf.Created
				}
				if rf.Image == "" {
					continue
				}
				sf.ImageBytes[rf.Image] = f.ImageBytes[rf.Image]
				if !o.images[rf.Image].Known {
					sf.Unknown[rf.Image] = true
				}
			}
			sf.UniqueImages = len(sf.ImageBytes)
			for _, t := range st.Tags {
				tBlobs := o.blobsOf(o.where(inTag(n.Name, st.Name, t.Name)))
				tf := TagFigures{Name: t.Name, Bytes: o.bytes(tBlobs), Exclusive: o.exclusive(inTag(n.Name, st.Name, t.Name))}
				for b := range tBlobs {
					shares[b].Tags++
				}
				for pos, e := range t.History {
					rv := RevisionFigures{Image: e.Image, Created: e.Created, Current: pos == 0,
						Prunable: plan.removes[entryKey{n.Name, st.Name, t.Name, pos}]}
					if e.Image == "" {
						rv.Ref = e.Ref
					} else {
						// What holding the image holds: with its referrers.
						rv.Bytes = o.bytes(o.imageBlobs(e.Image))
					}
					tf.Revisions = append(tf.Revisions, rv)
				}
				sf.Tags = append(sf.Tags, tf)
			}
			nf.Streams = append(nf.Streams, sf)
		}
		f.Namespaces = append(f.Namespaces, nf)
	}
	for d, s := range shares {
		f.Shares[d] = *s
	}
	return f
}
