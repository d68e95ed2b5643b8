package store

import (
	"context"
	"fmt"

	"layerwise/bytesum"
)

// StreamSizes are one stream's sizes, each counted once in its own scope.
type StreamSizes struct {
	Bytes        int64            // the stream: distinct blobs of every entry
	Tags         map[string]int64 // per tag: distinct blobs of its history
	Images       map[string]int64 // per image digest: config + distinct layers (+ children)
	UniqueImages int
	Unknown      map[string]bool // digests whose layers were never imported
}

// StreamSizes computes a stream's sizes with three queries bounded by the
// stream, so a page or `describe` never needs the whole registry.
func (s *Store) StreamSizes(ctx context.Context, ref StreamRef) (StreamSizes, error) {
	out := StreamSizes{Tags: map[string]int64{}, Images: map[string]int64{}, Unknown: map[string]bool{}}
	st, err := s.findStream(ctx, ref)
	if err != nil {
		return out, err
	}
	db := s.conn(ctx)
	var pairs []struct {
		Name    string
		ImageID int64
		Digest  string
		Known   bool
	}
	err = db.Table("tag_events e").Select("DISTINCT t.name, e.image_id, i.digest, i.known").
		Joins("JOIN tags t ON t.id = e.tag_id").Joins("JOIN images i ON i.id = e.image_id").
		Where("t.stream_id = ?", st.ID).Scan(&pairs).Error
	if err != nil {
		return out, fmt.Errorf("sizes of %s: %w", ref, err)
	}
	var ids []int64
	seen := map[int64]string{}
	for _, p := range pairs {
		if !p.Known {
			out.Unknown[p.Digest] = true
		}
		if _, ok := seen[p.ImageID]; !ok {
			seen[p.ImageID] = p.Digest
			ids = append(ids, p.ImageID)
		}
	}
	out.UniqueImages = len(ids)
	blobsOf, sizes, err := s.blobsOf(ctx, ids)
	if err != nil {
		return out, fmt.Errorf("sizes of %s: %w", ref, err)
	}
	// A tag and the stream hold their images' referrers too (signatures,
	// SBOMs); an image's own size does not count them.
	refs, err := s.referrerClosure(ctx, ids)
	if err != nil {
		return out, fmt.Errorf("sizes of %s: %w", ref, err)
	}
	var refIDs []int64
	for _, rs := range refs {
		refIDs = append(refIDs, rs...)
	}
	refBlobs, refSizes, err := s.blobsOf(ctx, dedupe(refIDs))
	if err != nil {
		return out, fmt.Errorf("sizes of %s: %w", ref, err)
	}
	for b, n := range refSizes {
		sizes[b] = n
	}
	sumWith := func(imgs []int64, withRefs bool) int64 {
		set := map[int64]bool{}
		var total int64
		add := func(bs []int64) {
			for _, b := range bs {
				if !set[b] {
					set[b] = true
					total = bytesum.Add(total, sizes[b])
				}
			}
		}
		for _, img := range imgs {
			add(blobsOf[img])
			if withRefs {
				for _, r := range refs[img] {
					add(refBlobs[r])
				}
			}
		}
		return total
	}
	sum := func(imgs []int64) int64 { return sumWith(imgs, true) }
	byTag := map[string][]int64{}
	for _, p := range pairs {
		byTag[p.Name] = append(byTag[p.Name], p.ImageID)
	}
	for name, imgs := range byTag {
		out.Tags[name] = sum(imgs)
	}
	for id, digest := range seen {
		out.Images[digest] = sumWith([]int64{id}, false)
	}
	out.Bytes = sum(ids)
	return out, nil
}

// blobsOf returns the blob IDs of each image, children of manifest lists
// included, and the size of every blob involved.
func (s *Store) blobsOf(ctx context.Context, ids []int64) (map[int64][]int64, map[int64]int64, error) {
	blobs := map[int64][]int64{}
	sizes := map[int64]int64{}
	if len(ids) == 0 {
		return blobs, sizes, nil
	}
	db := s.conn(ctx)
	// In chunks: a long history holds more images than SQLite binds in
	// one statement.
	var kids []struct{ ListID, ChildID int64 }
	err := chunks(ids, 500, func(part []int64) error {
		var rows []struct{ ListID, ChildID int64 }
		err := db.Table("image_manifests").Select("list_id, child_id").Where("list_id IN ?", part).Scan(&rows).Error
		kids = append(kids, rows...)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	owner := map[int64][]int64{} // image whose blobs count for these images
	all := append([]int64(nil), ids...)
	for _, id := range ids {
		owner[id] = append(owner[id], id)
	}
	for _, k := range kids {
		owner[k.ChildID] = append(owner[k.ChildID], k.ListID)
		all = append(all, k.ChildID)
	}
	var links []struct{ ImageID, BlobID, Size int64 }
	err = chunks(all, 500, func(part []int64) error {
		var rows []struct{ ImageID, BlobID, Size int64 }
		err := db.Table("image_blobs ib").Select("ib.image_id, ib.blob_id, b.size").
			Joins("JOIN blobs b ON b.id = ib.blob_id").Where("ib.image_id IN ?", part).Scan(&rows).Error
		links = append(links, rows...)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	for _, l := range links {
		sizes[l.BlobID] = l.Size
		for _, o := range owner[l.ImageID] {
			blobs[o] = append(blobs[o], l.BlobID)
		}
	}
	return blobs, sizes, nil
}

// BlobSize is a blob's size in bytes, as its manifest gave it.
func (s *Store) BlobSize(ctx context.Context, digest string) (int64, error) {
	var sizes []int64
	if err := s.conn(ctx).Model(&Blob{}).Where("digest = ?", digest).Pluck("size", &sizes).Error; err != nil {
		return 0, fmt.Errorf("size of blob %s: %w", digest, err)
	}
	if len(sizes) == 0 {
		return 0, notFoundf("blob %s not found", digest)
	}
	return sizes[0], nil
}

// referrerClosure maps each of ids to its referrers, theirs, and those of
// its manifest-list children (bounded depth, as graph.forBlobs).
func (s *Store) referrerClosure(ctx context.Context, ids []int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	db := s.conn(ctx)
	root := map[int64][]int64{} // image → the ids it counts for
	var next []int64
	for _, id := range ids {
		root[id] = append(root[id], id)
		next = append(next, id)
	}
	var kids []struct{ ListID, ChildID int64 }
	err := chunks(ids, chunk, func(part []int64) error {
		var rows []struct{ ListID, ChildID int64 }
		err := db.Table("image_manifests").Select("list_id, child_id").Where("list_id IN ?", part).Scan(&rows).Error
		kids = append(kids, rows...)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, k := range kids {
		root[k.ChildID] = append(root[k.ChildID], root[k.ListID]...)
		next = append(next, k.ChildID)
	}
	for depth := 0; depth < maxReferrerDepth && len(next) > 0; depth++ {
		var links []struct{ SubjectID, ReferrerID int64 }
		err := chunks(dedupe(next), chunk, func(part []int64) error {
			var rows []struct{ SubjectID, ReferrerID int64 }
			err := db.Table("image_referrers").Distinct("subject_id", "referrer_id").Where("subject_id IN ?", part).Scan(&rows).Error
			links = append(links, rows...)
			return err
		})
		if err != nil {
			return nil, err
		}
		next = nil
		for _, l := range links {
			for _, r := range dedupe(root[l.SubjectID]) {
				out[r] = append(out[r], l.ReferrerID)
				root[l.ReferrerID] = append(root[l.ReferrerID], r)
			}
			next = append(next, l.ReferrerID)
		}
	}
	return out, nil
}
