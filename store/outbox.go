package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ManifestDeletion is a manifest prune removed from the database and that
// is still to be deleted from the managed registry (an outbox, written in
// the same transaction as the deletion, so a crash loses none).
type ManifestDeletion struct {
	ID         int64     `gorm:"primaryKey"`
	Repository string    `gorm:"not null;uniqueIndex:ux_manifest_deletions_repo_digest,priority:1"` // ns/name
	Digest     string    `gorm:"not null;uniqueIndex:ux_manifest_deletions_repo_digest,priority:2"`
	CreatedAt  time.Time `gorm:"not null"`
	Attempts   int       `gorm:"not null;default:0"`
	Error      string    `gorm:"not null;default:''"`
}

type tagImage struct{ tag, image int64 }

// queueManifestDeletions records, per stream, the images of dropped
// entries (and their children) that no remaining entry of the stream
// references, directly or through a manifest list: the registry will be
// asked to delete them from the stream's repository.
func (s *Store) queueManifestDeletions(ctx context.Context, dropped []tagImage) (int64, error) {
	db := s.conn(ctx)
	var tagIDs, imgIDs []int64
	for _, d := range dropped {
		tagIDs = append(tagIDs, d.tag)
		imgIDs = append(imgIDs, d.image)
	}
	tagIDs, imgIDs = dedupe(tagIDs), dedupe(imgIDs)
	type tagRow struct {
		TagID, StreamID int64
		Stream, Ns      string
	}
	repoOf := map[int64]string{} // stream ID → ns/name
	streamOf := map[int64]int64{}
	err := chunks(tagIDs, chunk, func(part []int64) error {
		var rows []tagRow
		if err := db.Table("tags t").Select("t.id AS tag_id, st.id AS stream_id, st.name AS stream, n.name AS ns").
			Joins("JOIN image_streams st ON st.id = t.stream_id").Joins("JOIN namespaces n ON n.id = st.namespace_id").
			Where("t.id IN ?", part).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			repoOf[r.StreamID] = r.Ns + "/" + r.Stream
			streamOf[r.TagID] = r.StreamID
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	// Children of dropped lists are manifests of the repository too.
	childrenOf := map[int64][]int64{}
	err = chunks(imgIDs, chunk, func(part []int64) error {
		var rows []ImageManifest
		if err := db.Select("list_id, child_id").Where("list_id IN ?", part).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			childrenOf[r.ListID] = append(childrenOf[r.ListID], r.ChildID)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	want := map[[2]int64]bool{} // (stream, image)
	var all []int64
	for _, d := range dropped {
		st := streamOf[d.tag]
		want[[2]int64{st, d.image}] = true
		all = append(all, d.image)
		for _, c := range childrenOf[d.image] {
			want[[2]int64{st, c}] = true
			all = append(all, c)
		}
	}
	all = dedupe(all)
	streams := keys(func() map[int64]bool {
		m := map[int64]bool{}
		for _, st := range streamOf {
			m[st] = true
		}
		return m
	}())
	// What the remaining history of those streams still holds.
	type pair struct{ StreamID, ImageID int64 }
	err = chunks(streams, chunk, func(sp []int64) error {
		return chunks(all, chunk, func(ip []int64) error {
			var rows []pair
			if err := db.Raw(`SELECT DISTINCT t.stream_id, e.image_id FROM tag_events e JOIN tags t ON t.id = e.tag_id
				WHERE t.stream_id IN ? AND e.image_id IN ?`, sp, ip).Scan(&rows).Error; err != nil {
				return err
			}
			var via []pair
			if err := db.Raw(`SELECT DISTINCT t.stream_id, m.child_id AS image_id FROM tag_events e JOIN tags t ON t.id = e.tag_id
				JOIN image_manifests m ON m.list_id = e.image_id WHERE t.stream_id IN ? AND m.child_id IN ?`, sp, ip).Scan(&via).Error; err != nil {
				return err
			}
			for _, r := range append(rows, via...) {
				delete(want, [2]int64{r.StreamID, r.ImageID})
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	digests := map[int64]string{}
	err = chunks(all, chunk, func(part []int64) error {
		var rows []Image
		if err := db.Select("id, digest").Where("id IN ?", part).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			digests[r.ID] = r.Digest
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", err)
	}
	var out []ManifestDeletion
	now := s.now()
	for k := range want {
		if repo, d := repoOf[k[0]], digests[k[1]]; repo != "" && d != "" {
			out = append(out, ManifestDeletion{Repository: repo, Digest: d, CreatedAt: now})
		}
	}
	if len(out) == 0 {
		return 0, nil
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Digest < out[j].Digest
	})
	res := db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(&out, 200)
	if res.Error != nil {
		return 0, fmt.Errorf("queue registry deletions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// PendingManifestDeletions lists what is still to be deleted from the
// managed registry, oldest first, after the row afterID.
func (s *Store) PendingManifestDeletions(ctx context.Context, afterID int64, limit int) ([]ManifestDeletion, error) {
	var out []ManifestDeletion
	err := s.conn(ctx).Where("id > ?", afterID).Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// ManifestDeleted removes a done deletion from the queue; with a non-nil
// err it records the failure instead (the next run tries again).
func (s *Store) ManifestDeleted(ctx context.Context, id int64, failure error) error {
	if failure == nil {
		return s.conn(ctx).Delete(&ManifestDeletion{}, id).Error
	}
	return s.conn(ctx).Model(&ManifestDeletion{}).Where("id = ?", id).
		Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "error": failure.Error()}).Error
}

// queueReferrerDeletions queues, for referrer images about to be deleted,
// their manifests in the managed registry's repositories: deleting a
// cosign tag's manifest by digest also removes the tag, and an OCI
// referrer is a manifest of its own that deleting its subject leaves.
func (s *Store) queueReferrerDeletions(ctx context.Context, images []int64) (int64, error) {
	db := s.conn(ctx)
	var out []ManifestDeletion
	now := s.now()
	err := chunks(images, chunk, func(part []int64) error {
		var rows []struct{ Repository, Digest string }
		if err := db.Table("image_referrers r").Distinct("r.repository", "i.digest").Joins("JOIN images i ON i.id = r.referrer_id").
			Where("r.referrer_id IN ? AND r.repository <> ''", part).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			out = append(out, ManifestDeletion{Repository: r.Repository, Digest: r.Digest, CreatedAt: now})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue registry deletions of referrers: %w", err)
	}
	if len(out) == 0 {
		return 0, nil
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Digest < out[j].Digest
	})
	res := db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(&out, 200)
	if res.Error != nil {
		return 0, fmt.Errorf("queue registry deletions of referrers: %w", res.Error)
	}
	return res.RowsAffected, nil
}
