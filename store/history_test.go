package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// longStream is team-a/app with tag "long" of n entries (position 0, the
// newest, holds image 0) and tag "short" of 2 entries.
func longStream(t *testing.T, s *Store, n int) {
	t.Helper()
	long := TagSnapshot{Name: "long"}
	for i := 0; i < n; i++ {
		d := dg(fmt.Sprint("long:", i))
		long.Items = append(long.Items, EventSnapshot{Created: t0.Add(-time.Duration(i) * time.Minute), Image: d,
			DockerImageReference: "reg.example.com/team-a/app@" + d})
	}
	short := TagSnapshot{Name: "short", Items: long.Items[:2]}
	if _, err := s.PutStream(ctx, StreamSnapshot{Namespace: "team-a", Name: "app", Created: t0, Tags: []TagSnapshot{long, short}}); err != nil {
		t.Fatal(err)
	}
}

// TestStreamPages: a window of every tag's history, the current entry
// beside it, and each history's full length.
func TestStreamPages(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	longStream(t, s, 250)
	ref := StreamRef{"team-a", "app"}
	cases := []struct {
		w        HistoryWindow
		first, n int // the long tag's window: first position, length
		shortN   int
		more     bool
	}{
		{HistoryWindow{0, 100}, 0, 100, 2, true},
		{HistoryWindow{100, 100}, 100, 100, 0, true},
		{HistoryWindow{200, 100}, 200, 50, 0, false},
		{HistoryWindow{1, 1}, 1, 1, 1, true},
		{HistoryWindow{0, 1000}, 0, 250, 2, false},
		{HistoryWindow{300, 10}, 300, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d+%d", c.w.Offset, c.w.Limit), func(t *testing.T) {
			p, err := s.GetStreamPage(ctx, ref, c.w)
			if err != nil {
				t.Fatal(err)
			}
			items := map[string][]EventSnapshot{}
			for _, tg := range p.Tags {
				items[tg.Name] = tg.Items
			}
			if got := items["long"]; len(got) != c.n || (c.n > 0 && got[0].Image != dg(fmt.Sprint("long:", c.first))) {
				t.Errorf("long: %d entries from %v, want %d from position %d", len(got), got, c.n, c.first)
			}
			if len(items["short"]) != c.shortN {
				t.Errorf("short: %d entries, want %d", len(items["short"]), c.shortN)
			}
			if p.Current["long"].Image != dg("long:0") || p.Current["short"].Image != dg("long:0") {
				t.Errorf("current entries %v", p.Current)
			}
			if p.Total["long"] != 250 || p.Total["short"] != 2 || p.More() != c.more {
				t.Errorf("totals %v, more %v", p.Total, p.More())
			}
		})
	}
	// The whole stream reads as before, and a list reads the same window.
	st, err := s.GetStream(ctx, ref)
	if err != nil || len(st.Tags[0].Items) != 250 {
		t.Fatalf("GetStream: %v, %d entries", err, len(st.Tags[0].Items))
	}
	pages, err := s.ListStreamPages(ctx, "team-a", HistoryWindow{0, 10})
	if err != nil || len(pages) != 1 || len(pages[0].Tags[0].Items) != 10 || !pages[0].More() {
		t.Fatalf("ListStreamPages: %v %+v", err, pages)
	}
	for _, w := range []HistoryWindow{{-1, 10}, {0, 0}} {
		_, err := s.GetStreamPage(ctx, ref, w)
		wantErr(t, err, ErrInvalid, "history window")
	}
}

// TestStreamSizesOfALongHistory: a stream whose history holds more images
// than SQLite binds in one statement (32766) still gets its sizes; the
// stream and tag pages read them.
func TestStreamSizesOfALongHistory(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	const n = 33000
	longStream(t, s, n)
	sizes, err := s.StreamSizes(ctx, StreamRef{"team-a", "app"})
	if err != nil {
		t.Fatal(err)
	}
	if sizes.UniqueImages != n || len(sizes.Unknown) != n {
		t.Errorf("%d images, %d unknown; want %d", sizes.UniqueImages, len(sizes.Unknown), n)
	}
}

