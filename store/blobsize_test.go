package store

import (
	"errors"
	"math"
	"testing"
	"time"

	"layerwise/store/storetest"
)

// The ways a blob size reaches the store, from the weakest source to the
// strongest.
type sizeWrite func(t *testing.T, s *Store, ref string, img ImageSnapshot) error

var (
	// a dump (`import openshift`) or an OpenShift API: PutImage + MapImage
	byDump sizeWrite = func(t *testing.T, s *Store, ref string, img ImageSnapshot) error {
		r, err := ParseTagRef(ref, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.MapImage(ctx, r.Namespace, r.Stream, r.Tag, img, t0)
		return err
	}
	// import-image, the API's imagestreamimports, the scheduled import
	byImport sizeWrite = func(t *testing.T, s *Store, ref string, img ImageSnapshot) error {
		r, err := ParseTagRef(ref, "")
		if err != nil {
			t.Fatal(err)
		}
		from := "evil.example.com/" + r.Stream + "@" + img.Digest
		_, err = s.RecordImport(ctx, r, from, TagOptions{}, img, from)
		return err
	}
	// a push notification or the sync of the managed registry
	byPush sizeWrite = func(t *testing.T, s *Store, ref string, img ImageSnapshot) error {
		r, err := ParseTagRef(ref, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.RecordPush(ctx, Push{Tag: r, Images: []ImageSnapshot{img}, PullSpec: "reg.example.com/" + r.Namespace + "/" + r.Stream + "@" + img.Digest, At: t0})
		return err
	}
)

func blobRow(t *testing.T, s *Store, digest string) Blob {
	t.Helper()
	var b Blob
	if err := s.DB().Where("digest = ?", digest).Take(&b).Error; err != nil {
		t.Fatalf("blob %s: %v", digest, err)
	}
	return b
}

// TestBlobSizeIsAFact: the first image records layer "base" at 2142 bytes;
// a second image, in another namespace, names the same digest with 142
// bytes. A claim no better than the known size's source is refused, naming
// both sizes, and writes nothing; a better source corrects it.
func TestBlobSizeIsAFact(t *testing.T) {
	t.Parallel()
	first := image("team-a", 100, layer{"base", 2142}, layer{"a", 10})
	liar := image("evil", 7, layer{"base", 142})
	same := image("evil-honest", 7, layer{"base", 2142})
	cases := []struct {
		name          string
		known, second sizeWrite
		wantSize      int64 // of "base" afterwards; 0: refused, 2142 kept
		wantSource    SizeSource
	}{
		{"import after import", byImport, byImport, 0, SizeImported},
		{"import after push", byPush, byImport, 0, SizeManaged},
		{"dump after import", byImport, byDump, 0, SizeImported},
		{"dump after dump", byDump, byDump, 0, SizeClaimed},
		{"push after push", byPush, byPush, 0, SizeManaged},
		// A better source replaces a claim: the registry stores the blob.
		{"import after dump", byDump, byImport, 142, SizeImported},
		{"push after import", byImport, byPush, 142, SizeManaged},
		{"push after dump", byDump, byPush, 142, SizeManaged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := pushStore(t)
			if err := c.known(t, s, "team-a/app:v1", first); err != nil {
				t.Fatal(err)
			}
			before := dumpTables(t, s)
			err := c.second(t, s, "team-b/x:v1", liar)
			base := blobRow(t, s, dg("layer:base"))
			if c.wantSize == 0 {
				wantErr(t, err, ErrInvalid, "2142 bytes")
				wantErr(t, err, ErrInvalid, "142 bytes")
				var ce *SizeConflictError
				if !errors.As(err, &ce) || ce.Known != 2142 || ce.Claimed != 142 {
					t.Errorf("error %v is not a size conflict of 2142 against 142", err)
				}
				if after := dumpTables(t, s); after != before {
					t.Errorf("a refused claim wrote something:\n%s\n---\n%s", before, after)
				}
				if got := nsUsage(t, usageOf(t, s), "team-a").Bytes; got != 100+2142+10 {
					t.Errorf("team-a uses %d bytes, want %d", got, 100+2142+10)
				}
				if base.Size != 2142 || base.SizeSource != c.wantSource {
					t.Errorf("base is %d bytes from %v, want 2142 from %v", base.Size, base.SizeSource, c.wantSource)
				}
				return
			}
			if err != nil {
				t.Fatalf("a better source was refused: %v", err)
			}
			if base.Size != c.wantSize || base.SizeSource != c.wantSource {
				t.Errorf("base is %d bytes from %v, want %d from %v", base.Size, base.SizeSource, c.wantSize, c.wantSource)
			}
			// The stored figures move with the size, in every scope.
			verifyStored(t, s)
			if got := nsUsage(t, usageOf(t, s), "team-a").Bytes; got != 100+142+10 {
				t.Errorf("team-a uses %d bytes after the size became 142, want %d", got, 100+142+10)
			}
		})
	}

	// The same size from any source is no conflict, and a better source
	// confirms it: a dump's size read back from a registry is a fact.
	t.Run("confirmed", func(t *testing.T) {
		s := pushStore(t)
		if err := byDump(t, s, "team-a/app:v1", first); err != nil {
			t.Fatal(err)
		}
		if err := byImport(t, s, "team-b/x:v1", same); err != nil {
			t.Fatalf("the same size was refused: %v", err)
		}
		if b := blobRow(t, s, dg("layer:base")); b.Size != 2142 || b.SizeSource != SizeImported {
			t.Errorf("base is %d bytes from %v, want 2142 confirmed by an import", b.Size, b.SizeSource)
		}
		wantErr(t, byImport(t, s, "team-c/y:v1", liar), ErrInvalid, "2142 bytes")
	})

	// Re-importing an unchanged image confirms its sizes too.
	t.Run("re-import confirms", func(t *testing.T) {
		s := pushStore(t)
		if err := byDump(t, s, "team-a/app:v1", first); err != nil {
			t.Fatal(err)
		}
		if err := byImport(t, s, "team-a/app:v1", first); err != nil {
			t.Fatal(err)
		}
		if b := blobRow(t, s, dg("layer:base")); b.SizeSource != SizeImported {
			t.Errorf("base stays %v after a registry read of the same image", b.SizeSource)
		}
	})
}

// TestBlobSizeBounds: sizes are 0 to the configured bound; a manifest with
// a negative or larger size is refused before anything is written, and one
// manifest cannot give one digest two sizes.
func TestBlobSizeBounds(t *testing.T) {
	t.Parallel()
	const tib = int64(1) << 40
	cases := []struct {
		name    string
		max     int64 // 0: the default, 1 TiB
		img     ImageSnapshot
		wantErr string
	}{
		{"zero", 0, image("zero", 0, layer{"empty", 0}), ""},
		{"one tebibyte", 0, image("tib", 1, layer{"huge", tib}), ""},
		{"one byte more", 0, image("tib+1", 1, layer{"huge", tib + 1}), "must be 0 to 1099511627776 bytes (1.0 TiB, LAYERWISE_MAX_BLOB_SIZE)"},
		{"2^63-1", 0, image("max", 1, layer{"huge", math.MaxInt64}), "has size 9223372036854775807 bytes"},
		{"negative", 0, image("neg", 1, layer{"l", -1}), "has size -1 bytes"},
		{"negative config", 0, image("negcfg", -5), "config sha256:"},
		{"configured bound", 1000, image("big", 1, layer{"l", 1001}), "must be 0 to 1000 bytes"},
		{"configured bound, within", 1000, image("ok", 1, layer{"l", 1000}), ""},
		{"one digest, two sizes", 0, image("twice", 1, layer{"l", 5}, layer{"l", 6}), "lists blob " + dg("layer:l") + " twice, as 5 and as 6 bytes"},
	}
	for _, c := range cases {
		for _, w := range []struct {
			name  string
			write sizeWrite
		}{{"dump", byDump}, {"import", byImport}, {"push", byPush}} {
			t.Run(c.name+"/"+w.name, func(t *testing.T) {
				s := pushStore(t)
				s.SetMaxBlobSize(c.max)
				before := dumpTables(t, s)
				err := w.write(t, s, "team-a/app:v1", c.img)
				if c.wantErr == "" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				wantErr(t, err, ErrInvalid, c.wantErr)
				if after := dumpTables(t, s); after != before {
					t.Errorf("a refused image wrote something")
				}
			})
		}
	}
	// The bound travels into transactions.
	s := pushStore(t)
	s.SetMaxBlobSize(10)
	err := s.Tx(ctx, func(tx *Store) error {
		_, err := tx.PutImage(ctx, image("in-tx", 1, layer{"l", 11}))
		return err
	})
	wantErr(t, err, ErrInvalid, "must be 0 to 10 bytes")
}

// TestSumsNeverWrap: a database from before sizes were bounded may hold
// sizes of 2^63−1 (and below zero). No figure wraps negative: usage, a
// stream's and an image's sizes and the prune plan stay at most 2^63−1.
func TestSumsNeverWrap(t *testing.T) {
	t.Parallel()
	s := pushStore(t)
	old := image("old", 1, layer{"a", 10}, layer{"b", 20})
	pushTo(t, s, "team-a/app:old", old, t0)
	pushTo(t, s, "team-a/app:new", image("new", 2, layer{"c", 30}), t0.Add(time.Hour))
	pushTo(t, s, "team-b/other:v1", image("other", 3, layer{"a", 10}), t0)
	// As an older, unbounded database could hold them.
	for _, l := range []string{"layer:a", "layer:b", "layer:c"} {
		if err := s.DB().Exec(`UPDATE blobs SET size = ? WHERE digest = ?`, int64(math.MaxInt64), dg(l)).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DB().Exec(`UPDATE blobs SET size = -1 WHERE digest = ?`, dg("config:old")).Error; err != nil {
		t.Fatal(err)
	}

	u := usageOf(t, s)
	figures := map[string]int64{"registry bytes": u.Registry.Bytes, "registry reclaimable": u.Registry.ReclaimableBytes}
	for _, n := range u.Namespaces {
		figures[n.Name+" bytes"] = n.Bytes
		figures[n.Name+" exclusive"] = n.ExclusiveBytes
		figures[n.Name+" reclaimable"] = n.ReclaimableBytes
		for _, st := range n.Streams {
			figures[n.Name+"/"+st.Name+" bytes"] = st.Bytes
			figures[n.Name+"/"+st.Name+" exclusive"] = st.ExclusiveBytes
			for _, tg := range st.Tags {
				figures[n.Name+"/"+st.Name+":"+tg.Name+" bytes"] = tg.Bytes
				figures[n.Name+"/"+st.Name+":"+tg.Name+" exclusive"] = tg.ExclusiveBytes
				for _, r := range tg.Revisions {
					figures[n.Name+"/"+st.Name+":"+tg.Name+" revision"] = r.Bytes
				}
			}
		}
	}
	sizes, err := s.StreamSizes(ctx, StreamRef{"team-a", "app"})
	if err != nil {
		t.Fatal(err)
	}
	figures["stream sizes"] = sizes.Bytes
	for tag, n := range sizes.Tags {
		figures["stream sizes :"+tag] = n
	}
	info, err := s.GetImage(ctx, old.Digest)
	if err != nil {
		t.Fatalf("image size: %v", err)
	}
	figures["image old"] = info.Bytes
	s.SetClock(func() time.Time { return t0.Add(400 * 24 * time.Hour) })
	plan, err := s.PlanPrune(ctx, Policy{KeepTagRevisions: 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	figures["prune plan"] = plan.BytesFreed
	for _, n := range plan.Namespaces {
		figures["prune "+n.Name] = n.BytesFreed
	}
	for what, n := range figures {
		if n < 0 {
			t.Errorf("%s = %d: negative", what, n)
		}
	}
	if u.Registry.Bytes != math.MaxInt64 {
		t.Errorf("registry bytes = %d, want 2^63−1 (the sum stops there)", u.Registry.Bytes)
	}
	if n, _ := u.Namespace("team-b"); n.Bytes != math.MaxInt64 {
		t.Errorf("team-b = %d bytes, want 2^63−1 + 3 held at 2^63−1", n.Bytes)
	}
}

// TestMigrationKeepsKnownSizes: a database from before size sources gets
// the column, and the sizes it holds count as registry reads, so a claim
// cannot change them afterwards.
func TestMigrationKeepsKnownSizes(t *testing.T) {
	t.Parallel()
	path := storetest.DSN(t)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	pushTo(t, s, "team-a/app:v1", image("old", 5, layer{"base", 2142}), t0)
	if err := s.DB().Exec(`ALTER TABLE blobs DROP COLUMN size_source`).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(`DELETE FROM schema_migrations WHERE id = ?`, "0008_blob_size_source").Error; err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if b := blobRow(t, s, dg("layer:base")); b.Size != 2142 || b.SizeSource != SizeImported {
		t.Errorf("after migration base is %d bytes from %v, want 2142 from an import", b.Size, b.SizeSource)
	}
	wantErr(t, byDump(t, s, "team-b/x:v1", image("liar", 1, layer{"base", 142})), ErrInvalid, "is 2142 bytes")
}
