package store

import (
	"fmt"
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

// TestAccountingSettlesLargeTransactions settles transactions touching
// more keys than one statement takes (a webhook envelope of 60 pushes:
// 660 tag links, 540 new blobs; then the stream deleted at once) and
// checks the figures by hand and against the full pass.
func TestAccountingSettlesLargeTransactions(t *testing.T) {
	s := newTestStore(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	base := []layer{{"base1", 1000}, {"base2", 2000}}
	pushRef(t, s, "other/web:1", image("other", 7, base...), t0)
	const tags, own = 60, 8
	err := s.Tx(ctx, func(tx *Store) error {
		for i := 0; i < tags; i++ {
			layers := append([]layer{}, base...)
			for j := 0; j < own; j++ {
				layers = append(layers, layer{fmt.Sprintf("own-%d-%d", i, j), int64(100 + j)})
			}
			ref := TagRef{Namespace: "team", Stream: "app", Tag: fmt.Sprintf("t%d", i)}
			img := image(fmt.Sprintf("app-%d", i), 5, layers...)
			if _, err := tx.RecordPush(ctx, Push{Tag: ref, Images: []ImageSnapshot{img}, PullSpec: "registry.test/team/app@" + img.Digest, At: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	verifyStored(t, s)
	const ownBytes = 5 + 100 + 101 + 102 + 103 + 104 + 105 + 106 + 107 // config and own layers
	f := storedFigures(t, s)
	if got := f.tags["team/app:t59"].Bytes; got != ownBytes+3000 {
		t.Errorf("a tag holds %d bytes, want %d", got, ownBytes+3000)
	}
	if got := f.tags["team/app:t59"].ExclusiveBytes; got != ownBytes {
		t.Errorf("a tag's exclusive bytes = %d, want %d", got, ownBytes)
	}
	if got, want := f.namespaces["team"].ExclusiveBytes, int64(tags*ownBytes); got != want {
		t.Errorf("team's exclusive bytes = %d, want %d (the base layers are shared)", got, want)
	}
	if got, want := f.registry.Bytes, int64(tags*ownBytes+3000+7); got != want {
		t.Errorf("the registry holds %d bytes, want %d", got, want)
	}

	if err := s.DeleteStream(ctx, StreamRef{Namespace: "team", Stream: "app"}); err != nil {
		t.Fatal(err)
	}
	verifyStored(t, s)
	f = storedFigures(t, s)
	if f.registry.Bytes != 3007 || f.registry.Blobs != 3 {
		t.Errorf("after deleting the stream the registry holds %d bytes in %d blobs, want 3007 in 3", f.registry.Bytes, f.registry.Blobs)
	}
	if got := f.namespaces["other"].ExclusiveBytes; got != 3007 {
		t.Errorf("other's exclusive bytes = %d, want 3007 (the base layers are its alone again)", got)
	}
}
