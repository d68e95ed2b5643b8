package store

import (
	"context"
	"fmt"
	"time"
)

// DigestNamespaceID is the namespace ID of the platform digest's delivery
// row: one digest per week, logged like the namespace reports.
const DigestNamespaceID = 0

// Delivery states.
const (
	DeliveryPending    = "pending"
	DeliverySent       = "sent"
	DeliveryFailed     = "failed"
	DeliveryNoContacts = "no-contacts"
)

// ISOWeek names the ISO week of t: "2026-W48".
func ISOWeek(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// Delivery returns the delivery row of a namespace for a week, creating it
// as pending. The unique (namespace, week) index makes "one e-mail per
// namespace per week" hold across restarts and concurrent runs.
func (s *Store) Delivery(ctx context.Context, nsID int64, week string) (ReportDelivery, error) {
	db := s.conn(ctx)
	d := ReportDelivery{NamespaceID: nsID, Week: week, Status: DeliveryPending}
	err := db.Where("namespace_id = ? AND week = ?", nsID, week).Attrs(d).FirstOrCreate(&d).Error
	if err != nil {
		return d, fmt.Errorf("delivery log: %w", err)
	}
	return d, nil
}

// SaveDelivery records how a delivery went.
func (s *Store) SaveDelivery(ctx context.Context, d ReportDelivery) error {
	if err := s.conn(ctx).Select("*").Updates(&d).Error; err != nil {
		return fmt.Errorf("delivery log: %w", err)
	}
	return nil
}

// Deliveries lists the weekly delivery rows from a week on (weeks sort as
// text); alerts are not among them.
func (s *Store) Deliveries(ctx context.Context, sinceWeek string) ([]ReportDelivery, error) {
	var out []ReportDelivery
	err := s.conn(ctx).Where("week >= ? AND kind = ''", sinceWeek).Order("week, namespace_id").Find(&out).Error
	return out, err
}

// SnapshotsBefore returns, per namespace ID (0 = the registry), the newest
// snapshot taken at or before t and after t-window.
func (s *Store) SnapshotsBefore(ctx context.Context, t time.Time, window time.Duration) (map[int64]UsageSnapshot, error) {
	var rows []UsageSnapshot
	err := s.conn(ctx).Raw(`SELECT * FROM usage_snapshots WHERE id IN (
		SELECT MAX(id) FROM usage_snapshots WHERE taken_at <= ? AND taken_at > ? GROUP BY namespace_id)`, t, t.Add(-window)).
		Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	out := map[int64]UsageSnapshot{}
	for _, r := range rows {
		id := int64(0)
		if r.NamespaceID != nil {
			id = *r.NamespaceID
		}
		out[id] = r
	}
	return out, nil
}
