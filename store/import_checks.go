package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ImportCheck is what the last successful import of a tag read from its
// source: the digest the reference resolved to (for a manifest list the
// list's digest, also when Legacy kept only one platform's image), for the
// source and import mode of that time. The scheduled import compares a
// HEAD request's digest with it; a tag whose source or mode has changed
// since has no valid check and is imported in full.
type ImportCheck struct {
	TagID      int64  `gorm:"primaryKey;autoIncrement:false"`
	FromName   string `gorm:"not null;default:''"`
	ImportMode string `gorm:"not null;default:''"`
	Digest     string `gorm:"not null;default:''"`
	CheckedAt  time.Time

	Tag *Tag `gorm:"constraint:OnDelete:CASCADE"`
}

// RegistryBackoff is a registry host that failed during a scheduled
// import: its tags are not checked again before Until. Failures counts the
// consecutive failed runs; a run that reaches the host removes the row.
type RegistryBackoff struct {
	Host     string `gorm:"primaryKey"`
	Failures int    `gorm:"not null;default:0"`
	FailedAt time.Time
	Until    time.Time `gorm:"not null"`
	Reason   string    `gorm:"not null;default:''"`
	Message  string    `gorm:"not null;default:''"`
}

// ScheduledTag is a tag the scheduled import re-checks, with what its last
// import read.
type ScheduledTag struct {
	ID         int64
	Ref        TagRef
	From       string // the DockerImage reference
	ImportMode string // Legacy or PreserveOriginal
	Insecure   bool
	CondStatus string // "True", "False" or "" (none)
	// LastDigest is the digest the source resolved to at the last import,
	// "" when unknown or recorded for another source or mode.
	LastDigest string
}

func normalMode(m string) string {
	if m == "" {
		return "Legacy"
	}
	return m
}

// ScheduledTags lists every scheduled external tag with its last import
// check, in one query.
func (s *Store) ScheduledTags(ctx context.Context) ([]ScheduledTag, error) {
	var rows []struct {
		ID                                int64
		Namespace, Stream, Tag            string
		FromName, ImportMode              string
		Insecure                          bool
		CondStatus                        string
		CheckFrom, CheckMode, CheckDigest *string
	}
	err := s.conn(ctx).Table("tags t").
		Select(`t.id, n.name AS namespace, st.name AS stream, t.name AS tag, t.from_name, t.import_mode, t.insecure, t.cond_status,
			c.from_name AS check_from, c.import_mode AS check_mode, c.digest AS check_digest`).
		Joins("JOIN image_streams st ON st.id = t.stream_id").
		Joins("JOIN namespaces n ON n.id = st.namespace_id").
		Joins("LEFT JOIN import_checks c ON c.tag_id = t.id").
		Where("t.scheduled = ? AND t.in_spec = ? AND t.reference = ? AND t.from_kind = ?", true, true, false, KindDockerImage).
		Order("t.id").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list scheduled tags: %w", err)
	}
	out := make([]ScheduledTag, len(rows))
	for i, r := range rows {
		st := ScheduledTag{ID: r.ID, Ref: TagRef{r.Namespace, r.Stream, r.Tag}, From: r.FromName,
			ImportMode: normalMode(r.ImportMode), Insecure: r.Insecure, CondStatus: r.CondStatus}
		if r.CheckDigest != nil && *r.CheckFrom == r.FromName && normalMode(*r.CheckMode) == st.ImportMode {
			st.LastDigest = *r.CheckDigest
		}
		out[i] = st
	}
	return out, nil
}

// RecordImportCheck remembers what the import of ref from `from` in mode
// resolved to (see ImportCheck).
func (s *Store) RecordImportCheck(ctx context.Context, ref TagRef, from, mode, digest string) error {
	t, _, err := s.findTag(ctx, ref)
	if err != nil {
		return err
	}
	row := ImportCheck{TagID: t.ID, FromName: from, ImportMode: normalMode(mode), Digest: digest, CheckedAt: s.now()}
	err = s.conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "tag_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"from_name", "import_mode", "digest", "checked_at"})}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("record the import check of %s: %w", ref, err)
	}
	return nil
}

// SetImportFailures marks many tags ImportSuccess=False with one reason and
// message (a registry that failed), in chunks of 500; their images stay.
func (s *Store) SetImportFailures(ctx context.Context, tagIDs []int64, reason, message string) error {
	now := s.now()
	return s.Tx(ctx, func(tx *Store) error {
		for start := 0; start < len(tagIDs); start += 500 {
			end := min(start+500, len(tagIDs))
			err := tx.conn(ctx).Model(&Tag{}).Where("id IN ?", tagIDs[start:end]).Updates(map[string]any{
				"cond_status": "False", "cond_reason": reason, "cond_message": message, "cond_time": now,
			}).Error
			if err != nil {
				return fmt.Errorf("record import failures: %w", err)
			}
		}
		return nil
	})
}

// RegistryBackoffs lists the registry hosts in backoff.
func (s *Store) RegistryBackoffs(ctx context.Context) ([]RegistryBackoff, error) {
	var out []RegistryBackoff
	if err := s.conn(ctx).Order("host").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("read registry backoffs: %w", err)
	}
	return out, nil
}

// SaveRegistryBackoff writes a host's backoff.
func (s *Store) SaveRegistryBackoff(ctx context.Context, b RegistryBackoff) error {
	if err := s.conn(ctx).Save(&b).Error; err != nil {
		return fmt.Errorf("record the backoff of registry %s: %w", b.Host, err)
	}
	return nil
}

// ClearRegistryBackoff forgets a host's failures.
func (s *Store) ClearRegistryBackoff(ctx context.Context, host string) error {
	err := s.conn(ctx).Where("host = ?", host).Delete(&RegistryBackoff{}).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("clear the backoff of registry %s: %w", host, err)
	}
	return nil
}