// readHistory is the one query of histories: by tag or by stream, whole,
// through a window (with each current entry) or only the current entries.
func TestReadHistory(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	longStream(t, s, 6)
	st, err := s.findStream(ctx, StreamRef{"team-a", "app"})
	if err != nil {
		t.Fatal(err)
	}
	long, err := s.tagOf(ctx, st.ID, TagRef{"team-a", "app", "long"})
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.tagOf(ctx, st.ID, TagRef{"team-a", "app", "short"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    historyQuery
		want string // tag:position of each row, in order
	}{
		{"one tag", historyQuery{tags: []int64{long.ID}}, "long:0 long:1 long:2 long:3 long:4 long:5"},
		{"a stream", historyQuery{streams: []int64{st.ID}}, "long:0 long:1 long:2 long:3 long:4 long:5 short:0 short:1"},
		{"a window", historyQuery{streams: []int64{st.ID}, window: &HistoryWindow{Offset: 2, Limit: 2}}, "long:0 long:2 long:3 short:0"},
		{"current entries", historyQuery{tags: []int64{short.ID, long.ID}, current: true}, "long:0 short:0"},
	}
	name := map[int64]string{long.ID: "long", short.ID: "short"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := s.readHistory(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%s:%d", name[r.TagID], r.Position))
				want := dg(fmt.Sprint("long:", r.Position))
				if r.Digest == nil || *r.Digest != want || r.ImageID == nil {
					t.Errorf("%s:%d holds %v (id %v), want %s", name[r.TagID], r.Position, r.Digest, r.ImageID, want)
				}
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Errorf("rows %s, want %s", g, c.want)
			}
		})
	}
}

// TestCurrentImage: what the audit log writes as a tag's "before": the
// newest entry's digest, its pull spec when it has no image, "none" for a
// tag or stream that does not exist.
func TestCurrentImage(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	longStream(t, s, 5)
	_, err := s.PutStream(ctx, StreamSnapshot{Namespace: "team-a", Name: "spec", Created: t0, Tags: []TagSnapshot{
		{Name: "ext", Items: []EventSnapshot{{Created: t0, DockerImageReference: "quay.io/x/y:1"}}},
		{Name: "mixed", Items: []EventSnapshot{{Created: t0, DockerImageReference: "quay.io/x/y:2"},
			{Created: t0.Add(-time.Hour), Image: dg("old"), DockerImageReference: "r@" + dg("old")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ref  TagRef
		want string
	}{
		{TagRef{"team-a", "app", "long"}, dg("long:0")},
		{TagRef{"team-a", "app", "short"}, dg("long:0")},
		{TagRef{"team-a", "spec", "ext"}, "quay.io/x/y:1"},
		{TagRef{"team-a", "spec", "mixed"}, "quay.io/x/y:2"},
		{TagRef{"team-a", "app", "nope"}, "none"},
		{TagRef{"team-a", "nope", "long"}, "none"},
		{TagRef{"team-b", "app", "long"}, "none"},
	} {
		if got, err := s.CurrentImage(ctx, c.ref); err != nil || got != c.want {
			t.Errorf("CurrentImage(%s) = %q, %v; want %q", c.ref, got, err, c.want)
		}
	}
	// After a push the new image is current.
	pushTo(t, s, "team-a/app:long", ImageSnapshot{Digest: dg("new"), DockerImageReference: "r@" + dg("new")}, t0.Add(time.Hour))
	if got, _ := s.CurrentImage(ctx, TagRef{"team-a", "app", "long"}); got != dg("new") {
		t.Errorf("after a push: %q, want %q", got, dg("new"))
	}
}

// TestStreamSizesOfTheShownImages: a page asks for the own sizes of the
// images its window shows; the stream's and tags' figures stay whole.
func TestStreamSizesOfTheShownImages(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	a, b := image("a", 10, layer{"shared", 100}), image("b", 20, layer{"shared", 100}, layer{"own", 5})
	pushTo(t, s, "team-a/app:latest", a, t0)
	pushTo(t, s, "team-a/app:latest", b, t0.Add(time.Hour))
	ref := StreamRef{"team-a", "app"}
	all, err := s.StreamSizes(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if all.Images[a.Digest] != 110 || all.Images[b.Digest] != 125 || all.Bytes != 135 || all.Tags["latest"] != 135 || all.UniqueImages != 2 {
		t.Fatalf("whole stream: %+v; want images 110 and 125, stream and tag 135 (configs 10 + 20, the shared layer once, 5), 2 images", all)
	}
	shown, err := s.StreamSizes(ctx, ref, b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(shown.Images) != 1 || shown.Images[b.Digest] != 125 {
		t.Errorf("sizes of the shown image: %v, want only %s's 125", shown.Images, b.Digest)
	}
	if shown.Bytes != all.Bytes || shown.UniqueImages != all.UniqueImages || shown.Tags["latest"] != all.Tags["latest"] {
		t.Errorf("the stream's figures moved with the window: %+v, want %+v", shown, all)
	}
	if _, err := s.StreamSizes(ctx, StreamRef{"team-a", "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("sizes of a missing stream: %v, want not found", err)
	}
}
