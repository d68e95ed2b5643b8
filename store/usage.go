package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"layerwise/bytesum"
)

// Usage is registry usage with every blob counted once per scope, in the
// shape of `usage -o json`.
type Usage struct {
	Registry   RegistryUsage    `json:"registry"`
	Namespaces []NamespaceUsage `json:"namespaces"`
	// ComputedAt is when the pass ran; pages show how fresh the figures are.
	ComputedAt time.Time `json:"computedAt"`
	// PullsRecordedSince is when the first pull was recorded (nil: never).
	PullsRecordedSince *time.Time `json:"pullsRecordedSince,omitempty"`
	// PlanComputedAt is when the stored prune plan behind the reclaimable
	// and not-pulled figures and the prunable marks was computed (zero:
	// none yet). The full pass computes them itself and leaves it zero.
	PlanComputedAt time.Time `json:"planComputedAt,omitzero"`

	shares *blobShares // per blob ID, for the layer views
}

// blobShares are reference counts indexed by blob ID.
type blobShares struct {
	images, tags, streams, namespaces []int32
}

// BlobShares says how many images, tags, streams and namespaces hold a blob.
type BlobShares struct {
	Images, Tags, Streams, Namespaces int
}

// RegistryUsage is the whole registry.
type RegistryUsage struct {
	Bytes int64 `json:"bytes"`
	Blobs int64 `json:"blobs"`
	// ReclaimableBytes is what applying the prune policy would free.
	ReclaimableBytes int64 `json:"reclaimableBytes"`
	// UnknownImages counts referenced images whose layers were never
	// imported: their bytes are missing from every figure.
	UnknownImages int64 `json:"unknownImages"`
}

// NamespaceUsage is one namespace.
type NamespaceUsage struct {
	Name             string `json:"name"`
	Bytes            int64  `json:"bytes"`
	ExclusiveBytes   int64  `json:"exclusiveBytes"`
	ReclaimableBytes int64  `json:"reclaimableBytes"`
	// NotPulledBytes is the part of ExclusiveBytes that only revisions not
	// pulled within NotPulledWindow hold (0 until pulls are recorded).
	NotPulledBytes int64         `json:"notPulledBytes"`
	Streams        []StreamUsage `json:"streams"`
}

// NotPulledWindow is the "not pulled in 90 days" of NotPulledBytes.
const NotPulledWindow = 90 * 24 * time.Hour

// StreamUsage is one image stream.
type StreamUsage struct {
	Name           string     `json:"name"`
	Bytes          int64      `json:"bytes"`
	ExclusiveBytes int64      `json:"exclusiveBytes"`
	UniqueImages   int        `json:"uniqueImages"`
	Updated        time.Time  `json:"updated"` // newest history entry; zero when none
	Tags           []TagUsage `json:"tags"`
}

// TagUsage is one tag with its history.
type TagUsage struct {
	Name           string          `json:"name"`
	Bytes          int64           `json:"bytes"`
	ExclusiveBytes int64           `json:"exclusiveBytes"`
	Revisions      []RevisionUsage `json:"revisions"`
}

// RevisionUsage is one history entry; Bytes is its image counted once.
type RevisionUsage struct {
	Image     string    `json:"image"`
	Created   time.Time `json:"created"`
	Bytes     int64     `json:"bytes"`
	Current   bool      `json:"current"`
	Reference string    `json:"reference,omitempty"` // pull spec of an entry with no image
	Prunable  bool      `json:"prunable,omitempty"`  // the prune policy would remove it
}

// ComputeUsage computes the usage of the whole registry in one set-based
// pass: a fixed handful of table scans, then plain loops over integer IDs.
// No query runs per namespace, stream, tag or image.
func (s *Store) ComputeUsage(ctx context.Context, policy Policy) (*Usage, error) {
	g, err := s.loadGraph(ctx)
	if err != nil {
		return nil, fmt.Errorf("compute usage: %w", err)
	}
	u := g.usage(policy, s.now())
	return u, nil
}

// NamespaceUsage returns one namespace of the registry's usage.
func (u *Usage) Namespace(name string) (NamespaceUsage, bool) {
	i := sort.Search(len(u.Namespaces), func(i int) bool { return u.Namespaces[i].Name >= name })
	if i < len(u.Namespaces) && u.Namespaces[i].Name == name {
		return u.Namespaces[i], true
	}
	return NamespaceUsage{}, false
}

