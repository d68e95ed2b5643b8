package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Images in use on a cluster. The OpenShift sync reads which images the
// cluster's workloads reference and replaces its cluster's set here; the
// retention rule keeps those images like pins (entryFacts.inUse). While a
// configured cluster's last read failed, or none succeeded yet, nothing is
// proven unused: the rule keeps every revision (entryFacts.unproven) and
// prune removes nothing.

// Workload is an object on a cluster that references an image.
type Workload struct {
	Kind      string `json:"kind"` // as people say it: "deployment", "pod", "build"
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String is "deployment payments/api".
func (w Workload) String() string { return w.Kind + " " + w.Namespace + "/" + w.Name }

// InUseRef is one image reference read from a workload, before it is
// resolved to an image of the store. Set one of PullSpec and StreamTag.
type InUseRef struct {
	Workload Workload
	// PullSpec is a container image as a pod spec writes it: by digest
	// (host/ns/name@sha256:…, resolved to that image wherever it is) or by
	// tag (host/ns/name:tag, the current image of that tag of the stream
	// whose pull spec is host/ns/name).
	PullSpec string
	// StreamTag is an ImageStreamTag (deployment-config triggers, builds):
	// that tag's current image.
	StreamTag *TagRef
}

// inUseRecord is one image a workload of a cluster references.
type inUseRecord struct {
	ID                int64     `gorm:"primaryKey"`
	Cluster           string    `gorm:"not null;index"`
	ImageID           int64     `gorm:"not null;index"`
	Kind              string    `gorm:"not null"`
	WorkloadNamespace string    `gorm:"not null"`
	WorkloadName      string    `gorm:"not null"`
	SeenAt            time.Time `gorm:"not null"`

	Image *Image `gorm:"constraint:OnDelete:CASCADE"`
}

func (inUseRecord) TableName() string { return "in_use_images" }

// InUseRead is the state of one cluster's in-use read.
type InUseRead struct {
	Cluster string `gorm:"primaryKey" json:"cluster"`
	// OKAt is the last complete read (nil: none yet); FailedAt and Error
	// the last failed one.
	OKAt     *time.Time `json:"okAt,omitempty"`
	FailedAt *time.Time `json:"failedAt,omitempty"`
	Error    string     `gorm:"not null;default:''" json:"error,omitempty"`
	// Images is how many images the last complete read found in use.
	Images int `gorm:"not null;default:0" json:"images"`
}

func (InUseRead) TableName() string { return "in_use_reads" }

func migrateInUse(tx *gorm.DB) error {
	return tx.AutoMigrate(&inUseRecord{}, &InUseRead{})
}

// Held says whether the read proves nothing now: it never succeeded, or
// the last attempt failed.
func (r InUseRead) Held() bool {
	return r.OKAt == nil || r.FailedAt != nil && !r.FailedAt.Before(*r.OKAt)
}

// InUseHold is why prune keeps everything: a cluster whose in-use read
// failed last or never succeeded. Nil: none.
type InUseHold struct {
	Cluster  string     `json:"cluster"`
	FailedAt *time.Time `json:"failedAt,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// Text says it in words for /prune and the CLI.
func (h *InUseHold) Text() string {
	if h == nil {
		return ""
	}
	if h.FailedAt == nil {
		return fmt.Sprintf("The images in use on %s have not been read yet: until the sync reads them, prune keeps every revision.", h.Cluster)
	}
	return fmt.Sprintf("Reading the images in use on %s failed at %s (%s): until a sync reads them, prune keeps every revision.",
		h.Cluster, h.FailedAt.UTC().Format("2006-01-02 15:04 UTC"), h.Error)
}

// MaxInUseError is the longest failure message kept.
const MaxInUseError = 500

// MaxInUseRefs bounds one read: a cluster that reports more references is
// refused rather than stored.
const MaxInUseRefs = 1_000_000

// InUseResult says what ReplaceInUse resolved.
type InUseResult struct {
	Refs       int // references read
	Images     int // distinct images of the store in use
	Unresolved int // references to no image of the store (other registries, unknown tags)
	// Changed says what prune keeps changed: other records, or the end of
	// a hold (the first read, or one after a failure).
	Changed bool
}

// RegisterInUseCluster says that cluster is the one configured: its read
// state is created (held until its first read succeeds) and the records
// and states of any other cluster go. Called when serve starts with
// LAYERWISE_OPENSHIFT_URL; without a cluster nothing is called and the
// records of the last one keep protecting its images.
func (s *Store) RegisterInUseCluster(ctx context.Context, cluster string) error {
	if cluster == "" {
		return invalidf("no cluster")
	}
	return s.Tx(ctx, func(tx *Store) error {
		db := tx.conn(ctx)
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&InUseRead{Cluster: cluster}).Error; err != nil {
			return fmt.Errorf("record the cluster: %w", err)
		}
		if err := db.Where("cluster <> ?", cluster).Delete(&inUseRecord{}).Error; err != nil {
			return err
		}
		return db.Where("cluster <> ?", cluster).Delete(&InUseRead{}).Error
	})
}

// RecordInUseFailure notes that reading the cluster's workloads failed:
// its records stay as they were, and prune keeps everything until a read
// succeeds.
func (s *Store) RecordInUseFailure(ctx context.Context, cluster string, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	if r := []rune(msg); len(r) > MaxInUseError {
		msg = string(r[:MaxInUseError]) + "…"
	}
	now := s.now().UTC()
	return s.Tx(ctx, func(tx *Store) error {
		return tx.conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "cluster"}},
			DoUpdates: clause.AssignmentColumns([]string{"failed_at", "error"})}).
			Create(&InUseRead{Cluster: cluster, FailedAt: &now, Error: msg}).Error
	})
}

// ReplaceInUse resolves refs (read from every workload of the cluster)
// and replaces the cluster's in-use records with them in one transaction,
// marking the read a success. The same set again writes only the time.
func (s *Store) ReplaceInUse(ctx context.Context, cluster string, refs []InUseRef) (InUseResult, error) {
	res := InUseResult{Refs: len(refs)}
	if cluster == "" {
		return res, invalidf("no cluster")
	}
	if len(refs) > MaxInUseRefs {
		return res, invalidf("the cluster reports %d image references, more than the %d Layerwise reads", len(refs), MaxInUseRefs)
	}
	now := s.now().UTC()
	err := s.Tx(ctx, func(tx *Store) error {
		ids, unresolved, err := tx.resolveInUse(ctx, refs)
		if err != nil {
			return err
		}
		res.Unresolved = unresolved
		type key struct {
			img int64
			w   Workload
		}
		seen := map[key]bool{}
		var rows []inUseRecord
		imgs := map[int64]bool{}
		for i, id := range ids {
			if id == 0 || seen[key{id, refs[i].Workload}] {
				continue
			}
			seen[key{id, refs[i].Workload}] = true
			imgs[id] = true
			w := refs[i].Workload
			rows = append(rows, inUseRecord{Cluster: cluster, ImageID: id, Kind: w.Kind, WorkloadNamespace: w.Namespace,
				WorkloadName: w.Name, SeenAt: now})
		}
		res.Images = len(imgs)
		db := tx.conn(ctx)
		var have []inUseRecord
		if err := db.Where("cluster = ?", cluster).Find(&have).Error; err != nil {
			return fmt.Errorf("read in-use records: %w", err)
		}
		same := len(have) == len(rows)
		for _, h := range have {
			same = same && seen[key{h.ImageID, Workload{h.Kind, h.WorkloadNamespace, h.WorkloadName}}]
		}
		// A read that ends a hold changes what prune keeps too.
		var state []InUseRead
		if err := db.Where("cluster = ?", cluster).Find(&state).Error; err != nil {
			return fmt.Errorf("read the in-use state: %w", err)
		}
		if len(state) == 1 && state[0].Held() {
			res.Changed = true
		}
		if !same {
			res.Changed = true
			if err := db.Where("cluster = ?", cluster).Delete(&inUseRecord{}).Error; err != nil {
				return fmt.Errorf("replace in-use records: %w", err)
			}
			if len(rows) > 0 {
				if err := db.CreateInBatches(rows, 500).Error; err != nil {
					return fmt.Errorf("replace in-use records: %w", err)
				}
			}
		}
		return db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "cluster"}},
			DoUpdates: clause.AssignmentColumns([]string{"ok_at", "images"})}).
			Create(&InUseRead{Cluster: cluster, OKAt: &now, Images: res.Images}).Error
	})
	return res, err
}

// resolveInUse maps each ref to an image id (0: none of the store's).
func (s *Store) resolveInUse(ctx context.Context, refs []InUseRef) ([]int64, int, error) {
	db := s.conn(ctx)
	out := make([]int64, len(refs))
	// By digest.
	byDigest := map[string]int64{}
	var digests []string
	// By tag: the stream (by pull spec, or namespace/name) and tag.
	bySpec := map[string]bool{}
	for _, r := range refs {
		switch {
		case r.StreamTag != nil:
		case digestOf(r.PullSpec) != "":
			d := digestOf(r.PullSpec)
			if _, ok := byDigest[d]; !ok {
				byDigest[d] = 0
				digests = append(digests, d)
			}
		default:
			if repo, _ := splitTag(r.PullSpec); repo != "" {
				bySpec[repo] = true
			}
		}
	}
	for i := 0; i < len(digests); i += chunk {
		var rows []Image
		if err := db.Select("id, digest").Where("digest IN ?", digests[i:min(i+chunk, len(digests))]).Find(&rows).Error; err != nil {
			return nil, 0, fmt.Errorf("resolve in-use digests: %w", err)
		}
		for _, r := range rows {
			byDigest[r.Digest] = r.ID
		}
	}
	// Streams by pull spec, and by namespace/name.
	type streamRow struct {
		ID                                              int64
		Namespace, Name                                 string
		DockerImageRepository, PullSpec, PublicPullSpec string
	}
	var streams []streamRow
	if err := db.Raw(`SELECT s.id, n.name AS namespace, s.name, s.docker_image_repository, s.pull_spec, s.public_pull_spec
		FROM image_streams s JOIN namespaces n ON n.id = s.namespace_id`).Scan(&streams).Error; err != nil {
		return nil, 0, fmt.Errorf("resolve in-use streams: %w", err)
	}
	streamOfSpec := map[string]int64{}
	streamOfName := map[string]int64{}
	for _, st := range streams {
		for _, sp := range []string{st.DockerImageRepository, st.PullSpec, st.PublicPullSpec} {
			if sp != "" && bySpec[sp] {
				streamOfSpec[sp] = st.ID
			}
		}
		streamOfName[st.Namespace+"/"+st.Name] = st.ID
	}
	type tagKey struct {
		stream int64
		tag    string
	}
	wantTags := map[tagKey]int64{}
	var streamIDs []int64
	for _, r := range refs {
		var k tagKey
		if r.StreamTag != nil {
			k = tagKey{streamOfName[r.StreamTag.Namespace+"/"+r.StreamTag.Stream], r.StreamTag.Tag}
		} else if digestOf(r.PullSpec) == "" {
			repo, tag := splitTag(r.PullSpec)
			k = tagKey{streamOfSpec[repo], tag}
		} else {
			continue
		}
		if k.stream != 0 {
			if _, ok := wantTags[k]; !ok {
				wantTags[k] = 0
				streamIDs = append(streamIDs, k.stream)
			}
		}
	}
	err := chunks(dedupe(streamIDs), chunk, func(part []int64) error {
		return scanRows(db.Raw(`SELECT t.stream_id, t.name, e.image_id FROM tags t JOIN tag_events e ON e.tag_id = t.id AND e.position = 0
			WHERE e.image_id IS NOT NULL AND t.stream_id IN ?`, part), func(sc func(...any) error) error {
			var st, img int64
			var name string
			if err := sc(&st, &name, &img); err != nil {
				return err
			}
			if _, ok := wantTags[tagKey{st, name}]; ok {
				wantTags[tagKey{st, name}] = img
			}
			return nil
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("resolve in-use tags: %w", err)
	}
	unresolved := 0
	for i, r := range refs {
		switch {
		case r.StreamTag != nil:
			out[i] = wantTags[tagKey{streamOfName[r.StreamTag.Namespace+"/"+r.StreamTag.Stream], r.StreamTag.Tag}]
		case digestOf(r.PullSpec) != "":
			out[i] = byDigest[digestOf(r.PullSpec)]
		default:
			repo, tag := splitTag(r.PullSpec)
			if st := streamOfSpec[repo]; st != 0 {
				out[i] = wantTags[tagKey{st, tag}]
			}
		}
		if out[i] == 0 {
			unresolved++
		}
	}
	return out, unresolved, nil
}

// digestOf is the digest of a pull spec by digest ("…@sha256:…"), "".
func digestOf(spec string) string {
	i := strings.LastIndexByte(spec, '@')
	if i < 0 {
		return ""
	}
	d := spec[i+1:]
	if ValidateDigest(d) != nil {
		return ""
	}
	return d
}

// splitTag splits "host/ns/name:tag" into the repository and the tag
// ("latest" when none is written, as the container runtime reads it).
func splitTag(spec string) (repo, tag string) {
	slash := strings.LastIndexByte(spec, '/')
	if c := strings.LastIndexByte(spec, ':'); c > slash {
		return spec[:c], spec[c+1:]
	}
	return spec, "latest"
}

// InUseReads is the state of every cluster's in-use read.
func (s *Store) InUseReads(ctx context.Context) ([]InUseRead, error) {
	var out []InUseRead
	if err := s.conn(ctx).Order("cluster").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("read the in-use reads: %w", err)
	}
	return out, nil
}

// PruneHold says why prune keeps everything now (nil: it does not): the
// first cluster whose in-use read never succeeded or failed last.
func (s *Store) PruneHold(ctx context.Context) (*InUseHold, error) {
	reads, err := s.InUseReads(ctx)
	if err != nil {
		return nil, err
	}
	return holdOf(reads), nil
}

func holdOf(reads []InUseRead) *InUseHold {
	for _, r := range reads {
		if r.Held() {
			return &InUseHold{Cluster: r.Cluster, FailedAt: r.FailedAt, Error: r.Error}
		}
	}
	return nil
}

// InUse is the workloads that use one image, for pages: first the ones
// in namespaces the reader sees.
type InUse []Workload

// Describe is "in use by deployment payments/api", "… and 2 more"; a
// workload in a namespace sees(ns) is false for is counted, never named.
// sees nil names every workload. "" when the list is empty.
func (u InUse) Describe(sees func(ns string) bool) string {
	if len(u) == 0 {
		return ""
	}
	first := -1
	for i, w := range u {
		if sees == nil || sees(w.Namespace) {
			first = i
			break
		}
	}
	if first < 0 {
		if len(u) == 1 {
			return "in use by a workload in another namespace"
		}
		return fmt.Sprintf("in use by %d workloads in other namespaces", len(u))
	}
	s := "in use by " + u[first].String()
	if len(u) > 1 {
		s += fmt.Sprintf(" and %d more", len(u)-1)
	}
	return s
}

// kindRank orders workloads so that the one people name comes first: the
// deployment before the replica sets and pods it made.
var kindRank = map[string]int{"deployment config": 1, "deployment": 2, "stateful set": 3, "daemon set": 4, "cron job": 5,
	"job": 6, "build": 7, "replication controller": 8, "replica set": 9, "pod": 10}

// sortWorkloads orders a list (owners first) and drops repeats (an image
// used by a workload directly and through its list).
func sortWorkloads(ws []Workload) []Workload {
	rank := func(k string) int {
		if r, ok := kindRank[k]; ok {
			return r
		}
		return len(kindRank) + 1
	}
	sort.Slice(ws, func(i, j int) bool {
		a, b := ws[i], ws[j]
		if ra, rb := rank(a.Kind), rank(b.Kind); ra != rb {
			return ra < rb
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	out := ws[:0]
	for i, w := range ws {
		if i == 0 || w != ws[i-1] {
			out = append(out, w)
		}
	}
	return out
}

// inUseOf reads, for images ids, the workloads using each: directly, a
// manifest list through a platform image, a platform image through its
// list.
func (s *Store) inUseOf(ctx context.Context, ids []int64) (map[int64]InUse, error) {
	out := map[int64]InUse{}
	db := s.conn(ctx)
	err := chunks(dedupe(ids), chunk, func(part []int64) error {
		return scanRows(db.Raw(`SELECT u.image_id, u.kind, u.workload_namespace, u.workload_name FROM in_use_images u WHERE u.image_id IN ?
			UNION SELECT m.list_id, u.kind, u.workload_namespace, u.workload_name FROM image_manifests m JOIN in_use_images u ON u.image_id = m.child_id WHERE m.list_id IN ?
			UNION SELECT m.child_id, u.kind, u.workload_namespace, u.workload_name FROM image_manifests m JOIN in_use_images u ON u.image_id = m.list_id WHERE m.child_id IN ?`,
			part, part, part), func(sc func(...any) error) error {
			var id int64
			var w Workload
			if err := sc(&id, &w.Kind, &w.Namespace, &w.Name); err != nil {
				return err
			}
			out[id] = append(out[id], w)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read images in use: %w", err)
	}
	for id, ws := range out {
		out[id] = sortWorkloads(ws)
	}
	return out, nil
}

// InUseByDigest is, for those of digests that some workload uses
// (directly or through a manifest list or platform image), the workloads.
func (s *Store) InUseByDigest(ctx context.Context, digests []string) (map[string]InUse, error) {
	out := map[string]InUse{}
	var ids []int64
	digestOf := map[int64]string{}
	err := s.Snapshot(ctx, func(s *Store) error {
		for i := 0; i < len(digests); i += chunk {
			var rows []Image
			if err := s.conn(ctx).Select("id, digest").Where("digest IN ?", digests[i:min(i+chunk, len(digests))]).Find(&rows).Error; err != nil {
				return fmt.Errorf("read images: %w", err)
			}
			for _, r := range rows {
				ids = append(ids, r.ID)
				digestOf[r.ID] = r.Digest
			}
		}
		byID, err := s.inUseOf(ctx, ids)
		for id, u := range byID {
			out[digestOf[id]] = u
		}
		return err
	})
	return out, err
}
