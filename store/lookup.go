package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ListNamespaces returns every namespace, by name.
func (s *Store) ListNamespaces(ctx context.Context) ([]Namespace, error) {
	var out []Namespace
	if err := s.conn(ctx).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	return out, nil
}

// HolderRow is a tag whose history holds an image.
type HolderRow struct {
	Namespace, Stream, Tag string
	Position               int
	Created                time.Time
	Ref                    string // a pull spec the tag recorded for it
}

// ImageHolders lists every tag that has the image in its history, current
// holders first, of the namespaces the scope sees (nil: all); limit bounds
// the list.
func (s *Store) ImageHolders(ctx context.Context, digest string, limit int, sc *Scope) ([]HolderRow, error) {
	var raw []struct {
		Namespace, Stream, Tag, Ref string
		Position                    int
		Created                     int64
	}
	// MAX() loses the column's type in SQLite, so the time travels as unix seconds.
	q := s.conn(ctx).Table("tag_events e").
		Select("n.name AS namespace, st.name AS stream, t.name AS tag, MIN(e.position) AS position, MAX("+s.epoch("e.created")+") AS created, MAX(e.docker_image_reference) AS ref").
		Joins("JOIN images i ON i.id = e.image_id").
		Joins("JOIN tags t ON t.id = e.tag_id").
		Joins("JOIN image_streams st ON st.id = t.stream_id").
		Joins("JOIN namespaces n ON n.id = st.namespace_id").
		Where("i.digest = ?", digest)
	if sc != nil {
		q = q.Where("n.name IN ?", sc.Namespaces)
	}
	err := q.Group("n.name, st.name, t.name").
		Order("MIN(e.position) = 0 DESC, n.name, st.name, t.name").Limit(limit).Scan(&raw).Error
	if err != nil {
		return nil, fmt.Errorf("tags holding %s: %w", digest, err)
	}
	rows := make([]HolderRow, len(raw))
	for i, r := range raw {
		rows[i] = HolderRow{Namespace: r.Namespace, Stream: r.Stream, Tag: r.Tag, Position: r.Position, Created: time.Unix(r.Created, 0).UTC(), Ref: r.Ref}
	}
	return rows, nil
}

// ManifestListsOf returns the digests of the manifest lists that contain
// an image, of those the scope sees (nil: all).
func (s *Store) ManifestListsOf(ctx context.Context, digest string, sc *Scope) ([]string, error) {
	var out []string
	q := s.conn(ctx).Table("image_manifests m").Select("l.digest").
		Joins("JOIN images c ON c.id = m.child_id").Joins("JOIN images l ON l.id = m.list_id").
		Where("c.digest = ?", digest)
	if sc != nil {
		q = q.Where("l.id IN ("+heldImagesSQL+")", sc.Namespaces, sc.Namespaces, sc.Namespaces, sc.Namespaces)
	}
	err := q.Order("l.digest").Pluck("l.digest", &out).Error
	return out, err
}

// BlobInfo is a blob with who uses it.
type BlobInfo struct {
	Blob
	Images     []BlobImageRow // at most the limit given
	ImageCount int64
	Streams    []StreamRef // streams whose history holds an image with the blob
	Namespaces []string
}

// BlobImageRow is an image that lists a blob.
type BlobImageRow struct {
	Digest string
	Config bool
}

