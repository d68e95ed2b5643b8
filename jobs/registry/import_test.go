package registry

import (
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/store"
	"layerwise/store/storetest"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tagOf reads one tag of a stream.
func tagOf(t *testing.T, s *store.Store, ref store.TagRef) store.TagSnapshot {
	t.Helper()
	st, err := s.GetStream(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range st.Tags {
		if tg.Name == ref.Tag {
			return tg
		}
	}
	t.Fatalf("no tag %s", ref)
	return store.TagSnapshot{}
}

func history(tg store.TagSnapshot) []string {
	var out []string
	for _, it := range tg.Items {
		out = append(out, it.Image)
	}
	return out
}

func audits(t *testing.T, s *store.Store) []store.AuditEvent {
	t.Helper()
	evs, err := s.AuditLog(ctx, store.AuditFilter{Action: "tag.import"})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// blobBytes is the sum of the distinct blobs (config and layers) of images.
func blobBytes(t *testing.T, imgs ...v1.Image) int64 {
	t.Helper()
	seen := map[string]bool{}
	var n int64
	for _, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !seen[d.Digest.String()] {
				seen[d.Digest.String()] = true
				n += d.Size
			}
		}
	}
	return n
}

func TestImport(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	s := openStore(t)
	f := NewFetcher("")
	base := testLayer(t, 50_000)
	v1img := testImage(t, "linux/amd64", base, testLayer(t, 3000), base)
	d1 := reg.push(t, "shop/app:prod", v1img)
	from := reg.host + "/shop/app:prod"
	dst := store.TagRef{Namespace: "shop", Stream: "app", Tag: "prod"}

	// A new stream needs --confirm; nothing is written without it.
	_, err := Import(ctx, s, f, dst, from, ImportOptions{Actor: "ann"})
	wantErr(t, err, store.ErrNotFound, "image stream shop/app does not exist; pass --confirm to create it")
	if _, err := s.GetStream(ctx, store.StreamRef{Namespace: "shop", Stream: "app"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the stream was created: %v", err)
	}

	res, err := Import(ctx, s, f, dst, from, ImportOptions{Confirm: true, Actor: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	pull := reg.host + "/shop/app@" + d1
	if !res.Changed || res.Image != d1 || res.Ref != pull || res.Spec != from {
		t.Errorf("first import: %+v", res)
	}
	tg := tagOf(t, s, dst)
	if got := history(tg); len(got) != 1 || got[0] != d1 || tg.Items[0].DockerImageReference != pull {
		t.Errorf("history %v %+v", got, tg.Items)
	}
	if tg.From == nil || tg.From.Kind != store.KindDockerImage || tg.From.Name != from || !tg.InSpec || tg.ImportMode != "Legacy" || tg.ReferencePolicy != "Source" {
		t.Errorf("spec %+v from %+v", tg, tg.From)
	}
	if tg.Condition == nil || tg.Condition.Status != "True" {
		t.Errorf("condition %+v", tg.Condition)
	}
	evs := audits(t, s)
	if len(evs) != 1 || evs[0].Actor != "ann" || evs[0].Namespace != "shop" || evs[0].Target != "shop/app:prod" ||
		evs[0].Before != "none" || evs[0].After != d1+" from "+from {
		t.Errorf("audit %+v", evs)
	}
	info, err := s.GetImage(ctx, d1)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != blobBytes(t, v1img) || len(info.Layers) != 3 || info.Meta.Architecture != "amd64" {
		t.Errorf("image %+v, %d bytes, want %d", info.ImageSnapshot, info.Bytes, blobBytes(t, v1img))
	}

	// The same digest again: history unchanged.
	res, err = Import(ctx, s, f, dst, from, ImportOptions{Actor: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || len(history(tagOf(t, s, dst))) != 1 {
		t.Errorf("re-import of the same digest: %+v, history %v", res, history(tagOf(t, s, dst)))
	}

	// An alias that tracks prod follows it.
	alias := store.TagRef{Namespace: "shop", Stream: "app", Tag: "stable"}
	if _, err := s.SetTag(ctx, store.Source{Kind: store.KindImageStreamTag, Namespace: "shop", Stream: "app", Tag: "prod"}, alias, store.TagOptions{Alias: true}); err != nil {
		t.Fatal(err)
	}

	// A new image under the same tag: one new entry.
	v2img := testImage(t, "linux/amd64", base, testLayer(t, 4000))
	d2 := reg.push(t, "shop/app:prod", v2img)
	res, err = Import(ctx, s, f, dst, "", ImportOptions{Actor: "bob"}) // "" re-imports the tag's own source
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Image != d2 {
		t.Errorf("new digest: %+v", res)
	}
	if got := history(tagOf(t, s, dst)); len(got) != 2 || got[0] != d2 || got[1] != d1 {
		t.Errorf("history %v", got)
	}
	if got := history(tagOf(t, s, alias)); len(got) == 0 || got[0] != d2 {
		t.Errorf("the alias did not follow: %v", got)
	}
	sizes, err := s.StreamSizes(ctx, store.StreamRef{Namespace: "shop", Stream: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if want := blobBytes(t, v1img, v2img); sizes.Bytes != want {
		t.Errorf("stream usage %d, want %d (the distinct blobs pushed)", sizes.Bytes, want)
	}

	// A failed import marks the tag and keeps its image; nothing else changes.
	before := storetest.Dump(t, s)
	nAudit := len(audits(t, s))
	_, err = Import(ctx, s, f, dst, reg.host+"/shop/app:gone", ImportOptions{Actor: "bob"})
	wantErr(t, err, store.ErrInvalid, "shop/app:prod is tagged from DockerImage "+from, "--confirm")
	if after := storetest.Dump(t, s); after != before {
		t.Error("a refused import changed the database")
	}
	_, err = Import(ctx, s, f, dst, reg.host+"/shop/app:gone", ImportOptions{Confirm: true, Actor: "bob"})
	wantErr(t, err, ErrNotFound, "not found in "+reg.host)
	tg = tagOf(t, s, dst)
	if tg.Condition == nil || tg.Condition.Status != "False" || tg.Condition.Reason != ReasonNotFound || tg.Condition.Message != err.Error() {
		t.Errorf("condition after a failure: %+v", tg.Condition)
	}
	if got := history(tg); len(got) != 2 || got[0] != d2 || tg.From.Name != from {
		t.Errorf("a failure changed the tag: %v from %+v", got, tg.From)
	}
	if len(audits(t, s)) != nAudit {
		t.Error("a failed import wrote an audit event")
	}

	// The next success clears it.
	if _, err := Import(ctx, s, f, dst, "", ImportOptions{Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	if c := tagOf(t, s, dst).Condition; c == nil || c.Status != "True" || c.Message != "" {
		t.Errorf("condition after success: %+v", c)
	}

	// Registry down: the same.
	reg.Close()
	_, err = Import(ctx, s, f, dst, "", ImportOptions{Actor: "bob"})
	wantErr(t, err, ErrUnreachable, "cannot read from registry")
	if c := tagOf(t, s, dst).Condition; c == nil || c.Status != "False" || c.Reason != ReasonUnreachable {
		t.Errorf("condition with the registry down: %+v", c)
	}
	if got := history(tagOf(t, s, dst)); len(got) != 2 || got[0] != d2 {
		t.Errorf("history after a failure: %v", got)
	}

	// Refused before any request.
	_, err = Import(ctx, s, f, store.TagRef{Namespace: "shop", Stream: "app", Tag: "none"}, "", ImportOptions{Confirm: true})
	wantErr(t, err, store.ErrInvalid, "shop/app:none has no external image (DockerImage) to import from")
	_, err = Import(ctx, s, f, dst, from, ImportOptions{ImportMode: "Everything"})
	wantErr(t, err, store.ErrInvalid, "valid ImportMode values are Legacy or PreserveOriginal")
	_, err = Import(ctx, s, f, dst, "bad ref", ImportOptions{Confirm: true})
	wantErr(t, err, store.ErrInvalid, "contains white space")
}

func TestImportManifestList(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	s := openStore(t)
	f := NewFetcher("")
	base := testLayer(t, 20_000)
	imgs := map[string]v1.Image{
		"linux/amd64":    testImage(t, "linux/amd64", base, testLayer(t, 100)),
		"linux/arm64/v8": testImage(t, "linux/arm64/v8", base, testLayer(t, 200)),
	}
	listDigest := reg.pushIndex(t, "ml/multi:1", testIndex(t, types.OCIImageIndex, imgs, "linux/amd64", "linux/arm64/v8"))
	from := reg.host + "/ml/multi:1"
	amd, _ := imgs["linux/amd64"].Digest()

	legacy := store.TagRef{Namespace: "ml", Stream: "multi", Tag: "legacy"}
	res, err := Import(ctx, s, f, legacy, from, ImportOptions{Confirm: true, Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Image != amd.String() {
		t.Errorf("Legacy points at %s, want the linux/amd64 image %s", res.Image, amd)
	}

	keep := store.TagRef{Namespace: "ml", Stream: "multi", Tag: "all"}
	res, err = Import(ctx, s, f, keep, from, ImportOptions{ImportMode: "PreserveOriginal", Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Image != listDigest {
		t.Errorf("PreserveOriginal points at %s, want the list %s", res.Image, listDigest)
	}
	info, err := s.GetImage(ctx, listDigest)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Manifests) != 2 || info.Manifests[1].Variant != "v8" || info.Bytes != blobBytes(t, imgs["linux/amd64"], imgs["linux/arm64/v8"]) {
		t.Errorf("list %+v: %d bytes", info.Manifests, info.Bytes)
	}
	if tg := tagOf(t, s, keep); tg.ImportMode != "PreserveOriginal" {
		t.Errorf("import mode %q", tg.ImportMode)
	}
	// Re-importing keeps the tag's mode.
	res, err = Import(ctx, s, f, keep, "", ImportOptions{Actor: "cli"})
	if err != nil || res.Image != listDigest || res.Changed {
		t.Errorf("re-import: %+v %v", res, err)
	}
}
