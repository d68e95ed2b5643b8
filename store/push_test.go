package store

import (
	"testing"
	"time"

	"layerwise/store/storetest"
)

func pushStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetClock(func() time.Time { return t0.Add(24 * time.Hour) })
	return s
}

func recordPush(t *testing.T, s *Store, ref string, img ImageSnapshot, at time.Time) PushResult {
	t.Helper()
	r, err := ParseTagRef(ref, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.RecordPush(ctx, Push{Tag: r, Images: []ImageSnapshot{img}, PullSpec: "reg.example.com/" + r.Namespace + "/" + r.Stream + "@" + img.Digest, At: at})
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return res
}

// TestRecordPushOrdersByPushTime: deliveries in any order, any number of
// times, give the history of the pushes; the newest push is current.
func TestRecordPushOrdersByPushTime(t *testing.T) {
	t.Parallel()
	v1 := image("v1", 100, layer{"base", 1000}, layer{"one", 10})
	v2 := image("v2", 100, layer{"base", 1000}, layer{"two", 20})
	v3 := image("v3", 100, layer{"base", 1000}, layer{"three", 30})
	type delivery struct {
		img ImageSnapshot
		at  time.Duration // after t0
	}
	cases := []struct {
		name       string
		deliveries []delivery
		want       []ImageSnapshot // history, current first
		changed    []bool
	}{
		{"in order", []delivery{{v1, 1}, {v2, 2}, {v3, 3}}, []ImageSnapshot{v3, v2, v1}, []bool{true, true, true}},
		{"redelivered", []delivery{{v1, 1}, {v2, 2}, {v2, 2}, {v1, 1}}, []ImageSnapshot{v2, v1}, []bool{true, true, false, false}},
		{"older delivered after newer", []delivery{{v2, 2}, {v1, 1}}, []ImageSnapshot{v2, v1}, []bool{true, true}},
		{"oldest last, into the middle", []delivery{{v1, 1}, {v3, 3}, {v2, 2}}, []ImageSnapshot{v3, v2, v1}, []bool{true, true, true}},
		{"the same image pushed again later", []delivery{{v1, 1}, {v2, 2}, {v1, 3}}, []ImageSnapshot{v1, v2, v1}, []bool{true, true, true}},
		{"re-push of the current image", []delivery{{v1, 1}, {v1, 2}}, []ImageSnapshot{v1}, []bool{true, false}},
		{"an old event for an image recorded later (by the sync)", []delivery{{v1, 1}, {v2, 5}, {v2, 2}}, []ImageSnapshot{v2, v1}, []bool{true, true, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := pushStore(t)
			for i, d := range c.deliveries {
				res := recordPush(t, s, "team-a/api:latest", d.img, t0.Add(d.at*time.Minute))
				if res.Changed != c.changed[i] {
					t.Errorf("delivery %d (%s at +%dm): changed %v, want %v", i, d.img.Digest[:15], d.at, res.Changed, c.changed[i])
				}
			}
			var want []string
			for _, img := range c.want {
				want = append(want, img.Digest)
			}
			if got := historyImages(t, s, "team-a/api:latest"); !equalStrings(got, want) {
				t.Errorf("history %v, want %v", got, want)
			}
			h := history(t, s, "team-a/api:latest")
			for i := 1; i < len(h); i++ {
				if h[i].Created.After(h[i-1].Created) {
					t.Errorf("entry %d created %s after entry %d (%s)", i, h[i].Created, i-1, h[i-1].Created)
				}
			}
		})
	}
}

// TestRecordPushCreatesAStatusTag: a push makes the namespace, the stream
// and a tag without spec, with the image and its blobs.
func TestRecordPushCreatesAStatusTag(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	v1 := image("v1", 100, layer{"base", 1000})
	res := recordPush(t, s, "team-a/api:latest", v1, time.Time{})
	if !res.Changed || !res.Current || res.Before != "none" || res.Image != v1.Digest {
		t.Errorf("result %+v", res)
	}
	st, err := s.GetStream(ctx, StreamRef{"team-a", "api"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tags) != 1 || st.Tags[0].InSpec || st.Tags[0].From != nil {
		t.Errorf("tags %+v", st.Tags)
	}
	if got := st.Tags[0].Items[0].Created; !got.Equal(s.Now()) {
		t.Errorf("a push without a time is created %s, want now %s", got, s.Now())
	}
	info, err := s.GetImage(ctx, v1.Digest)
	if err != nil || info.Bytes != 1100 {
		t.Errorf("image %+v %v", info, err)
	}
}

// TestRemoveImageFromStream: a deleted manifest leaves every history of the
// stream; a status tag left empty goes, a spec tag stays.
func TestRemoveImageFromStream(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	v1 := image("v1", 100, layer{"base", 1000})
	v2 := image("v2", 100, layer{"base", 1000})
	recordPush(t, s, "team-a/api:latest", v1, t0)
	recordPush(t, s, "team-a/api:latest", v2, t0.Add(time.Minute))
	recordPush(t, s, "team-a/api:old", v1, t0)
	recordPush(t, s, "team-a/other:latest", v1, t0)
	n, err := s.RemoveImageFromStream(ctx, StreamRef{"team-a", "api"}, v1.Digest)
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v", n, err)
	}
	if got := historyImages(t, s, "team-a/api:latest"); !equalStrings(got, []string{v2.Digest}) {
		t.Errorf("api:latest %v", got)
	}
	if h := history(t, s, "team-a/api:latest"); len(h) != 1 {
		t.Errorf("positions not renumbered: %+v", h)
	}
	st, _ := s.GetStream(ctx, StreamRef{"team-a", "api"})
	if len(st.Tags) != 1 {
		t.Errorf("the emptied status tag stayed: %+v", st.Tags)
	}
	if got := historyImages(t, s, "team-a/other:latest"); !equalStrings(got, []string{v1.Digest}) {
		t.Errorf("another stream lost its image: %v", got)
	}
	before := dumpTables(t, s)
	if n, err := s.RemoveImageFromStream(ctx, StreamRef{"team-a", "api"}, v1.Digest); err != nil || n != 0 {
		t.Errorf("again: %d %v", n, err)
	}
	if n, err := s.RemoveImageFromStream(ctx, StreamRef{"team-x", "none"}, v1.Digest); err != nil || n != 0 {
		t.Errorf("missing stream: %d %v", n, err)
	}
	if dumpTables(t, s) != before {
		t.Error("removing nothing changed the database")
	}
}

// TestStreamSources: sources are recorded per stream, listed, and streams
// are deleted with their tags and history, others untouched.
func TestStreamSources(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	v1 := image("v1", 100, layer{"base", 1000})
	for _, ref := range []string{"a/one:latest", "a/two:latest", "b/three:latest"} {
		recordPush(t, s, ref, v1, t0)
	}
	src := "openshift:https://api.example.com"
	if err := s.SetStreamSource(ctx, []StreamRef{{"a", "one"}, {"b", "three"}, {"c", "missing"}}, src); err != nil {
		t.Fatal(err)
	}
	got, err := s.StreamsFromSource(ctx, src)
	if err != nil || len(got) != 2 || got[0] != (StreamRef{"a", "one"}) || got[1] != (StreamRef{"b", "three"}) {
		t.Fatalf("streams from %s: %v %v", src, got, err)
	}
	n, err := s.DeleteStreams(ctx, []StreamRef{{"a", "one"}, {"c", "missing"}})
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	if _, err := s.GetStream(ctx, StreamRef{"a", "one"}); err == nil {
		t.Error("a/one is still there")
	}
	if got := historyImages(t, s, "a/two:latest"); len(got) != 1 {
		t.Errorf("a/two lost its history: %v", got)
	}
	cur, err := s.CurrentDigests(ctx)
	if err != nil || len(cur) != 2 || cur[TagRef{"b", "three", "latest"}] != v1.Digest {
		t.Errorf("current digests %v %v", cur, err)
	}
}

// TestMigrationAddsStreamSource: a database from before 0005_sync gets the
// column and keeps its streams.
func TestMigrationAddsStreamSource(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	recordPush(t, s, "team-a/api:latest", image("v1", 100, layer{"base", 1000}), t0)
	db := s.DB()
	// In place (gorm's SQLite DropColumn copies the table, and the copy's
	// drop cascades into tags and history).
	for _, q := range []string{`DROP INDEX idx_image_streams_source`, `ALTER TABLE image_streams DROP COLUMN source`} {
		if err := db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(`DELETE FROM schema_migrations WHERE id = ?`, "0005_sync").Error; err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.DB().Migrator().HasColumn(&ImageStream{}, "Source") {
		t.Fatal("0005_sync did not add image_streams.source")
	}
	if got := historyImages(t, s, "team-a/api:latest"); len(got) != 1 {
		t.Errorf("history after the migration: %v", got)
	}
}
