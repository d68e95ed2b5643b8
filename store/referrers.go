package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"layerwise/bytesum"
)

// Referrers: signatures, SBOMs and attestations attached to an image (their
// subject). A registry learns them two ways: an OCI 1.1 manifest with a
// `subject` field (served by GET /v2/<name>/referrers/<digest>), or cosign's
// tag scheme, a tag named sha256-<hex of the subject>.sig|.att|.sbom. Either
// way the referrer is an image of its own that no tag history holds: it is
// counted with, shown under and pruned with its subject (graph.forBlobs,
// graph.keep).

// ReferrerType is what a referrer is, as a small word.
type ReferrerType string

// The referrer types.
const (
	ReferrerSignature   ReferrerType = "signature"
	ReferrerSBOM        ReferrerType = "sbom"
	ReferrerAttestation ReferrerType = "attestation"
	ReferrerOther       ReferrerType = "other"
)

// How a referrer was learnt.
const (
	ViaSubject   = "subject"    // the manifest's subject field
	ViaTagScheme = "tag-scheme" // a cosign tag sha256-<hex>.sig|.att|.sbom
)

// MaxReferrersPerSubject bounds the referrers recorded for one image: a
// registry (or a dump) may lie, and a page lists them all.
const MaxReferrersPerSubject = 1000

// ErrTooManyReferrers is returned when an image already has
// MaxReferrersPerSubject referrers; it wraps ErrInvalid.
var ErrTooManyReferrers = fmt.Errorf("%w: too many referrers", ErrInvalid)

// ImageReferrer links a referrer image to its subject. SubjectID has no
// foreign key on purpose: when prune deletes the subject first, the row
// still tells which registry repository holds the referrer's manifest
// until the referrer goes too (its deletion removes the row).
type ImageReferrer struct {
	ID         int64  `gorm:"primaryKey"`
	SubjectID  int64  `gorm:"not null;uniqueIndex:ux_image_referrers,priority:1"`
	ReferrerID int64  `gorm:"not null;uniqueIndex:ux_image_referrers,priority:2;index"`
	Repository string `gorm:"not null;default:'';uniqueIndex:ux_image_referrers,priority:3"` // ns/stream in the managed registry; "" elsewhere
	Tag        string `gorm:"not null;default:''"`                                           // the cosign-scheme tag, "" for subject ones
	Type       string `gorm:"not null;default:'other'"`
	// ArtifactType is the raw artifactType (or the media type that told).
	ArtifactType string `gorm:"not null;default:''"`
	Via          string `gorm:"not null;default:''"`
	CreatedAt    time.Time

	Referrer *Image `gorm:"foreignKey:ReferrerID;constraint:OnDelete:CASCADE"`
}

var cosignTagRe = regexp.MustCompile(`^sha256-([0-9a-f]{64})\.(sig|att|sbom)$`)

// CosignTag reads a cosign-scheme tag: the subject's digest and the suffix
// (sig, att, sbom). Any other tag, "sha256-" ones of the wrong length
// included, is an ordinary tag (ok false).
func CosignTag(tag string) (subject, suffix string, ok bool) {
	m := cosignTagRe.FindStringSubmatch(tag)
	if m == nil {
		return "", "", false
	}
	return "sha256:" + m[1], m[2], true
}

// ClassifyReferrer is the one place that says what a referrer is: from the
// cosign tag's suffix ("" for none), else from the first of its types
// (artifactType, config and layer media types, in that order) that tells.
func ClassifyReferrer(suffix string, types ...string) ReferrerType {
	switch suffix {
	case "sig":
		return ReferrerSignature
	case "sbom":
		return ReferrerSBOM
	case "att":
		return ReferrerAttestation
	}
	for _, t := range types {
		t = strings.ToLower(t)
		switch {
		case strings.Contains(t, "cosign.simplesigning"), strings.Contains(t, "cosign.artifact.sig"),
			strings.Contains(t, "sigstore.bundle"), strings.Contains(t, "notary.signature"):
			return ReferrerSignature
		case strings.Contains(t, "spdx"), strings.Contains(t, "cyclonedx"), strings.Contains(t, "syft"):
			return ReferrerSBOM
		case strings.Contains(t, "in-toto"), strings.Contains(t, "intoto"), strings.Contains(t, "dsse"):
			return ReferrerAttestation
		}
	}
	return ReferrerOther
}

