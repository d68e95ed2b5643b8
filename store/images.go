package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"layerwise/bytesum"
)

// PutImage records an image with its blobs, or fills in a placeholder that
// only knew the digest. Putting the same image again changes nothing. Its
// blob sizes are claims (SizeClaimed): an Image object of a file or an
// OpenShift API.
func (s *Store) PutImage(ctx context.Context, img ImageSnapshot) (bool, error) {
	return s.PutImageFrom(ctx, img, SizeClaimed)
}

// PutImageFrom is PutImage for an image whose blob sizes come from src
// (see SizeSource).
func (s *Store) PutImageFrom(ctx context.Context, img ImageSnapshot, src SizeSource) (bool, error) {
	if err := s.validateImage(img); err != nil {
		return false, err
	}
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		changed, err = tx.putImage(ctx, img, src)
		return err
	})
	return changed, err
}

// validateImage checks an image before anything of it is written: digests,
// blob sizes within the store's bound, and one size per blob digest.
func (s *Store) validateImage(img ImageSnapshot) error {
	if err := ValidateDigest(img.Digest); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	max := s.MaxBlobSize()
	sizes := map[string]int64{}
	check := func(what string, b BlobRef) error {
		if err := b.validate(what, max); err != nil {
			return fmt.Errorf("image %s: %w", img.Digest, err)
		}
		if n, ok := sizes[b.Digest]; ok && n != b.Size {
			return invalidf("image %s lists blob %s twice, as %d and as %d bytes; a digest has one size", img.Digest, b.Digest, n, b.Size)
		}
		sizes[b.Digest] = b.Size
		return nil
	}
	for i, l := range img.Layers {
		if err := check(fmt.Sprintf("layer %d", i), l); err != nil {
			return err
		}
	}
	if img.Config != nil {
		if err := check("config", *img.Config); err != nil {
			return err
		}
	}
	for i, m := range img.Manifests {
		if err := ValidateDigest(m.Digest); err != nil {
			return fmt.Errorf("image %s: manifest %d: %w", img.Digest, i, err)
		}
		if m.Digest == img.Digest {
			return invalidf("manifest list %s lists itself", img.Digest)
		}
		if m.ManifestSize < 0 || m.ManifestSize > max {
			return invalidf("manifest list %s: manifest %d has size %d bytes; it must be 0 to %d bytes", img.Digest, i, m.ManifestSize, max)
		}
	}
	return img.validateText()
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

func (s *Store) putImage(ctx context.Context, img ImageSnapshot, src SizeSource) (bool, error) {
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
	c, err := s.putImageBlobs(ctx, want.ID, img, src)
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

func (s *Store) putImageBlobs(ctx context.Context, imageID int64, img ImageSnapshot, src SizeSource) (bool, error) {
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
	same := equalLinks(have, want)
	if same && src == SizeClaimed {
		return false, nil
	}
	// A registry read of an unchanged image still confirms its sizes.
	ids, err := s.ensureBlobs(ctx, want, src)
	if err != nil {
		return false, fmt.Errorf("image %s: %w", img.Digest, err)
	}
	if same {
		return false, nil
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
	// Size counted once over the image and its children, in one query;
	// summed here, where the sum cannot overflow (bytesum).
	var sizes []int64
	err = db.Raw(`SELECT size FROM blobs WHERE id IN (
		SELECT blob_id FROM image_blobs WHERE image_id = ?
		UNION SELECT ib.blob_id FROM image_manifests m JOIN image_blobs ib ON ib.image_id = m.child_id WHERE m.list_id = ?)`,
		row.ID, row.ID).Scan(&sizes).Error
	if err != nil {
		return ImageInfo{}, fmt.Errorf("size of image %s: %w", digest, err)
	}
	info.Bytes = bytesum.Sum(sizes...)
	return info, nil
}