func (g *graph) usage(policy Policy, now time.Time) *Usage {
	nb := len(g.blobSize)
	// How many distinct tags, streams and namespaces reference each blob.
	tagCount := make([]int32, nb)
	streamCount := make([]int32, nb)
	nsCount := make([]int32, nb)
	lastTag := make([]int32, nb)
	lastStream := make([]int32, nb)
	lastNS := make([]int32, nb)
	seen := make([]bool, nb)
	imgStamp := make([]int32, len(g.blobStart))
	streamImgStamp := make([]int32, len(g.blobStart))
	var streamImgN int32
	u := &Usage{Namespaces: make([]NamespaceUsage, 0, len(g.namespaces)), ComputedAt: now}
	referenced := make([]bool, len(g.blobStart))
	// Blobs of revisions pulled within NotPulledWindow, once pulls are
	// recorded at all (before that nothing is known of them).
	pulls := g.pullsSince != 0
	var recent []bool
	if pulls {
		recent = make([]bool, nb)
		since := time.Unix(g.pullsSince, 0).UTC()
		u.PullsRecordedSince = &since
	}
	pulledCut := now.Add(-NotPulledWindow).Unix()

	// Pass 1: bytes per scope and reference counts. Stamps start at 1 so the
	// zero value of the last* arrays means "not yet in this scope".
	var tagN, streamN, nsN, imgN int32
	for _, n := range g.namespaces {
		nsN++
		nu := NamespaceUsage{Name: n.name, Streams: make([]StreamUsage, 0, len(n.streams))}
		for _, st := range n.streams {
			streamN++
			streamImgN++
			su := StreamUsage{Name: st.name, Tags: make([]TagUsage, 0, len(st.tags))}
			for _, t := range st.tags {
				tagN++
				imgN++
				tu := TagUsage{Name: t.name, Revisions: make([]RevisionUsage, 0, len(t.events))}
				for _, ev := range t.events {
					if c := time.Unix(ev.created, 0).UTC(); c.After(su.Updated) {
						su.Updated = c
					}
					if ev.image != 0 && streamImgStamp[ev.image] != streamImgN {
						streamImgStamp[ev.image] = streamImgN
						su.UniqueImages++
					}
					if ev.image == 0 || imgStamp[ev.image] == imgN {
						continue
					}
					imgStamp[ev.image] = imgN
					referenced[ev.image] = true
					for _, c := range g.children[ev.image] {
						referenced[c] = true
					}
					pulled := pulls && g.lastPulled(st, ev.image) > pulledCut
					g.forBlobs(ev.image, func(b int32) {
						size := g.blobSize[b]
						if pulled {
							recent[b] = true
						}
						if lastTag[b] != tagN {
							lastTag[b] = tagN
							tagCount[b]++
							tu.Bytes = bytesum.Add(tu.Bytes, size)
						}
						if lastStream[b] != streamN {
							lastStream[b] = streamN
							streamCount[b]++
							su.Bytes = bytesum.Add(su.Bytes, size)
						}
						if lastNS[b] != nsN {
							lastNS[b] = nsN
							nsCount[b]++
							nu.Bytes = bytesum.Add(nu.Bytes, size)
						}
						if !seen[b] {
							seen[b] = true
							u.Registry.Bytes = bytesum.Add(u.Registry.Bytes, size)
							u.Registry.Blobs++
						}
					})
				}
				su.Tags = append(su.Tags, tu)
			}
			nu.Streams = append(nu.Streams, su)
		}
		u.Namespaces = append(u.Namespaces, nu)
	}
	for img, ok := range referenced {
		if ok && !g.known[img] {
			u.Registry.UnknownImages++
		}
	}

	// Which images and blobs survive the prune policy (prunerule.go).
	_, keptBlob := g.keep(policy, now)
	unix := now.Unix()
	// Every blob no kept image holds is freed, referenced or not.
	linked := make([]bool, nb)
	for _, b := range g.blobList {
		if !linked[b] {
			linked[b] = true
			if !keptBlob[b] {
				u.Registry.ReclaimableBytes = bytesum.Add(u.Registry.ReclaimableBytes, g.blobSize[b])
			}
		}
	}

	// Pass 2: exclusive bytes (blobs referenced by exactly one scope of a
	// level), reclaimable bytes per namespace and the revisions.
	clear(lastTag)
	clear(lastStream)
	clear(lastNS)
	clear(imgStamp)
	tagN, streamN, nsN, imgN = 0, 0, 0, 0
	sizeStamp := make([]int32, nb)
	var sizeN int32
	imageBytes := func(img int64) int64 {
		sizeN++
		var total int64
		g.forBlobs(img, func(b int32) {
			if sizeStamp[b] != sizeN {
				sizeStamp[b] = sizeN
				total = bytesum.Add(total, g.blobSize[b])
			}
		})
		return total
	}
	for ni, n := range g.namespaces {
		nsN++
		nu := &u.Namespaces[ni]
		np := g.policyOf(n, policy)
		for si, st := range n.streams {
			streamN++
			su := &nu.Streams[si]
			for ti, t := range st.tags {
				tagN++
				imgN++
				tu := &su.Tags[ti]
				for _, ev := range t.events {
					rev := RevisionUsage{Created: time.Unix(ev.created, 0).UTC(), Current: ev.position == 0,
						Prunable: g.prunable(n, st, t, ev, np, unix)}
					if ev.image == 0 {
						rev.Reference = t.refs[ev.position]
						tu.Revisions = append(tu.Revisions, rev)
						continue
					}
					rev.Image = g.digest[ev.image]
					rev.Bytes = imageBytes(ev.image)
					tu.Revisions = append(tu.Revisions, rev)
					if imgStamp[ev.image] == imgN {
						continue
					}
					imgStamp[ev.image] = imgN
					g.forBlobs(ev.image, func(b int32) {
						size := g.blobSize[b]
						if lastTag[b] != tagN {
							lastTag[b] = tagN
							if tagCount[b] == 1 {
								tu.ExclusiveBytes = bytesum.Add(tu.ExclusiveBytes, size)
							}
						}
						if lastStream[b] != streamN {
							lastStream[b] = streamN
							if streamCount[b] == 1 {
								su.ExclusiveBytes = bytesum.Add(su.ExclusiveBytes, size)
							}
						}
						if lastNS[b] != nsN {
							lastNS[b] = nsN
							if nsCount[b] == 1 {
								nu.ExclusiveBytes = bytesum.Add(nu.ExclusiveBytes, size)
								if pulls && !recent[b] {
									nu.NotPulledBytes = bytesum.Add(nu.NotPulledBytes, size)
								}
							}
							if !keptBlob[b] {
								nu.ReclaimableBytes = bytesum.Add(nu.ReclaimableBytes, size)
							}
						}
					})
				}
			}
		}
	}
	u.shares = g.shares(tagCount, streamCount, nsCount)
	return u
}

