package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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
		c := *img.Config
		if n, ok := sizes[c.Digest]; ok && c.Derived {
			c.Size = n // a derived size yields to the one the image lists
		}
		if err := check("config", c); err != nil {
			return err
		}
	}
	if m := img.Manifest; m != nil {
		if m.Digest != "" && m.Digest != img.Digest {
			return invalidf("image %s: its manifest blob must have the image's digest, not %s", img.Digest, m.Digest)
		}
		if err := (BlobRef{Digest: img.Digest, Size: m.Size}).validate("manifest", max); err != nil {
			return fmt.Errorf("image %s: %w", img.Digest, err)
		}
	}
	if img.Subject != "" {
		if err := ValidateDigest(img.Subject); err != nil {
			return fmt.Errorf("image %s: subject: %w", img.Digest, err)
		}
	}
	if len(img.ArtifactType) > 255 {
		return invalidf("image %s: its artifactType is longer than 255 characters", img.Digest)
	}
	if img.RawManifest != "" && !digestMatches(img.Digest, img.RawManifest) {
		return invalidf("image %s: the manifest bytes given do not hash to the image's digest", img.Digest)
	}
	for _, f := range []struct{ name, v string }{{"signatures", img.Signatures}, {"dockerImageMetadata", img.DockerImageMetadata}} {
		if f.v != "" && !json.Valid([]byte(f.v)) {
			return invalidf("image %s: %s is not valid JSON", img.Digest, f.name)
		}
	}
	if err := validMap("image "+img.Digest+": labels", img.Labels); err != nil {
		return err
	}
	if err := validMap("image "+img.Digest+": annotations", img.Annotations); err != nil {
		return err
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
		Digest:                     img.Digest,
		MediaType:                  img.MediaType,
		ManifestList:               len(img.Manifests) > 0,
		DockerImageReference:       img.DockerImageReference,
		Known:                      true,
		ImageCreated:               utcPtr(m.Created),
		Architecture:               m.Architecture,
		OS:                         m.OS,
		Variant:                    m.Variant,
		Author:                     m.Author,
		Entrypoint:                 listJSON(m.Entrypoint),
		Cmd:                        listJSON(m.Cmd),
		Env:                        listJSON(m.Env),
		Labels:                     mapJSON(m.Labels),
		Ports:                      listJSON(m.Ports),
		User:                       m.User,
		WorkingDir:                 m.WorkingDir,
		ConfigDigest:               img.ConfigDigest,
		ObjectLabels:               mapJSON(img.Labels),
		ObjectAnnotations:          mapJSON(img.Annotations),
		Signatures:                 img.Signatures,
		DockerImageMetadata:        img.DockerImageMetadata,
		DockerImageMetadataVersion: img.DockerImageMetadataVersion,
		RawManifest:                img.RawManifest,
	}
	if row.ConfigDigest == "" && img.Config != nil {
		row.ConfigDigest = img.Config.Digest
	}
	return row
}

// keepKnown fills what a snapshot leaves empty from what the store holds:
// an image is immutable by digest, and a later source that says less (a
// registry read has no annotations, a dump no manifest bytes) must not
// erase what an earlier one said.
func keepKnown(want *Image, have Image) {
	for _, f := range []struct {
		w *string
		h string
	}{
		{&want.MediaType, have.MediaType}, {&want.ConfigDigest, have.ConfigDigest},
		{&want.ObjectLabels, have.ObjectLabels}, {&want.ObjectAnnotations, have.ObjectAnnotations},
		{&want.Signatures, have.Signatures}, {&want.DockerImageMetadata, have.DockerImageMetadata},
		{&want.DockerImageMetadataVersion, have.DockerImageMetadataVersion}, {&want.RawManifest, have.RawManifest},
	} {
		if *f.w == "" {
			*f.w = f.h
		}
	}
	want.ManifestList = want.ManifestList || have.ManifestList
}

func sameImageRow(a, b Image) bool {
	a.ID, b.ID = 0, 0
	if !a.CreatedAt.Equal(b.CreatedAt) || !sameTimePtr(a.ImageCreated, b.ImageCreated) {
		return false
	}
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	a.ImageCreated, b.ImageCreated = nil, nil
	return a == b
}

