package store

import (
	"context"
	"fmt"
	"time"
)

// Trends: snapshots over time, for the charts and "since last week".

// NamespaceTrends returns the snapshots of each named namespace taken since
// a time, oldest first, in one query (the overview's sparklines).
func (s *Store) NamespaceTrends(ctx context.Context, names []string, since time.Time) (map[string][]UsageSnapshot, error) {
	out := map[string][]UsageSnapshot{}
	if len(names) == 0 {
		return out, nil
	}
	var rows []struct {
		UsageSnapshot
		Name string
	}
	err := s.conn(ctx).Table("usage_snapshots u").Select("u.*, n.name").
		Joins("JOIN namespaces n ON n.id = u.namespace_id").
		Where("u.taken_at >= ? AND n.name IN ?", since, names).Order("u.taken_at, u.id").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("trends of %d namespaces: %w", len(names), err)
	}
	for _, r := range rows {
		out[r.Name] = append(out[r.Name], r.UsageSnapshot)
	}
	return out, nil
}

// LastWeekSnapshots is, per namespace ID (0: the registry), the newest
// snapshot taken a week before now, give or take three days: what "change
// since last week" compares today's figures with, in the e-mail and on
// the namespace page.
func (s *Store) LastWeekSnapshots(ctx context.Context, now time.Time) (map[int64]UsageSnapshot, error) {
	return s.SnapshotsBefore(ctx, now.AddDate(0, 0, -7).Add(72*time.Hour), 6*24*time.Hour)
}
