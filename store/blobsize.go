package store

import (
	"context"
	"fmt"

	"gorm.io/gorm/clause"

	"layerwise/format"
)

// A digest names one content, so a blob has one size. Manifests only claim
// sizes, and the first claim is not always right: an editor can import from
// a registry they control a manifest that names somebody else's layer with
// another size. So the store records where each size came from and lets a
// later manifest change it only when it comes from a better source; any
// other disagreement is refused, whole, with both sizes named.

// SizeSource says where the store learnt a blob's size. A higher source
// outranks a lower one.
type SizeSource int8

const (
	// SizeDerived: worked out, not given: a config blob's size from an
	// Image object's dockerImageMetadata.Size (config plus distinct
	// layers) when no manifest gave it. It never overrides a known size
	// and yields to any other source.
	SizeDerived SizeSource = -1
	// SizeClaimed: an Image object in a file (`import openshift`) or from an
	// OpenShift API; nobody here read a registry for it.
	SizeClaimed SizeSource = 0
	// SizeImported: a manifest read from a registry by an import
	// (import-image, the API's imagestreamimports, the scheduled import).
	SizeImported SizeSource = 1
	// SizeManaged: a manifest read from the managed registry (a push
	// notification or the registry sync), which stores the blobs that the
	// usage figures count.
	SizeManaged SizeSource = 2
)

func (s SizeSource) String() string {
	switch s {
	case SizeDerived:
		return "derived from dockerImageMetadata.Size"
	case SizeClaimed:
		return "claimed by an Image object no registry read confirmed"
	case SizeImported:
		return "read from a registry by an import"
	case SizeManaged:
		return "read from the managed registry"
	}
	return fmt.Sprintf("size source %d", int8(s))
}

// DefaultMaxBlobSize bounds one blob (LAYERWISE_MAX_BLOB_SIZE): no layer
// comes near a tebibyte, and with this bound 8 million blobs still sum
// without passing 2^63−1.
const DefaultMaxBlobSize int64 = 1 << 40

// SetMaxBlobSize sets the largest blob size the store accepts; n ≤ 0 means
// DefaultMaxBlobSize.
func (s *Store) SetMaxBlobSize(n int64) {
	if n <= 0 {
		n = DefaultMaxBlobSize
	}
	s.maxBlob = n
}

// MaxBlobSize is the largest blob size the store accepts.
func (s *Store) MaxBlobSize() int64 {
	if s.maxBlob <= 0 {
		return DefaultMaxBlobSize
	}
	return s.maxBlob
}

// validate checks a blob as a manifest lists it: what names the blob in
// messages ("layer 3"), its digest and a size within 0..max.
func (b BlobRef) validate(what string, max int64) error {
	if err := ValidateDigest(b.Digest); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if b.Size < 0 || b.Size > max {
		return invalidf("%s %s has size %d bytes; a blob must be 0 to %d bytes (%s, LAYERWISE_MAX_BLOB_SIZE)",
			what, b.Digest, b.Size, max, format.Size(max))
	}
	return nil
}

// SizeConflictError is a manifest that gives a blob another size than the
// one the store already holds from an equal or better source. It is
// ErrInvalid: the write is refused.
type SizeConflictError struct {
	Digest    string
	Known     int64
	KnownFrom SizeSource
	Claimed   int64
	ClaimFrom SizeSource
}

func (e *SizeConflictError) Error() string {
	return fmt.Sprintf("blob %s is %d bytes (%s); this manifest says %d bytes. A digest names one content, so it has one size: the manifest is refused",
		e.Digest, e.Known, e.KnownFrom, e.Claimed)
}

// Is makes the conflict a refused request.
func (e *SizeConflictError) Is(target error) bool { return target == ErrInvalid }

// ensureBlobs finds or creates the blobs by digest and returns their IDs.
// A new blob is recorded with its size from src. A known blob keeps its
// size unless src outranks the source of that size, which src then
// replaces; a different size from an equal or lower source is a
// *SizeConflictError. A media type fills in an empty one, or follows a
// source at least as good. Callers run inside Tx: the writer lock makes
// the read-then-write safe.
func (s *Store) ensureBlobs(ctx context.Context, links []blobLink, src SizeSource) (map[string]int64, error) {
	db := s.conn(ctx)
	byDigest := map[string]blobLink{}
	var digests []string
	for _, l := range links {
		if have, ok := byDigest[l.Digest]; ok {
			if have.Size != l.Size {
				return nil, invalidf("blob %s is listed twice, as %d and as %d bytes; a digest has one size", l.Digest, have.Size, l.Size)
			}
			if l.Media == "" {
				continue
			}
		} else {
			digests = append(digests, l.Digest)
		}
		byDigest[l.Digest] = l
	}
	ids := map[string]int64{}
	if len(digests) == 0 {
		return ids, nil
	}
	have := map[string]Blob{}
	for i := 0; i < len(digests); i += 500 {
		var part []Blob
		if err := db.Select("id, digest, size, size_source, media_type").Where("digest IN ?", digests[i:min(i+500, len(digests))]).Find(&part).Error; err != nil {
			return nil, fmt.Errorf("look up blobs: %w", err)
		}
		for _, b := range part {
			have[b.Digest] = b
		}
	}
	var rows []Blob
	for _, d := range digests {
		l := byDigest[d]
		src := src
		if l.Derived {
			src = SizeDerived
		}
		b, ok := have[d]
		if !ok {
			rows = append(rows, Blob{Digest: d, Size: l.Size, SizeSource: src, MediaType: l.Media})
			continue
		}
		ids[d] = b.ID
		set := map[string]any{}
		switch {
		case l.Derived && b.Size != l.Size:
			// A derived figure is a guess: a known size stands.
		case b.Size != l.Size && src <= b.SizeSource:
			return nil, &SizeConflictError{Digest: d, Known: b.Size, KnownFrom: b.SizeSource, Claimed: l.Size, ClaimFrom: src}
		case b.Size != l.Size:
			set["size"] = l.Size
			set["size_source"] = src
		case src > b.SizeSource:
			set["size_source"] = src // confirmed by a better source
		}
		if l.Media != "" && l.Media != b.MediaType && (b.MediaType == "" || src >= b.SizeSource) {
			set["media_type"] = l.Media
		}
		if len(set) > 0 {
			if err := db.Model(&Blob{}).Where("id = ?", b.ID).Updates(set).Error; err != nil {
				return nil, fmt.Errorf("update blob %s: %w", d, err)
			}
		}
	}
	if len(rows) == 0 {
		return ids, nil
	}
	// DoNothing guards the unique digest; under the writer lock no other
	// transaction inserts between the read above and this statement.
	if err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "digest"}}, DoNothing: true}).
		CreateInBatches(&rows, 500).Error; err != nil {
		return nil, fmt.Errorf("record blobs: %w", err)
	}
	var fresh []string
	for _, r := range rows {
		fresh = append(fresh, r.Digest)
	}
	for i := 0; i < len(fresh); i += 500 {
		var part []Blob
		if err := db.Select("id, digest").Where("digest IN ?", fresh[i:min(i+500, len(fresh))]).Find(&part).Error; err != nil {
			return nil, fmt.Errorf("look up blobs: %w", err)
		}
		for _, b := range part {
			ids[b.Digest] = b.ID
		}
	}
	return ids, nil
}
