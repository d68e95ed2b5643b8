package store

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// fixture: shop/api:latest has two images pushed (v1 then v2).
func shop(t *testing.T) (*Store, ImageSnapshot, ImageSnapshot) {
	s := newTestStore(t)
	s.SetClock(func() time.Time { return t0.Add(time.Hour) })
	v1 := image("api-v1", 1000, layer{"base", 50_000}, layer{"app1", 3_000})
	v2 := image("api-v2", 1100, layer{"base", 50_000}, layer{"app2", 4_000})
	pushTo(t, s, "shop/api:latest", v1, t0)
	pushTo(t, s, "shop/api:latest", v2, t0.Add(time.Minute))
	return s, v1, v2
}

func TestHistoryIsAStackWithCurrentFirst(t *testing.T) {
	t.Parallel()
	s, v1, v2 := shop(t)
	if got := historyImages(t, s, "shop/api:latest"); !equalStrings(got, []string{v2.Digest, v1.Digest}) {
		t.Fatalf("history = %v, want [v2 v1]", got)
	}
	// Pushing the image the tag already has changes nothing.
	pushTo(t, s, "shop/api:latest", v2, t0.Add(2*time.Minute))
	if got := historyImages(t, s, "shop/api:latest"); len(got) != 2 {
		t.Fatalf("same image again: history has %d entries, want 2", len(got))
	}
}

func TestTagCopyIsOneTime(t *testing.T) {
	t.Parallel()
	s, v1, v2 := shop(t)
	res, err := s.SetTag(ctx, Source{Kind: KindImageStreamTag, Namespace: "shop", Stream: "api", Tag: "latest"},
		TagRef{"shop", "api", "test"}, TagOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Image != v2.Digest || !res.Changed || res.Spec != "api@"+v2.Digest {
		t.Fatalf("result = %+v", res)
	}
	st, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
	var spec *ObjectRef
	for _, tg := range st.Tags {
		if tg.Name == "test" {
			spec = tg.From
		}
	}
	if spec == nil || spec.Kind != KindImageStreamImage || spec.Name != "api@"+v2.Digest {
		t.Fatalf("test spec from = %+v, want ImageStreamImage api@v2", spec)
	}
	// The source moves; the copy does not.
	pushTo(t, s, "shop/api:latest", v1, t0.Add(3*time.Minute))
	if got := historyImages(t, s, "shop/api:test"); !equalStrings(got, []string{v2.Digest}) {
		t.Fatalf("copy followed its source: %v", got)
	}
	// Tagging the same image again changes nothing, not even the generation.
	before, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
	res, err = s.SetTag(ctx, Source{Kind: KindImageStreamImage, Namespace: "shop", Stream: "api", Digest: v2.Digest},
		TagRef{"shop", "api", "test"}, TagOptions{})
	if err != nil || res.Changed {
		t.Fatalf("same image again: %+v %v", res, err)
	}
	after, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
	if after.Generation != before.Generation {
		t.Fatalf("generation moved from %d to %d on a no-op", before.Generation, after.Generation)
	}
}

func TestAliasTracksItsSource(t *testing.T) {
	t.Parallel()
	s, v1, v2 := shop(t)
	_, err := s.SetTag(ctx, Source{Kind: KindImageStreamTag, Namespace: "shop", Stream: "api", Tag: "latest"},
		TagRef{"shop", "api", "stable"}, TagOptions{Alias: true})
	if err != nil {
		t.Fatal(err)
	}
	// An alias of the alias follows too.
	_, err = s.SetTag(ctx, Source{Kind: KindImageStreamTag, Namespace: "shop", Stream: "api", Tag: "stable"},
		TagRef{"shop", "api", "lts"}, TagOptions{Alias: true})
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, s, "shop/api:latest", v1, t0.Add(3*time.Minute))
	for _, ref := range []string{"shop/api:stable", "shop/api:lts"} {
		if got := historyImages(t, s, ref); len(got) == 0 || got[0] != v1.Digest {
			t.Errorf("%s = %v, want v1 on top after latest moved", ref, got)
		}
	}
	if got := historyImages(t, s, "shop/api:stable"); !equalStrings(got, []string{v1.Digest, v2.Digest}) {
		t.Errorf("stable history = %v", got)
	}
	st, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
	for _, tg := range st.Tags {
		if tg.Name == "stable" && (tg.From == nil || tg.From.Kind != KindImageStreamTag || tg.From.Name != "api:latest") {
			t.Errorf("stable spec = %+v, want ImageStreamTag api:latest", tg.From)
		}
	}
}

