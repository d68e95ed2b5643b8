package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migrateCosignTags turns the cosign-scheme tags a database recorded as
// tags before referrers existed (sha256-<64 hex>.sig|.att|.sbom) into
// referrers: the tag's current image is linked to the subject its name
// gives (an unknown image by digest when the store has none), and the tag
// with its history goes, so it no longer counts as revisions. Older
// entries of such a tag were earlier signature manifests the current one
// replaced: their images are left unheld, for prune. The registry
// repository is kept for images read from the managed registry, so prune
// deletes their manifests there too.
func migrateCosignTags(tx *gorm.DB) error {
	var tags []struct {
		ID        int64
		Name      string
		Namespace string
		Stream    string
	}
	err := tx.Raw(`SELECT t.id, t.name, n.name AS namespace, s.name AS stream FROM tags t
		JOIN image_streams s ON s.id = t.stream_id JOIN namespaces n ON n.id = s.namespace_id
		WHERE t.name LIKE 'sha256-%' ORDER BY t.id`).Scan(&tags).Error
	if err != nil {
		return fmt.Errorf("read cosign tags: %w", err)
	}
	for _, t := range tags {
		subject, suffix, ok := CosignTag(t.Name)
		if !ok {
			continue // a "sha256-" tag that is not cosign's: an ordinary tag
		}
		var cur []struct {
			ImageID   int64
			CreatedAt time.Time
			MediaType string
			Managed   bool
		}
		err := tx.Raw(`SELECT e.image_id, e.created AS created_at, i.media_type,
			EXISTS (SELECT 1 FROM image_blobs ib JOIN blobs b ON b.id = ib.blob_id WHERE ib.image_id = i.id AND b.size_source = ?) AS managed
			FROM tag_events e JOIN images i ON i.id = e.image_id WHERE e.tag_id = ? AND e.position = 0`, SizeManaged, t.ID).Scan(&cur).Error
		if err != nil {
			return fmt.Errorf("read tag %s: %w", t.Name, err)
		}
		if len(cur) == 1 {
			c := cur[0]
			var subjectID int64
			if err := tx.Raw(`SELECT id FROM images WHERE digest = ?`, subject).Scan(&subjectID).Error; err != nil {
				return fmt.Errorf("look up %s: %w", subject, err)
			}
			if subjectID == 0 {
				// Known=false: only its digest is known, so the link survives.
				if err := tx.Exec(`INSERT INTO images (digest, known, created_at) VALUES (?, ?, ?)`, subject, false, c.CreatedAt).Error; err != nil {
					return fmt.Errorf("record image %s: %w", subject, err)
				}
				if err := tx.Raw(`SELECT id FROM images WHERE digest = ?`, subject).Scan(&subjectID).Error; err != nil {
					return fmt.Errorf("look up %s: %w", subject, err)
				}
			}
			repo := ""
			if c.Managed {
				repo = t.Namespace + "/" + t.Stream
			}
			var have int64
			if err := tx.Raw(`SELECT COUNT(*) FROM image_referrers WHERE subject_id = ? AND referrer_id = ? AND repository = ?`,
				subjectID, c.ImageID, repo).Scan(&have).Error; err != nil {
				return fmt.Errorf("look up referrers of %s: %w", subject, err)
			}
			if have == 0 && subjectID != c.ImageID {
				err := tx.Exec(`INSERT INTO image_referrers (subject_id, referrer_id, repository, tag, type, artifact_type, via, created_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, subjectID, c.ImageID, repo, t.Name, string(ClassifyReferrer(suffix)), c.MediaType,
					ViaTagScheme, c.CreatedAt).Error
				if err != nil {
					return fmt.Errorf("link %s to %s: %w", t.Name, subject, err)
				}
			}
		}
		if err := tx.Exec(`DELETE FROM import_checks WHERE tag_id = ?`, t.ID).Error; err != nil {
			return fmt.Errorf("remove the import check of %s: %w", t.Name, err)
		}
		if err := tx.Exec(`DELETE FROM tag_events WHERE tag_id = ?`, t.ID).Error; err != nil {
			return fmt.Errorf("remove the history of %s: %w", t.Name, err)
		}
		if err := tx.Exec(`DELETE FROM tags WHERE id = ?`, t.ID).Error; err != nil {
			return fmt.Errorf("remove tag %s: %w", t.Name, err)
		}
	}
	return nil
}
