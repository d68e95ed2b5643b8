package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"layerwise/store"
)

// BenchmarkRecordPush is the write path of a registry push with the usage
// accounting (settled in the push's transaction) and, for comparison, with
// the accounting suspended: each push records a new image of 6 shared base
// layers (blobs the dataset's namespaces already hold) and 2 fresh layers
// plus a config, as the current image of one of 50 tags of a stream of an
// existing namespace; "accounting-envelope50" records 50 pushes per
// transaction, as the webhook does with an envelope of pushes. Run it
// with a fixed count (-benchtime 500x): the
// suspended case rebuilds the tables afterwards (untimed).
func BenchmarkRecordPush(b *testing.B) {
	for _, mode := range []string{"accounting", "accounting-envelope50", "suspended"} {
		b.Run(mode, func(b *testing.B) {
			s := benchDB(b)
			ctx := context.Background()
			var ns string
			if err := s.DB().Raw(`SELECT name FROM namespaces ORDER BY id LIMIT 1`).Scan(&ns).Error; err != nil {
				b.Fatal(err)
			}
			var base []store.Blob
			if err := s.DB().Raw(`SELECT b.* FROM blobs b WHERE b.id IN (SELECT blob_id FROM usage_blobs WHERE namespaces > 1 LIMIT 6)`).Scan(&base).Error; err != nil || len(base) == 0 {
				b.Fatalf("base layers: %v (%d)", err, len(base))
			}
			if mode == "suspended" {
				if err := s.DB().Exec(store.SuspendUsageSQL).Error; err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					if err := s.BuildUsage(ctx, nil); err != nil {
						b.Error(err)
					}
				})
			}
			stamp := time.Now().UnixNano()
			digest := func(parts ...any) string {
				h := sha256.Sum256(fmt.Append(nil, parts...))
				return "sha256:" + hex.EncodeToString(h[:])
			}
			var batch []store.Push
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				img := store.ImageSnapshot{Digest: digest("image", stamp, mode, i),
					MediaType: "application/vnd.oci.image.manifest.v1+json",
					Config:    &store.BlobRef{Digest: digest("config", stamp, mode, i), Size: 1500}}
				for _, bl := range base {
					img.Layers = append(img.Layers, store.BlobRef{Digest: bl.Digest, Size: bl.Size})
				}
				for j := 0; j < 2; j++ {
					img.Layers = append(img.Layers, store.BlobRef{Digest: digest("layer", stamp, mode, i, j), Size: int64(1<<20 + i + j)})
				}
				tag := store.TagRef{Namespace: ns, Stream: "bench-push-" + mode, Tag: fmt.Sprintf("t%d", i%50)}
				push := store.Push{Tag: tag, Images: []store.ImageSnapshot{img}, PullSpec: "registry.example/" + ns + "/bench@" + img.Digest}
				if mode == "accounting-envelope50" {
					// A webhook envelope's pushes land in one transaction
					// (registry.Managed.ApplyPushes): settled once per 50.
					batch = append(batch, push)
					if len(batch) < 50 && i < b.N-1 {
						continue
					}
				} else {
					batch = append(batch[:0], push)
				}
				err := s.Tx(ctx, func(tx *store.Store) error {
					for _, p := range batch {
						if _, err := tx.RecordPush(ctx, p); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		})
	}
}