// referrerTypes are the types of img that may say what it is, in order.
func referrerTypes(img ImageSnapshot) []string {
	out := []string{img.ArtifactType}
	if img.Config != nil {
		out = append(out, img.Config.MediaType)
	}
	for _, l := range img.Layers {
		out = append(out, l.MediaType)
	}
	return out
}

// rawArtifactType is what is shown as the referrer's artifact type: its
// artifactType, else the first type that classified it, else its media type.
func rawArtifactType(img ImageSnapshot, suffix string) string {
	if img.ArtifactType != "" {
		return img.ArtifactType
	}
	for _, t := range referrerTypes(img)[1:] {
		if ClassifyReferrer("", t) != ReferrerOther {
			return t
		}
	}
	return img.MediaType
}

// Referrer is one referrer to record: Images are its snapshots (an index's
// children first, the referrer last), as Push.Images.
type Referrer struct {
	Subject string // the subject's digest
	Images  []ImageSnapshot
	Via     string // ViaSubject or ViaTagScheme
	// Repository is the managed registry's ns/stream that holds the
	// referrer's manifest (prune deletes it there); "" elsewhere.
	Repository string
	// Tag is the cosign-scheme tag ("" for subject referrers).
	Tag string
}

// RecordReferrer records r in one transaction; it says whether a new link
// was made. Sizes are the managed registry's when Repository is set.
func (s *Store) RecordReferrer(ctx context.Context, r Referrer) (bool, error) {
	if err := ValidateDigest(r.Subject); err != nil {
		return false, fmt.Errorf("referrer subject: %w", err)
	}
	if len(r.Images) == 0 {
		return false, invalidf("a referrer of %s names no image", r.Subject)
	}
	for _, img := range r.Images {
		if err := s.validateImage(img); err != nil {
			return false, err
		}
	}
	var changed bool
	err := s.Tx(ctx, func(tx *Store) error {
		src := SizeImported
		if r.Repository != "" {
			src = SizeManaged
		}
		var err error
		changed, err = tx.recordReferrer(ctx, r, src)
		return err
	})
	return changed, err
}

func (s *Store) recordReferrer(ctx context.Context, r Referrer, src SizeSource) (bool, error) {
	img := r.Images[len(r.Images)-1]
	if img.Digest == r.Subject {
		return false, invalidf("image %s names itself as its subject", img.Digest)
	}
	changed := false
	for _, im := range r.Images {
		c, err := s.putImage(ctx, im, src)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	// An unknown subject is recorded by digest (Known=false) so the link
	// survives until the subject itself arrives.
	ids, err := s.ensureImages(ctx, []string{r.Subject, img.Digest})
	if err != nil {
		return false, err
	}
	subject, referrer := ids[r.Subject], ids[img.Digest]
	db := s.conn(ctx)
	var have int64
	if err := db.Model(&ImageReferrer{}).Where("subject_id = ? AND referrer_id = ? AND repository = ?", subject, referrer, r.Repository).
		Count(&have).Error; err != nil {
		return false, fmt.Errorf("look up referrers of %s: %w", r.Subject, err)
	}
	if have > 0 {
		return false, nil
	}
	var n int64
	if err := db.Model(&ImageReferrer{}).Where("subject_id = ?", subject).Distinct("referrer_id").Count(&n).Error; err != nil {
		return false, fmt.Errorf("count referrers of %s: %w", r.Subject, err)
	}
	if n >= MaxReferrersPerSubject {
		return false, fmt.Errorf("%w: image %s already has %d referrers, the most Layerwise records for one image; %s is not recorded",
			ErrTooManyReferrers, r.Subject, n, img.Digest)
	}
	suffix := ""
	if r.Tag != "" {
		_, suffix, _ = CosignTag(r.Tag)
	}
	if r.Tag != "" && r.Repository != "" {
		// A cosign tag moved to a new manifest (another signature appended):
		// the old manifest is no longer what the tag names. (Without a
		// repository the tag names no one place: dumps keep every link.)
		if err := db.Where("repository = ? AND tag = ? AND referrer_id <> ?", r.Repository, r.Tag, referrer).
			Delete(&ImageReferrer{}).Error; err != nil {
			return false, fmt.Errorf("replace referrer %s: %w", r.Tag, err)
		}
	}
	row := ImageReferrer{SubjectID: subject, ReferrerID: referrer, Repository: r.Repository, Tag: r.Tag,
		Type: string(ClassifyReferrer(suffix, referrerTypes(img)...)), ArtifactType: rawArtifactType(img, suffix),
		Via: r.Via, CreatedAt: s.now()}
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return false, fmt.Errorf("record referrer %s of %s: %w", img.Digest, r.Subject, err)
	}
	return true, nil
}