func TestTagRefusals(t *testing.T) {
	t.Parallel()
	s, _, v2 := shop(t)
	pushTo(t, s, "shop/web:latest", image("web", 10, layer{"w", 5}), t0)
	if err := s.CreateStream(ctx, StreamRef{"shop", "empty"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "quay.io/acme/x:1"}, TagRef{"shop", "empty", "pending"}, TagOptions{}); err != nil {
		t.Fatal(err)
	}
	istag := func(ns, stream, tag string) Source {
		return Source{Kind: KindImageStreamTag, Namespace: ns, Stream: stream, Tag: tag}
	}
	cases := []struct {
		name   string
		src    Source
		dst    TagRef
		opt    TagOptions
		kind   error
		substr string
	}{
		{"alias across streams", istag("shop", "api", "latest"), TagRef{"shop", "web", "api"}, TagOptions{Alias: true},
			ErrInvalid, "cannot set alias across different Image Streams"},
		{"alias across namespaces", istag("shop", "api", "latest"), TagRef{"other", "api", "x"}, TagOptions{Alias: true},
			ErrInvalid, "cannot set alias across different Image Streams"},
		{"source with no image", istag("shop", "empty", "pending"), TagRef{"shop", "api", "x"}, TagOptions{},
			ErrInvalid, `"shop/empty:pending" is not currently pointing to an image, cannot use it as the source of a tag`},
		{"unknown source tag", istag("shop", "api", "nope"), TagRef{"shop", "api", "x"}, TagOptions{},
			ErrNotFound, "image stream tag shop/api:nope"},
		{"unknown source stream", istag("shop", "nope", "latest"), TagRef{"shop", "api", "x"}, TagOptions{},
			ErrNotFound, "image stream tag shop/nope:latest"},
		{"image not in stream", Source{Kind: KindImageStreamImage, Namespace: "shop", Stream: "web", Digest: v2.Digest},
			TagRef{"shop", "web", "x"}, TagOptions{}, ErrNotFound, "is not in image stream shop/web"},
		{"tag to itself", istag("shop", "api", "latest"), TagRef{"shop", "api", "latest"}, TagOptions{},
			ErrInvalid, "to itself"},
		{"scheduled stream tag", istag("shop", "api", "latest"), TagRef{"shop", "api", "x"}, TagOptions{Scheduled: true},
			ErrInvalid, "only tags from an external image (DockerImage) can be scheduled"},
		{"alias of external image", Source{Kind: KindDockerImage, Ref: "docker.io/library/busybox:1"}, TagRef{"shop", "api", "x"},
			TagOptions{Alias: true}, ErrInvalid, "an alias (a tag that tracks its source, --alias) needs an image stream tag"},
		{"bad import mode", Source{Kind: KindDockerImage, Ref: "docker.io/library/busybox:1"}, TagRef{"shop", "api", "x"},
			TagOptions{ImportMode: "Everything"}, ErrInvalid, "valid ImportMode values are Legacy or PreserveOriginal"},
		{"bad pull spec", Source{Kind: KindDockerImage, Ref: "quay.io/a b"}, TagRef{"shop", "api", "x"}, TagOptions{},
			ErrInvalid, "contains white space"},
		{"bad destination tag", istag("shop", "api", "latest"), TagRef{"shop", "api", "-bad"}, TagOptions{},
			ErrInvalid, `must be at most 128 characters: letters a–z and A–Z, digits, '_', '.' and '-', not starting with '.' or '-' (e.g. v1.2.0)`},
		{"bad destination stream", istag("shop", "api", "latest"), TagRef{"shop", "Api", "x"}, TagOptions{},
			ErrInvalid, `must be lower-case letters a–z and digits, in groups joined by a single '.', '_' or '-' (e.g. payment-api)`},
		{"bad namespace", istag("shop", "api", "latest"), TagRef{"Shop_1", "api", "x"}, TagOptions{},
			ErrInvalid, "must be a DNS label"},
		{"cosign tag by hand", istag("shop", "api", "latest"), TagRef{"shop", "api", cosignTagOf(v2.Digest, "sig")}, TagOptions{},
			ErrInvalid, "is a cosign tag (a signature, attestation or SBOM of " + v2.Digest + ")"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := dumpTables(t, s)
			_, err := s.SetTag(ctx, tc.src, tc.dst, tc.opt)
			wantErr(t, err, tc.kind, tc.substr)
			if after := dumpTables(t, s); after != before {
				t.Errorf("a refused tag changed the database")
			}
		})
	}
}

