package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PutImage records an image with its blobs, or fills in a placeholder that
// only knew the digest. Putting the same image again changes nothing.
func (s *Store) PutImage(ctx context.Context, img ImageSnapshot) (bool, error) {
	if err := validateImage(img); err != nil {
		return false, err
	}
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		changed, err = tx.putImage(ctx, img)
		return err
	})
	return changed, err
}

func validateImage(img ImageSnapshot) error {
	if err := ValidateDigest(img.Digest); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	for i, l := range img.Layers {
		if err := ValidateDigest(l.Digest); err != nil {
			return fmt.Errorf("image %s: layer %d: %w", img.Digest, i, err)
		}
		if l.Size < 0 {
			return invalidf("image %s: layer %d has negative size %d", img.Digest, i, l.Size)
		}
	}
	if img.Config != nil {
		if err := ValidateDigest(img.Config.Digest); err != nil {
			return fmt.Errorf("image %s: config: %w", img.Digest, err)
		}
		if img.Config.Size < 0 {
			return invalidf("image %s: config has negative size %d", img.Digest, img.Config.Size)
		}
	}
	for i, m := range img.Manifests {
		if err := ValidateDigest(m.Digest); err != nil {
			return fmt.Errorf("image %s: manifest %d: %w", img.Digest, i, err)
		}
		if m.Digest == img.Digest {
			return invalidf("manifest list %s lists itself", img.Digest)
		}
	}
	return nil
}

func imageRow(img ImageSnapshot) Image {
	m := img.Meta
	row := Image{
		Digest:               img.Digest,
		MediaType:            img.MediaType,
		ManifestList:         len(img.Manifests) > 0,
		DockerImageReference: img.DockerImageReference,
		Known:                true,
		ImageCreated:         utcPtr(m.Created),
		Architecture:         m.Architecture,
		OS:                   m.OS,
		Variant:              m.Variant,
		Author:               m.Author,
		Entrypoint:           listJSON(m.Entrypoint),
		Cmd:                  listJSON(m.Cmd),
		Env:                  listJSON(m.Env),
		Labels:               mapJSON(m.Labels),
		Ports:                listJSON(m.Ports),
		User:                 m.User,
		WorkingDir:           m.WorkingDir,
		ConfigDigest:         img.ConfigDigest,
	}
	if row.ConfigDigest == "" && img.Config != nil {
		row.ConfigDigest = img.Config.Digest
	}
	return row
}

func sameImageRow(a, b Image) bool {
	a.ID, b.ID = 0, 0
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	if !sameTimePtr(a.ImageCreated, b.ImageCreated) {
		return false
	}
	a.ImageCreated, b.ImageCreated = nil, nil
	return a == b
}

// bare tells an image known only by digest (and maybe a pull spec), as a
// mapping or a history entry names it: it says nothing about layers.
func bare(img ImageSnapshot) bool {
	return len(img.Layers) == 0 && len(img.Manifests) == 0 && img.Config == nil && img.ConfigDigest == ""
}

func (s *Store) putImage(ctx context.Context, img ImageSnapshot) (bool, error) {
	db := s.conn(ctx)
	want := imageRow(img)
	var have Image
	err := db.Where("digest = ?", img.Digest).Take(&have).Error
	exists := err == nil
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return false, fmt.Errorf("look up image %s: %w", img.Digest, err)
	}
	if bare(img) {
		// An image is immutable by digest: knowing less about it later must
		// not erase its layers. A new bare image is a placeholder.
		if exists {
			return false, nil
		}
		if _, err := s.ensureImages(ctx, []string{img.Digest}); err != nil {
			return false, err
		}
		return true, nil
	}
	changed := false
	if !exists {
		want.CreatedAt = s.now()
		if err := db.Create(&want).Error; err != nil {
			return false, fmt.Errorf("create image %s: %w", img.Digest, err)
		}
		changed = true
	} else {
		want.ID, want.CreatedAt = have.ID, have.CreatedAt
		if !sameImageRow(want, have) {
			if err := db.Select("*").Omit("created_at").Updates(&want).Error; err != nil {
				return false, fmt.Errorf("update image %s: %w", img.Digest, err)
			}
			changed = true
		}
	}
	c, err := s.putImageBlobs(ctx, want.ID, img)
	if err != nil {
		return false, err
	}
	changed = changed || c
	c, err = s.putImageManifests(ctx, want.ID, img)
	if err != nil {
		return false, err
	}
	return changed || c, nil
}

type blobLink struct {
	Position int
	Digest   string
	Size     int64
	Media    string
}

