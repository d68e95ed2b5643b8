package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"sort"

	"gorm.io/gorm"
)

type gEvent struct {
	id       int64 // tag_events.id
	position int32
	image    int64 // 0: none
	created  int64 // unix seconds
}

type gTag struct {
	id     int64
	name   string
	events []gEvent
	refs   map[int32]string // pull specs of entries with no image, by position
	mask   uint64           // the namespace's retention rules that apply to it
}

type gStream struct {
	id   int64
	name string
	tags []*gTag
	// pulled is when each image was last pulled from the stream (unix
	// seconds); nil when none was.
	pulled map[int64]int64
}

type gNamespace struct {
	id      int64
	name    string
	streams []*gStream
	// The namespace's own prune policy (nil: the global one).
	keepTagRevisions *int
	keepYoungerThan  *int64 // seconds
	// Its retention rules, as text for the plan, and whether one reads pulls.
	rules     ruleSet
	ruleText  []string
	usesPulls bool
}

// graph is the registry as integer links, read with one scan per table.
type graph struct {
	namespaces []*gNamespace
	blobSize   []int64 // by blob ID
	blobStart  []int32 // by image ID: range into blobList
	blobEnd    []int32
	blobList   []int32
	children   map[int64][]int64
	// referrers lists each subject's referrers (signatures, SBOMs...), once
	// each; refType is a referrer's type and isReferrer marks them.
	referrers  map[int64][]int64
	refType    map[int64]ReferrerType
	subjectOf  map[int64][]int64
	isReferrer []bool
	digest     []string // by image ID
	known      []bool
	imgCreated []int64 // unix seconds
	// Pins: pinned[image] lists the namespaces that pinned it.
	pinned map[int64][]int64
	// pullsSince is when pulls began to be recorded (unix; 0: never).
	pullsSince int64
	// inUse lists the workloads using each image (a manifest list's with
	// its platform images', and the other way round); hold is set while a
	// cluster's in-use read proves nothing (every revision is kept).
	inUse map[int64]InUse
	hold  *InUseHold
}

// loadGraph reads the registry's links. The big tables come back grouped
// (group_concat per image, per tag, per 1024 blobs) so that the driver
// crosses into SQLite a few hundred thousand times instead of ~10 million:
// per-row driver overhead, not SQLite, was most of the time.
//
// It reads in one snapshot: the arrays are sized by MAX(id) and indexed by
// the ids later statements return, so a row written between two statements
// would otherwise index past them (the crash of two editors tagging at once).
func (s *Store) loadGraph(ctx context.Context) (g *graph, err error) {
	err = s.Snapshot(ctx, func(s *Store) error {
		g, err = s.readGraph(ctx)
		return err
	})
	return g, err
}