// shares counts, per blob, the images that list it; tags, streams and
// namespaces were counted by the usage pass.
func (g *graph) shares(tagCount, streamCount, nsCount []int32) *blobShares {
	images := make([]int32, len(g.blobSize))
	stamp := make([]int32, len(g.blobSize))
	for img := range g.blobStart {
		for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
			if stamp[b] != int32(img)+1 {
				stamp[b] = int32(img) + 1
				images[b]++
			}
		}
	}
	return &blobShares{images: images, tags: tagCount, streams: streamCount, namespaces: nsCount}
}

// Shares returns the share counts of the blobs by digest (looked up in one
// query); blobs unknown to the computation are absent.
func (u *Usage) Shares(ctx context.Context, s *Store, digests []string) (map[string]BlobShares, error) {
	out := map[string]BlobShares{}
	if len(digests) == 0 {
		return out, nil
	}
	var rows []Blob
	if err := s.conn(ctx).Select("id, digest").Where("digest IN ?", digests).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("look up blobs: %w", err)
	}
	sh := u.shares
	for _, r := range rows {
		if sh != nil && r.ID < int64(len(sh.images)) {
			out[r.Digest] = BlobShares{Images: int(sh.images[r.ID]), Tags: int(sh.tags[r.ID]),
				Streams: int(sh.streams[r.ID]), Namespaces: int(sh.namespaces[r.ID])}
		}
	}
	return out, nil
}