// bare tells an image known only by digest (and maybe a pull spec), as a
// mapping or a history entry names it: it says nothing about the image.
// An Image object without layers is not bare: its time, annotations and
// metadata are facts.
func bare(img ImageSnapshot) bool {
	return len(img.Layers) == 0 && len(img.Manifests) == 0 && img.Config == nil && img.ConfigDigest == "" &&
		img.Manifest == nil && img.Created.IsZero() && len(img.Labels) == 0 && len(img.Annotations) == 0 &&
		img.Signatures == "" && img.DockerImageMetadata == "" && img.RawManifest == ""
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
	// The image's age is the object's creationTimestamp when it has one
	// (as oc adm prune images reads it), else when it was first recorded.
	created := utc(img.Created)
	changed := false
	if !exists {
		want.CreatedAt = created
		if created.IsZero() {
			want.CreatedAt = s.now()
		}
		if err := db.Create(&want).Error; err != nil {
			return false, fmt.Errorf("create image %s: %w", img.Digest, err)
		}
		changed = true
	} else {
		keepKnown(&want, have)
		want.ID, want.CreatedAt = have.ID, have.CreatedAt
		if !created.IsZero() {
			want.CreatedAt = created
		}
		if !sameImageRow(want, have) {
			if err := db.Select("*").Updates(&want).Error; err != nil {
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
	Derived  bool
	BlobID   int64 // of links read from the store
}

// givenLinks are the blobs a snapshot names: manifest, config, layers.
func givenLinks(img ImageSnapshot) []blobLink {
	var out []blobLink
	if m := img.Manifest; m != nil {
		out = append(out, blobLink{Position: ManifestPosition, Digest: img.Digest, Size: m.Size, Media: m.MediaType})
	}
	if c := img.Config; c != nil {
		out = append(out, blobLink{Position: ConfigPosition, Digest: c.Digest, Size: c.Size, Media: c.MediaType, Derived: c.Derived})
	}
	for i, l := range img.Layers {
		out = append(out, blobLink{Position: i, Digest: l.Digest, Size: l.Size, Media: l.MediaType})
	}
	return out
}

func (s *Store) putImageBlobs(ctx context.Context, imageID int64, img ImageSnapshot, src SizeSource) (bool, error) {
	db := s.conn(ctx)
	given := givenLinks(img)
	if len(given) == 0 {
		return false, nil // says nothing about blobs: keep what is known
	}
	var have []blobLink
	err := db.Table("image_blobs").
		Select("image_blobs.position, blobs.digest, blobs.size, blobs.media_type AS media, image_blobs.blob_id").
		Joins("JOIN blobs ON blobs.id = image_blobs.blob_id").
		Where("image_blobs.image_id = ?", imageID).Order("image_blobs.position").
		Scan(&have).Error
	if err != nil {
		return false, fmt.Errorf("read blobs of image %s: %w", img.Digest, err)
	}
	// A config or manifest the snapshot does not give stays linked.
	var kept []blobLink
	for _, h := range have {
		switch {
		case h.Position == ConfigPosition && img.Config == nil && (img.ConfigDigest == "" || img.ConfigDigest == h.Digest),
			h.Position == ManifestPosition && img.Manifest == nil:
			kept = append(kept, h)
		}
	}
	want := append(append([]blobLink(nil), kept...), given...)
	sort.SliceStable(want, func(i, j int) bool { return want[i].Position < want[j].Position })
	same := equalLinks(have, want)
	if same && src == SizeClaimed {
		return false, nil
	}
	// A registry read of an unchanged image still confirms its sizes.
	ids, err := s.ensureBlobs(ctx, given, src)
	if err != nil {
		return false, fmt.Errorf("image %s: %w", img.Digest, err)
	}
	if same {
		return false, nil
	}
	for _, k := range kept {
		if _, ok := ids[k.Digest]; !ok {
			ids[k.Digest] = k.BlobID
		}
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
		// A derived size yields to the known one: it is no difference.
		if a[i].Position != b[i].Position || a[i].Digest != b[i].Digest || (a[i].Size != b[i].Size && !b[i].Derived) {
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
	if len(img.Manifests) == 0 {
		return false, nil // says nothing about platforms: keep what is known
	}
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
	// Bytes is the image size counted once: config plus each distinct layer
	// (and its manifest where the registry stores it), for a manifest list
	// the union over its children.
	Bytes int64
}

// snapshotOf is an image row as a snapshot, without its blobs. An image
// known only by digest has no creation time to give: when it was first
// named is not when the image was made.
func snapshotOf(row Image) ImageSnapshot {
	created := utc(row.CreatedAt)
	if !row.Known {
		created = time.Time{}
	}
	return ImageSnapshot{
		Digest: row.Digest, MediaType: row.MediaType, DockerImageReference: row.DockerImageReference,
		ConfigDigest: row.ConfigDigest, Created: created,
		Meta: ImageMeta{Created: utcPtr(row.ImageCreated), Architecture: row.Architecture, OS: row.OS, Variant: row.Variant,
			Author: row.Author, Entrypoint: jsonList(row.Entrypoint), Cmd: jsonList(row.Cmd), Env: jsonList(row.Env),
			Labels: jsonMap(row.Labels), Ports: jsonList(row.Ports), User: row.User, WorkingDir: row.WorkingDir},
		Labels: jsonMap(row.ObjectLabels), Annotations: jsonMap(row.ObjectAnnotations), Signatures: row.Signatures,
		DockerImageMetadata: row.DockerImageMetadata, DockerImageMetadataVersion: row.DockerImageMetadataVersion,
		RawManifest: row.RawManifest,
	}
}

// fillImages reads the blobs and platforms of the images (by row ID) into
// their snapshots, 500 images per query.
func (s *Store) fillImages(ctx context.Context, ids []int64, snaps map[int64]*ImageSnapshot) error {
	db := s.conn(ctx)
	for i := 0; i < len(ids); i += 500 {
		part := ids[i:min(i+500, len(ids))]
		var links []struct {
			ImageID    int64
			Position   int
			Digest     string
			Size       int64
			Media      string
			SizeSource SizeSource
		}
		err := db.Table("image_blobs").
			Select("image_blobs.image_id, image_blobs.position, blobs.digest, blobs.size, blobs.media_type AS media, blobs.size_source").
			Joins("JOIN blobs ON blobs.id = image_blobs.blob_id").
			Where("image_blobs.image_id IN ?", part).Order("image_blobs.image_id, image_blobs.position").Scan(&links).Error
		if err != nil {
			return fmt.Errorf("read image blobs: %w", err)
		}
		for _, l := range links {
			img := snaps[l.ImageID]
			ref := BlobRef{Digest: l.Digest, Size: l.Size, MediaType: l.Media, Derived: l.SizeSource == SizeDerived}
			switch l.Position {
			case ConfigPosition:
				img.Config = &ref
			case ManifestPosition:
				img.Manifest = &ref
			default:
				img.Layers = append(img.Layers, ref)
			}
		}
		var mans []struct {
			ImageManifest
			Digest string
		}
		err = db.Table("image_manifests").Select("image_manifests.*, images.digest").
			Joins("JOIN images ON images.id = image_manifests.child_id").
			Where("image_manifests.list_id IN ?", part).Order("image_manifests.list_id, image_manifests.position").Scan(&mans).Error
		if err != nil {
			return fmt.Errorf("read manifest lists: %w", err)
		}
		for _, m := range mans {
			img := snaps[m.ListID]
			img.Manifests = append(img.Manifests, ManifestRef{Digest: m.Digest, MediaType: m.MediaType,
				ManifestSize: m.ManifestSize, OS: m.OS, Architecture: m.Architecture, Variant: m.Variant})
		}
	}
	return nil
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
	info := ImageInfo{Known: row.Known, ImageSnapshot: snapshotOf(row)}
	if err := s.fillImages(ctx, []int64{row.ID}, map[int64]*ImageSnapshot{row.ID: &info.ImageSnapshot}); err != nil {
		return ImageInfo{}, fmt.Errorf("image %s: %w", digest, err)
	}
	// Size counted once over the image and its children, in one query;
	// summed here, where the sum cannot overflow (bytesum).
	var sizes []int64
	err := db.Raw(`SELECT size FROM blobs WHERE id IN (
		SELECT blob_id FROM image_blobs WHERE image_id = ?
		UNION SELECT ib.blob_id FROM image_manifests m JOIN image_blobs ib ON ib.image_id = m.child_id WHERE m.list_id = ?)`,
		row.ID, row.ID).Scan(&sizes).Error
	if err != nil {
		return ImageInfo{}, fmt.Errorf("size of image %s: %w", digest, err)
	}
	info.Bytes = bytesum.Sum(sizes...)
	return info, nil
}

// ListImages returns the images whose Image object is known (not those
// only named by digest), ordered by digest: every one, or with a scope
// those its namespaces hold (directly or as platforms of a list).
func (s *Store) ListImages(ctx context.Context, sc *Scope) ([]ImageSnapshot, error) {
	db := s.conn(ctx)
	var rows []Image
	q := db.Where("known = ?", true)
	if sc != nil {
		q = q.Where("id IN ("+heldImagesSQL+")", sc.Namespaces, sc.Namespaces, sc.Namespaces, sc.Namespaces)
	}
	if err := q.Order("digest").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]ImageSnapshot, len(rows))
	ids := make([]int64, len(rows))
	byID := make(map[int64]*ImageSnapshot, len(rows))
	for i, r := range rows {
		out[i] = snapshotOf(r)
		ids[i] = r.ID
		byID[r.ID] = &out[i]
	}
	if err := s.fillImages(ctx, ids, byID); err != nil {
		return nil, err
	}
	if sc != nil {
		if err := s.scopedRefs(ctx, sc, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scopedRefs replaces each image's pull spec by one the scope's own tags
// recorded (for a platform of a list, the list's repository): the one
// stored is the last one recorded anywhere, maybe another namespace's
// repository, which a scoped reader must not learn.
func (s *Store) scopedRefs(ctx context.Context, sc *Scope, imgs []ImageSnapshot) error {
	var rows []struct {
		Digest string
		Ref    string
	}
	err := s.conn(ctx).Raw(`SELECT i.digest, MIN(e.docker_image_reference) AS ref FROM tag_events e
		JOIN images i ON i.id = e.image_id JOIN tags t ON t.id = e.tag_id
		JOIN image_streams st ON st.id = t.stream_id JOIN namespaces n ON n.id = st.namespace_id
		WHERE n.name IN ? AND e.docker_image_reference <> '' GROUP BY i.digest`, sc.Namespaces).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("pull specs of the images: %w", err)
	}
	refs := map[string]string{}
	for _, r := range rows {
		refs[r.Digest] = r.Ref
	}
	for _, img := range imgs {
		repo, _, ok := strings.Cut(refs[img.Digest], "@")
		if !ok {
			continue
		}
		for _, m := range img.Manifests {
			if _, held := refs[m.Digest]; !held {
				refs[m.Digest] = repo + "@" + m.Digest
			}
		}
	}
	for i := range imgs {
		imgs[i].DockerImageReference = refs[imgs[i].Digest]
	}
	return nil
}

// digestMatches says whether data hashes to a sha256 digest (other
// algorithms are taken as given).
func digestMatches(digest, data string) bool {
	algo, want, _ := strings.Cut(digest, ":")
	if algo != "sha256" {
		return true
	}
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:]) == want
}

// GetImageInScope is GetImage for a reader with a scope: an image the
// scope's namespaces do not hold is not found (as a missing one), and its
// pull spec is one the scope's tags recorded.
func (s *Store) GetImageInScope(ctx context.Context, digest string, sc *Scope) (ImageInfo, error) {
	if ok, err := s.ImageInScope(ctx, digest, sc); err != nil || !ok {
		if err == nil {
			err = notFoundf("image %s not found", digest)
		}
		return ImageInfo{}, err
	}
	info, err := s.GetImage(ctx, digest)
	if err != nil || sc == nil {
		return info, err
	}
	one := []ImageSnapshot{info.ImageSnapshot}
	if err := s.scopedRefs(ctx, sc, one); err != nil {
		return ImageInfo{}, err
	}
	info.ImageSnapshot = one[0]
	return info, nil
}
