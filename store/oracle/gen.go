package oracle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Digest makes a stable sha256 digest from a word.
func Digest(word string) string {
	sum := sha256.Sum256([]byte(word))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// DefaultPolicy is the platform's default policy (README "Settings"):
// keep 3 revisions per tag and everything younger than 96 hours. Generate
// builds its ages around it.
func DefaultPolicy() Policy { return Policy{KeepTagRevisions: 3, KeepYoungerThan: 96 * time.Hour} }

// Rand is the seeded random source of a case.
func Rand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// Generate makes a small random registry for seed, with ages relative to
// now (whole seconds). It has what the figures are most easily wrong
// about: layers shared across tags, streams and namespaces, the same layer
// twice in one image, manifest lists sharing children, images known only by
// digest, alias tags, pins, empty tags and streams, entries without an
// image, namespaces with their own policy, and ages and history lengths on
// both sides of the policy's edges.
func Generate(seed uint64, now time.Time) *Registry {
	g := &gen{r: Rand(seed), now: now.UTC().Truncate(time.Second)}
	return g.registry()
}

type gen struct {
	r   *rand.Rand
	now time.Time
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// size is a blob size: mostly distinct, sometimes zero, over a wide range.
func (g *gen) size() int64 {
	switch g.r.IntN(10) {
	case 0:
		return 0
	case 1, 2, 3:
		return 1 + g.r.Int64N(9)
	case 4, 5, 6, 7:
		return 10 + g.r.Int64N(990)
	default:
		return 1000 + g.r.Int64N(1_000_000)
	}
}

// ages are the interesting ages for a set of keep-younger-than values:
// just under, at and just over each, and some far from any.
func ages(durations ...time.Duration) []time.Duration {
	out := []time.Duration{0, time.Minute, 5 * time.Hour, 50 * time.Hour, 150 * time.Hour, 400 * time.Hour, 2000 * time.Hour}
	for _, d := range durations {
		out = append(out, d-time.Second, d, d+time.Second)
	}
	var pos []time.Duration
	for _, a := range out {
		if a >= 0 {
			pos = append(pos, a)
		}
	}
	return pos
}

func (g *gen) registry() *Registry {
	r := &Registry{}
	platform := DefaultPolicy()
	platformAges := ages(platform.KeepYoungerThan)

	// Blobs and plain images.
	nBlobs := 2 + g.r.IntN(18)
	pool := make([]Blob, nBlobs)
	for i := range pool {
		pool[i] = Blob{Digest: Digest(fmt.Sprintf("blob:%d", i)), Size: g.size()}
	}
	nImages := 1 + g.r.IntN(10)
	var plain []string
	for i := 0; i < nImages; i++ {
		img := Image{Digest: Digest(fmt.Sprintf("image:%d", i)), Recorded: g.now.Add(-pick(g, platformAges))}
		if !g.chance(0.1) {
			img.Known = true
			if g.chance(0.85) {
				img.Config = pick(g, pool).Digest
			}
			for k := g.r.IntN(5); k > 0; k-- {
				img.Layers = append(img.Layers, pick(g, pool).Digest)
			}
			if len(img.Layers) > 0 && g.chance(0.25) {
				// The same layer listed twice in one manifest.
				l := img.Layers[g.r.IntN(len(img.Layers))]
				at := g.r.IntN(len(img.Layers) + 1)
				img.Layers = append(img.Layers[:at], append([]string{l}, img.Layers[at:]...)...)
			}
		}
		r.Images = append(r.Images, img)
		plain = append(plain, img.Digest)
	}
	// Manifest lists over the plain images, sharing children.
	for i, n := 0, g.r.IntN(4); i < n; i++ {
		img := Image{Digest: Digest(fmt.Sprintf("list:%d", i)), Known: true, Recorded: g.now.Add(-pick(g, platformAges))}
		chosen := map[string]bool{}
		for k := 1 + g.r.IntN(3); k > 0; k-- {
			c := pick(g, plain)
			if !chosen[c] {
				chosen[c] = true
				img.Children = append(img.Children, c)
			}
		}
		r.Images = append(r.Images, img)
	}
	var all []string
	for _, img := range r.Images {
		all = append(all, img.Digest)
	}
	// A few images are "hot": shared by many tags, streams and namespaces.
	hot := all[:min(len(all), 3)]

	// Namespaces, streams, tags and histories.
	tagNames := []string{"latest", "test", "prod", "v1", "v2", "dev"}
	for ni, nn := 0, 1+g.r.IntN(4); ni < nn; ni++ {
		n := Namespace{Name: fmt.Sprintf("ns%d", ni)}
		if g.chance(0.35) {
			if g.chance(0.6) {
				k := pick(g, []int{0, 1, 2, 3, 5})
				n.KeepTagRevisions = &k
			}
			if g.chance(0.6) {
				d := pick(g, []time.Duration{0, time.Hour, 24 * time.Hour, 96 * time.Hour, 200 * time.Hour})
				n.KeepYoungerThan = &d
			}
		}
		entryAges := ages(platform.KeepYoungerThan, n.Of(platform).KeepYoungerThan)
		for si, ns := 0, g.r.IntN(4); si < ns; si++ {
			st := Stream{Name: fmt.Sprintf("s%d", si)}
			names := append([]string(nil), tagNames...)
			g.r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
			for ti, nt := 0, g.r.IntN(4); ti < nt; ti++ {
				t := Tag{Name: names[ti]}
				length := 0
				if !g.chance(0.15) {
					length = 1 + g.r.IntN(7)
				}
				var as []time.Duration
				for i := 0; i < length; i++ {
					as = append(as, pick(g, entryAges))
				}
				// Newest first, as histories are; now and then out of order,
				// as a push mapped with an older time leaves it.
				if !g.chance(0.1) {
					sort.Slice(as, func(i, j int) bool { return as[i] < as[j] })
				}
				for _, a := range as {
					e := Entry{Created: g.now.Add(-a)}
					switch {
					case g.chance(0.05):
						e.Ref = "registry.example.com/team/app:" + names[ti]
					case g.chance(0.5):
						e.Image = pick(g, hot)
					default:
						e.Image = pick(g, all)
					}
					t.History = append(t.History, e)
				}
				st.Tags = append(st.Tags, t)
			}
			// An alias tag: it followed its source for a while, so its
			// history is the newest part of the source's.
			if len(st.Tags) > 0 && len(st.Tags) < len(names) && g.chance(0.3) {
				src := pick(g, st.Tags)
				if len(src.History) > 0 && src.History[0].Image != "" {
					a := Tag{Name: names[len(st.Tags)], Alias: true, AliasOf: src.Name}
					a.History = append(a.History, src.History[:1+g.r.IntN(len(src.History))]...)
					st.Tags = append(st.Tags, a)
				}
			}
			sort.Slice(st.Tags, func(i, j int) bool { return st.Tags[i].Name < st.Tags[j].Name })
			n.Streams = append(n.Streams, st)
		}
		r.Namespaces = append(r.Namespaces, n)
	}

	// Pins: images of the namespace's history, now and then one that no
	// entry of the namespace holds any more (its tag was deleted).
	for _, n := range r.Namespaces {
		var held []string
		for _, st := range n.Streams {
			for _, t := range st.Tags {
				for _, e := range t.History {
					if e.Image != "" {
						held = append(held, e.Image)
					}
				}
			}
		}
		pinned := map[string]bool{}
		if len(held) > 0 && g.chance(0.35) {
			for k := 1 + g.r.IntN(2); k > 0; k-- {
				pinned[pick(g, held)] = true
			}
		}
		if g.chance(0.08) {
			pinned[pick(g, all)] = true
		}
		for _, d := range SortedImages(pinned) {
			r.Pins = append(r.Pins, Pin{Namespace: n.Name, Image: d})
		}
	}

	// Only the blobs some image lists: the store never keeps others.
	used := map[string]bool{}
	for _, img := range r.Images {
		for _, b := range img.OwnBlobs() {
			used[b] = true
		}
	}
	for _, b := range pool {
		if used[b.Digest] {
			r.Blobs = append(r.Blobs, b)
		}
	}
	g.retention(r)
	g.referrers(r)
	return r
}

// referrers adds signatures and SBOMs of some images (now and then of an
// image only known by digest, or of a referrer: a signature of an SBOM),
// with blobs of their own and now and then a shared one; drawn last so a
// seed's registry is otherwise the one it was before referrers existed.
func (g *gen) referrers(r *Registry) {
	if !g.chance(0.6) {
		return
	}
	subjects := make([]string, 0, len(r.Images))
	for _, img := range r.Images {
		subjects = append(subjects, img.Digest)
	}
	ages := ages(DefaultPolicy().KeepYoungerThan)
	for i, n := 0, 1+g.r.IntN(4); i < n; i++ {
		subject := pick(g, subjects)
		if g.chance(0.1) {
			// A subject the store only knows by digest.
			subject = Digest(fmt.Sprintf("unknown-subject:%d", i))
			r.Images = append(r.Images, Image{Digest: subject, Recorded: g.now.Add(-pick(g, ages))})
		}
		ref := Image{Digest: Digest(fmt.Sprintf("referrer:%d", i)), Known: true, Subject: subject, Recorded: g.now.Add(-pick(g, ages))}
		own := Blob{Digest: Digest(fmt.Sprintf("referrer-blob:%d", i)), Size: g.size()}
		r.Blobs = append(r.Blobs, own)
		ref.Layers = []string{own.Digest}
		if len(r.Blobs) > 1 && g.chance(0.3) {
			ref.Config = pick(g, r.Blobs[:len(r.Blobs)-1]).Digest
		}
		r.Images = append(r.Images, ref)
		subjects = append(subjects, ref.Digest)
	}
}

// retention adds retention rules and pulls, drawn after everything else so
// that a seed's registry is otherwise the one it was before rules existed:
// rules of every kind, patterns that match some tags and not others (and
// would match more if they were not anchored), and pulls of history
// images — a list's or one of its platform images — just under, at and
// just over the rules' windows.
func (g *gen) retention(r *Registry) {
	windows := []time.Duration{time.Hour, 24 * time.Hour, 96 * time.Hour}
	patterns := []string{"", `v\d+`, `^(test|dev)$`, "prod", "latest|test", "^v.*", "es"}
	for ni := range r.Namespaces {
		n := &r.Namespaces[ni]
		if !g.chance(0.4) {
			continue
		}
		for k := 1 + g.r.IntN(3); k > 0; k-- {
			rl := Rule{Tags: pick(g, patterns)}
			switch g.r.IntN(4) {
			case 0:
				rl.Never = true
			case 1:
				d := pick(g, windows)
				rl.PulledWithin = &d
			default:
				if g.chance(0.7) {
					k := pick(g, []int{0, 1, 2, 5})
					rl.Keep = &k
				}
				if rl.Keep == nil || g.chance(0.5) {
					d := pick(g, []time.Duration{0, time.Hour, 24 * time.Hour, 96 * time.Hour, 200 * time.Hour})
					rl.Younger = &d
				}
			}
			n.Rules = append(n.Rules, rl)
		}
	}
	children := map[string][]string{}
	for _, img := range r.Images {
		children[img.Digest] = img.Children
	}
	pullAges := ages(windows...)
	newest := map[[3]string]time.Time{}
	var keys [][3]string
	for _, n := range r.Namespaces {
		for _, st := range n.Streams {
			for _, t := range st.Tags {
				for _, e := range t.History {
					if e.Image == "" || !g.chance(0.3) {
						continue
					}
					img := e.Image
					if kids := children[img]; len(kids) > 0 && g.chance(0.5) {
						img = pick(g, kids)
					}
					k := [3]string{n.Name, st.Name, img}
					at := g.now.Add(-pick(g, pullAges))
					if t, ok := newest[k]; !ok {
						keys = append(keys, k)
						newest[k] = at
					} else if at.After(t) {
						newest[k] = at
					}
				}
			}
		}
	}
	for _, k := range keys {
		r.Pulls = append(r.Pulls, Pull{Namespace: k[0], Stream: k[1], Image: k[2], At: newest[k]})
	}
}