// GetBlob returns a blob and the images, streams and namespaces sharing
// it; with a scope (nil: everything) the streams and namespaces are those
// the scope sees, the images are left out, and a blob no image in the
// scope lists is "not found", as a missing one.
func (s *Store) GetBlob(ctx context.Context, digest string, limit int, sc *Scope) (BlobInfo, error) {
	if sc != nil {
		if ok, err := s.BlobInScope(ctx, digest, sc); err != nil || !ok {
			if err == nil {
				err = notFoundf("blob %s not found", digest)
			}
			return BlobInfo{}, err
		}
	}
	db := s.conn(ctx)
	var info BlobInfo
	err := db.Where("digest = ?", digest).Take(&info.Blob).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return info, notFoundf("blob %s not found", digest)
	}
	if err != nil {
		return info, fmt.Errorf("look up blob %s: %w", digest, err)
	}
	if sc == nil {
		err = db.Table("image_blobs ib").Select("DISTINCT i.digest, ib.position = -1 AS config").
			Joins("JOIN images i ON i.id = ib.image_id").Where("ib.blob_id = ?", info.ID).
			Order("i.digest").Limit(limit).Scan(&info.Images).Error
		if err != nil {
			return info, fmt.Errorf("images of blob %s: %w", digest, err)
		}
		if err := db.Raw(`SELECT COUNT(DISTINCT image_id) FROM image_blobs WHERE blob_id = ?`, info.ID).Scan(&info.ImageCount).Error; err != nil {
			return info, err
		}
	}
	// Only the scope's namespaces: a fixed condition when there is none.
	scoped, args := "1 = 1", []any{}
	if sc != nil {
		scoped, args = "n.name IN ?", []any{sc.Namespaces}
	}
	// Images holding the blob directly, through a manifest list, or as
	// the subject of a referrer (a signature, an SBOM) that holds it.
	err = db.Raw(`
		WITH RECURSIVE imgs(id) AS (SELECT image_id FROM image_blobs WHERE blob_id = ?
			UNION SELECT p.parent FROM (SELECT list_id AS parent, child_id AS child FROM image_manifests
				UNION ALL SELECT subject_id, referrer_id FROM image_referrers) p JOIN imgs ON imgs.id = p.child)
		SELECT DISTINCT n.name AS namespace, st.name AS stream
		FROM tag_events e JOIN imgs ON imgs.id = e.image_id
		JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
		JOIN namespaces n ON n.id = st.namespace_id
		WHERE `+scoped+`
		ORDER BY n.name, st.name LIMIT ?`, append(append([]any{info.ID}, args...), limit)...).Scan(&info.Streams).Error
	if err != nil {
		return info, fmt.Errorf("streams of blob %s: %w", digest, err)
	}
	// Namespaces in full (at most one row each), not from the cut stream list.
	err = db.Raw(`
		WITH RECURSIVE imgs(id) AS (SELECT image_id FROM image_blobs WHERE blob_id = ?
			UNION SELECT p.parent FROM (SELECT list_id AS parent, child_id AS child FROM image_manifests
				UNION ALL SELECT subject_id, referrer_id FROM image_referrers) p JOIN imgs ON imgs.id = p.child)
		SELECT DISTINCT n.name
		FROM tag_events e JOIN imgs ON imgs.id = e.image_id
		JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
		JOIN namespaces n ON n.id = st.namespace_id
		WHERE `+scoped+`
		ORDER BY n.name`, append([]any{info.ID}, args...)...).Scan(&info.Namespaces).Error
	if err != nil {
		return info, fmt.Errorf("namespaces of blob %s: %w", digest, err)
	}
	return info, nil
}

// SearchHit is one match of Search.
type SearchHit struct {
	Kind      string // namespace, stream, tag, image, blob
	Namespace string
	Stream    string
	Tag       string
	Digest    string
}

// Search finds namespaces, streams and tags whose names contain q, and
// images and blobs whose digest starts with it — only what the scope sees
// (nil: everything), so a reader learns no name or digest of a namespace
// they hold no role in.
func (s *Store) Search(ctx context.Context, q string, limit int, sc *Scope) ([]SearchHit, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	db := s.conn(ctx)
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
	var hits []SearchHit
	if strings.HasPrefix(q, "sha256:") || (len(q) >= 6 && strings.Trim(q, "0123456789abcdef") == "") {
		prefix := q
		if !strings.HasPrefix(prefix, "sha256:") {
			prefix = "sha256:" + prefix
		}
		var images, blobs []string
		var err error
		if sc == nil {
			err = db.Model(&Image{}).Where("digest >= ? AND digest < ?", prefix, prefix+"~").Order("digest").Limit(limit).Pluck("digest", &images).Error
			if err == nil {
				err = db.Model(&Blob{}).Where("digest >= ? AND digest < ?", prefix, prefix+"~").Order("digest").Limit(limit).Pluck("digest", &blobs).Error
			}
		} else {
			// From the scope's images outward: bounded by what the reader
			// holds, not by the size of the registry.
			err = db.Raw(`SELECT i.digest FROM images i WHERE i.id IN (`+heldImagesSQL+`)
				AND i.digest >= ? AND i.digest < ? ORDER BY i.digest LIMIT ?`,
				sc.Namespaces, sc.Namespaces, sc.Namespaces, sc.Namespaces, prefix, prefix+"~", limit).Scan(&images).Error
			if err == nil {
				err = db.Raw(`SELECT b.digest FROM blobs b WHERE b.id IN (
					SELECT ib.blob_id FROM image_blobs ib WHERE ib.image_id IN (`+heldImagesSQL+`))
				AND b.digest >= ? AND b.digest < ? ORDER BY b.digest LIMIT ?`,
					sc.Namespaces, sc.Namespaces, sc.Namespaces, sc.Namespaces, prefix, prefix+"~", limit).Scan(&blobs).Error
			}
		}
		if err != nil {
			return nil, fmt.Errorf("search digests: %w", err)
		}
		for _, d := range images {
			hits = append(hits, SearchHit{Kind: "image", Digest: d})
		}
		for _, d := range blobs {
			hits = append(hits, SearchHit{Kind: "blob", Digest: d})
		}
		return hits, nil
	}
	inScope := func(q *gorm.DB, col string) *gorm.DB {
		if sc == nil {
			return q
		}
		return q.Where(col+" IN ?", sc.Namespaces)
	}
	var names []string
	if err := inScope(db.Model(&Namespace{}), "name").Where(`name `+s.like()+` ? ESCAPE '\'`, like).Order("name").Limit(limit).Pluck("name", &names).Error; err != nil {
		return nil, err
	}
	for _, n := range names {
		hits = append(hits, SearchHit{Kind: "namespace", Namespace: n})
	}
	var streams []StreamRef
	err := inScope(db.Table("image_streams st").Select("n.name AS namespace, st.name AS stream").
		Joins("JOIN namespaces n ON n.id = st.namespace_id"), "n.name").
		Where(`st.name `+s.like()+` ? ESCAPE '\'`, like).Order("n.name, st.name").Limit(limit).Scan(&streams).Error
	if err != nil {
		return nil, err
	}
	for _, st := range streams {
		hits = append(hits, SearchHit{Kind: "stream", Namespace: st.Namespace, Stream: st.Stream})
	}
	var tags []TagRef
	err = inScope(db.Table("tags t").Select("n.name AS namespace, st.name AS stream, t.name AS tag").
		Joins("JOIN image_streams st ON st.id = t.stream_id").Joins("JOIN namespaces n ON n.id = st.namespace_id"), "n.name").
		Where(`t.name `+s.like()+` ? ESCAPE '\'`, like).Order("n.name, st.name, t.name").Limit(limit).Scan(&tags).Error
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		hits = append(hits, SearchHit{Kind: "tag", Namespace: t.Namespace, Stream: t.Stream, Tag: t.Tag})
	}
	return hits, nil
}

