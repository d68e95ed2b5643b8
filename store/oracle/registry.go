// Package oracle is a reference implementation of every figure Layerwise
// shows about registry usage and pruning, for tests only.
//
// It is written for clarity, not speed: plain sets of digests, one
// definition per figure, taken from the documentation (README "How sizes
// are counted" and "Prune", DESIGN.md, CONTRACT.md) and never from the
// store's code, which it does not import. The property tests in store/
// generate random registries (Generate), write them (Insert), read the
// database back (Load) and compare every figure of the product with
// Compute. See docs/ORACLE.md.
package oracle

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Registry is the registry as the oracle sees it: names and digests, no
// database ids. It is what Load reads and Insert writes.
type Registry struct {
	Namespaces []Namespace
	Images     []Image // every image row, referenced or not
	Blobs      []Blob  // every blob row
	Pins       []Pin
	Pulls      []Pull // when images were last pulled, per stream
}

// Pull is when an image was last pulled from a stream (the registry's pull
// notifications).
type Pull struct {
	Namespace, Stream, Image string
	At                       time.Time
}

// Namespace holds streams and may override the platform's prune policy.
type Namespace struct {
	Name string
	// Nil: the platform's value.
	KeepTagRevisions *int
	KeepYoungerThan  *time.Duration
	Streams          []Stream
	// Rules are its retention rules, in order (README "Retention rules").
	Rules []Rule
}

// Rule is one retention rule: the tags its pattern matches as a whole
// ("" every tag) and one of Never, PulledWithin, or Keep and/or Younger
// (nil: the namespace's policy).
type Rule struct {
	Tags         string
	Never        bool
	PulledWithin *time.Duration
	Keep         *int
	Younger      *time.Duration
}

// Stream is an image stream.
type Stream struct {
	Name string
	Tags []Tag
}

// Tag is a tag with its history. An alias tag tracks AliasOf (a tag of the
// same stream) but keeps a history of its own, like any tag.
type Tag struct {
	Name    string
	Alias   bool
	AliasOf string
	History []Entry // History[0] is the current entry
}

// Entry is one history entry.
type Entry struct {
	Image   string // digest; "" for an entry that only records a pull spec
	Ref     string // the pull spec it records
	Created time.Time
}

// Image is an image (or a manifest list) by digest.
type Image struct {
	Digest string
	// Known is false for an image only known by digest: no layer data.
	Known bool
	// Recorded is when Layerwise recorded the image (images.created_at).
	Recorded time.Time
	Config   string   // config blob digest, "" when none
	Layers   []string // layer blob digests in manifest order, duplicates kept
	Children []string // a manifest list's images
	// Subject makes the image a referrer (a signature, an SBOM) of that
	// image, "" for none: it is in no history, counts with its subject and
	// stays exactly while its subject does.
	Subject string
}

// Blob is a layer or config blob.
type Blob struct {
	Digest string
	Size   int64
}

// Pin keeps an image in a namespace.
type Pin struct {
	Namespace string
	Image     string
}

