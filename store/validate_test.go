package store

import (
	"testing"
	"time"
)

// TestImportAndRequestsShareOneValidation: what a tag request (API, CLI)
// may not do, a whole-stream write (`import openshift`, the OpenShift
// sync) may not do either, and both say so in the same words.
func TestImportAndRequestsShareOneValidation(t *testing.T) {
	t.Parallel()
	ns, stream := "team-a", "app"
	img := image("v1", 10, layer{"l", 100})
	istag := func(name string) *ObjectRef { return &ObjectRef{Kind: KindImageStreamTag, Name: name} }
	docker := func(name string) *ObjectRef { return &ObjectRef{Kind: KindDockerImage, Name: name} }
	item := EventSnapshot{Created: t0, Image: img.Digest, DockerImageReference: "reg.example.com/team-a/app@" + img.Digest}
	cases := []struct {
		name string
		tags []TagSnapshot // the stream as a dump has it
		// the same through requests: earlier ones must pass, the last is refused
		requests []func(s *Store) error
		says     string
	}{
		{
			name: "self alias",
			tags: []TagSnapshot{{Name: "a", InSpec: true, From: istag("a"), Items: []EventSnapshot{item}}},
			requests: []func(s *Store) error{
				func(s *Store) error { return setIstag(s, "a", "base", false) },
				func(s *Store) error { return setIstag(s, "a", "a", true) },
			},
			says: "team-a/app:a: reference tag is circular (a → a)",
		},
		{
			name: "self alias as stream:tag",
			tags: []TagSnapshot{{Name: "a", InSpec: true, From: istag("app:a"), Items: []EventSnapshot{item}}},
			says: "team-a/app:a: reference tag is circular (a → a)",
		},
		{
			name: "alias cycle",
			tags: []TagSnapshot{
				{Name: "a", InSpec: true, From: istag("b"), Items: []EventSnapshot{item}},
				{Name: "b", InSpec: true, From: istag("app:c")},
				{Name: "c", InSpec: true, From: istag("a")},
			},
			requests: []func(s *Store) error{
				func(s *Store) error { return setIstag(s, "a", "b", true) },
				func(s *Store) error { return setIstag(s, "b", "c", true) },
				func(s *Store) error { return setIstag(s, "c", "a", true) },
			},
			says: "team-a/app:a: reference tag is circular (a → b → c → a)",
		},
		{
			name: "pull spec with spaces and HTML",
			tags: []TagSnapshot{{Name: "a", InSpec: true, From: docker(`evil.example.com/x <b>hi</b>`)}},
			requests: []func(s *Store) error{
				func(s *Store) error { return setDocker(s, `evil.example.com/x <b>hi</b>`) },
			},
			says: `image reference "evil.example.com/x <b>hi</b>" contains white space`,
		},
		{
			name: "pull spec with HTML",
			tags: []TagSnapshot{{Name: "a", InSpec: true, From: docker(`evil.example.com/<script>alert(1)</script>`)}},
			requests: []func(s *Store) error{
				func(s *Store) error { return setDocker(s, `evil.example.com/<script>alert(1)</script>`) },
			},
			says: "has a malformed repository",
		},
		{
			name: "history entry with spaces and HTML",
			tags: []TagSnapshot{{Name: "a", Items: []EventSnapshot{{Created: t0, Image: img.Digest, DockerImageReference: `<a href="//evil">x</a> y`}}}},
			says: "history item 0: dockerImageReference: image reference",
		},
		{
			name: "NUL in an annotation",
			tags: []TagSnapshot{{Name: "a", InSpec: true, From: docker("quay.io/x/y:1"), Annotations: map[string]string{"k": "a\x00b"}}},
			says: `annotations["k"] contains a NUL character`,
		},
		{
			name: "invalid UTF-8 in an annotation",
			tags: []TagSnapshot{{Name: "a", InSpec: true, From: docker("quay.io/x/y:1"), Annotations: map[string]string{"k": "a\xffb"}}},
			says: `is not valid UTF-8`,
		},
		{
			name: "bad istag source",
			tags: []TagSnapshot{{Name: "a", InSpec: true, From: istag("app:-x")}},
			says: `tag name "-x" must be at most 128 characters`,
		},
	}
	for _, c := range cases {
		t.Run(c.name+"/import", func(t *testing.T) {
			s := pushStore(t)
			mustPutImage(t, s, img)
			before := dumpTables(t, s)
			_, err := s.PutStream(ctx, StreamSnapshot{Namespace: ns, Name: stream, Created: t0, Tags: c.tags})
			wantErr(t, err, ErrInvalid, c.says)
			if dumpTables(t, s) != before {
				t.Errorf("a refused stream wrote something")
			}
		})
		if c.requests == nil {
			continue
		}
		t.Run(c.name+"/requests", func(t *testing.T) {
			s := pushStore(t)
			pushTo(t, s, "team-a/app:base", img, t0)
			last := len(c.requests) - 1
			for i, r := range c.requests[:last] {
				if err := r(s); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			before := dumpTables(t, s)
			wantErr(t, c.requests[last](s), ErrInvalid, c.says)
			if dumpTables(t, s) != before {
				t.Errorf("a refused request wrote something")
			}
		})
	}
}

// setIstag tags team-a/app:dst from team-a/app:src (dst follows src when
// alias); a source that does not exist yet is first pointed at the base
// image.
func setIstag(s *Store, dst, src string, alias bool) error {
	dstRef := TagRef{"team-a", "app", dst}
	if _, _, err := s.findTag(ctx, TagRef{"team-a", "app", src}); err != nil {
		if _, err := s.SetTag(ctx, Source{Kind: KindImageStreamTag, Namespace: "team-a", Stream: "app", Tag: "base"}, TagRef{"team-a", "app", src}, TagOptions{}); err != nil {
			return err
		}
	}
	_, err := s.SetTag(ctx, Source{Kind: KindImageStreamTag, Namespace: "team-a", Stream: "app", Tag: src}, dstRef, TagOptions{Alias: alias})
	return err
}

func setDocker(s *Store, ref string) error {
	_, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: ref}, TagRef{"team-a", "app", "a"}, TagOptions{})
	return err
}

// TestAliasChainsStillWork: a chain of aliases that ends at a tag with an
// image is no cycle, and pushes still move every tag of it.
func TestAliasChainsStillWork(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	pushTo(t, s, "team-a/app:base", image("base", 1, layer{"b", 1}), t0)
	pushTo(t, s, "team-a/app:latest", image("v1", 1, layer{"l", 1}), t0)
	for _, p := range [][2]string{{"latest", "stable"}, {"stable", "prod"}, {"latest", "edge"}} {
		if err := setIstag(s, p[1], p[0], true); err != nil {
			t.Fatalf("alias %s → %s: %v", p[1], p[0], err)
		}
	}
	v2 := image("v2", 1, layer{"l2", 2})
	pushTo(t, s, "team-a/app:latest", v2, t0.Add(time.Hour))
	for _, tag := range []string{"stable", "prod", "edge"} {
		if h := historyImages(t, s, "team-a/app:"+tag); len(h) == 0 || h[0] != v2.Digest {
			t.Errorf("%s did not follow latest: %v", tag, h)
		}
	}
	// Re-pointing the head of the chain at something else is fine too.
	if err := setIstag(s, "latest", "base", false); err != nil {
		t.Fatal(err)
	}
}
