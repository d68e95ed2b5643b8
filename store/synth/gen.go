package synth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// pcgStream is the second PCG word: fixed, so the seed alone picks the data.
const pcgStream = 0x6c61796572776973 // "layerwis"

const (
	day = 24 * time.Hour
	kiB = 1 << 10
	miB = 1 << 20
	giB = 1 << 30
)

// Architecture indexes of the per-arch layer sets.
const (
	amd64 = iota
	arm64
	numArch
)

func archName(a int) string {
	if a == arm64 {
		return "arm64"
	}
	return "amd64"
}

func archVariant(a int) string {
	if a == arm64 {
		return "v8"
	}
	return ""
}

// blobDef is a shared blob (base, runtime, upstream layers): its row is
// written when an image first links it, so a small run holds no orphans.
type blobDef struct {
	digest    string
	size      int64
	mediaType string
	id        int64 // 0 until written
}

type baseDef struct {
	entry  baseEntry
	key    string // family:version
	layers [numArch][]*blobDef
	next   *baseDef // the next version of the family, nil for the newest
}

type runtimeDef struct {
	entry  runtimeEntry
	base   *baseDef
	layers [numArch][]*blobDef
	next   *runtimeDef // the next version of the line
}

// upstreamImage is one release of an external image; written on first use.
type upstreamImage struct {
	digest  string
	created time.Time
	built   time.Time
	config  *blobDef
	layers  []*blobDef
	id      int64
}

type channel struct {
	entry    channelEntry
	repo     string
	base     *baseDef
	releases []*upstreamImage // oldest first
}

type generator struct {
	opt    Options
	anchor time.Time
	rng    *rand.Rand
	w      *writer

	tNamespaces, tStreams, tTags, tEvents   *table
	tImages, tBlobs, tImageBlobs, tManifest *table

	lastNS, lastStream, lastTag, lastEvent, lastImage, lastBlob int64
	digestSeq                                                   uint64

	bases          []*baseDef
	baseWeights    []int
	runtimes       []*runtimeDef
	runtimeWeights []int
	channels       []*channel
	empty          *blobDef

	manifestLists, blobBytes, failed int64
}

func newGenerator(opt Options, w *writer) *generator {
	g := &generator{
		opt:    opt,
		anchor: opt.Anchor.UTC().Truncate(time.Second),
		rng:    rand.New(rand.NewPCG(opt.Seed, pcgStream)),
		w:      w,
	}
	g.tNamespaces = w.table("namespaces", []string{"id", "name", "display_name", "contacts",
		"threshold_bytes", "ladder", "created_at"})
	g.tStreams = w.table("image_streams", []string{"id", "namespace_id", "name", "created", "labels",
		"annotations", "docker_image_repository", "pull_spec", "public_pull_spec", "lookup_local",
		"generation"}, g.tNamespaces)
	g.tTags = w.table("tags", []string{"id", "stream_id", "name", "in_spec", "annotations",
		"from_kind", "from_name", "from_namespace", "alias", "scheduled", "insecure", "reference",
		"reference_policy", "import_mode", "generation", "cond_status", "cond_reason",
		"cond_message", "cond_time", "cond_generation"}, g.tStreams)
	g.tImages = w.table("images", []string{"id", "digest", "media_type", "manifest_list",
		"docker_image_reference", "known", "created_at", "image_created", "architecture", "os",
		"variant", "author", "entrypoint", "cmd", "env", "labels", "ports", "user", "working_dir",
		"config_digest"})
	g.tBlobs = w.table("blobs", []string{"id", "digest", "size", "media_type"})
	g.tImageBlobs = w.table("image_blobs", []string{"image_id", "position", "blob_id"},
		g.tImages, g.tBlobs)
	g.tManifest = w.table("image_manifests", []string{"list_id", "position", "child_id",
		"media_type", "manifest_size", "os", "architecture", "variant"}, g.tImages)
	g.tEvents = w.table("tag_events", []string{"id", "tag_id", "position", "created",
		"docker_image_reference", "image_id", "generation"}, g.tTags, g.tImages)
	return g
}

func (g *generator) stats() Stats {
	return Stats{
		Namespaces:     g.tNamespaces.total,
		Streams:        g.tStreams.total,
		Tags:           g.tTags.total,
		TagEvents:      g.tEvents.total,
		Images:         g.tImages.total,
		ManifestLists:  g.manifestLists,
		Blobs:          g.tBlobs.total,
		BlobBytes:      g.blobBytes,
		ImageBlobs:     g.tImageBlobs.total,
		ImageManifests: g.tManifest.total,
		FailedImports:  g.failed,
	}
}

