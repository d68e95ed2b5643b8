package store

import (
	"strings"
	"testing"
	"time"
)

// scopeFixture: team-a holds image A (with a secret label) directly,
// team-b holds image B and a manifest list L whose only platform is C;
// an image no tag holds (orphan) exists too.
func scopeFixture(t *testing.T) (s *Store, a, b, c, l, orphan ImageSnapshot) {
	t.Helper()
	s = newTestStore(t)
	a = image("a", 10, layer{"base", 100}, layer{"a-only", 20})
	a.Meta.Labels = map[string]string{"io.openshift.build.source-location": "https://git.example/team-a/secret.git"}
	b = image("b", 10, layer{"base", 100}, layer{"b-only", 30})
	c = image("c", 10, layer{"c-only", 40})
	l = ImageSnapshot{Digest: dg("list"), MediaType: "application/vnd.oci.image.index.v1+json",
		Manifests: []ManifestRef{{Digest: c.Digest, OS: "linux", Architecture: "amd64"}}}
	orphan = image("orphan", 10, layer{"orphan-only", 50})
	mustPutImage(t, s, c)
	mustPutImage(t, s, orphan)
	pushTo(t, s, "team-a/app:latest", a, t0)
	pushTo(t, s, "team-b/app:latest", b, t0)
	pushTo(t, s, "team-b/multi:latest", l, t0)
	return s, a, b, c, l, orphan
}

// TestDockerSourceByDigestLinksOnlyWhatTheNamespaceHolds: naming a digest
// as an external image links the image row only where the namespace
// holds it already (directly or as a platform of a list it holds) or the
// caller verified it; otherwise the entry keeps the pull spec, unverified,
// and nothing of the image (metadata, layers, bytes, a pin) reaches it.
func TestDockerSourceByDigestLinksOnlyWhatTheNamespaceHolds(t *testing.T) {
	t.Parallel()
	s, a, b, c, _, orphan := scopeFixture(t)
	for _, tc := range []struct {
		name     string
		dst      string
		digest   string
		verified bool
		linked   bool
	}{
		{"another namespace's image", "team-b/app:borrowed", a.Digest, false, false},
		{"an image no tag holds", "team-b/app:orphan", orphan.Digest, false, false},
		{"a digest nobody has", "team-b/app:unknown", dg("nobody"), false, false},
		{"the namespace's own image", "team-a/app:again", a.Digest, false, true},
		{"a platform of the namespace's list", "team-b/app:child", c.Digest, false, true},
		{"verified by the caller", "team-b/app:verified", a.Digest, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, _ := ParseTagRef(tc.dst, "")
			ref := "evil.example.com/x@" + tc.digest
			res, err := s.SetTag(ctx, Source{Kind: KindDockerImage, Ref: ref}, dst, TagOptions{Verified: tc.verified})
			if err != nil {
				t.Fatal(err)
			}
			h := history(t, s, tc.dst)
			if len(h) != 1 || h[0].DockerImageReference != ref {
				t.Fatalf("history %+v", h)
			}
			if got := h[0].Image != "" && res.Image == tc.digest; got != tc.linked {
				t.Errorf("linked = %v (history %+v, result %+v), want %v", got, h[0], res, tc.linked)
			}
			if !tc.linked {
				_, err := s.PinImage(ctx, dst.Namespace, tc.digest, "mine", "eve")
				wantErr(t, err, ErrNotFound, "not in namespace "+dst.Namespace)
			}
		})
	}
	u, err := s.ComputeUsage(ctx, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	nb, _ := u.Namespace("team-b")
	// b, c, the verified a: base 100 + b-only 30 + c-only 40 + a-only 20 + 3 configs.
	if want := int64(100 + 30 + 40 + 20 + 3*10); nb.Bytes != want {
		t.Errorf("team-b bytes %d, want %d (borrowing nothing but the verified tag)", nb.Bytes, want)
	}
	_ = b
}