// StartJobRun records the start of a run of job by holder, the lease or
// lease holder that runs it. First, runs of the same job still marked running
// whose holder no longer holds the job's lease ("run:"+job, or job itself)
// are marked abandoned: their process died mid-run (kill -9, a lost node)
// and would otherwise show as running forever.
func (s *Store) StartJobRun(ctx context.Context, job, holder string) (JobRun, error) {
	run := JobRun{Job: job, Holder: holder, Started: s.now(), Status: "running"}
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.abandonDeadRuns(ctx, job); err != nil {
			return fmt.Errorf("mark abandoned runs of %s: %w", job, err)
		}
		return tx.conn(ctx).Create(&run).Error
	})
	return run, err
}

// AbandonedMessage is what /jobs says of a run whose holder died.
const AbandonedMessage = "abandoned: the run stopped without finishing (its process died or lost its lease); what it committed stays"

func (s *Store) abandonDeadRuns(ctx context.Context, job string) error {
	db := s.conn(ctx)
	var stale []JobRun
	if err := db.Where("job = ? AND status = ?", job, "running").Find(&stale).Error; err != nil {
		return err
	}
	if len(stale) == 0 {
		return nil
	}
	// The job's run lease (the scheduler's "run:"+job) and its own lease
	// (prune takes "prune"), held now.
	var holders []string
	if err := db.Model(&JobLease{}).Where("name IN ? AND expires_at > ?", []string{"run:" + job, job}, time.Now().UTC()).
		Pluck("holder", &holders).Error; err != nil {
		return err
	}
	live := map[string]bool{}
	for _, h := range holders {
		live[h] = true
	}
	for _, r := range stale {
		// A row from before holders were recorded is abandoned only when
		// nobody runs the job.
		if live[r.Holder] || r.Holder == "" && len(live) > 0 {
			continue
		}
		err := db.Model(&JobRun{}).Where("id = ? AND status = ?", r.ID, "running").
			Updates(map[string]any{"status": "abandoned", "message": AbandonedMessage}).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// FinishJobRun records how a run ended.
func (s *Store) FinishJobRun(ctx context.Context, run JobRun) error {
	now := s.now()
	run.Finished = &now
	return s.conn(ctx).Select("*").Updates(&run).Error
}

// LastJobRuns returns the newest run of every job, by job name.
func (s *Store) LastJobRuns(ctx context.Context) (map[string]JobRun, error) {
	var runs []JobRun
	err := s.conn(ctx).Raw(`SELECT * FROM job_runs WHERE id IN (SELECT MAX(id) FROM job_runs GROUP BY job)`).Scan(&runs).Error
	if err != nil {
		return nil, fmt.Errorf("last job runs: %w", err)
	}
	out := map[string]JobRun{}
	for _, r := range runs {
		out[r.Job] = r
	}
	return out, nil
}

// WriteSnapshots records the registry and every namespace of u at one
// time, in one transaction.
func (s *Store) WriteSnapshots(ctx context.Context, u *Usage, at time.Time) (int, error) {
	var nss []Namespace
	if err := s.conn(ctx).Select("id, name").Find(&nss).Error; err != nil {
		return 0, err
	}
	ids := map[string]int64{}
	for _, n := range nss {
		ids[n.Name] = n.ID
	}
	rows := []UsageSnapshot{{TakenAt: at, Bytes: u.Registry.Bytes, ReclaimableBytes: u.Registry.ReclaimableBytes}}
	for _, n := range u.Namespaces {
		id, ok := ids[n.Name]
		if !ok {
			continue
		}
		rows = append(rows, UsageSnapshot{NamespaceID: &id, TakenAt: at, Bytes: n.Bytes, ExclusiveBytes: n.ExclusiveBytes, ReclaimableBytes: n.ReclaimableBytes})
	}
	err := s.Tx(ctx, func(tx *Store) error {
		return tx.conn(ctx).CreateInBatches(rows, 500).Error
	})
	return len(rows), err
}

// Trend returns the snapshots of a namespace ("" = the registry) since a
// time, oldest first.
func (s *Store) Trend(ctx context.Context, ns string, since time.Time) ([]UsageSnapshot, error) {
	q := s.conn(ctx).Where("taken_at >= ?", since).Order("taken_at")
	if ns == "" {
		q = q.Where("namespace_id IS NULL")
	} else {
		q = q.Where("namespace_id = (SELECT id FROM namespaces WHERE name = ?)", ns)
	}
	var out []UsageSnapshot
	err := q.Find(&out).Error
	return out, err
}

// TrendOf is the trend of a set of namespaces: their snapshots taken at
// the same time summed, oldest first. A blob two of them share counts in
// each (snapshots keep no blob sets to count it once).
func (s *Store) TrendOf(ctx context.Context, namespaces []string, since time.Time) ([]UsageSnapshot, error) {
	var out []UsageSnapshot
	err := s.conn(ctx).Model(&UsageSnapshot{}).
		Select("taken_at, SUM(bytes) AS bytes, SUM(exclusive_bytes) AS exclusive_bytes, SUM(reclaimable_bytes) AS reclaimable_bytes").
		Where("taken_at >= ? AND namespace_id IN (SELECT id FROM namespaces WHERE name IN ?)", since, namespaces).
		Group("taken_at").Order("taken_at").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("trend of %d namespaces: %w", len(namespaces), err)
	}
	return out, nil
}

// JobRunsOf returns the newest runs of one job.
func (s *Store) JobRunsOf(ctx context.Context, job string, limit int) ([]JobRun, error) {
	var out []JobRun
	err := s.conn(ctx).Where("job = ?", job).Order("id DESC").Limit(limit).Find(&out).Error
	return out, err
}

// RecentJobRuns returns the newest runs of all jobs.
func (s *Store) RecentJobRuns(ctx context.Context, limit int) ([]JobRun, error) {
	var out []JobRun
	err := s.conn(ctx).Order("id DESC").Limit(limit).Find(&out).Error
	return out, err
}

// CurrentImage is what a tag points at now, as the audit log writes it:
// the current entry's image digest (or pull spec, for an entry without a
// known image), "none" for a tag or stream that does not exist (yet). Any
// other failure to read it is returned.
func (s *Store) CurrentImage(ctx context.Context, ref TagRef) (string, error) {
	// One row, not the stream: every push and tag change asks (the whole
	// stream's recent history was 16 % of the webhook's writer time).
	var rows []struct {
		Digest    *string
		Reference string
	}
	err := s.conn(ctx).Raw(`SELECT i.digest, e.docker_image_reference AS reference
		FROM tag_events e JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
		JOIN namespaces n ON n.id = st.namespace_id LEFT JOIN images i ON i.id = e.image_id
		WHERE n.name = ? AND st.name = ? AND t.name = ? ORDER BY e.position LIMIT 1`,
		ref.Namespace, ref.Stream, ref.Tag).Scan(&rows).Error
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ref, err)
	}
	if len(rows) == 0 {
		return "none", nil
	}
	if d := rows[0].Digest; d != nil && *d != "" {
		return *d, nil
	}
	return rows[0].Reference, nil
}
