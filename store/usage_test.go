package store

import (
	"testing"
	"time"
)

func usageOf(t *testing.T, s *Store) *Usage {
	t.Helper()
	u, err := s.ComputeUsage(ctx, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func nsUsage(t *testing.T, u *Usage, ns string) NamespaceUsage {
	t.Helper()
	n, ok := u.Namespace(ns)
	if !ok {
		t.Fatalf("no namespace %s in usage", ns)
	}
	return n
}

func streamUsage(t *testing.T, n NamespaceUsage, name string) StreamUsage {
	t.Helper()
	for _, s := range n.Streams {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stream %s in %s", name, n.Name)
	return StreamUsage{}
}

func TestUsageCountsSharedLayersOnce(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.SetClock(func() time.Time { return t0 })
	// team-a/api and team-a/web share "base" (100); team-b/db shares it too.
	// Config blobs are 1, 2 and 3 bytes so they show up in every sum.
	api := image("api", 1, layer{"base", 100}, layer{"api", 10})
	web := image("web", 2, layer{"base", 100}, layer{"web", 20})
	db := image("db", 3, layer{"base", 100}, layer{"db", 30})
	pushTo(t, s, "team-a/api:latest", api, t0)
	pushTo(t, s, "team-a/web:latest", web, t0)
	pushTo(t, s, "team-b/db:latest", db, t0)

	u := usageOf(t, s)
	// Registry: base once + 10 + 20 + 30 + configs 1+2+3.
	if u.Registry.Bytes != 100+10+20+30+6 || u.Registry.Blobs != 7 {
		t.Errorf("registry = %+v, want 166 bytes in 7 blobs", u.Registry)
	}
	a := nsUsage(t, u, "team-a")
	// Namespace: base once although two streams hold it.
	if a.Bytes != 100+10+20+1+2 {
		t.Errorf("team-a bytes = %d, want 133", a.Bytes)
	}
	// base is in team-b too: exclusive to neither namespace.
	if a.ExclusiveBytes != 10+20+1+2 {
		t.Errorf("team-a exclusive = %d, want 33", a.ExclusiveBytes)
	}
	b := nsUsage(t, u, "team-b")
	if b.Bytes != 100+30+3 {
		t.Errorf("team-b bytes = %d, want 133", b.Bytes)
	}
	if b.ExclusiveBytes != 30+3 {
		t.Errorf("team-b exclusive = %d, want 33", b.ExclusiveBytes)
	}
	apiU := streamUsage(t, a, "api")
	if apiU.Bytes != 111 || apiU.ExclusiveBytes != 11 {
		t.Errorf("api stream = %d/%d, want 111/11", apiU.Bytes, apiU.ExclusiveBytes)
	}
	sh, err := u.Shares(ctx, s, []string{dg("layer:base"), dg("layer:api")})
	if err != nil {
		t.Fatal(err)
	}
	if got := sh[dg("layer:base")]; got != (BlobShares{Images: 3, Tags: 3, Streams: 3, Namespaces: 2}) {
		t.Errorf("base shares = %+v", got)
	}
	if got := sh[dg("layer:api")]; got != (BlobShares{Images: 1, Tags: 1, Streams: 1, Namespaces: 1}) {
		t.Errorf("api layer shares = %+v", got)
	}
	if apiU.UniqueImages != 1 || !apiU.Updated.Equal(t0) {
		t.Errorf("api stream: %d unique images, updated %v", apiU.UniqueImages, apiU.Updated)
	}
	tag := apiU.Tags[0]
	if tag.Name != "latest" || tag.Bytes != 111 || tag.ExclusiveBytes != 11 || len(tag.Revisions) != 1 ||
		tag.Revisions[0].Bytes != 111 || !tag.Revisions[0].Current || tag.Revisions[0].Image != api.Digest {
		t.Errorf("api:latest = %+v", tag)
	}
}

func TestUsageWithinOneStream(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.SetClock(func() time.Time { return t0 })
	v1 := image("v1", 1, layer{"base", 100}, layer{"deps", 50}, layer{"app1", 5})
	v2 := image("v2", 1, layer{"base", 100}, layer{"deps", 50}, layer{"app2", 6})
	pushTo(t, s, "shop/api:latest", v1, t0)
	pushTo(t, s, "shop/api:latest", v2, t0)
	if _, err := s.SetTag(ctx, Source{Kind: KindImageStreamImage, Namespace: "shop", Stream: "api", Digest: v1.Digest},
		TagRef{"shop", "api", "prod"}, TagOptions{}); err != nil {
		t.Fatal(err)
	}
	u := usageOf(t, s)
	st := streamUsage(t, nsUsage(t, u, "shop"), "api")
	// Two configs (one digest each: "config:v1", "config:v2") + base + deps + app1 + app2.
	want := int64(1 + 1 + 100 + 50 + 5 + 6)
	if st.Bytes != want || st.ExclusiveBytes != want {
		t.Errorf("stream = %d/%d, want %d/%d", st.Bytes, st.ExclusiveBytes, want, want)
	}
	var latest, prod TagUsage
	for _, tg := range st.Tags {
		switch tg.Name {
		case "latest":
			latest = tg
		case "prod":
			prod = tg
		}
	}
	if latest.Bytes != want {
		t.Errorf("latest = %d, want %d (two revisions, shared layers once)", latest.Bytes, want)
	}
	// prod holds v1, which latest holds too: only app2/config v2 are latest's own.
	if latest.ExclusiveBytes != 1+6 || prod.ExclusiveBytes != 0 || prod.Bytes != 1+100+50+5 {
		t.Errorf("latest excl %d (want 7), prod %d/%d (want 156/0)", latest.ExclusiveBytes, prod.Bytes, prod.ExclusiveBytes)
	}
	if st.Tags[0].Name != "latest" {
		t.Errorf("tags not in oc order: first is %s", st.Tags[0].Name)
	}
}

func TestUsageDuplicateLayersAndManifestLists(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	s.SetClock(func() time.Time { return t0 })
	// The seed's ImageStreamMapping: a zero-size layer three times.
	dup := image("dup", 7, layer{"empty", 0}, layer{"big", 1000}, layer{"empty", 0}, layer{"empty", 0}, layer{"x", 5})
	pushTo(t, s, "seed/ruby:latest", dup, t0)
	info, err := s.GetImage(ctx, dup.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Layers) != 5 || info.Bytes != 7+1000+5 {
		t.Errorf("image keeps %d layers (want 5) and counts %d bytes (want 1012)", len(info.Layers), info.Bytes)
	}
	// A layer listed twice with a real size still counts once.
	twice := image("twice", 0, layer{"l", 40}, layer{"l", 40})
	pushTo(t, s, "seed/twice:latest", twice, t0)

	amd := image("amd", 2, layer{"base-amd", 300}, layer{"app", 30})
	arm := image("arm", 3, layer{"base-arm", 200}, layer{"app", 30})
	list := ImageSnapshot{Digest: dg("list"), MediaType: "application/vnd.oci.image.index.v1+json",
		Manifests: []ManifestRef{{Digest: amd.Digest, OS: "linux", Architecture: "amd64"}, {Digest: arm.Digest, OS: "linux", Architecture: "arm64"}}}
	mustPutImage(t, s, amd)
	mustPutImage(t, s, arm)
	pushTo(t, s, "multi/tool:latest", list, t0)

	u := usageOf(t, s)
	if got := streamUsage(t, nsUsage(t, u, "seed"), "twice").Bytes; got != 40 {
		t.Errorf("layer listed twice counted %d, want 40", got)
	}
	tool := streamUsage(t, nsUsage(t, u, "multi"), "tool")
	// Union of the children: the shared "app" layer once.
	if want := int64(2 + 300 + 30 + 3 + 200); tool.Bytes != want || tool.Tags[0].Revisions[0].Bytes != want {
		t.Errorf("manifest list = %d (revision %d), want %d", tool.Bytes, tool.Tags[0].Revisions[0].Bytes, want)
	}
	if info, _ := s.GetImage(ctx, list.Digest); info.Bytes != 535 || len(info.Manifests) != 2 {
		t.Errorf("GetImage(list) = %d bytes, %d manifests", info.Bytes, len(info.Manifests))
	}
	if u.Registry.Bytes != 1012+40+535 {
		t.Errorf("registry = %d, want %d", u.Registry.Bytes, 1012+40+535)
	}
}

func TestUsageUnknownImagesAreCountedNotGuessed(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	_, err := s.PutStream(ctx, StreamSnapshot{Namespace: "x", Name: "y", Tags: []TagSnapshot{{
		Name: "latest", Items: []EventSnapshot{{Created: t0, Image: dg("unknown"), DockerImageReference: "r@" + dg("unknown")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	u := usageOf(t, s)
	if u.Registry.UnknownImages != 1 || u.Registry.Bytes != 0 {
		t.Fatalf("registry = %+v, want 1 unknown image and 0 bytes", u.Registry)
	}
}

func TestReclaimableFollowsThePolicy(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	now := t0.Add(30 * 24 * time.Hour)
	s.SetClock(func() time.Time { return now })
	// Five revisions, one unique 10-byte layer each plus a shared base.
	// The oldest two are prunable when old enough; the newest 3 always stay.
	for i := 0; i < 5; i++ {
		img := image(string(rune('a'+i)), 0, layer{"base", 100}, layer{string(rune('a' + i)), 10})
		pushTo(t, s, "p/app:latest", img, t0.Add(time.Duration(i)*time.Hour))
	}
	// Another tag keeps revision "a" alive: its layer is not freed.
	if _, err := s.SetTag(ctx, Source{Kind: KindImageStreamImage, Namespace: "p", Stream: "app", Digest: dg("image:a")},
		TagRef{"p", "app", "old"}, TagOptions{}); err != nil {
		t.Fatal(err)
	}
	u := usageOf(t, s)
	n := nsUsage(t, u, "p")
	if n.ReclaimableBytes != 10 {
		t.Errorf("reclaimable = %d, want 10 (revision b only; a is kept by tag old)", n.ReclaimableBytes)
	}
	var prunable int
	for _, tg := range n.Streams[0].Tags {
		for _, r := range tg.Revisions {
			if r.Prunable {
				prunable++
			}
		}
	}
	if prunable != 2 {
		t.Errorf("%d revisions marked prunable, want 2", prunable)
	}
	// Younger than 96h: nothing is reclaimable.
	s.SetClock(func() time.Time { return t0.Add(90 * time.Hour) })
	if n := nsUsage(t, usageOf(t, s), "p"); n.ReclaimableBytes != 0 {
		t.Errorf("reclaimable with young history = %d, want 0", n.ReclaimableBytes)
	}
}

func TestABareImageNeverErasesKnownLayers(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	full := image("full", 10, layer{"l", 100})
	pushTo(t, s, "a/b:latest", full, t0)
	// A later mapping that names the image only by digest.
	pushTo(t, s, "a/c:latest", ImageSnapshot{Digest: full.Digest, DockerImageReference: "r/a/c@" + full.Digest}, t0)
	info, err := s.GetImage(ctx, full.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Known || info.Bytes != 110 || len(info.Layers) != 1 {
		t.Fatalf("image after a bare mapping = known %v, %d bytes, %d layers; want the original 110 bytes", info.Known, info.Bytes, len(info.Layers))
	}
	// A bare image never seen before is a placeholder whose size is unknown.
	pushTo(t, s, "a/d:latest", ImageSnapshot{Digest: dg("new")}, t0)
	if info, _ := s.GetImage(ctx, dg("new")); info.Known {
		t.Fatal("a bare image is marked known")
	}
}
