package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

const (
	mtManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtConfig   = "application/vnd.docker.container.image.v1+json"
	mtLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// push is one new image pushed to a tag: a CI build of the stream.
type push struct {
	seq          int
	repo, tag    string
	digest       string // the manifest's
	manifest     []byte
	config       []byte
	configDigest string
	at           time.Time
	// bytes is what the image's blobs weigh, each counted once: manifest,
	// config and layers (the tag's sizeBytes once it is recorded).
	bytes int64
}

// builder makes the pushes: each a new build of one target stream that
// keeps the stream's lower layers (base OS, runtime) and replaces the top
// one or two with fresh layers (the application), so each push records a
// fresh digest, some shared blobs and some new ones.
type builder struct {
	rng     *rand.Rand
	run     string // unique per harness run: digests never repeat across runs
	targets []*target
	pool    []layer // bottom layers of every target: shared base layers
	seq     int
}

func newBuilder(rng *rand.Rand, run string, targets []*target) *builder {
	b := &builder{rng: rng, run: run, targets: targets}
	for _, t := range targets {
		if len(t.Layers) > 0 {
			b.pool = append(b.pool, t.Layers[0])
		}
	}
	return b
}

// next builds the next push, scheduled at at.
func (b *builder) next(at time.Time) (*push, error) {
	b.seq++
	t := b.targets[b.rng.IntN(len(b.targets))]
	tag := t.Tags[b.rng.IntN(len(t.Tags))]
	for _, name := range t.Tags {
		if name == "latest" && b.rng.IntN(2) == 0 {
			tag = name // CI pushes latest most
		}
	}
	var layers []layer
	switch {
	case len(t.Layers) > 1:
		drop := 1 + b.rng.IntN(2)
		layers = append(layers, t.Layers[:max(1, len(t.Layers)-drop)]...)
	case len(t.Layers) == 1:
		layers = append(layers, t.Layers[0])
	case len(b.pool) > 0:
		layers = append(layers, b.pool[b.rng.IntN(len(b.pool))])
	}
	fresh := 1 + b.rng.IntN(2)
	for i := range fresh {
		layers = append(layers, layer{Digest: b.digest("layer", i), Size: b.layerSize(), MediaType: mtLayer})
	}
	layers = dedupe(layers)
	t.Layers = layers // the next build of this stream starts from this one

	diffIDs := make([]string, len(layers))
	for i := range layers {
		diffIDs[i] = b.digest("diff", i)
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": at.UTC().Format(time.RFC3339Nano),
		"config": map[string]any{
			"Env":    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":    []string{"/app/run"},
			"Labels": map[string]string{"io.layerwise.bench.push": fmt.Sprintf("%s-%d", b.run, b.seq)},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return nil, err
	}
	p := &push{seq: b.seq, repo: t.Namespace + "/" + t.Stream, tag: tag, config: cfg, configDigest: sha(cfg), at: at}
	m := map[string]any{
		"schemaVersion": 2, "mediaType": mtManifest,
		"config": map[string]any{"mediaType": mtConfig, "size": len(cfg), "digest": p.configDigest},
		"layers": descriptors(layers),
	}
	if p.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	p.digest = sha(p.manifest)
	p.bytes = int64(len(p.manifest)) + int64(len(cfg))
	for _, l := range layers {
		p.bytes += l.Size
	}
	return p, nil
}

// layerSize is an application layer: log-uniform from 100 KiB to 120 MiB.
func (b *builder) layerSize() int64 {
	lo, hi := math.Log(100<<10), math.Log(120<<20)
	return int64(math.Exp(lo + b.rng.Float64()*(hi-lo)))
}

// digest is a digest no blob has had: of this run, push and slot.
func (b *builder) digest(kind string, i int) string {
	return sha([]byte(fmt.Sprintf("%s/%d/%s/%d", b.run, b.seq, kind, i)))
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// descriptors are the manifest's layer entries.
func descriptors(ls []layer) []map[string]any {
	out := make([]map[string]any, len(ls))
	for i, l := range ls {
		out[i] = map[string]any{"mediaType": l.MediaType, "size": l.Size, "digest": l.Digest}
	}
	return out
}

func dedupe(ls []layer) []layer {
	seen := map[string]bool{}
	out := ls[:0:0]
	for _, l := range ls {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			if l.MediaType == "" {
				l.MediaType = mtLayer
			}
			out = append(out, l)
		}
	}
	return out
}