func (s *Store) putImageBlobs(ctx context.Context, imageID int64, img ImageSnapshot) (bool, error) {
	db := s.conn(ctx)
	var want []blobLink
	if img.Config != nil {
		want = append(want, blobLink{ConfigPosition, img.Config.Digest, img.Config.Size, img.Config.MediaType})
	}
	for i, l := range img.Layers {
		want = append(want, blobLink{i, l.Digest, l.Size, l.MediaType})
	}
	var have []blobLink
	err := db.Table("image_blobs").
		Select("image_blobs.position, blobs.digest, blobs.size, blobs.media_type AS media").
		Joins("JOIN blobs ON blobs.id = image_blobs.blob_id").
		Where("image_blobs.image_id = ?", imageID).Order("image_blobs.position").
		Scan(&have).Error
	if err != nil {
		return false, fmt.Errorf("read blobs of image %s: %w", img.Digest, err)
	}
	if equalLinks(have, want) {
		return false, nil
	}
	ids, err := s.ensureBlobs(ctx, want)
	if err != nil {
		return false, fmt.Errorf("image %s: %w", img.Digest, err)
	}
	if err := db.Where("image_id = ?", imageID).Delete(&ImageBlob{}).Error; err != nil {
		return false, fmt.Errorf("replace blobs of image %s: %w", img.Digest, err)
	}
	rows := make([]ImageBlob, len(want))
	for i, l := range want {
		rows[i] = ImageBlob{ImageID: imageID, Position: l.Position, BlobID: ids[l.Digest]}
	}
	if len(rows) > 0 {
		if err := db.CreateInBatches(rows, 500).Error; err != nil {
			return false, fmt.Errorf("link blobs of image %s: %w", img.Digest, err)
		}
	}
	return true, nil
}

func equalLinks(a, b []blobLink) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Position != b[i].Position || a[i].Digest != b[i].Digest || a[i].Size != b[i].Size {
			return false
		}
		// An empty media type in the input says nothing, not "clear it".
		if b[i].Media != "" && a[i].Media != b[i].Media {
			return false
		}
	}
	return true
}

// ensureBlobs finds or creates the blobs by digest in two statements and
// returns their IDs. A blob's size and media type follow the newest input.
func (s *Store) ensureBlobs(ctx context.Context, links []blobLink) (map[string]int64, error) {
	db := s.conn(ctx)
	byDigest := map[string]blobLink{}
	var digests []string
	for _, l := range links {
		if _, ok := byDigest[l.Digest]; !ok {
			digests = append(digests, l.Digest)
		}
		byDigest[l.Digest] = l
	}
	ids := map[string]int64{}
	if len(digests) == 0 {
		return ids, nil
	}
	rows := make([]Blob, 0, len(digests))
	for _, d := range digests {
		l := byDigest[d]
		rows = append(rows, Blob{Digest: d, Size: l.Size, MediaType: l.Media})
	}
	err := db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "digest"}},
		DoUpdates: clause.Assignments(map[string]any{"size": gorm.Expr("excluded.size"), "media_type": gorm.Expr("CASE WHEN excluded.media_type = '' THEN blobs.media_type ELSE excluded.media_type END")}),
	}).CreateInBatches(&rows, 500).Error
	if err != nil {
		return nil, fmt.Errorf("record blobs: %w", err)
	}
	var found []Blob
	for i := 0; i < len(digests); i += 500 {
		j := min(i+500, len(digests))
		var part []Blob
		if err := db.Select("id, digest").Where("digest IN ?", digests[i:j]).Find(&part).Error; err != nil {
			return nil, fmt.Errorf("look up blobs: %w", err)
		}
		found = append(found, part...)
	}
	for _, b := range found {
		ids[b.Digest] = b.ID
	}
	return ids, nil
}

func (s *Store) putImageManifests(ctx context.Context, listID int64, img ImageSnapshot) (bool, error) {
	db := s.conn(ctx)
	var have []ImageManifest
	if err := db.Where("list_id = ?", listID).Order("position").Find(&have).Error; err != nil {
		return false, fmt.Errorf("read manifests of %s: %w", img.Digest, err)
	}
	digests := make([]string, len(img.Manifests))
	for i, m := range img.Manifests {
		digests[i] = m.Digest
	}
	ids, err := s.ensureImages(ctx, digests)
	if err != nil {
		return false, err
	}
	want := make([]ImageManifest, len(img.Manifests))
	for i, m := range img.Manifests {
		want[i] = ImageManifest{ListID: listID, Position: i, ChildID: ids[m.Digest], MediaType: m.MediaType,
			ManifestSize: m.ManifestSize, OS: m.OS, Architecture: m.Architecture, Variant: m.Variant}
	}
	if len(have) == len(want) {
		same := true
		for i := range have {
			h := have[i]
			h.List, h.Child = nil, nil
			if h != want[i] {
				same = false
				break
			}
		}
		if same {
			return false, nil
		}
	}
	if err := db.Where("list_id = ?", listID).Delete(&ImageManifest{}).Error; err != nil {
		return false, fmt.Errorf("replace manifests of %s: %w", img.Digest, err)
	}
	if len(want) > 0 {
		if err := db.Create(&want).Error; err != nil {
			return false, fmt.Errorf("link manifests of %s: %w", img.Digest, err)
		}
	}
	return true, nil
}