func TestScopeSeesHeldImagesAndBlobs(t *testing.T) {
	t.Parallel()
	s, a, b, c, l, orphan := scopeFixture(t)
	teamA := &Scope{Namespaces: []string{"team-a"}}
	teamB := &Scope{Namespaces: []string{"team-b"}}
	none := &Scope{Namespaces: []string{}}
	for _, tc := range []struct {
		digest string
		sc     *Scope
		image  bool
	}{
		{a.Digest, teamA, true}, {a.Digest, teamB, false}, {a.Digest, none, false}, {a.Digest, nil, true},
		{b.Digest, teamB, true}, {l.Digest, teamB, true}, {c.Digest, teamB, true}, {c.Digest, teamA, false},
		{orphan.Digest, teamA, false}, {orphan.Digest, nil, true}, {dg("missing"), nil, false},
	} {
		if got, err := s.ImageInScope(ctx, tc.digest, tc.sc); err != nil || got != tc.image {
			t.Errorf("ImageInScope(%s, %v) = %v %v, want %v", tc.digest[:15], tc.sc, got, err, tc.image)
		}
	}
	for _, tc := range []struct {
		blob string
		sc   *Scope
		want bool
	}{
		{dg("layer:base"), teamA, true}, {dg("layer:base"), teamB, true}, {dg("layer:a-only"), teamB, false},
		{dg("layer:c-only"), teamB, true}, {dg("layer:orphan-only"), teamA, false}, {dg("layer:orphan-only"), nil, true},
	} {
		if got, err := s.BlobInScope(ctx, tc.blob, tc.sc); err != nil || got != tc.want {
			t.Errorf("BlobInScope(%s, %v) = %v %v, want %v", tc.blob[:15], tc.sc, got, err, tc.want)
		}
	}
	// GetBlob with a scope: that scope's streams and namespaces, no images;
	// outside it, not found.
	bi, err := s.GetBlob(ctx, dg("layer:base"), 10, teamB)
	if err != nil || len(bi.Namespaces) != 1 || bi.Namespaces[0] != "team-b" || len(bi.Streams) != 1 || bi.Images != nil {
		t.Errorf("GetBlob(base, team-b) = %+v %v", bi, err)
	}
	_, err = s.GetBlob(ctx, dg("layer:a-only"), 10, teamB)
	wantErr(t, err, ErrNotFound, "not found")
	if lists, err := s.ManifestListsOf(ctx, c.Digest, teamA); err != nil || len(lists) != 0 {
		t.Errorf("lists of c seen by team-a: %v %v", lists, err)
	}
	if lists, err := s.ManifestListsOf(ctx, c.Digest, teamB); err != nil || len(lists) != 1 || lists[0] != l.Digest {
		t.Errorf("lists of c seen by team-b: %v %v", lists, err)
	}
	if rows, err := s.ImageHolders(ctx, a.Digest, 10, teamB); err != nil || len(rows) != 0 {
		t.Errorf("holders of a seen by team-b: %+v %v", rows, err)
	}
}

func TestSearchInScope(t *testing.T) {
	t.Parallel()
	s, a, b, _, _, _ := scopeFixture(t)
	teamB := &Scope{Namespaces: []string{"team-b"}}
	for _, tc := range []struct {
		q    string
		sc   *Scope
		want []string // kinds and names/digests, in order
	}{
		{"team", teamB, []string{"namespace team-b"}},
		{"team", nil, []string{"namespace team-a", "namespace team-b"}},
		{"app", teamB, []string{"stream team-b/app"}},
		{"app", nil, []string{"stream team-a/app", "stream team-b/app"}},
		{a.Digest, teamB, nil},
		{a.Digest, nil, []string{"image " + a.Digest}},
		{b.Digest[:20], teamB, []string{"image " + b.Digest}},
		{dg("layer:a-only"), teamB, nil},
		{dg("layer:base"), teamB, []string{"blob " + dg("layer:base")}},
		{"app", &Scope{Namespaces: []string{}}, nil},
	} {
		hits, err := s.Search(ctx, tc.q, 10, tc.sc)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			switch h.Kind {
			case "namespace":
				got = append(got, "namespace "+h.Namespace)
			case "stream":
				got = append(got, "stream "+h.Namespace+"/"+h.Stream)
			case "tag":
			default:
				got = append(got, h.Kind+" "+h.Digest)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("Search(%q, %v) = %q, want %q", tc.q, tc.sc, got, tc.want)
		}
	}
}

func TestTrendOfSumsNamespacesPerSnapshot(t *testing.T) {
	t.Parallel()
	s, _, _, _, _, _ := scopeFixture(t)
	u, err := s.ComputeUsage(ctx, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := s.WriteSnapshots(ctx, u, t0.Add(time.Duration(i)*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	na, _ := u.Namespace("team-a")
	nb, _ := u.Namespace("team-b")
	got, err := s.TrendOf(ctx, []string{"team-a", "team-b"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Bytes != na.Bytes+nb.Bytes || !got[1].TakenAt.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("trend of team-a and team-b: %+v, want 2 points of %d bytes", got, na.Bytes+nb.Bytes)
	}
	if got, err := s.TrendOf(ctx, []string{}, t0); err != nil || len(got) != 0 {
		t.Errorf("trend of no namespace: %+v %v", got, err)
	}
}