func (g *generator) run(ctx context.Context) error {
	if err := g.catalog(); err != nil {
		return err
	}
	for i := range g.opt.Namespaces {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		g.namespace(i)
		if g.w.err != nil {
			return fmt.Errorf("generate: %w", g.w.err)
		}
	}
	return nil
}

// --- randomness; integer-only so the data does not depend on the FPU ---

func (g *generator) between(lo, hi int64) int64 { return lo + g.rng.Int64N(hi-lo+1) }

func (g *generator) chance(permille int) bool { return g.rng.IntN(1000) < permille }

// skewed draws from [lo, hi] with most values near lo (the cube of a
// uniform): many small layers, a few big ones.
func (g *generator) skewed(lo, hi int64) int64 {
	const r = 1 << 12
	a, b, c := g.rng.Int64N(r), g.rng.Int64N(r), g.rng.Int64N(r)
	return lo + (hi-lo)*(a*b*c/r)/(r*r)
}

// minOf is the least of k draws from [0, n): small values are common.
func (g *generator) minOf(k, n int) int {
	m := n
	for range k {
		m = min(m, g.rng.IntN(n))
	}
	return m
}

// dur draws a whole number of seconds in [lo, hi].
func (g *generator) dur(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo.Truncate(time.Second)
	}
	return time.Duration(g.between(int64(lo/time.Second), int64(hi/time.Second))) * time.Second
}

func (g *generator) pick(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func (g *generator) hex(nbytes int) string {
	b := make([]byte, nbytes)
	for i := 0; i < nbytes; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], g.rng.Uint64())
		copy(b[i:], w[:])
	}
	return hex.EncodeToString(b)
}

// digest is unique per (seed, counter): the sha256 of both.
func (g *generator) digest() string {
	g.digestSeq++
	var in [16]byte
	binary.BigEndian.PutUint64(in[:8], g.opt.Seed)
	binary.BigEndian.PutUint64(in[8:], g.digestSeq)
	sum := sha256.Sum256(in[:])
	var out [7 + 64]byte
	copy(out[:], "sha256:")
	hex.Encode(out[7:], sum[:])
	return string(out[:])
}

// --- the shared catalog: bases, runtimes, upstream releases ---

func (g *generator) layerDefs(n int, lo, hi int64) []*blobDef {
	out := make([]*blobDef, n)
	for i := range out {
		out[i] = &blobDef{digest: g.digest(), size: g.between(lo, hi), mediaType: mtDockerLayer}
	}
	return out
}

func (g *generator) catalog() error {
	g.empty = &blobDef{digest: emptyLayerDigest, size: emptyLayerSize, mediaType: mtDockerLayer}
	byKey := make(map[string]*baseDef, len(baseCatalog)) // lookups only, never iterated
	for _, e := range baseCatalog {
		b := &baseDef{entry: e, key: e.family + ":" + e.version}
		n := 1 + g.rng.IntN(3)
		for a := range numArch {
			b.layers[a] = g.layerDefs(n, 25*miB, 80*miB)
		}
		if len(g.bases) > 0 && g.bases[len(g.bases)-1].entry.family == e.family {
			g.bases[len(g.bases)-1].next = b
		}
		g.bases = append(g.bases, b)
		g.baseWeights = append(g.baseWeights, e.weight)
		byKey[b.key] = b
	}
	for _, e := range runtimeCatalog {
		r := &runtimeDef{entry: e, base: byKey[e.base]}
		if r.base == nil {
			return fmt.Errorf("generate: runtime %s %s names unknown base %s", e.lang, e.version, e.base)
		}
		n := 2 + g.rng.IntN(3)
		for a := range numArch {
			r.layers[a] = make([]*blobDef, n)
			for i := range n {
				r.layers[a][i] = &blobDef{digest: g.digest(), size: g.skewed(20*miB, 200*miB), mediaType: mtDockerLayer}
			}
		}
		if len(g.runtimes) > 0 && g.runtimes[len(g.runtimes)-1].entry.line == e.line {
			g.runtimes[len(g.runtimes)-1].next = r
		}
		g.runtimes = append(g.runtimes, r)
		g.runtimeWeights = append(g.runtimeWeights, e.weight)
	}
	for _, e := range channelCatalog {
		c := &channel{entry: e, repo: repoOf(e.ref), base: byKey[e.base]}
		if c.base == nil {
			return fmt.Errorf("generate: upstream %s names unknown base %s", e.ref, e.base)
		}
		layerMT, configMT := mtDockerLayer, mtDockerConfig
		if e.oci {
			layerMT, configMT = mtOCILayer, mtOCIConfig
		}
		n := 8 + g.rng.IntN(9)
		period := g.dur(14*day, 45*day)
		at := g.anchor.Add(-g.dur(day, period))
		c.releases = make([]*upstreamImage, n)
		for i := n - 1; i >= 0; i-- {
			u := &upstreamImage{digest: g.digest(), created: at}
			u.built = at.Add(-g.dur(time.Hour, 2*day))
			u.config = &blobDef{digest: g.digest(), size: g.between(2*kiB, 12*kiB), mediaType: configMT}
			c.releases[i] = u
			at = at.Add(-period + g.dur(0, 3*day))
		}
		// Layers oldest first, so a release may keep its predecessor's
		// first own layer (an unchanged dependency layer).
		for i, u := range c.releases {
			u.layers = append(u.layers, c.base.layers[amd64]...)
			k := 2 + g.rng.IntN(3)
			for j := range k {
				if j == 0 && i > 0 && g.chance(500) {
					u.layers = append(u.layers, c.releases[i-1].layers[len(c.base.layers[amd64])])
					continue
				}
				u.layers = append(u.layers, &blobDef{digest: g.digest(), size: g.skewed(5*miB, 120*miB), mediaType: layerMT})
			}
		}
		g.channels = append(g.channels, c)
	}
	return nil
}