func TestExternalSources(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	// By tag: only the spec; the importer fills the history.
	res, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "docker.io/python:3.6.0"}, TagRef{"py", "python", "3.6"}, TagOptions{Scheduled: true})
	if err != nil || res.Changed || res.Image != "" || res.Spec != "docker.io/python:3.6.0" {
		t.Fatalf("by tag: %+v %v", res, err)
	}
	st, _ := s.GetStream(ctx, StreamRef{"py", "python"})
	if tg := st.Tags[0]; !tg.Scheduled || tg.ImportMode != "Legacy" || tg.From.Kind != KindDockerImage || len(tg.Items) != 0 {
		t.Fatalf("spec = %+v", tg)
	}
	// By digest, never read: a history entry with the pull spec and no
	// image (unverified) until an import reads it.
	ref := "quay.io/acme/tool@" + dg("tool")
	res, err = s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: ref}, TagRef{"py", "tool", "1"}, TagOptions{})
	if err != nil || !res.Changed || res.Image != "" || res.Ref != ref {
		t.Fatalf("by digest: %+v %v", res, err)
	}
	if h := history(t, s, "py/tool:1"); len(h) != 1 || h[0].DockerImageReference != ref || h[0].Image != "" {
		t.Fatalf("history = %+v", h)
	}
	// Read from its registry by the caller (the managed registry): linked.
	res, err = s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: ref}, TagRef{"py", "tool", "2"}, TagOptions{Verified: true})
	if err != nil || !res.Changed || res.Image != dg("tool") {
		t.Fatalf("by digest, verified: %+v %v", res, err)
	}
	// A reference records the pull spec with no image.
	res, err = s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "registry.example.com/x/y:2"}, TagRef{"py", "tool", "ref"}, TagOptions{Reference: true})
	if err != nil || !res.Changed {
		t.Fatalf("reference: %+v %v", res, err)
	}
	if h := history(t, s, "py/tool:ref"); len(h) != 1 || h[0].Image != "" || h[0].DockerImageReference != "registry.example.com/x/y:2" {
		t.Fatalf("reference history = %+v", h)
	}
}