// OwnBlobs are the blobs the image lists itself: config and layers, each
// digest once.
func (img Image) OwnBlobs() []string {
	var out []string
	seen := map[string]bool{}
	for _, b := range append([]string{img.Config}, img.Layers...) {
		if b != "" && !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	return out
}

// Clone is a deep copy.
func (r *Registry) Clone() *Registry {
	out := &Registry{Images: make([]Image, len(r.Images)), Blobs: append([]Blob(nil), r.Blobs...), Pins: append([]Pin(nil), r.Pins...),
		Pulls: append([]Pull(nil), r.Pulls...)}
	for i, img := range r.Images {
		img.Layers = append([]string(nil), img.Layers...)
		img.Children = append([]string(nil), img.Children...)
		out.Images[i] = img
	}
	for _, n := range r.Namespaces {
		nn := n
		nn.Streams = nil
		nn.Rules = append([]Rule(nil), n.Rules...)
		for _, st := range n.Streams {
			ns := Stream{Name: st.Name}
			for _, t := range st.Tags {
				t.History = append([]Entry(nil), t.History...)
				ns.Tags = append(ns.Tags, t)
			}
			nn.Streams = append(nn.Streams, ns)
		}
		out.Namespaces = append(out.Namespaces, nn)
	}
	return out
}

// String prints the registry compactly, for failure messages.
func (r *Registry) String() string {
	var b strings.Builder
	size := map[string]int64{}
	for _, bl := range r.Blobs {
		size[bl.Digest] = bl.Size
	}
	for _, n := range r.Namespaces {
		fmt.Fprintf(&b, "namespace %s", n.Name)
		if n.KeepTagRevisions != nil {
			fmt.Fprintf(&b, " keep=%d", *n.KeepTagRevisions)
		}
		if n.KeepYoungerThan != nil {
			fmt.Fprintf(&b, " younger=%s", *n.KeepYoungerThan)
		}
		b.WriteString("\n")
		for i, r := range n.Rules {
			fmt.Fprintf(&b, "  rule %d: %s\n", i+1, r)
		}
		for _, st := range n.Streams {
			fmt.Fprintf(&b, "  stream %s\n", st.Name)
			for _, t := range st.Tags {
				fmt.Fprintf(&b, "    tag %s", t.Name)
				if t.Alias {
					fmt.Fprintf(&b, " (alias of %s)", t.AliasOf)
				}
				b.WriteString(":")
				for _, e := range t.History {
					if e.Image == "" {
						fmt.Fprintf(&b, " [ref %s @%s]", e.Ref, e.Created.Format(time.RFC3339))
					} else {
						fmt.Fprintf(&b, " [%s @%s]", Short(e.Image), e.Created.Format(time.RFC3339))
					}
				}
				b.WriteString("\n")
			}
		}
	}
	for _, img := range r.Images {
		fmt.Fprintf(&b, "image %s known=%v recorded=%s", Short(img.Digest), img.Known, img.Recorded.Format(time.RFC3339))
		if img.Config != "" {
			fmt.Fprintf(&b, " config=%s(%d)", Short(img.Config), size[img.Config])
		}
		for _, l := range img.Layers {
			fmt.Fprintf(&b, " %s(%d)", Short(l), size[l])
		}
		for _, c := range img.Children {
			fmt.Fprintf(&b, " child=%s", Short(c))
		}
		if img.Subject != "" {
			fmt.Fprintf(&b, " subject=%s", Short(img.Subject))
		}
		b.WriteString("\n")
	}
	for _, p := range r.Pins {
		fmt.Fprintf(&b, "pin %s %s\n", p.Namespace, Short(p.Image))
	}
	for _, p := range r.Pulls {
		fmt.Fprintf(&b, "pull %s/%s %s @%s\n", p.Namespace, p.Stream, Short(p.Image), p.At.Format(time.RFC3339))
	}
	return b.String()
}

// String writes a rule as README's examples do.
func (r Rule) String() string {
	parts := []string{r.Tags}
	if r.Tags == "" {
		parts = nil
	}
	if r.Never {
		parts = append(parts, "never")
	}
	if r.PulledWithin != nil {
		parts = append(parts, "pulled-within "+r.PulledWithin.String())
	}
	if r.Keep != nil {
		parts = append(parts, fmt.Sprintf("keep %d", *r.Keep))
	}
	if r.Younger != nil {
		parts = append(parts, "younger-than "+r.Younger.String())
	}
	return strings.Join(parts, " ")
}

// Short is a digest's first 12 hex digits.
func Short(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// registryTables are the tables Reset empties, children first.
var registryTables = []string{"image_referrers", "pins", "manifest_deletions", "image_pulls", "pull_recordings", "retention_rules", "tag_events",
	"image_manifests", "image_blobs", "tags", "image_streams", "namespaces", "images", "blobs"}

// Reset deletes the registry's rows (namespaces, streams, tags, history,
// images, blobs, pins), so that one migrated database serves many cases.
func Reset(ctx context.Context, db *gorm.DB) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, t := range registryTables {
			if err := tx.Exec(`DELETE FROM ` + t).Error; err != nil {
				return fmt.Errorf("reset %s: %w", t, err)
			}
		}
		return nil
	})
}

// Insert writes r into an empty, migrated database in one transaction,
// row by row as the tables define them.
func Insert(ctx context.Context, db *gorm.DB, r *Registry) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return insert(tx, r) })
}