// HasReferrer says whether digest is recorded as a referrer held in the
// managed registry's repository ns/stream (the sync need not read it again).
func (s *Store) HasReferrer(ctx context.Context, repository, digest string) (bool, error) {
	var n int64
	err := s.conn(ctx).Table("image_referrers r").Joins("JOIN images i ON i.id = r.referrer_id").
		Where("r.repository = ? AND i.digest = ?", repository, digest).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("look up referrer %s: %w", digest, err)
	}
	return n > 0, nil
}

// ReferrerInfo is one referrer of an image, as pages and the API show it.
type ReferrerInfo struct {
	Digest       string       `json:"digest"`
	Type         ReferrerType `json:"type"`
	ArtifactType string       `json:"artifactType,omitempty"`
	Via          string       `json:"via"`
	Tag          string       `json:"tag,omitempty"`
	// Bytes is the referrer's size counted once (its blobs, an index's
	// children's).
	Bytes   int64     `json:"bytes"`
	Created time.Time `json:"created"`
}

// ImageReferrers is what an image's referrers are and add.
type ImageReferrers struct {
	Referrers []ReferrerInfo `json:"referrers"`
	// Bytes counts every blob of the referrers (and theirs) once: what
	// "signatures and SBOMs" add to the image.
	Bytes int64 `json:"bytes"`
	// Signed says whether one of them is a signature.
	Signed bool `json:"signed"`
}

// ReferrersOf reads the referrers of one image (by digest), newest first;
// it reads that image's links only, never the whole registry.
func (s *Store) ReferrersOf(ctx context.Context, digest string) (ImageReferrers, error) {
	out := ImageReferrers{Referrers: []ReferrerInfo{}}
	db := s.conn(ctx)
	var rows []struct {
		ID           int64
		Digest       string
		Type         string
		ArtifactType string
		Via          string
		Tag          string
		CreatedAt    time.Time
	}
	err := db.Table("image_referrers r").
		Select("i.id, i.digest, r.type, r.artifact_type, r.via, r.tag, r.created_at").
		Joins("JOIN images s ON s.id = r.subject_id").Joins("JOIN images i ON i.id = r.referrer_id").
		Where("s.digest = ?", digest).Order("r.created_at DESC, i.digest").Scan(&rows).Error
	if err != nil {
		return out, fmt.Errorf("read referrers of %s: %w", digest, err)
	}
	if len(rows) == 0 {
		return out, nil
	}
	// Nested referrers (a signature of an SBOM) count in the bytes too.
	seen := map[int64]bool{}
	var all []int64
	for _, r := range rows {
		if !seen[r.ID] {
			seen[r.ID] = true
			all = append(all, r.ID)
		}
	}
	for next := all; len(next) > 0 && len(all) <= MaxReferrersPerSubject*4; {
		more, err := pluckIn(db, `SELECT referrer_id FROM image_referrers WHERE subject_id IN ?`, next)
		if err != nil {
			return out, err
		}
		next = nil
		for _, id := range more {
			if !seen[id] {
				seen[id] = true
				next = append(next, id)
				all = append(all, id)
			}
		}
	}
	blobs, sizes, err := s.blobsOf(ctx, all)
	if err != nil {
		return out, fmt.Errorf("sizes of the referrers of %s: %w", digest, err)
	}
	union := map[int64]bool{}
	for _, id := range all {
		for _, b := range blobs[id] {
			union[b] = true
		}
	}
	for b := range union {
		out.Bytes = bytesum.Add(out.Bytes, sizes[b])
	}
	byDigest := map[string]bool{}
	for _, r := range rows {
		if byDigest[r.Digest] {
			continue // one manifest in two repositories: listed once
		}
		byDigest[r.Digest] = true
		var n int64
		for _, b := range dedupe(blobs[r.ID]) {
			n = bytesum.Add(n, sizes[b])
		}
		t := ReferrerType(r.Type)
		out.Signed = out.Signed || t == ReferrerSignature
		out.Referrers = append(out.Referrers, ReferrerInfo{Digest: r.Digest, Type: t, ArtifactType: r.ArtifactType,
			Via: r.Via, Tag: r.Tag, Bytes: n, Created: utc(r.CreatedAt)})
	}
	return out, nil
}