// ensureImages returns the IDs of the images by digest, creating
// placeholders (Known=false) for digests not seen before.
func (s *Store) ensureImages(ctx context.Context, digests []string) (map[string]int64, error) {
	db := s.conn(ctx)
	ids := map[string]int64{}
	var uniq []string
	for _, d := range digests {
		if d == "" {
			continue
		}
		if _, ok := ids[d]; !ok {
			ids[d] = 0
			uniq = append(uniq, d)
		}
	}
	if len(uniq) == 0 {
		return ids, nil
	}
	rows := make([]Image, len(uniq))
	now := s.now()
	for i, d := range uniq {
		if err := ValidateDigest(d); err != nil {
			return nil, err
		}
		rows[i] = Image{Digest: d, CreatedAt: now}
	}
	err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "digest"}}, DoNothing: true}).
		CreateInBatches(&rows, 500).Error
	if err != nil {
		return nil, fmt.Errorf("record images: %w", err)
	}
	for i := 0; i < len(uniq); i += 500 {
		j := min(i+500, len(uniq))
		var part []Image
		if err := db.Select("id, digest").Where("digest IN ?", uniq[i:j]).Find(&part).Error; err != nil {
			return nil, fmt.Errorf("look up images: %w", err)
		}
		for _, im := range part {
			ids[im.Digest] = im.ID
		}
	}
	return ids, nil
}

// ImageInfo is an image with what the store knows and computes about it.
type ImageInfo struct {
	ImageSnapshot
	Known bool
	// Bytes is the image size counted once: config plus each distinct layer,
	// for a manifest list the union over its children.
	Bytes int64
}

// GetImage returns an image by digest.
func (s *Store) GetImage(ctx context.Context, digest string) (ImageInfo, error) {
	db := s.conn(ctx)
	var row Image
	if err := db.Where("digest = ?", digest).Take(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ImageInfo{}, notFoundf("image %s not found", digest)
		}
		return ImageInfo{}, fmt.Errorf("look up image %s: %w", digest, err)
	}
	info := ImageInfo{Known: row.Known, ImageSnapshot: ImageSnapshot{
		Digest: row.Digest, MediaType: row.MediaType, DockerImageReference: row.DockerImageReference,
		ConfigDigest: row.ConfigDigest,
		Meta: ImageMeta{Created: row.ImageCreated, Architecture: row.Architecture, OS: row.OS, Variant: row.Variant,
			Author: row.Author, Entrypoint: jsonList(row.Entrypoint), Cmd: jsonList(row.Cmd), Env: jsonList(row.Env),
			Labels: jsonMap(row.Labels), Ports: jsonList(row.Ports), User: row.User, WorkingDir: row.WorkingDir},
	}}
	var links []blobLink
	err := db.Table("image_blobs").
		Select("image_blobs.position, blobs.digest, blobs.size, blobs.media_type AS media").
		Joins("JOIN blobs ON blobs.id = image_blobs.blob_id").
		Where("image_blobs.image_id = ?", row.ID).Order("image_blobs.position").Scan(&links).Error
	if err != nil {
		return ImageInfo{}, fmt.Errorf("read blobs of image %s: %w", digest, err)
	}
	for _, l := range links {
		ref := BlobRef{Digest: l.Digest, Size: l.Size, MediaType: l.Media}
		if l.Position == ConfigPosition {
			info.Config = &ref
		} else {
			info.Layers = append(info.Layers, ref)
		}
	}
	var mans []struct {
		ImageManifest
		Digest string
	}
	err = db.Table("image_manifests").Select("image_manifests.*, images.digest").
		Joins("JOIN images ON images.id = image_manifests.child_id").
		Where("image_manifests.list_id = ?", row.ID).Order("image_manifests.position").Scan(&mans).Error
	if err != nil {
		return ImageInfo{}, fmt.Errorf("read manifests of image %s: %w", digest, err)
	}
	for _, m := range mans {
		info.Manifests = append(info.Manifests, ManifestRef{Digest: m.Digest, MediaType: m.MediaType,
			ManifestSize: m.ManifestSize, OS: m.OS, Architecture: m.Architecture, Variant: m.Variant})
	}
	// Size counted once over the image and its children, in one query.
	err = db.Raw(`SELECT COALESCE(SUM(size), 0) FROM blobs WHERE id IN (
		SELECT blob_id FROM image_blobs WHERE image_id = ?
		UNION SELECT ib.blob_id FROM image_manifests m JOIN image_blobs ib ON ib.image_id = m.child_id WHERE m.list_id = ?)`,
		row.ID, row.ID).Scan(&info.Bytes).Error
	if err != nil {
		return ImageInfo{}, fmt.Errorf("size of image %s: %w", digest, err)
	}
	return info, nil
}
