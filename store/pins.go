package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Pin keeps an image from being pruned: its history entries in the
// namespace and the image itself (with its layers) stay.
type Pin struct {
	ID          int64     `gorm:"primaryKey"`
	NamespaceID int64     `gorm:"not null;uniqueIndex:ux_pins_ns_image,priority:1"`
	ImageID     int64     `gorm:"not null;uniqueIndex:ux_pins_ns_image,priority:2;index"`
	Note        string    `gorm:"not null;default:''"`
	CreatedBy   string    `gorm:"not null;default:''"`
	CreatedAt   time.Time `gorm:"not null"`

	Namespace *Namespace `gorm:"constraint:OnDelete:CASCADE"`
	Image     *Image     `gorm:"constraint:OnDelete:RESTRICT"`
}

// PinInfo is a pin as the pages and the API show it.
type PinInfo struct {
	Namespace string    `json:"namespace"`
	Image     string    `json:"image"`
	Note      string    `json:"note"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// MaxPinNote is the longest note a pin keeps.
const MaxPinNote = 500

// PinImage pins an image in a namespace with a note; the image must be in
// the namespace (some tag there holds or held it). Pinning again updates
// the note. It returns the pin as it was before ("" note and false when new).
func (s *Store) PinImage(ctx context.Context, ns, digest, note, by string) (before *PinInfo, err error) {
	if err := ValidateDigest(digest); err != nil {
		return nil, err
	}
	note = strings.TrimSpace(note)
	if len([]rune(note)) > MaxPinNote {
		return nil, invalidf("a pin note is at most %d characters", MaxPinNote)
	}
	err = s.Tx(ctx, func(tx *Store) error {
		n, img, err := tx.imageInNamespace(ctx, ns, digest)
		if err != nil {
			return err
		}
		db := tx.conn(ctx)
		var have Pin
		err = db.Where("namespace_id = ? AND image_id = ?", n.ID, img).Take(&have).Error
		if err == nil {
			before = &PinInfo{Namespace: ns, Image: digest, Note: have.Note, CreatedBy: have.CreatedBy, CreatedAt: have.CreatedAt}
			return db.Model(&Pin{}).Where("id = ?", have.ID).Update("note", note).Error
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		return db.Create(&Pin{NamespaceID: n.ID, ImageID: img, Note: note, CreatedBy: by, CreatedAt: tx.now()}).Error
	})
	if err != nil {
		return nil, fmt.Errorf("pin %s in %s: %w", digest, ns, err)
	}
	return before, nil
}

// UnpinImage removes a pin; it returns the pin removed.
func (s *Store) UnpinImage(ctx context.Context, ns, digest string) (PinInfo, error) {
	var out PinInfo
	if err := ValidateDigest(digest); err != nil {
		return out, err
	}
	err := s.Tx(ctx, func(tx *Store) error {
		pins, err := tx.Pins(ctx, ns, digest)
		if err != nil {
			return err
		}
		if len(pins) == 0 {
			return notFoundf("image %s is not pinned in namespace %s", digest, ns)
		}
		out = pins[0]
		return tx.conn(ctx).Where("namespace_id = (SELECT id FROM namespaces WHERE name = ?) AND image_id = (SELECT id FROM images WHERE digest = ?)",
			ns, digest).Delete(&Pin{}).Error
	})
	return out, err
}

// Pins lists the pins of a namespace ("" = every namespace), of one image
// when digest is set, newest first.
func (s *Store) Pins(ctx context.Context, ns, digest string) ([]PinInfo, error) {
	q := s.conn(ctx).Table("pins p").
		Select("n.name AS namespace, i.digest AS image, p.note, p.created_by, p.created_at").
		Joins("JOIN namespaces n ON n.id = p.namespace_id").Joins("JOIN images i ON i.id = p.image_id")
	if ns != "" {
		q = q.Where("n.name = ?", ns)
	}
	if digest != "" {
		q = q.Where("i.digest = ?", digest)
	}
	var out []PinInfo
	if err := q.Order("p.id DESC").Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("read pins: %w", err)
	}
	return out, nil
}

// imageInNamespace finds a namespace and an image some tag there holds or held.
func (s *Store) imageInNamespace(ctx context.Context, ns, digest string) (Namespace, int64, error) {
	n, err := s.GetNamespace(ctx, ns)
	if err != nil {
		return n, 0, err
	}
	var ids []int64
	err = s.conn(ctx).Table("tag_events e").Select("i.id").Joins("JOIN images i ON i.id = e.image_id").
		Joins("JOIN tags t ON t.id = e.tag_id").Joins("JOIN image_streams st ON st.id = t.stream_id").
		Where("st.namespace_id = ? AND i.digest = ?", n.ID, digest).Limit(1).Pluck("i.id", &ids).Error
	if err != nil {
		return n, 0, err
	}
	if len(ids) == 0 {
		return n, 0, notFoundf("image %s is not in namespace %s (no tag there holds it)", digest, ns)
	}
	return n, ids[0], nil
}
