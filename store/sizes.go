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

// StreamSizes reads a stream's sizes: the stream's and its tags'
// counted-once bytes from what every write keeps (accounting*.go), and the
// own size of each image of its history, or of the images named (a page
// shows a window of the history). (It summed the blobs of every image of
// the history with their referrers, a third of the stream page's time
// while pushes arrived.)
func (s *Store) StreamSizes(ctx context.Context, ref StreamRef, images ...string) (StreamSizes, error) {
	out := StreamSizes{Tags: map[string]int64{}, Images: map[string]int64{}, Unknown: map[string]bool{}}
	var missing error
	err := s.Snapshot(ctx, func(s *Store) error {
		st, err := s.findStream(ctx, ref)
		if err != nil {
			missing = err
			return err
		}
		db := s.conn(ctx)
		var held []struct {
			ID     int64
			Digest string
			Known  bool
		}
		err = db.Raw(`SELECT i.id, i.digest, i.known FROM images i
			WHERE i.id IN (SELECT e.image_id FROM tag_events e JOIN tags t ON t.id = e.tag_id WHERE t.stream_id = ?)`, st.ID).
			Scan(&held).Error
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, d := range images {
			want[d] = true
		}
		var ids []int64
		digest := map[int64]string{}
		for _, img := range held {
			if !img.Known {
				out.Unknown[img.Digest] = true
			}
			if len(images) == 0 || want[img.Digest] {
				ids = append(ids, img.ID)
				digest[img.ID] = img.Digest
			}
		}
		out.UniqueImages = len(held)
		// An image's own size: config and distinct layers, its children's
		// for a manifest list, not its referrers (a revision's size in the
		// usage figures counts those).
		blobs, sizes, err := s.blobsOf(ctx, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			seen := map[int64]bool{}
			var total int64
			for _, b := range blobs[id] {
				if !seen[b] {
					seen[b] = true
					total = bytesum.Add(total, sizes[b])
				}
			}
			out.Images[digest[id]] = total
		}
		// Tags whose history names an image (one of pull specs only has
		// no size to show).
		var tags []struct {
			Name  string
			Bytes int64
		}
		err = db.Raw(`SELECT t.name, COALESCE(u.bytes, 0) AS bytes
			FROM tags t LEFT JOIN usage_scopes u ON u.level = ? AND u.scope_id = t.id
			WHERE t.stream_id = ? AND EXISTS (SELECT 1 FROM tag_events e WHERE e.tag_id = t.id AND e.image_id IS NOT NULL)`,
			levelTag, st.ID).Scan(&tags).Error
		if err != nil {
			return err
		}
		for _, t := range tags {
			out.Tags[t.Name] = t.Bytes
		}
		var bytes []int64
		if err := db.Raw(`SELECT bytes FROM usage_scopes WHERE level = ? AND scope_id = ?`, levelStream, st.ID).Scan(&bytes).Error; err != nil {
			return err
		}
		if len(bytes) > 0 {
			out.Bytes = bytes[0]
		}
		return nil
	})
	if missing != nil {
		return StreamSizes{}, missing
	}
	if err != nil {
		return StreamSizes{}, fmt.Errorf("sizes of %s: %w", ref, err)
	}
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
