package store

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// SuspendUsageSQL turns the accounting triggers off for a bulk load that
// writes around Store.Tx (generate, db copy); BuildUsage turns them back on.
const SuspendUsageSQL = `UPDATE usage_state SET built = false WHERE id = 1`

// UsageBuilt says whether the accounting tables are built.
func (s *Store) UsageBuilt(ctx context.Context) (bool, error) {
	var built []bool
	if err := s.conn(ctx).Raw(`SELECT built FROM usage_state WHERE id = 1`).Scan(&built).Error; err != nil {
		return false, fmt.Errorf("read usage state: %w", err)
	}
	return len(built) == 1 && built[0], nil
}

// ensureUsage builds the accounting tables of a database that has none yet
// (the first start after 0015, or after a bulk load), logging its steps.
func (s *Store) ensureUsage(ctx context.Context) error {
	built, err := s.UsageBuilt(ctx)
	if err != nil || built {
		return err
	}
	var events int64
	if err := s.conn(ctx).Raw(`SELECT COUNT(*) FROM (SELECT 1 FROM tag_events LIMIT 1) x`).Scan(&events).Error; err != nil {
		return err
	}
	if events == 0 { // nothing to count: no news worth a log line
		return s.BuildUsage(ctx, nil)
	}
	log := slog.Default()
	log.Info("building the usage accounting tables (once; writes keep them up to date afterwards)")
	start := time.Now()
	err = s.BuildUsage(ctx, func(step string, d time.Duration) {
		log.Info("usage accounting", "step", step, "took", d.Round(time.Millisecond))
	})
	if err != nil {
		return err
	}
	log.Info("usage accounting built", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// BuildUsage rebuilds the accounting tables from the registry's tables, in
// SQL and in one transaction; progress, when not nil, hears of each step.
// It is the migration's first fill and `usage --repair`.
func (s *Store) BuildUsage(ctx context.Context, progress func(step string, took time.Duration)) error {
	return s.Tx(ctx, func(tx *Store) error {
		db := tx.conn(ctx)
		steps := []struct{ name, sql string }{
			{"clear", `DELETE FROM usage_members`},
			{"clear", `DELETE FROM usage_scope_blobs`},
			{"clear", `DELETE FROM usage_blobs`},
			{"clear", `DELETE FROM usage_scopes`},
			{"clear", `DELETE FROM usage_images`},
			{"clear", `DELETE FROM usage_dirty`},
			{"clear", `DELETE FROM usage_blob_deltas`},
			{"tag members", expandSQL(`SELECT tag_id, image_id FROM tag_events WHERE image_id IS NOT NULL`) +
				` INSERT INTO usage_members (level, scope_id, image_id, n) SELECT 1, root, image_id, COUNT(*) FROM x GROUP BY root, image_id`},
			{"stream members", `INSERT INTO usage_members (level, scope_id, image_id, n)
				SELECT 2, t.stream_id, m.image_id, COUNT(*) FROM usage_members m JOIN tags t ON t.id = m.scope_id
				WHERE m.level = 1 GROUP BY t.stream_id, m.image_id`},
			{"namespace members", `INSERT INTO usage_members (level, scope_id, image_id, n)
				SELECT 3, st.namespace_id, m.image_id, COUNT(*) FROM usage_members m JOIN image_streams st ON st.id = m.scope_id
				WHERE m.level = 2 GROUP BY st.namespace_id, m.image_id`},
			{"scope blobs", `INSERT INTO usage_scope_blobs (level, scope_id, blob_id, n)
				SELECT m.level, m.scope_id, ib.blob_id, COUNT(*) FROM usage_members m JOIN image_blobs ib ON ib.image_id = m.image_id
				GROUP BY m.level, m.scope_id, ib.blob_id`},
			{"blob holders", `INSERT INTO usage_blobs (blob_id, size, tags, streams, namespaces)
				SELECT sb.blob_id, b.size,
					SUM(CASE WHEN sb.level = 1 THEN 1 ELSE 0 END),
					SUM(CASE WHEN sb.level = 2 THEN 1 ELSE 0 END),
					SUM(CASE WHEN sb.level = 3 THEN 1 ELSE 0 END)
				FROM usage_scope_blobs sb JOIN blobs b ON b.id = sb.blob_id GROUP BY sb.blob_id, b.size`},
			{"scope totals", `INSERT INTO usage_scopes (level, scope_id, parent_id, bytes, exclusive_bytes, blobs)
				SELECT k.level, k.scope_id, 0, COALESCE(a.bytes, 0), COALESCE(a.excl, 0), COALESCE(a.blobs, 0)
				FROM (SELECT DISTINCT level, scope_id FROM usage_members) k
				LEFT JOIN (
					SELECT sb.level, sb.scope_id, SUM(u.size) AS bytes,
						SUM(CASE WHEN (sb.level = 1 AND u.tags = 1) OR (sb.level = 2 AND u.streams = 1)
							OR (sb.level = 3 AND u.namespaces = 1) THEN u.size ELSE 0 END) AS excl,
						COUNT(*) AS blobs
					FROM usage_scope_blobs sb JOIN usage_blobs u ON u.blob_id = sb.blob_id
					GROUP BY sb.level, sb.scope_id
				) a ON a.level = k.level AND a.scope_id = k.scope_id`},
			{"scope parents", `UPDATE usage_scopes SET parent_id = COALESCE((SELECT t.stream_id FROM tags t WHERE t.id = usage_scopes.scope_id), 0) WHERE level = 1`},
			{"scope parents", `UPDATE usage_scopes SET parent_id = COALESCE((SELECT st.namespace_id FROM image_streams st WHERE st.id = usage_scopes.scope_id), 0) WHERE level = 2`},
			{"registry", `INSERT INTO usage_scopes (level, scope_id, parent_id, bytes, exclusive_bytes, blobs)
				SELECT 0, 0, 0, COALESCE(SUM(size), 0), 0, COUNT(*) FROM usage_blobs WHERE namespaces > 0`},
			{"image sizes", imageBytesSQL(`> 0`, `INSERT INTO usage_images (image_id, bytes)`)},
		}
		last := ""
		start := time.Now()
		for _, st := range steps {
			if st.name != last && last != "" && progress != nil {
				progress(last, time.Since(start))
				start = time.Now()
			}
			last = st.name
			if err := db.Exec(st.sql).Error; err != nil {
				return fmt.Errorf("build usage accounting: %s: %w", st.name, err)
			}
		}
		if progress != nil {
			progress(last, time.Since(start))
		}
		if err := db.Exec(`UPDATE usage_state SET built = ?, built_at = ? WHERE id = 1`, true, tx.now().Unix()).Error; err != nil {
			return fmt.Errorf("build usage accounting: %w", err)
		}
		return nil
	})
}

// UsageDifference is one figure the accounting tables hold that the full
// pass computes differently.
type UsageDifference struct {
	Scope    string `json:"scope"` // "registry", "namespace ns", "stream ns/name", "tag ns/name:tag", "image sha256:…", "blob sha256:…"
	Figure   string `json:"figure"`
	Stored   int64  `json:"stored"`
	Computed int64  `json:"computed"`
}

func (d UsageDifference) String() string {
	return fmt.Sprintf("%s: %s is %d in the accounting tables, %d by the full pass", d.Scope, d.Figure, d.Stored, d.Computed)
}

// VerifyUsage recomputes every figure with the full pass (graph.usage) and
// compares it with the accounting tables, both read in one snapshot. An
// empty answer means they agree on every scope, revision size and share
// count.
func (s *Store) VerifyUsage(ctx context.Context) ([]UsageDifference, error) {
	var diffs []UsageDifference
	err := s.Snapshot(ctx, func(s *Store) error {
		g, err := s.readGraph(ctx)
		if err != nil {
			return err
		}
		u := g.usage(DefaultPolicy, s.now())
		stored, err := s.readScopeFigures(ctx)
		if err != nil {
			return err
		}
		diffs = compareUsage(g, u, stored)
		img, err := s.compareImageBytes(ctx, g)
		if err != nil {
			return err
		}
		diffs = append(diffs, img...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify usage: %w", err)
	}
	return diffs, nil
}

// scopeFigures are the stored figures by name, as the full pass names them.
type scopeFigures struct {
	registry   usageScope
	namespaces map[string]usageScope
	streams    map[string]usageScope // ns/name
	tags       map[string]usageScope // ns/name:tag
	holders    map[int64]usageBlob
}

func (s *Store) readScopeFigures(ctx context.Context) (*scopeFigures, error) {
	db := s.conn(ctx)
	f := &scopeFigures{namespaces: map[string]usageScope{}, streams: map[string]usageScope{}, tags: map[string]usageScope{},
		holders: map[int64]usageBlob{}}
	type row struct {
		Bytes, ExclusiveBytes, Blobs int64
		Name                         string
	}
	queries := []struct {
		level int16
		sql   string
		into  map[string]usageScope
	}{
		{levelNamespace, `SELECT u.bytes, u.exclusive_bytes, u.blobs, n.name AS name FROM usage_scopes u JOIN namespaces n ON n.id = u.scope_id WHERE u.level = 3`, f.namespaces},
		{levelStream, `SELECT u.bytes, u.exclusive_bytes, u.blobs, n.name || '/' || st.name AS name FROM usage_scopes u JOIN image_streams st ON st.id = u.scope_id
			JOIN namespaces n ON n.id = st.namespace_id WHERE u.level = 2`, f.streams},
		{levelTag, `SELECT u.bytes, u.exclusive_bytes, u.blobs, n.name || '/' || st.name || ':' || t.name AS name FROM usage_scopes u JOIN tags t ON t.id = u.scope_id
			JOIN image_streams st ON st.id = t.stream_id JOIN namespaces n ON n.id = st.namespace_id WHERE u.level = 1`, f.tags},
	}
	for _, q := range queries {
		var rows []row
		if err := db.Raw(q.sql).Scan(&rows).Error; err != nil {
			return nil, err
		}
		for _, r := range rows {
			q.into[r.Name] = usageScope{Level: q.level, Bytes: r.Bytes, ExclusiveBytes: r.ExclusiveBytes, Blobs: r.Blobs}
		}
	}
	var reg []usageScope
	if err := db.Where("level = 0").Find(&reg).Error; err != nil {
		return nil, err
	}
	if len(reg) == 1 {
		f.registry = reg[0]
	}
	var blobs []usageBlob
	if err := db.Find(&blobs).Error; err != nil {
		return nil, err
	}
	for _, b := range blobs {
		f.holders[b.BlobID] = b
	}
	return f, nil
}

func compareUsage(g *graph, u *Usage, f *scopeFigures) []UsageDifference {
	var out []UsageDifference
	cmp := func(scope, figure string, stored, computed int64) {
		if stored != computed {
			out = append(out, UsageDifference{Scope: scope, Figure: figure, Stored: stored, Computed: computed})
		}
	}
	cmp("registry", "bytes", f.registry.Bytes, u.Registry.Bytes)
	cmp("registry", "blobs", f.registry.Blobs, u.Registry.Blobs)
	seenNS, seenST, seenTag := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, n := range u.Namespaces {
		sn := f.namespaces[n.Name]
		seenNS[n.Name] = true
		cmp("namespace "+n.Name, "bytes", sn.Bytes, n.Bytes)
		cmp("namespace "+n.Name, "exclusive bytes", sn.ExclusiveBytes, n.ExclusiveBytes)
		for _, st := range n.Streams {
			key := n.Name + "/" + st.Name
			seenST[key] = true
			ss := f.streams[key]
			cmp("stream "+key, "bytes", ss.Bytes, st.Bytes)
			cmp("stream "+key, "exclusive bytes", ss.ExclusiveBytes, st.ExclusiveBytes)
			for _, t := range st.Tags {
				tk := key + ":" + t.Name
				seenTag[tk] = true
				ts := f.tags[tk]
				cmp("tag "+tk, "bytes", ts.Bytes, t.Bytes)
				cmp("tag "+tk, "exclusive bytes", ts.ExclusiveBytes, t.ExclusiveBytes)
			}
		}
	}
	extra := func(kind string, m map[string]usageScope, seen map[string]bool) {
		names := make([]string, 0)
		for name, v := range m {
			if !seen[name] && (v.Bytes != 0 || v.ExclusiveBytes != 0) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			cmp(kind+" "+name, "bytes", m[name].Bytes, 0)
		}
	}
	extra("namespace", f.namespaces, seenNS)
	extra("stream", f.streams, seenST)
	extra("tag", f.tags, seenTag)
	// Share counts per blob (the layer views' "shared by").
	sh := u.shares
	for b := range g.blobSize {
		if b == 0 {
			continue
		}
		h := f.holders[int64(b)]
		var want [3]int64
		if sh != nil {
			want = [3]int64{int64(sh.tags[b]), int64(sh.streams[b]), int64(sh.namespaces[b])}
		}
		name := "blob " + fmt.Sprint(b)
		cmp(name, "tags holding it", h.Tags, want[0])
		cmp(name, "streams holding it", h.Streams, want[1])
		cmp(name, "namespaces holding it", h.Namespaces, want[2])
		if want[2] > 0 {
			cmp(name, "size counted", h.Size, g.blobSize[b])
		}
	}
	return out
}

// compareImageBytes checks the stored revision sizes.
func (s *Store) compareImageBytes(ctx context.Context, g *graph) ([]UsageDifference, error) {
	var rows []usageImage
	if err := s.conn(ctx).Find(&rows).Error; err != nil {
		return nil, err
	}
	stored := make(map[int64]int64, len(rows))
	for _, r := range rows {
		stored[r.ImageID] = r.Bytes
	}
	var out []UsageDifference
	stamp := make([]int32, len(g.blobSize))
	for img := 1; img < len(g.blobStart); img++ {
		if g.digest[img] == "" {
			continue
		}
		var total int64
		g.forBlobs(int64(img), func(b int32) {
			if stamp[b] != int32(img) {
				stamp[b] = int32(img)
				total += g.blobSize[b]
			}
		})
		if stored[int64(img)] != total {
			out = append(out, UsageDifference{Scope: "image " + g.digest[img], Figure: "bytes", Stored: stored[int64(img)], Computed: total})
		}
	}
	return out, nil
}