// repoOf strips the tag from repository:tag.
func repoOf(ref string) string {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i]
	}
	return ref
}

// --- rows ---

func (g *generator) useBlob(b *blobDef) int64 {
	if b.id == 0 {
		g.lastBlob++
		b.id = g.lastBlob
		g.w.add(g.tBlobs, b.id, b.digest, b.size, b.mediaType)
		g.blobBytes += b.size
	}
	return b.id
}

// newBlob writes a blob no other image shares.
func (g *generator) newBlob(size int64, mediaType string) (int64, string) {
	g.lastBlob++
	d := g.digest()
	g.w.add(g.tBlobs, g.lastBlob, d, size, mediaType)
	g.blobBytes += size
	return g.lastBlob, d
}

// imageRow is the part of an images row that varies.
type imageRow struct {
	digest                  string // "" draws a new one
	mediaType, repo         string
	list                    bool
	created                 time.Time
	built                   *time.Time
	arch                    int
	entrypoint, cmd, env    string
	labels, ports, user, wd string
	configDigest            string
}

func (g *generator) writeImage(r *imageRow) (int64, string) {
	g.lastImage++
	id, d := g.lastImage, r.digest
	if d == "" {
		d = g.digest()
	}
	var built, arch, osName, variant any = nil, "", "", ""
	if r.built != nil {
		built = *r.built
	}
	if !r.list {
		arch, osName, variant = archName(r.arch), "linux", archVariant(r.arch)
	}
	g.w.add(g.tImages, id, d, r.mediaType, r.list, r.repo+"@"+d, true, r.created, built,
		arch, osName, variant, "", r.entrypoint, r.cmd, r.env, r.labels, r.ports, r.user, r.wd,
		r.configDigest)
	return id, d
}

func (g *generator) linkBlobs(imageID, configID int64, layers []int64) {
	g.w.add(g.tImageBlobs, imageID, int64(-1), configID) // store.ConfigPosition
	for p, b := range layers {
		g.w.add(g.tImageBlobs, imageID, int64(p), b)
	}
}

func (g *generator) useUpstream(c *channel, u *upstreamImage) int64 {
	if u.id != 0 {
		return u.id
	}
	cfg := g.useBlob(u.config)
	layers := make([]int64, len(u.layers))
	for i, b := range u.layers {
		layers[i] = g.useBlob(b)
	}
	mt := mtDockerManifest
	if c.entry.oci {
		mt = mtOCIManifest
	}
	built := u.built
	u.id, _ = g.writeImage(&imageRow{digest: u.digest, mediaType: mt, repo: c.repo, created: u.created, built: &built,
		arch: amd64, entrypoint: c.entry.entrypoint, cmd: c.entry.cmd, env: `["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]`,
		labels: "{}", ports: c.entry.ports, configDigest: u.config.digest})
	g.linkBlobs(u.id, cfg, layers)
	return u.id
}