func (s *Store) readGraph(ctx context.Context) (*graph, error) {
	db := s.conn(ctx)
	g := &graph{children: map[int64][]int64{}, pinned: map[int64][]int64{}, referrers: map[int64][]int64{}, refType: map[int64]ReferrerType{},
		subjectOf: map[int64][]int64{}}

	var maxBlob, maxImage int64
	if err := db.Raw(`SELECT COALESCE(MAX(id), 0) FROM blobs`).Scan(&maxBlob).Error; err != nil {
		return nil, err
	}
	if err := db.Raw(`SELECT COALESCE(MAX(id), 0) FROM images`).Scan(&maxImage).Error; err != nil {
		return nil, err
	}
	g.blobSize = make([]int64, maxBlob+1)
	g.blobStart = make([]int32, maxImage+1)
	g.blobEnd = make([]int32, maxImage+1)
	g.digest = make([]string, maxImage+1)
	g.known = make([]bool, maxImage+1)
	g.imgCreated = make([]int64, maxImage+1)
	g.isReferrer = make([]bool, maxImage+1)

	setSize := func(id, size int64) error {
		if id <= 0 || id > maxBlob {
			return fmt.Errorf("blob id %d out of range", id)
		}
		g.blobSize[id] = size
		return nil
	}
	var err error
	if s.postgres() {
		// pgx reads plain rows cheaply: measured faster than string_agg
		// here (0.55 s against 1.0 s on the large dataset).
		err = scanRows(db.Raw(`SELECT id, size FROM blobs`), func(sc func(...any) error) error {
			var id, size int64
			if err := sc(&id, &size); err != nil {
				return err
			}
			return setSize(id, size)
		})
	} else {
		err = scanRows(db.Raw(`SELECT group_concat(id || ':' || size) FROM blobs GROUP BY id >> 10`), func(sc func(...any) error) error {
			var raw sql.RawBytes
			if err := sc(&raw); err != nil {
				return err
			}
			return eachInts(raw, 2, func(v []int64) error { return setSize(v[0], v[1]) })
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read blobs: %w", err)
	}

	var links int64 // rowid bound: sizes blobList once instead of doubling it
	countLinks := `SELECT COALESCE(MAX(rowid), 0) FROM image_blobs`
	if s.postgres() { // no rowid; the planner's row estimate is close enough for a capacity
		countLinks = `SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class WHERE oid = 'image_blobs'::regclass`
	}
	if err := db.Raw(countLinks).Scan(&links).Error; err != nil {
		return nil, err
	}
	g.blobList = make([]int32, 0, links)
	err = scanRows(db.Raw(`SELECT image_id, `+s.groupConcat("blob_id")+` FROM image_blobs GROUP BY image_id`), func(sc func(...any) error) error {
		var img int64
		var raw sql.RawBytes
		if err := sc(&img, &raw); err != nil {
			return err
		}
		if img <= 0 || img > maxImage {
			return fmt.Errorf("image id %d out of range", img)
		}
		g.blobStart[img] = int32(len(g.blobList))
		err := eachInts(raw, 1, func(v []int64) error {
			if v[0] <= 0 || v[0] > maxBlob {
				return fmt.Errorf("blob id %d out of range", v[0])
			}
			g.blobList = append(g.blobList, int32(v[0]))
			return nil
		})
		g.blobEnd[img] = int32(len(g.blobList))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read image blobs: %w", err)
	}

	err = scanRows(db.Raw(`SELECT list_id, child_id FROM image_manifests ORDER BY list_id, position`), func(sc func(...any) error) error {
		var list, child int64
		if err := sc(&list, &child); err != nil {
			return err
		}
		g.children[list] = append(g.children[list], child)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read manifest lists: %w", err)
	}

	err = scanRows(db.Raw(`SELECT id, digest, known, `+s.epoch("created_at")+` FROM images`), func(sc func(...any) error) error {
		var id, created int64
		var digest string
		var known bool
		if err := sc(&id, &digest, &known, &created); err != nil {
			return err
		}
		if id <= 0 || id > maxImage {
			return fmt.Errorf("image id %d out of range", id)
		}
		g.digest[id], g.known[id], g.imgCreated[id] = digest, known, created
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read images: %w", err)
	}

	err = scanRows(db.Raw(`SELECT DISTINCT subject_id, referrer_id, type FROM image_referrers ORDER BY subject_id, referrer_id`), func(sc func(...any) error) error {
		var subject, referrer int64
		var typ string
		if err := sc(&subject, &referrer, &typ); err != nil {
			return err
		}
		if referrer <= 0 || referrer > maxImage {
			return fmt.Errorf("image id %d out of range", referrer)
		}
		// A link whose subject is gone (the referrer was also in a tag
		// history, which kept it) makes it an image like any other.
		if subject <= 0 || subject > maxImage || g.digest[subject] == "" {
			return nil
		}
		g.isReferrer[referrer] = true
		if _, ok := g.refType[referrer]; !ok {
			g.refType[referrer] = ReferrerType(typ)
		}
		if l := g.referrers[subject]; len(l) == 0 || l[len(l)-1] != referrer {
			g.referrers[subject] = append(l, referrer)
			g.subjectOf[referrer] = append(g.subjectOf[referrer], subject)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read referrers: %w", err)
	}

	// The hierarchy, sorted by name at each level.
	nsByID := map[int64]*gNamespace{}
	err = scanRows(db.Raw(`SELECT id, name, prune_keep_tag_revisions, prune_keep_younger_than FROM namespaces ORDER BY name`), func(sc func(...any) error) error {
		n := &gNamespace{}
		var keep, younger sql.NullInt64
		if err := sc(&n.id, &n.name, &keep, &younger); err != nil {
			return err
		}
		if keep.Valid {
			k := int(keep.Int64)
			n.keepTagRevisions = &k
		}
		if younger.Valid {
			n.keepYoungerThan = &younger.Int64
		}
		nsByID[n.id] = n
		g.namespaces = append(g.namespaces, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read namespaces: %w", err)
	}
	streamByID := map[int64]*gStream{}
	err = scanLevel(db.Raw(`SELECT id, namespace_id, name FROM image_streams ORDER BY name`), func(id, nsID int64, name string) {
		st := &gStream{id: id, name: name}
		streamByID[id] = st
		if n := nsByID[nsID]; n != nil {
			n.streams = append(n.streams, st)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read image streams: %w", err)
	}
	tagByID := map[int64]*gTag{}
	err = scanLevel(db.Raw(`SELECT id, stream_id, name FROM tags ORDER BY name`), func(id, stID int64, name string) {
		t := &gTag{id: id, name: name}
		tagByID[id] = t
		if st := streamByID[stID]; st != nil {
			st.tags = append(st.tags, t)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	for _, st := range streamByID {
		OrderTags(st.tags, func(t *gTag) string { return t.name })
	}
	// Byte order whatever the database's collation (a PostgreSQL database
	// in en_US.UTF-8 sorts "app-b" after "appa"): Usage.Namespace searches
	// the namespaces by name.
	sort.SliceStable(g.namespaces, func(i, j int) bool { return g.namespaces[i].name < g.namespaces[j].name })
	for _, n := range g.namespaces {
		sort.SliceStable(n.streams, func(i, j int) bool { return n.streams[i].name < n.streams[j].name })
	}

	if err := s.readTagEvents(db, tagByID, "", nil); err != nil {
		return nil, err
	}
	err = scanRows(db.Raw(`SELECT namespace_id, image_id FROM pins`), func(sc func(...any) error) error {
		var ns, img int64
		if err := sc(&ns, &img); err != nil {
			return err
		}
		g.pinned[img] = append(g.pinned[img], ns)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pins: %w", err)
	}
	if err := g.readRetention(s, db, nsByID, streamByID); err != nil {
		return nil, err
	}
	if err := g.readInUse(ctx, s); err != nil {
		return nil, err
	}
	return g, nil
}

// readInUse reads the images in use and whether a read failed.
func (g *graph) readInUse(ctx context.Context, s *Store) error {
	g.inUse = map[int64]InUse{}
	parents := map[int64][]int64{}
	for list, cs := range g.children {
		for _, c := range cs {
			parents[c] = append(parents[c], list)
		}
	}
	err := scanRows(s.conn(ctx).Raw(`SELECT image_id, kind, workload_namespace, workload_name FROM in_use_images`), func(sc func(...any) error) error {
		var img int64
		var w Workload
		if err := sc(&img, &w.Kind, &w.Namespace, &w.Name); err != nil {
			return err
		}
		g.inUse[img] = append(g.inUse[img], w)
		for _, c := range g.children[img] {
			g.inUse[c] = append(g.inUse[c], w)
		}
		for _, l := range parents[img] {
			g.inUse[l] = append(g.inUse[l], w)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read images in use: %w", err)
	}
	for img, ws := range g.inUse {
		g.inUse[img] = sortWorkloads(ws)
	}
	hold, err := s.PruneHold(ctx)
	g.hold = hold
	return err
}

// readTagEvents reads the history entries of the tags in tagByID: position,
// image and created (unix seconds) per entry, ordered by position, and the
// pull specs of entries with no image. where ("" or "WHERE tag_id IN ?",
// with args) narrows the read. On SQLite the entries come back grouped per
// tag (one driver crossing a tag, not an entry); on PostgreSQL plain rows
// are cheaper (0.41 s against 0.56 s on the large dataset).
func (s *Store) readTagEvents(db *gorm.DB, tagByID map[int64]*gTag, where string, args []any) error {
	var err error
	var read []*gTag
	if s.postgres() {
		err = scanRows(db.Raw(`SELECT tag_id, id, position, COALESCE(image_id, 0), `+s.epoch("created")+`
			FROM tag_events `+where, args...), func(sc func(...any) error) error {
			var tagID, id, pos, img, created int64
			if err := sc(&tagID, &id, &pos, &img, &created); err != nil {
				return err
			}
			if t := tagByID[tagID]; t != nil {
				if len(t.events) == 0 {
					read = append(read, t)
				}
				t.events = append(t.events, gEvent{id: id, position: int32(pos), image: img, created: created})
			}
			return nil
		})
	} else {
		err = scanRows(db.Raw(`SELECT tag_id, group_concat(id || ':' || position || ':' || COALESCE(image_id, 0) || ':' || `+s.epoch("created")+
			`) FROM tag_events `+where+` GROUP BY tag_id`, args...), func(sc func(...any) error) error {
			var tagID int64
			var raw sql.RawBytes
			if err := sc(&tagID, &raw); err != nil {
				return err
			}
			t := tagByID[tagID]
			if t == nil {
				return nil
			}
			t.events = make([]gEvent, 0, bytes.Count(raw, []byte{','})+1)
			read = append(read, t)
			return eachInts(raw, 4, func(v []int64) error {
				t.events = append(t.events, gEvent{id: v[0], position: int32(v[1]), image: v[2], created: v[3]})
				return nil
			})
		})
	}
	if err != nil {
		return fmt.Errorf("read tag history: %w", err)
	}
	for _, t := range read {
		sort.Slice(t.events, func(i, j int) bool { return t.events[i].position < t.events[j].position })
	}
	// Entries with no image carry a pull spec instead; there are few.
	cond := `WHERE image_id IS NULL`
	if where != "" {
		cond = where + ` AND image_id IS NULL`
	}
	err = scanRows(db.Raw(`SELECT tag_id, position, docker_image_reference FROM tag_events `+cond, args...), func(sc func(...any) error) error {
		var tagID int64
		var pos int32
		var ref string
		if err := sc(&tagID, &pos, &ref); err != nil {
			return err
		}
		if t := tagByID[tagID]; t != nil {
			if t.refs == nil {
				t.refs = map[int32]string{}
			}
			t.refs[pos] = ref
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read tag history: %w", err)
	}
	return nil
}

// scanRows runs a query and calls fn for each row with the row's Scan.
func scanRows(q *gorm.DB, fn func(scan func(...any) error) error) error {
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanLevel reads one level of the hierarchy: (id, parent id, name) rows.
func scanLevel(q *gorm.DB, fn func(id, parent int64, name string)) error {
	var id, parent int64 // scanned into row after row: one allocation, not one a row
	var name string
	return scanRows(q, func(sc func(...any) error) error {
		if err := sc(&id, &parent, &name); err != nil {
			return err
		}
		fn(id, parent, name)
		return nil
	})
}

// eachInts parses "a:b:c,a:b:c,..." (n numbers per group) without allocating.
func eachInts(raw []byte, n int, fn func([]int64) error) error {
	var buf [4]int64
	v := buf[:n]
	k := 0
	var cur int64
	neg := false
	digits := 0
	flush := func() error {
		if digits == 0 {
			return fmt.Errorf("malformed list %q", raw)
		}
		if neg {
			cur = -cur
		}
		v[k] = cur
		k++
		cur, neg, digits = 0, false, 0
		return nil
	}
	for _, c := range raw {
		switch {
		case c >= '0' && c <= '9':
			cur = cur*10 + int64(c-'0')
			digits++
		case c == '-' && digits == 0:
			neg = true
		case c == ':' && k < n-1:
			if err := flush(); err != nil {
				return err
			}
		case c == ',' && k == n-1:
			if err := flush(); err != nil {
				return err
			}
			if err := fn(v); err != nil {
				return err
			}
			k = 0
		default:
			return fmt.Errorf("malformed list %q", raw)
		}
	}
	if len(raw) == 0 {
		return nil
	}
	if k != n-1 {
		return fmt.Errorf("malformed list %q", raw)
	}
	if err := flush(); err != nil {
		return err
	}
	return fn(v)
}

// forBlobs calls fn for every blob of an image, its manifest-list
// children and its referrers (signatures, SBOMs: theirs and their
// children's, nested ones too); a blob may come twice (the callers
// de-duplicate with stamps).
func (g *graph) forBlobs(img int64, fn func(b int32)) {
	g.forBlobsDepth(img, fn, 0)
}

// maxReferrerDepth bounds how deep referrers of referrers are followed
// (a signature of an SBOM is 2): a registry that lies with a cycle of
// subjects cannot loop the usage pass.
const maxReferrerDepth = 4

func (g *graph) forBlobsDepth(img int64, fn func(b int32), depth int) {
	if img <= 0 || int(img) >= len(g.blobStart) {
		return
	}
	for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
		fn(b)
	}
	for _, c := range g.children[img] {
		for _, b := range g.blobList[g.blobStart[c]:g.blobEnd[c]] {
			fn(b)
		}
	}
	if depth < maxReferrerDepth && len(g.referrers) > 0 {
		for _, r := range g.referrers[img] {
			g.forBlobsDepth(r, fn, depth+1)
		}
		for _, c := range g.children[img] {
			for _, r := range g.referrers[c] {
				g.forBlobsDepth(r, fn, depth+1)
			}
		}
	}
}

// lastPulled is when img was last pulled from stream st: the image itself
// or, for a manifest list, any of its platform images (0: never recorded).
func (g *graph) lastPulled(st *gStream, img int64) int64 {
	if st.pulled == nil || img == 0 {
		return 0
	}
	t := st.pulled[img]
	for _, c := range g.children[img] {
		t = max(t, st.pulled[c])
	}
	return t
}

// setRules compiles the namespace's retention rules and marks the tags
// each applies to (its streams and tags already read).
func (n *gNamespace) setRules(rules []RetentionRule) error {
	rs, err := compileRules(rules)
	if err != nil {
		return fmt.Errorf("the retention rules of namespace %s: %w", n.name, err)
	}
	n.rules, n.usesPulls = rs, rs.usesPulls()
	for _, r := range rules {
		n.ruleText = append(n.ruleText, r.String())
	}
	for _, st := range n.streams {
		for _, t := range st.tags {
			t.mask = rs.match(t.name)
		}
	}
	return nil
}

// readRetention reads the namespaces' retention rules (and marks the tags
// each rule applies to) and the pull times.
func (g *graph) readRetention(s *Store, db *gorm.DB, nsByID map[int64]*gNamespace, streamByID map[int64]*gStream) error {
	var rows []retentionRuleRow
	if err := db.Order("namespace_id, position").Find(&rows).Error; err != nil {
		return fmt.Errorf("read retention rules: %w", err)
	}
	byNS := map[int64][]RetentionRule{}
	for _, r := range rows {
		byNS[r.NamespaceID] = append(byNS[r.NamespaceID], r.rule())
	}
	for id, rules := range byNS {
		if n := nsByID[id]; n != nil {
			if err := n.setRules(rules); err != nil {
				return err
			}
		}
	}
	err := scanRows(db.Raw(`SELECT stream_id, image_id, `+s.epoch("last_pulled")+` FROM image_pulls`), func(sc func(...any) error) error {
		var st, img, at int64
		if err := sc(&st, &img, &at); err != nil {
			return err
		}
		if stream := streamByID[st]; stream != nil {
			if stream.pulled == nil {
				stream.pulled = map[int64]int64{}
			}
			stream.pulled[img] = at
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read pull times: %w", err)
	}
	return scanRows(db.Raw(`SELECT `+s.epoch("since")+` FROM pull_recordings WHERE id = 1`), func(sc func(...any) error) error {
		return sc(&g.pullsSince)
	})
}