func TestRollbackPrependsAndKeepsTheOldEntry(t *testing.T) {
	t.Parallel()
	s, v1, v2 := shop(t)
	res, err := s.Rollback(ctx, TagRef{"shop", "api", "latest"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Image != v1.Digest {
		t.Fatalf("rollback = %+v, want v1", res)
	}
	h := history(t, s, "shop/api:latest")
	if got := historyImages(t, s, "shop/api:latest"); !equalStrings(got, []string{v1.Digest, v2.Digest, v1.Digest}) {
		t.Fatalf("history = %v, want [v1 v2 v1]", got)
	}
	if !h[0].Created.Equal(t0.Add(time.Hour)) {
		t.Errorf("rollback entry created %v, want now (%v)", h[0].Created, t0.Add(time.Hour))
	}
	// Rolling back to the current image changes nothing.
	res, err = s.Rollback(ctx, TagRef{"shop", "api", "latest"}, v1.Digest)
	if err != nil || res.Changed {
		t.Fatalf("rollback to current: %+v %v", res, err)
	}
	_, err = s.Rollback(ctx, TagRef{"shop", "api", "latest"}, dg("never"))
	wantErr(t, err, ErrNotFound, "is not in the history of shop/api:latest")
	_, err = s.Rollback(ctx, TagRef{"shop", "api", "nope"}, "")
	wantErr(t, err, ErrNotFound, "shop/api:nope")
}

func TestPromoteAlongTheLadder(t *testing.T) {
	t.Parallel()
	s, _, v2 := shop(t)
	res, err := s.Promote(ctx, StreamRef{"shop", "api"}, "latest", "")
	if err != nil || res.Tag.Tag != "test" || res.Image != v2.Digest {
		t.Fatalf("promote latest: %+v %v", res, err)
	}
	res, err = s.Promote(ctx, StreamRef{"shop", "api"}, "test", "")
	if err != nil || res.Tag.Tag != "prod" || res.Image != v2.Digest {
		t.Fatalf("promote test: %+v %v", res, err)
	}
	_, err = s.Promote(ctx, StreamRef{"shop", "api"}, "prod", "")
	wantErr(t, err, ErrInvalid, "has no next step on the promotion ladder latest → test → prod")
	// A promotion is a copy: prod stays when latest moves on.
	pushTo(t, s, "shop/api:latest", image("api-v3", 1, layer{"app3", 1}), t0.Add(time.Hour))
	if got := historyImages(t, s, "shop/api:prod"); !equalStrings(got, []string{v2.Digest}) {
		t.Fatalf("prod = %v", got)
	}
	// A namespace's own ladder.
	if err := s.SetNamespace(ctx, "shop", NamespaceSettings{Ladder: []string{"latest", "qa"}}); err != nil {
		t.Fatal(err)
	}
	res, err = s.Promote(ctx, StreamRef{"shop", "api"}, "latest", "")
	if err != nil || res.Tag.Tag != "qa" {
		t.Fatalf("custom ladder: %+v %v", res, err)
	}
}

func TestDeleteTagAndStream(t *testing.T) {
	t.Parallel()
	s, v1, _ := shop(t)
	if _, err := s.Promote(ctx, StreamRef{"shop", "api"}, "latest", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(ctx, TagRef{"shop", "api", "latest"}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
	if len(st.Tags) != 1 || st.Tags[0].Name != "test" {
		t.Fatalf("tags after delete = %+v", st.Tags)
	}
	var events int64
	s.DB().Model(&TagEvent{}).Count(&events)
	if events != 1 {
		t.Fatalf("%d history entries left, want 1 (test's)", events)
	}
	if _, err := s.GetImage(ctx, v1.Digest); err != nil {
		t.Fatalf("image gone with the tag: %v", err)
	}
	wantErr(t, s.DeleteTag(ctx, TagRef{"shop", "api", "latest"}), ErrNotFound, "image stream tag shop/api:latest")
	if err := s.DeleteStream(ctx, StreamRef{"shop", "api"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetStream(ctx, StreamRef{"shop", "api"})
	wantErr(t, err, ErrNotFound, "image stream shop/api")
	if err := s.CreateStream(ctx, StreamRef{"shop", "web"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreateStream(ctx, StreamRef{"shop", "web"}), ErrExists, "image stream shop/web")
}

func TestGenerations(t *testing.T) {
	t.Parallel()
	s, _, _ := shop(t)
	gen := func() int64 { st, _ := s.GetStream(ctx, StreamRef{"shop", "api"}); return st.Generation }
	g0 := gen()
	res, err := s.Promote(ctx, StreamRef{"shop", "api"}, "latest", "")
	if err != nil {
		t.Fatal(err)
	}
	if gen() != g0+1 {
		t.Fatalf("generation %d after a spec change, want %d", gen(), g0+1)
	}
	h := history(t, s, "shop/api:test")
	if h[0].Generation != g0+1 || res.Image != h[0].Image {
		t.Fatalf("entry = %+v, want generation %d and image %s", h[0], g0+1, res.Image)
	}
}

// The three writers of a tag's spec (tag, import, schedule) share one rule:
// a spec that changes is one new generation of the stream, recorded on the
// tag and on the entry it adds; the same spec again changes nothing.
func TestEverySpecWriteIsOneGeneration(t *testing.T) {
	t.Parallel()
	s, v1, _ := shop(t)
	dst := TagRef{"shop", "api", "ext"}
	imp := func(opt TagOptions) func() (bool, error) {
		return func() (bool, error) {
			res, err := s.RecordImport(ctx, dst, "quay.io/acme/api:1", opt, v1, "quay.io/acme/api@"+v1.Digest)
			return res.SpecChanged, err
		}
	}
	steps := []struct {
		name  string
		write func() (bool, error)
		spec  bool // the spec changed: one new generation
	}{
		{"tag from a pull spec", func() (bool, error) {
			res, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "quay.io/acme/api:1"}, dst, TagOptions{})
			return res.SpecChanged, err
		}, true},
		{"import of the same spec", imp(TagOptions{}), false},
		{"schedule", func() (bool, error) { return s.SetScheduled(ctx, dst, true) }, true},
		{"schedule again", func() (bool, error) { return s.SetScheduled(ctx, dst, true) }, false},
		{"import that unschedules", imp(TagOptions{}), true},
		{"import as Local", imp(TagOptions{ReferencePolicy: "Local"}), true},
		{"import as Local again", imp(TagOptions{ReferencePolicy: "Local"}), false},
	}
	gen := func() (stream, tag int64) {
		t.Helper()
		st, err := s.GetStream(ctx, StreamRef{"shop", "api"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range st.Tags {
			if tg.Name == dst.Tag && tg.Generation != nil {
				tag = *tg.Generation
			}
		}
		return st.Generation, tag
	}
	for _, step := range steps {
		before, tagBefore := gen()
		changed, err := step.write()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		after, tagAfter := gen()
		want, wantTag := before, tagBefore
		if step.spec {
			want, wantTag = before+1, before+1
		}
		if changed != step.spec || after != want || tagAfter != wantTag {
			t.Errorf("%s: changed %v, stream generation %d → %d, tag's %d → %d; want changed %v, stream %d, tag %d",
				step.name, changed, before, after, tagBefore, tagAfter, step.spec, want, wantTag)
		}
	}
	// The first import added the one entry, under the spec of generation 1.
	if h := history(t, s, "shop/api:ext"); len(h) != 1 || h[0].Generation != 1 {
		t.Errorf("history of the imported tag: %+v; want one entry of generation 1", h)
	}
}

func TestImportCondition(t *testing.T) {
	t.Parallel()
	s, _, v2 := shop(t)
	ref := TagRef{"shop", "api", "latest"}
	if err := s.SetImportCondition(ctx, ref, false, "NotFound", "manifest unknown"); err != nil {
		t.Fatal(err)
	}
	st, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
	c := st.Tags[0].Condition
	if c == nil || c.Status != "False" || c.Reason != "NotFound" || c.Message != "manifest unknown" {
		t.Fatalf("condition = %+v", c)
	}
	if got := historyImages(t, s, "shop/api:latest"); got[0] != v2.Digest {
		t.Fatalf("failed import changed the current image")
	}
	if err := s.SetImportCondition(ctx, ref, true, "", ""); err != nil {
		t.Fatal(err)
	}
	st, _ = s.GetStream(ctx, StreamRef{"shop", "api"})
	if c := st.Tags[0].Condition; c == nil || c.Status != "True" || c.Message != "" {
		t.Fatalf("condition after success = %+v", c)
	}
}

func TestParseSource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, kind string
		want     Source
		err      string
	}{
		{"python:3.5", "", Source{Kind: KindImageStreamTag, Namespace: "ns", Stream: "python", Tag: "3.5"}, ""},
		{"other/python", "", Source{Kind: KindImageStreamTag, Namespace: "other", Stream: "python", Tag: "latest"}, ""},
		{"python@sha256:abc", "", Source{Kind: KindImageStreamImage, Namespace: "ns", Stream: "python", Digest: "sha256:abc"}, ""},
		{"docker.io/python:3.6.0", "", Source{Kind: KindDockerImage, Ref: "docker.io/python:3.6.0"}, ""},
		{"localhost:5000/a/b", "", Source{Kind: KindDockerImage, Ref: "localhost:5000/a/b"}, ""},
		{"centos/python-35-centos7", "docker", Source{Kind: KindDockerImage, Ref: "centos/python-35-centos7"}, ""},
		{"python:3.5", "isimage", Source{}, "not an image stream image"},
		{"python:3.5", "bogus", Source{}, "must be istag, isimage or docker"},
	}
	for _, tc := range cases {
		got, err := ParseSource(tc.in, "ns", tc.kind)
		if tc.err != "" {
			wantErr(t, err, ErrInvalid, tc.err)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSource(%q, %q) = %+v, %v; want %+v", tc.in, tc.kind, got, err, tc.want)
		}
	}
}

func TestOrderTags(t *testing.T) {
	t.Parallel()
	tags := []string{"prod", "3.9", "latest", "v1.4.2", "3.11", "test", "v2", "3.11.1"}
	OrderTags(tags, func(s string) string { return s })
	// As library-go's imageutil.PrioritizeTags orders them (oc describe is):
	// latest, minor versions newest first, full versions newest first, the
	// rest by name ("v2" is no semantic version).
	want := []string{"latest", "3.11", "3.9", "3.11.1", "v1.4.2", "prod", "test", "v2"}
	if !equalStrings(tags, want) {
		t.Fatalf("order = %v, want %v", tags, want)
	}
}

func TestOrderTagsByLadder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ladder []string
		want   string
	}{
		{DefaultLadder, "latest,test,prod,3.11,canary,v2"},
		{[]string{"dev", "canary", "prod"}, "canary,prod,latest,3.11,test,v2"},
		{nil, "latest,3.11,canary,prod,test,v2"},
	}
	for _, c := range cases {
		tags := []string{"prod", "canary", "v2", "latest", "test", "3.11"}
		OrderTagsByLadder(tags, func(s string) string { return s }, c.ladder)
		if got := joinComma(tags); got != c.want {
			t.Errorf("ladder %v: order %s, want %s", c.ladder, got, c.want)
		}
	}
}

// TestTagResultNoOp: a tag set again as it is changes nothing; a new
// definition with the same image changes the spec only.
func TestTagResultNoOp(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	pushTo(t, s, "x/a:latest", image("a", 1, layer{"a", 1}), t0)
	src := Source{Kind: KindImageStreamTag, Namespace: "x", Stream: "a", Tag: "latest"}
	dst := TagRef{"x", "a", "prod"}
	for _, c := range []struct {
		name              string
		opt               TagOptions
		changed, specChgd bool
	}{
		{"new tag", TagOptions{}, true, true},
		{"again", TagOptions{}, false, false},
		{"as an alias", TagOptions{Alias: true}, false, true},
		{"as an alias again", TagOptions{Alias: true}, false, false},
	} {
		res, err := s.SetTag(ctx, src, dst, c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Changed != c.changed || res.SpecChanged != c.specChgd || res.NoOp() != (!c.changed && !c.specChgd) {
			t.Errorf("%s: changed %v, spec changed %v, want %v, %v", c.name, res.Changed, res.SpecChanged, c.changed, c.specChgd)
		}
	}
}

func TestSetScheduled(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	if _, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: "quay.io/a/b:1"}, TagRef{"x", "b", "1"}, TagOptions{}); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.SetScheduled(ctx, TagRef{"x", "b", "1"}, true); err != nil || !changed {
		t.Fatalf("scheduling: changed %v, %v", changed, err)
	}
	st, _ := s.GetStream(ctx, StreamRef{"x", "b"})
	if !st.Tags[0].Scheduled {
		t.Fatal("not scheduled")
	}
	// Again: already on, nothing changes.
	if changed, err := s.SetScheduled(ctx, TagRef{"x", "b", "1"}, true); err != nil || changed {
		t.Fatalf("scheduling again: changed %v, %v", changed, err)
	}
	pushTo(t, s, "x/pushed:latest", image("p", 1, layer{"p", 1}), t0)
	_, err := s.SetScheduled(ctx, TagRef{"x", "pushed", "latest"}, true)
	wantErr(t, err, ErrInvalid, "only tags from an external image")
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

// TestRollbackSetsTheSpecAsOcTag: a rollback sets the tag's spec to the
// image it makes current, as `oc tag api@sha256:OLD api:prod` does, so the
// stream read back (or applied to a cluster) points where the tag does;
// a tag that tracks another tag, or is imported on a schedule, keeps its
// source and says so.
func TestRollbackSetsTheSpecAsOcTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(t *testing.T, s *Store)
		tag      string
		wantFrom ObjectRef
		kept     string
	}{
		{"a copy", func(t *testing.T, s *Store) {
			mustSet(t, s, Source{Kind: KindImageStreamTag, Namespace: "shop", Stream: "api", Tag: "latest"}, "prod", TagOptions{})
		}, "prod", ObjectRef{Kind: KindImageStreamImage, Name: "api@" + dg("image:api-v1")}, ""},
		{"a pushed tag", func(t *testing.T, s *Store) {}, "latest",
			ObjectRef{Kind: KindImageStreamImage, Name: "api@" + dg("image:api-v1")}, ""},
		{"a tag from a registry, not scheduled", func(t *testing.T, s *Store) {
			mustSet(t, s, Source{Kind: KindDockerImage, Ref: "quay.io/acme/api:1"}, "ext", TagOptions{ReferencePolicy: "Local"})
		}, "ext", ObjectRef{Kind: KindImageStreamImage, Name: "api@" + dg("image:api-v1")}, ""},
		{"an alias", func(t *testing.T, s *Store) {
			mustSet(t, s, Source{Kind: KindImageStreamTag, Namespace: "shop", Stream: "api", Tag: "latest"}, "stable", TagOptions{Alias: true})
		}, "stable", ObjectRef{Kind: KindImageStreamTag, Name: "api:latest"}, "tracks api:latest"},
		{"a scheduled import", func(t *testing.T, s *Store) {
			mustSet(t, s, Source{Kind: KindDockerImage, Ref: "quay.io/acme/api:1"}, "ext", TagOptions{Scheduled: true})
		}, "ext", ObjectRef{Kind: KindDockerImage, Name: "quay.io/acme/api:1"}, "updates automatically from registry quay.io/acme/api:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, v1, v2 := shop(t)
			tt.setup(t, s)
			ref := TagRef{"shop", "api", tt.tag}
			// Give the tag a history of v1 then v2 (a registry tag gets
			// them by digest from the stream).
			for _, img := range []ImageSnapshot{v1, v2} {
				if h := historyImages(t, s, "shop/api:"+tt.tag); len(h) > 0 && h[0] == img.Digest {
					continue
				}
				if _, err := s.MapImage(ctx, "shop", "api", tt.tag, ImageSnapshot{Digest: img.Digest}, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
			res, err := s.Rollback(ctx, ref, v1.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if res.Image != v1.Digest || !res.Changed || res.KeptSource != tt.kept {
				t.Fatalf("rollback = %+v, want v1 (kept source %q)", res, tt.kept)
			}
			st, _ := s.GetStream(ctx, StreamRef{"shop", "api"})
			var got TagSnapshot
			for _, tg := range st.Tags {
				if tg.Name == tt.tag {
					got = tg
				}
			}
			if got.From == nil || *got.From != tt.wantFrom || !got.InSpec {
				t.Fatalf("spec from = %+v, want %+v", got.From, tt.wantFrom)
			}
			if got.Items[0].Image != v1.Digest {
				t.Errorf("current image %s, want v1", got.Items[0].Image)
			}
			if tt.kept == "" {
				if st.Generation <= before.Generation || got.Generation == nil || *got.Generation != st.Generation || got.Items[0].Generation != st.Generation {
					t.Errorf("generation: stream %d→%d, tag %v, entry %d: a spec change is a new generation",
						before.Generation, st.Generation, got.Generation, got.Items[0].Generation)
				}
				if got.Scheduled || got.Insecure || got.Reference || got.ReferencePolicy != "Source" {
					t.Errorf("spec %+v: oc tag sets import policy and reference policy anew", got)
				}
			}
		})
	}
}

func mustSet(t *testing.T, s *Store, src Source, tag string, opt TagOptions) {
	t.Helper()
	if _, err := s.SetTag(ctx, src, TagRef{"shop", "api", tag}, opt); err != nil {
		t.Fatal(err)
	}
}