func insert(tx *gorm.DB, r *Registry) error {
	id := func(q string, args ...any) (int64, error) {
		var v int64
		err := tx.Raw(q+" RETURNING id", args...).Scan(&v).Error
		return v, err
	}
	blobID := map[string]int64{}
	for _, b := range r.Blobs {
		v, err := id(`INSERT INTO blobs (digest, size, media_type) VALUES (?, ?, '')`, b.Digest, b.Size)
		if err != nil {
			return fmt.Errorf("insert blob %s: %w", b.Digest, err)
		}
		blobID[b.Digest] = v
	}
	imageID := map[string]int64{}
	for _, img := range r.Images {
		list := len(img.Children) > 0
		v, err := id(`INSERT INTO images (digest, media_type, manifest_list, known, created_at) VALUES (?, '', ?, ?, ?)`,
			img.Digest, list, img.Known, img.Recorded.UTC())
		if err != nil {
			return fmt.Errorf("insert image %s: %w", img.Digest, err)
		}
		imageID[img.Digest] = v
	}
	for _, img := range r.Images {
		link := func(pos int, b string) error {
			bid, ok := blobID[b]
			if !ok {
				return fmt.Errorf("image %s lists blob %s, which the registry does not have", img.Digest, b)
			}
			return tx.Exec(`INSERT INTO image_blobs (image_id, position, blob_id) VALUES (?, ?, ?)`, imageID[img.Digest], pos, bid).Error
		}
		if img.Config != "" {
			if err := link(-1, img.Config); err != nil {
				return err
			}
		}
		for i, l := range img.Layers {
			if err := link(i, l); err != nil {
				return err
			}
		}
		if img.Subject != "" {
			sid, ok := imageID[img.Subject]
			if !ok {
				return fmt.Errorf("referrer %s names subject %s, which the registry does not have", img.Digest, img.Subject)
			}
			if err := tx.Exec(`INSERT INTO image_referrers (subject_id, referrer_id, repository, tag, type, artifact_type, via, created_at) VALUES (?, ?, '', '', 'signature', '', 'subject', ?)`,
				sid, imageID[img.Digest], img.Recorded.UTC()).Error; err != nil {
				return err
			}
		}
		for i, c := range img.Children {
			cid, ok := imageID[c]
			if !ok {
				return fmt.Errorf("list %s names child %s, which the registry does not have", img.Digest, c)
			}
			if err := tx.Exec(`INSERT INTO image_manifests (list_id, position, child_id) VALUES (?, ?, ?)`, imageID[img.Digest], i, cid).Error; err != nil {
				return err
			}
		}
	}
	nsID := map[string]int64{}
	streamID := map[[2]string]int64{}
	for _, n := range r.Namespaces {
		var keep *int
		var younger *int64
		if n.KeepTagRevisions != nil {
			keep = n.KeepTagRevisions
		}
		if n.KeepYoungerThan != nil {
			s := int64(*n.KeepYoungerThan / time.Second)
			younger = &s
		}
		v, err := id(`INSERT INTO namespaces (name, created_at, prune_keep_tag_revisions, prune_keep_younger_than) VALUES (?, ?, ?, ?)`,
			n.Name, time.Unix(0, 0).UTC(), keep, younger)
		if err != nil {
			return fmt.Errorf("insert namespace %s: %w", n.Name, err)
		}
		nsID[n.Name] = v
		for _, st := range n.Streams {
			sid, err := id(`INSERT INTO image_streams (namespace_id, name, created) VALUES (?, ?, ?)`, v, st.Name, time.Unix(0, 0).UTC())
			if err != nil {
				return fmt.Errorf("insert stream %s/%s: %w", n.Name, st.Name, err)
			}
			streamID[[2]string{n.Name, st.Name}] = sid
			for _, t := range st.Tags {
				kind, from := "", ""
				if t.Alias {
					kind, from = "ImageStreamTag", st.Name+":"+t.AliasOf
				}
				tid, err := id(`INSERT INTO tags (stream_id, name, in_spec, alias, from_kind, from_name) VALUES (?, ?, ?, ?, ?, ?)`,
					sid, t.Name, t.Alias, t.Alias, kind, from)
				if err != nil {
					return fmt.Errorf("insert tag %s/%s:%s: %w", n.Name, st.Name, t.Name, err)
				}
				for pos, e := range t.History {
					var img *int64
					ref := e.Ref
					if e.Image != "" {
						v, ok := imageID[e.Image]
						if !ok {
							return fmt.Errorf("%s/%s:%s names image %s, which the registry does not have", n.Name, st.Name, t.Name, e.Image)
						}
						img = &v
						if ref == "" {
							ref = e.Image
						}
					}
					if err := tx.Exec(`INSERT INTO tag_events (tag_id, position, created, docker_image_reference, image_id) VALUES (?, ?, ?, ?, ?)`,
						tid, pos, e.Created.UTC(), ref, img).Error; err != nil {
						return fmt.Errorf("insert history of %s/%s:%s: %w", n.Name, st.Name, t.Name, err)
					}
				}
			}
		}
	}
	for _, p := range r.Pins {
		if err := tx.Exec(`INSERT INTO pins (namespace_id, image_id, note, created_by, created_at) VALUES (?, ?, '', 'oracle', ?)`,
			nsID[p.Namespace], imageID[p.Image], time.Unix(0, 0).UTC()).Error; err != nil {
			return fmt.Errorf("insert pin %s %s: %w", p.Namespace, p.Image, err)
		}
	}
	secs := func(d *time.Duration) *int64 {
		if d == nil {
			return nil
		}
		s := int64(*d / time.Second)
		return &s
	}
	for _, n := range r.Namespaces {
		for pos, rl := range n.Rules {
			if err := tx.Exec(`INSERT INTO retention_rules (namespace_id, position, tags, never, pulled_within, keep_tag_revisions, keep_younger_than)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, nsID[n.Name], pos, rl.Tags, rl.Never, secs(rl.PulledWithin), rl.Keep, secs(rl.Younger)).Error; err != nil {
				return fmt.Errorf("insert rule %d of %s: %w", pos+1, n.Name, err)
			}
		}
	}
	var first time.Time
	for _, p := range r.Pulls {
		sid, ok := streamID[[2]string{p.Namespace, p.Stream}]
		img, ok2 := imageID[p.Image]
		if !ok || !ok2 {
			return fmt.Errorf("pull of %s from %s/%s: no such stream or image", p.Image, p.Namespace, p.Stream)
		}
		if err := tx.Exec(`INSERT INTO image_pulls (stream_id, image_id, last_pulled) VALUES (?, ?, ?)`, sid, img, p.At.UTC()).Error; err != nil {
			return fmt.Errorf("insert pull: %w", err)
		}
		if first.IsZero() || p.At.Before(first) {
			first = p.At
		}
	}
	if !first.IsZero() {
		if err := tx.Exec(`INSERT INTO pull_recordings (id, since) VALUES (1, ?)`, first.UTC()).Error; err != nil {
			return fmt.Errorf("insert pull recording: %w", err)
		}
	}
	return nil
}

// Load reads the registry from the database with plain queries, one per
// table. It fails on rows the store's rules never write: a history whose
// positions are not 0..n-1, a link to a missing row.
func Load(ctx context.Context, db *gorm.DB) (*Registry, error) {
	db = db.WithContext(ctx)
	r := &Registry{}
	each := func(q string, fn func(scan func(...any) error) error) error {
		rows, err := db.Raw(q).Rows()
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}

	blobDigest := map[int64]string{}
	err := each(`SELECT id, digest, size FROM blobs ORDER BY digest`, func(scan func(...any) error) error {
		var id, size int64
		var d string
		if err := scan(&id, &d, &size); err != nil {
			return err
		}
		blobDigest[id] = d
		r.Blobs = append(r.Blobs, Blob{Digest: d, Size: size})
		return nil
	})
	if err != nil {
		return nil, err
	}
	imgByID := map[int64]*Image{}
	var imgIDs []int64
	err = each(`SELECT id, digest, known, created_at FROM images`, func(scan func(...any) error) error {
		var id int64
		var img Image
		var recorded sql.NullTime
		if err := scan(&id, &img.Digest, &img.Known, &recorded); err != nil {
			return err
		}
		img.Recorded = recorded.Time.UTC()
		imgByID[id] = &img
		imgIDs = append(imgIDs, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT image_id, position, blob_id FROM image_blobs ORDER BY image_id, position`, func(scan func(...any) error) error {
		var img, blob int64
		var pos int
		if err := scan(&img, &pos, &blob); err != nil {
			return err
		}
		im, d := imgByID[img], blobDigest[blob]
		if im == nil || d == "" {
			return fmt.Errorf("image_blobs row (%d, %d, %d) links a missing image or blob", img, pos, blob)
		}
		if pos < 0 {
			im.Config = d
		} else {
			im.Layers = append(im.Layers, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT list_id, child_id FROM image_manifests ORDER BY list_id, position`, func(scan func(...any) error) error {
		var list, child int64
		if err := scan(&list, &child); err != nil {
			return err
		}
		l, c := imgByID[list], imgByID[child]
		if l == nil || c == nil {
			return fmt.Errorf("image_manifests row (%d, %d) links a missing image", list, child)
		}
		l.Children = append(l.Children, c.Digest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A link whose subject is gone makes no referrer (the store's graph
	// reads it so too).
	err = each(`SELECT r.subject_id, r.referrer_id FROM image_referrers r JOIN images s ON s.id = r.subject_id ORDER BY r.referrer_id`, func(scan func(...any) error) error {
		var subject, referrer int64
		if err := scan(&subject, &referrer); err != nil {
			return err
		}
		sub, ref := imgByID[subject], imgByID[referrer]
		if sub == nil || ref == nil {
			return fmt.Errorf("image_referrers row (%d, %d) links a missing image", subject, referrer)
		}
		ref.Subject = sub.Digest
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range imgIDs {
		r.Images = append(r.Images, *imgByID[id])
	}
	sort.Slice(r.Images, func(i, j int) bool { return r.Images[i].Digest < r.Images[j].Digest })

	nsByID := map[int64]*Namespace{}
	var nsIDs []int64
	err = each(`SELECT id, name, prune_keep_tag_revisions, prune_keep_younger_than FROM namespaces`, func(scan func(...any) error) error {
		var id int64
		var n Namespace
		var keep, younger sql.NullInt64
		if err := scan(&id, &n.Name, &keep, &younger); err != nil {
			return err
		}
		if keep.Valid {
			k := int(keep.Int64)
			n.KeepTagRevisions = &k
		}
		if younger.Valid {
			d := time.Duration(younger.Int64) * time.Second
			n.KeepYoungerThan = &d
		}
		nsByID[id] = &n
		nsIDs = append(nsIDs, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	streams := map[int64]*Stream{}
	streamNS := map[int64]int64{}
	var streamIDs []int64
	err = each(`SELECT id, namespace_id, name FROM image_streams`, func(scan func(...any) error) error {
		var id, ns int64
		var name string
		if err := scan(&id, &ns, &name); err != nil {
			return err
		}
		if nsByID[ns] == nil {
			return fmt.Errorf("stream %s is in a missing namespace %d", name, ns)
		}
		streams[id] = &Stream{Name: name}
		streamNS[id] = ns
		streamIDs = append(streamIDs, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	tags := map[int64]*Tag{}
	tagStream := map[int64]int64{}
	var tagIDs []int64
	err = each(`SELECT id, stream_id, name, alias, from_name FROM tags`, func(scan func(...any) error) error {
		var id, st int64
		var t Tag
		var from string
		if err := scan(&id, &st, &t.Name, &t.Alias, &from); err != nil {
			return err
		}
		if streams[st] == nil {
			return fmt.Errorf("tag %s is in a missing stream %d", t.Name, st)
		}
		if t.Alias {
			t.AliasOf = from[strings.Index(from, ":")+1:]
		}
		tags[id] = &t
		tagStream[id] = st
		tagIDs = append(tagIDs, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	type ev struct {
		pos int
		e   Entry
	}
	events := map[int64][]ev{}
	err = each(`SELECT tag_id, position, created, docker_image_reference, image_id FROM tag_events`, func(scan func(...any) error) error {
		var tag int64
		var pos int
		var created time.Time
		var ref string
		var img sql.NullInt64
		if err := scan(&tag, &pos, &created, &ref, &img); err != nil {
			return err
		}
		if tags[tag] == nil {
			return fmt.Errorf("a history entry belongs to a missing tag %d", tag)
		}
		e := Entry{Ref: ref, Created: created.UTC()}
		if img.Valid {
			im := imgByID[img.Int64]
			if im == nil {
				return fmt.Errorf("a history entry names a missing image %d", img.Int64)
			}
			e.Image = im.Digest
		}
		events[tag] = append(events[tag], ev{pos, e})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id, evs := range events {
		sort.Slice(evs, func(i, j int) bool { return evs[i].pos < evs[j].pos })
		t := tags[id]
		for i, e := range evs {
			if e.pos != i {
				return nil, fmt.Errorf("history of tag %s has positions that are not 0..%d", t.Name, len(evs)-1)
			}
			t.History = append(t.History, e.e)
		}
	}
	// Assemble the tree, sorted by name at every level.
	sort.Slice(tagIDs, func(i, j int) bool { return tags[tagIDs[i]].Name < tags[tagIDs[j]].Name })
	for _, id := range tagIDs {
		st := streams[tagStream[id]]
		st.Tags = append(st.Tags, *tags[id])
	}
	sort.Slice(streamIDs, func(i, j int) bool { return streams[streamIDs[i]].Name < streams[streamIDs[j]].Name })
	for _, id := range streamIDs {
		n := nsByID[streamNS[id]]
		n.Streams = append(n.Streams, *streams[id])
	}
	sort.Slice(nsIDs, func(i, j int) bool { return nsByID[nsIDs[i]].Name < nsByID[nsIDs[j]].Name })
	for _, id := range nsIDs {
		r.Namespaces = append(r.Namespaces, *nsByID[id])
	}
	err = each(`SELECT namespace_id, image_id FROM pins`, func(scan func(...any) error) error {
		var ns, img int64
		if err := scan(&ns, &img); err != nil {
			return err
		}
		n, im := nsByID[ns], imgByID[img]
		if n == nil || im == nil {
			return fmt.Errorf("pin (%d, %d) names a missing namespace or image", ns, img)
		}
		r.Pins = append(r.Pins, Pin{Namespace: n.Name, Image: im.Digest})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(r.Pins, func(i, j int) bool {
		if r.Pins[i].Namespace != r.Pins[j].Namespace {
			return r.Pins[i].Namespace < r.Pins[j].Namespace
		}
		return r.Pins[i].Image < r.Pins[j].Image
	})
	rulesOf := map[int64][]Rule{}
	err = each(`SELECT namespace_id, tags, never, pulled_within, keep_tag_revisions, keep_younger_than FROM retention_rules ORDER BY namespace_id, position`,
		func(scan func(...any) error) error {
			var ns int64
			var rl Rule
			var pulled, keep, younger sql.NullInt64
			if err := scan(&ns, &rl.Tags, &rl.Never, &pulled, &keep, &younger); err != nil {
				return err
			}
			dur := func(v sql.NullInt64) *time.Duration {
				if !v.Valid {
					return nil
				}
				d := time.Duration(v.Int64) * time.Second
				return &d
			}
			rl.PulledWithin, rl.Younger = dur(pulled), dur(younger)
			if keep.Valid {
				k := int(keep.Int64)
				rl.Keep = &k
			}
			rulesOf[ns] = append(rulesOf[ns], rl)
			return nil
		})
	if err != nil {
		return nil, err
	}
	for id, rules := range rulesOf {
		name := nsByID[id].Name
		for i := range r.Namespaces {
			if r.Namespaces[i].Name == name {
				r.Namespaces[i].Rules = rules
			}
		}
	}
	err = each(`SELECT stream_id, image_id, last_pulled FROM image_pulls`, func(scan func(...any) error) error {
		var st, img int64
		var at time.Time
		if err := scan(&st, &img, &at); err != nil {
			return err
		}
		s, im := streams[st], imgByID[img]
		if s == nil || im == nil {
			return fmt.Errorf("pull (%d, %d) names a missing stream or image", st, img)
		}
		r.Pulls = append(r.Pulls, Pull{Namespace: nsByID[streamNS[st]].Name, Stream: s.Name, Image: im.Digest, At: at.UTC()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(r.Pulls, func(i, j int) bool {
		a, b := r.Pulls[i], r.Pulls[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Stream != b.Stream {
			return a.Stream < b.Stream
		}
		return a.Image < b.Image
	})
	return r, nil
}