// SignedDigests says which of the digests have a signature among their
// referrers (the "signed" badge), in one query per 500.
func (s *Store) SignedDigests(ctx context.Context, digests []string) (map[string]bool, error) {
	out := map[string]bool{}
	uniq := map[string]bool{}
	var list []string
	for _, d := range digests {
		if d != "" && !uniq[d] {
			uniq[d] = true
			list = append(list, d)
		}
	}
	sort.Strings(list)
	for i := 0; i < len(list); i += chunk {
		var got []string
		err := s.conn(ctx).Table("image_referrers r").Distinct("s.digest").Joins("JOIN images s ON s.id = r.subject_id").
			Where("r.type = ? AND s.digest IN ?", string(ReferrerSignature), list[i:min(i+chunk, len(list))]).Pluck("s.digest", &got).Error
		if err != nil {
			return nil, fmt.Errorf("read signatures: %w", err)
		}
		for _, d := range got {
			out[d] = true
		}
	}
	return out, nil
}

// IsTooManyReferrers says whether err is ErrTooManyReferrers.
func IsTooManyReferrers(err error) bool { return errors.Is(err, ErrTooManyReferrers) }

// StreamSignatures counts, for each stream of namespace ns, the tags whose
// current image is known and how many of those have a signature (the
// namespace page's "signed" mark), in one query.
func (s *Store) StreamSignatures(ctx context.Context, ns string) (map[string]StreamSigned, error) {
	var rows []struct {
		Stream string
		Tags   int
		Signed int
	}
	err := s.conn(ctx).Raw(`SELECT s.name AS stream, COUNT(*) AS tags,
		SUM(CASE WHEN EXISTS (SELECT 1 FROM image_referrers r WHERE r.subject_id = e.image_id AND r.type = ?) THEN 1 ELSE 0 END) AS signed
		FROM tag_events e JOIN tags t ON t.id = e.tag_id JOIN image_streams s ON s.id = t.stream_id
		JOIN namespaces n ON n.id = s.namespace_id
		WHERE n.name = ? AND e.position = 0 AND e.image_id IS NOT NULL GROUP BY s.name`, string(ReferrerSignature), ns).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read the signatures of %s: %w", ns, err)
	}
	out := make(map[string]StreamSigned, len(rows))
	for _, r := range rows {
		out[r.Stream] = StreamSigned{Tags: r.Tags, Signed: r.Signed}
	}
	return out, nil
}

// StreamSigned is how many of a stream's tags have a signed current image.
type StreamSigned struct {
	Tags   int // tags with a current image
	Signed int // of those, with a signature attached
}

// All says every tag's current image is signed (and there is one).
func (s StreamSigned) All() bool { return s.Tags > 0 && s.Signed == s.Tags }

// SubjectsOf are the digests of the images digest is attached to (as a
// signature, SBOM or attestation), "" rows of gone subjects left out.
func (s *Store) SubjectsOf(ctx context.Context, digest string) ([]string, error) {
	var out []string
	err := s.conn(ctx).Table("image_referrers r").Distinct("s.digest").
		Joins("JOIN images s ON s.id = r.subject_id").Joins("JOIN images i ON i.id = r.referrer_id").
		Where("i.digest = ?", digest).Order("s.digest").Pluck("s.digest", &out).Error
	if err != nil {
		return nil, fmt.Errorf("read the subjects of %s: %w", digest, err)
	}
	return out, nil
}
