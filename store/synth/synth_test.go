package synth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/storetest"
)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	return openDSN(t, storetest.DSN(t))
}

// openSQLite is for the tests that check the generated rows with SQLite's
// SQL (julianday, sqlite_sequence). The rows are the same on PostgreSQL:
// TestGenerateSameOnPostgres proves it.
func openSQLite(t testing.TB) *store.Store {
	t.Helper()
	return openDSN(t, storetest.SQLitePath(t))
}

func openDSN(t testing.TB, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sqlDB(t testing.TB, s *store.Store) *sql.DB {
	t.Helper()
	db, err := s.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func count(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func generate(t testing.TB, namespaces int, seed uint64) (*store.Store, Stats) {
	t.Helper()
	s := openSQLite(t)
	st, err := Generate(context.Background(), s, Options{Namespaces: namespaces, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func TestGenerateShapes(t *testing.T) {
	s, st := generate(t, 10, 42)
	db := sqlDB(t, s)
	t.Logf("%+v", st)

	// The counts Stats reports are the rows in the tables.
	for _, c := range []struct {
		table  string
		got    int64
		lo, hi int64 // per namespace
	}{
		{"namespaces", st.Namespaces, 1, 1},
		{"image_streams", st.Streams, 4, 20},
		{"tags", st.Tags, 20, 100},
		{"tag_events", st.TagEvents, 100, 500},
		{"images", st.Images, 50, 250},
		{"blobs", st.Blobs, 200, 2000},
		{"image_blobs", st.ImageBlobs, 500, 2500},
		{"image_manifests", st.ImageManifests, 0, 100},
	} {
		if n := count(t, db, "SELECT count(*) FROM "+c.table); n != c.got {
			t.Errorf("%s: %d rows, Stats says %d", c.table, n, c.got)
		}
		if c.got < c.lo*10 || c.got > c.hi*10 {
			t.Errorf("%s: %d rows, want %d..%d", c.table, c.got, c.lo*10, c.hi*10)
		}
	}

	zero := []struct{ what, query string }{
		{"history entries without their image",
			"SELECT count(*) FROM tag_events e LEFT JOIN images i ON i.id = e.image_id WHERE i.id IS NULL"},
		{"links without their blob",
			"SELECT count(*) FROM image_blobs l LEFT JOIN blobs b ON b.id = l.blob_id WHERE b.id IS NULL"},
		{"links without their image",
			"SELECT count(*) FROM image_blobs l LEFT JOIN images i ON i.id = l.image_id WHERE i.id IS NULL"},
		{"tags with gaps in their positions",
			`SELECT count(*) FROM (SELECT tag_id FROM tag_events GROUP BY tag_id
			 HAVING min(position) != 0 OR max(position) != count(*) - 1 OR count(DISTINCT position) != count(*))`},
		{"entries not older than the one above them",
			`SELECT count(*) FROM tag_events a JOIN tag_events b ON b.tag_id = a.tag_id AND b.position = a.position + 1
			 WHERE julianday(a.created) <= julianday(b.created)`},
		{"entries repeating the image right above them",
			`SELECT count(*) FROM tag_events a JOIN tag_events b ON b.tag_id = a.tag_id AND b.position = a.position + 1
			 WHERE a.image_id = b.image_id`},
		{"entries newer than the anchor",
			`SELECT count(*) FROM tag_events WHERE julianday(created) > julianday('2026-11-01 00:00:00')`},
		{"manifest lists without exactly 2 children",
			`SELECT count(*) FROM images i WHERE i.manifest_list AND
			 (SELECT count(*) FROM image_manifests m WHERE m.list_id = i.id) != 2`},
		{"manifest lists with blobs",
			"SELECT count(*) FROM image_blobs l JOIN images i ON i.id = l.image_id WHERE i.manifest_list"},
		{"manifests without a config link matching config_digest",
			`SELECT count(*) FROM images i WHERE NOT i.manifest_list AND NOT EXISTS (SELECT 1 FROM image_blobs l
			 JOIN blobs b ON b.id = l.blob_id WHERE l.image_id = i.id AND l.position = -1 AND b.digest = i.config_digest)`},
		{"images neither in a history nor a child of a list",
			`SELECT count(*) FROM images i WHERE NOT EXISTS (SELECT 1 FROM tag_events e WHERE e.image_id = i.id)
			 AND NOT EXISTS (SELECT 1 FROM image_manifests m WHERE m.child_id = i.id)`},
		{"blobs no image links",
			"SELECT count(*) FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM image_blobs l WHERE l.blob_id = b.id)"},
		{"unknown images", "SELECT count(*) FROM images WHERE NOT known"},
		{"config blobs outside 1-15 KiB",
			"SELECT count(*) FROM image_blobs l JOIN blobs b ON b.id = l.blob_id WHERE l.position = -1 AND (b.size < 1024 OR b.size > 15360)"},
		{"tags not in spec", "SELECT count(*) FROM tags WHERE NOT in_spec"},
		{"streams created before their namespace",
			`SELECT count(*) FROM image_streams s JOIN namespaces n ON n.id = s.namespace_id
			 WHERE julianday(s.created) < julianday(n.created_at)`},
		{"streams created after their first entry",
			`SELECT count(*) FROM image_streams s JOIN tags t ON t.stream_id = s.id JOIN tag_events e ON e.tag_id = t.id
			 WHERE t.name = 'latest' AND julianday(e.created) < julianday(s.created)`},
	}
	for _, z := range zero {
		if n := count(t, db, z.query); n != 0 {
			t.Errorf("%d %s", n, z.what)
		}
	}

	some := []struct{ what, query string }{
		{"manifest lists", "SELECT count(*) FROM images WHERE manifest_list"},
		{"arm64 children", "SELECT count(*) FROM image_manifests WHERE architecture = 'arm64' AND variant = 'v8'"},
		{"failed imports",
			`SELECT count(*) FROM tags WHERE scheduled AND from_kind = 'DockerImage' AND cond_status = 'False'
			 AND cond_reason != '' AND cond_message != '' AND cond_time IS NOT NULL`},
		{"successful scheduled imports", "SELECT count(*) FROM tags WHERE scheduled AND cond_status = '' AND EXISTS (SELECT 1 FROM tag_events e WHERE e.tag_id = tags.id)"},
		{"layers shared across namespaces",
			`SELECT count(*) FROM (SELECT l.blob_id FROM image_blobs l
			 JOIN blobs b ON b.id = l.blob_id AND b.size >= 25*1024*1024
			 JOIN tag_events e ON e.image_id = l.image_id JOIN tags t ON t.id = e.tag_id
			 JOIN image_streams s ON s.id = t.stream_id WHERE l.position = 0
			 GROUP BY l.blob_id HAVING count(DISTINCT s.namespace_id) > 1)`},
		{"images listing a layer twice",
			"SELECT count(*) FROM (SELECT image_id FROM image_blobs GROUP BY image_id, blob_id HAVING count(*) > 1)"},
		{"build layers reused by the next build", // smaller than any base or runtime layer
			`SELECT count(*) FROM (SELECT l.blob_id FROM image_blobs l JOIN blobs b ON b.id = l.blob_id
			 JOIN images i ON i.id = l.image_id WHERE b.size BETWEEN 1048576 AND 20*1048576
			 AND i.docker_image_reference LIKE 'image-registry.%' GROUP BY l.blob_id HAVING count(DISTINCT l.image_id) > 1)`},
		{"rollbacks", "SELECT count(*) FROM (SELECT 1 FROM tag_events GROUP BY tag_id, image_id HAVING count(*) > 1)"},
		{"aliases", "SELECT count(*) FROM tags WHERE alias AND from_kind = 'ImageStreamTag' AND from_name = 'prod' AND name = 'stable'"},
		{"promoted tags", "SELECT count(*) FROM tags WHERE from_kind = 'ImageStreamImage' AND from_name LIKE '%@sha256:%' AND name IN ('test', 'prod')"},
		{"version tags", "SELECT count(*) FROM tags WHERE name LIKE 'v%.%.%'"},
		{"OCI manifests", "SELECT count(*) FROM images WHERE media_type = 'application/vnd.oci.image.manifest.v1+json'"},
		{"schema2 manifests", "SELECT count(*) FROM images WHERE media_type = 'application/vnd.docker.distribution.manifest.v2+json'"},
	}
	for _, c := range some {
		if n := count(t, db, c.query); n == 0 {
			t.Errorf("no %s", c.what)
		}
	}
	if st.FailedImports == 0 || st.ManifestLists == 0 {
		t.Errorf("Stats: FailedImports %d, ManifestLists %d", st.FailedImports, st.ManifestLists)
	}

	// Alias tags hold the same history as the tag they follow.
	if n := count(t, db, `SELECT count(*) FROM tags a JOIN tags p ON p.stream_id = a.stream_id AND p.name = 'prod'
		JOIN tag_events ea ON ea.tag_id = a.id LEFT JOIN tag_events ep ON ep.tag_id = p.id
		AND ep.position = ea.position AND ep.image_id = ea.image_id AND ep.created = ea.created
		WHERE a.alias AND ep.id IS NULL`); n != 0 {
		t.Errorf("%d alias entries differ from prod", n)
	}

	// The prune policy keeps entries younger than 96h: about a tenth are.
	young := count(t, db, `SELECT count(*) FROM tag_events WHERE julianday(created) > julianday('2026-11-01 00:00:00') - 4`)
	if frac := float64(young) / float64(st.TagEvents); frac < 0.04 || frac > 0.2 {
		t.Errorf("%.1f%% of the history is younger than 96h, want about 10%%", 100*frac)
	}

	rows, err := db.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign_key_check reports violations")
	}
	rows.Close()

	checkNames(t, db)
}

// checkNames validates every name with the store's own rules.
func checkNames(t *testing.T, db *sql.DB) {
	t.Helper()
	each := func(query string, fn func(a, b string) error) {
		rows, err := db.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a, b string
			if err := rows.Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			if err := fn(a, b); err != nil {
				t.Error(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	each("SELECT name, '' FROM namespaces", func(ns, _ string) error { return store.ValidateNamespace(ns) })
	each("SELECT n.name, s.name FROM image_streams s JOIN namespaces n ON n.id = s.namespace_id",
		func(ns, name string) error { return store.ValidateStream(ns, name) })
	each("SELECT DISTINCT name, '' FROM tags", func(tag, _ string) error { return store.ValidateTag(tag) })
	each("SELECT digest, '' FROM images UNION ALL SELECT digest, '' FROM blobs",
		func(d, _ string) error { return store.ValidateDigest(d) })
	each(`SELECT e.docker_image_reference, i.digest FROM tag_events e JOIN images i ON i.id = e.image_id`,
		func(ref, d string) error {
			if !strings.HasSuffix(ref, "@"+d) {
				return fmt.Errorf("entry reference %s does not name its image %s", ref, d)
			}
			return nil
		})
}

// dumpTables hashes every row of every table the generator writes, in key
// order.
func dumpTables(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, q := range []struct{ table, order string }{
		{"namespaces", "id"}, {"image_streams", "id"}, {"tags", "id"}, {"tag_events", "id"},
		{"images", "id"}, {"blobs", "id"}, {"image_blobs", "image_id, position"},
		{"image_manifests", "list_id, position"}, {"sqlite_sequence", "name"},
	} {
		rows, err := db.Query("SELECT * FROM " + q.table + " ORDER BY " + q.order)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		h := sha256.New()
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(h, "%T:%v|", v, v)
			}
			h.Write([]byte{'\n'})
			n++
		}
		rows.Close()
		out[q.table] = fmt.Sprintf("%d rows %x", n, h.Sum(nil))
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	a, _ := generate(t, 3, 7)
	b, _ := generate(t, 3, 7)
	c, _ := generate(t, 3, 8)
	da, db, dc := dumpTables(t, sqlDB(t, a)), dumpTables(t, sqlDB(t, b)), dumpTables(t, sqlDB(t, c))
	for table, h := range da {
		if db[table] != h {
			t.Errorf("%s: same seed, different rows: %s vs %s", table, h, db[table])
		}
	}
	for _, table := range []string{"namespaces", "image_streams", "tags", "tag_events", "images", "blobs"} {
		if dc[table] == da[table] {
			t.Errorf("%s: a different seed gave the same rows", table)
		}
	}
}

// The load drops and rebuilds indexes: the schema must come out the same.
func TestGenerateKeepsSchema(t *testing.T) {
	s := openStore(t)
	q := "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name"
	if s.Dialect() == "postgres" {
		q = `SELECT 'index', indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL SELECT 'constraint', conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
			WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2`
	}
	schema := func() string {
		rows, err := sqlDB(t, s).Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var typ, name, tbl, sql string
			if err := rows.Scan(&typ, &name, &tbl, &sql); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %s %s %s\n", typ, name, tbl, sql)
		}
		return b.String()
	}
	before := schema()
	if _, err := Generate(context.Background(), s, Options{Namespaces: 1}); err != nil {
		t.Fatal(err)
	}
	if after := schema(); after != before {
		t.Errorf("schema changed:\n%s\nbecame\n%s", before, after)
	}
	if s.Dialect() == "postgres" {
		return // no connection settings to restore: SET LOCAL ends with the load
	}
	// The connection settings the load changed are back.
	if n := count(t, sqlDB(t, s), "PRAGMA cache_size"); n == loadCacheKiB {
		t.Errorf("cache_size still %d after the load", n)
	}
}

// SQLite's ":memory:" database, whatever LAYERWISE_TEST_POSTGRES says.
func TestGenerateInMemory(t *testing.T) {
	s, err := store.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := Generate(context.Background(), s, Options{Namespaces: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, sqlDB(t, s), "SELECT count(*) FROM images"); n != st.Images || n == 0 {
		t.Errorf("%d images, Stats says %d", n, st.Images)
	}
}

func TestGenerateAnchor(t *testing.T) {
	s := openSQLite(t)
	anchor := time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC)
	if _, err := Generate(context.Background(), s, Options{Namespaces: 2, Seed: 1, Anchor: anchor}); err != nil {
		t.Fatal(err)
	}
	db := sqlDB(t, s)
	if n := count(t, db, "SELECT count(*) FROM tag_events WHERE julianday(created) > julianday(?)", "2025-03-15 12:00:00"); n != 0 {
		t.Errorf("%d entries after the anchor", n)
	}
	if n := count(t, db, "SELECT count(*) FROM tag_events WHERE julianday(created) > julianday(?) - 30", "2025-03-15 12:00:00"); n == 0 {
		t.Error("no entries in the 30 days before the anchor")
	}
}

func TestGenerateRefusesNonEmpty(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if err := s.DB().Create(&store.Namespace{Name: "team-a", CreatedAt: DefaultAnchor()}).Error; err != nil {
		t.Fatal(err)
	}
	_, err := Generate(ctx, s, Options{Namespaces: 1})
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "empty database") {
		t.Fatalf("Generate on a database with a namespace: %v", err)
	}
	if n := count(t, sqlDB(t, s), "SELECT count(*) FROM image_streams"); n != 0 {
		t.Errorf("refused run wrote %d streams", n)
	}

	// A second run over generated data is refused the same way.
	g, _ := generate(t, 1, 1)
	if _, err := Generate(ctx, g, Options{Namespaces: 1}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("second Generate: %v", err)
	}
}

func TestGenerateOptions(t *testing.T) {
	for _, n := range []int{0, -1, maxNamespaces + 1} {
		if _, err := Generate(context.Background(), openStore(t), Options{Namespaces: n}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Namespaces %d: %v", n, err)
		}
	}
}

// BenchmarkGenerateLarge builds the "large" dataset of the benchmarks in a
// SQLite file (it reports the file's size; bench/run times `generate` on
// both databases):
// LAYERWISE_BENCH_LARGE=1 go test -run '^$' -bench GenerateLarge -benchtime 1x ./store/synth/
func BenchmarkGenerateLarge(b *testing.B) {
	if os.Getenv("LAYERWISE_BENCH_LARGE") != "1" {
		b.Skip("set LAYERWISE_BENCH_LARGE=1 to generate 2000 namespaces")
	}
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		path := filepath.Join(dir, "large.db")
		s, err := store.Open(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := Generate(context.Background(), s, Options{Namespaces: 2000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		var size int64
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				size += fi.Size()
			}
		}
		b.Logf("%+v; database files %d MiB", st, size>>20)
		b.ReportMetric(float64(st.ImageBlobs), "links")
		b.ReportMetric(float64(size>>20), "MiB")
	}
}

// The same options give the same registry on PostgreSQL as on SQLite: the
// same rows in every table and the same usage, counted once.
func TestGenerateSameOnPostgres(t *testing.T) {
	storetest.SkipUnlessPostgres(t)
	ctx := context.Background()
	lite, pg := openSQLite(t), openStore(t)
	a, err := Generate(ctx, lite, Options{Namespaces: 4, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(ctx, pg, Options{Namespaces: 4, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	a.Elapsed, b.Elapsed = 0, 0
	if a != b {
		t.Fatalf("stats differ:\nsqlite   %+v\npostgres %+v", a, b)
	}
	for _, table := range loadedTables {
		q := `SELECT count(*) FROM "` + table + `"`
		if x, y := count(t, sqlDB(t, lite), q), count(t, sqlDB(t, pg), q); x != y {
			t.Errorf("%s: %d rows on SQLite, %d on PostgreSQL", table, x, y)
		}
	}
	lite.SetClock(DefaultAnchor)
	pg.SetClock(DefaultAnchor)
	ua, err := lite.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := pg.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	ua.ComputedAt, ub.ComputedAt = time.Time{}, time.Time{}
	ja, _ := json.Marshal(ua)
	jb, _ := json.Marshal(ub)
	if string(ja) != string(jb) {
		t.Errorf("usage differs between SQLite (%d bytes of JSON) and PostgreSQL (%d)", len(ja), len(jb))
	}
	// The id sequences were moved past the loaded rows: an ordinary insert works.
	if err := pg.CreateStream(ctx, store.StreamRef{Namespace: "after-load", Stream: "app"}); err != nil {
		t.Fatalf("create a stream after the load: %v", err)
	}
}
