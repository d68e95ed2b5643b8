package store

import (
	"testing"
	"time"
)

// verifyStored fails the test when the accounting tables differ from the
// full pass in any figure.
func verifyStored(t *testing.T, s *Store) {
	t.Helper()
	diffs, err := s.VerifyUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("stored usage: %s", d)
	}
}

// storedTag reads the stored bytes and exclusive bytes of ns/stream:tag.
func storedFigures(t *testing.T, s *Store) *scopeFigures {
	t.Helper()
	f, err := s.readScopeFigures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestAccountingFollowsEveryWrite walks one registry through the writes
// whose accounting differs — a referrer attached to a tagged image later,
// a second namespace sharing a layer, a rollback, a tag and a stream
// deleted — and checks the stored figures by hand and against the full
// pass after each.
func TestAccountingFollowsEveryWrite(t *testing.T) {
	s := newTestStore(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	a := image("a", 5, layer{"l1", 50}, layer{"l2", 100})
	pushRef(t, s, "team/app:latest", a, t0)
	verifyStored(t, s)
	if f := storedFigures(t, s); f.tags["team/app:latest"].Bytes != 155 || f.registry.Bytes != 155 {
		t.Fatalf("after the push: tag %d, registry %d bytes, want 155", f.tags["team/app:latest"].Bytes, f.registry.Bytes)
	}

	// A signature pushed afterwards through its cosign tag counts with its
	// subject's tag, stream and namespace; it is no tag.
	pushRef(t, s, "team/app:"+cosignTagOf(a.Digest, "sig"), sigOf("a", 1), t0.Add(time.Minute))
	verifyStored(t, s)
	f := storedFigures(t, s)
	if got := f.tags["team/app:latest"].Bytes; got != 155+233+300 {
		t.Errorf("with its signature the tag holds %d bytes, want %d", got, 155+233+300)
	}
	if _, ok := f.tags["team/app:"+cosignTagOf(a.Digest, "sig")]; ok {
		t.Error("the cosign tag has figures of its own")
	}

	// Another namespace shares l1: exclusive bytes move off it.
	pushRef(t, s, "other/web:1", image("b", 7, layer{"l1", 50}), t0.Add(2*time.Minute))
	verifyStored(t, s)
	f = storedFigures(t, s)
	if got := f.namespaces["team"].ExclusiveBytes; got != 155+233+300-50 {
		t.Errorf("team's exclusive bytes = %d, want %d", got, 155+233+300-50)
	}

	// A second revision, then a rollback to the first: the history holds
	// both, the figures count each blob once.
	b2 := image("a2", 5, layer{"l1", 50}, layer{"l3", 30})
	pushRef(t, s, "team/app:latest", b2, t0.Add(3*time.Minute))
	verifyStored(t, s)
	if _, err := s.Rollback(ctx, TagRef{Namespace: "team", Stream: "app", Tag: "latest"}, a.Digest); err != nil {
		t.Fatal(err)
	}
	verifyStored(t, s)

	// Deleting the tag takes the signature's bytes with it; deleting the
	// other stream leaves l1 to nobody.
	if err := s.DeleteTag(ctx, TagRef{Namespace: "team", Stream: "app", Tag: "latest"}); err != nil {
		t.Fatal(err)
	}
	verifyStored(t, s)
	if f := storedFigures(t, s); f.namespaces["team"].Bytes != 0 || f.registry.Bytes != 57 {
		t.Errorf("after deleting the tag: team %d, registry %d bytes, want 0 and 57", f.namespaces["team"].Bytes, f.registry.Bytes)
	}
	if err := s.DeleteStream(ctx, StreamRef{Namespace: "other", Stream: "web"}); err != nil {
		t.Fatal(err)
	}
	verifyStored(t, s)
	if f := storedFigures(t, s); f.registry.Bytes != 0 || f.registry.Blobs != 0 {
		t.Errorf("an empty registry holds %d bytes in %d blobs", f.registry.Bytes, f.registry.Blobs)
	}
}
