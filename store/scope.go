package store

import (
	"context"
	"fmt"
	"sort"
)

// Scope is the part of the registry a reader may see: the namespaces they
// hold a role in. A nil *Scope sees everything (a platform admin, or an
// install without accounts); an empty one sees nothing.
//
// Images and blobs are global by digest, so they have no namespace of their
// own: an image is in scope when a history entry of a namespace in scope
// holds it (directly, or as a platform of a manifest list held there), a
// blob when such an image lists it. That is the one rule every read that
// names digests follows (search, image and blob pages), and the rule that
// decides whether a namespace may link an image it only names by digest
// (setTag).
type Scope struct {
	Namespaces []string
}

// Scope is what the principal may read; nil for a platform admin or no
// principal (an install without accounts).
func (p *Principal) Scope() *Scope {
	if p == nil || p.PlatformAdmin {
		return nil
	}
	sc := &Scope{Namespaces: []string{}}
	for ns, r := range p.Roles {
		if r >= RoleViewer {
			sc.Namespaces = append(sc.Namespaces, ns)
		}
	}
	sort.Strings(sc.Namespaces)
	return sc
}

// Sees says whether the scope includes namespace ns.
func (sc *Scope) Sees(ns string) bool {
	if sc == nil {
		return true
	}
	i := sort.SearchStrings(sc.Namespaces, ns)
	return i < len(sc.Namespaces) && sc.Namespaces[i] == ns
}

// heldImagesSQL selects (as column id) the images held in the namespaces
// given as its four `?` (a list, four times): by a history entry directly,
// as a platform of a manifest list a history entry holds, or as a
// signature, SBOM or attestation attached to one of those.
const heldImagesSQL = `SELECT e.image_id AS id FROM tag_events e
		JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
		JOIN namespaces n ON n.id = st.namespace_id
		WHERE e.image_id IS NOT NULL AND n.name IN ?
	UNION SELECT m.child_id FROM image_manifests m JOIN tag_events e ON e.image_id = m.list_id
		JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
		JOIN namespaces n ON n.id = st.namespace_id
		WHERE n.name IN ?
	UNION SELECT r.referrer_id FROM image_referrers r JOIN tag_events e ON e.image_id = r.subject_id
		JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
		JOIN namespaces n ON n.id = st.namespace_id
		WHERE n.name IN ?
	UNION SELECT r.referrer_id FROM image_referrers r JOIN image_manifests m ON m.child_id = r.subject_id
		JOIN tag_events e ON e.image_id = m.list_id
		JOIN tags t ON t.id = e.tag_id JOIN image_streams st ON st.id = t.stream_id
		JOIN namespaces n ON n.id = st.namespace_id
		WHERE n.name IN ?`

// ImageInScope says whether an image exists and the scope may see it.
// A missing image and one outside the scope give the same answer.
func (s *Store) ImageInScope(ctx context.Context, digest string, sc *Scope) (bool, error) {
	var n int64
	var err error
	if sc == nil {
		err = s.conn(ctx).Model(&Image{}).Where("digest = ?", digest).Count(&n).Error
	} else {
		err = s.conn(ctx).Raw(`SELECT COUNT(*) FROM images i WHERE i.digest = ? AND i.id IN (`+heldImagesSQL+`)`,
			digest, sc.Namespaces, sc.Namespaces, sc.Namespaces, sc.Namespaces).Scan(&n).Error
	}
	if err != nil {
		return false, fmt.Errorf("look up image %s: %w", digest, err)
	}
	return n > 0, nil
}

// BlobInScope says whether a blob exists and the scope may see it (an
// image in scope lists it). A missing blob and one outside the scope give
// the same answer.
func (s *Store) BlobInScope(ctx context.Context, digest string, sc *Scope) (bool, error) {
	var n int64
	var err error
	if sc == nil {
		err = s.conn(ctx).Model(&Blob{}).Where("digest = ?", digest).Count(&n).Error
	} else {
		err = s.conn(ctx).Raw(`SELECT COUNT(*) FROM blobs b WHERE b.digest = ? AND EXISTS (
			SELECT 1 FROM image_blobs ib WHERE ib.blob_id = b.id AND ib.image_id IN (`+heldImagesSQL+`))`,
			digest, sc.Namespaces, sc.Namespaces, sc.Namespaces, sc.Namespaces).Scan(&n).Error
	}
	if err != nil {
		return false, fmt.Errorf("look up blob %s: %w", digest, err)
	}
	return n > 0, nil
}

// namespaceHolds says whether a history entry of namespace ns holds the
// image (directly or through a manifest list): the namespace has proven it
// has that image, so a source naming it by digest may link it.
func (s *Store) namespaceHolds(ctx context.Context, ns, digest string) (bool, error) {
	return s.ImageInScope(ctx, digest, &Scope{Namespaces: []string{ns}})
}
