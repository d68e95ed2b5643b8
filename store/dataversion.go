package store

import (
	"context"

	"gorm.io/gorm"
)

// DataVersion is one row whose Version every write transaction (Store.Tx)
// bumps: replicas poll it to drop cached pages after a change made anywhere.
type DataVersion struct {
	ID      int64 `gorm:"primaryKey;autoIncrement:false"`
	Version int64 `gorm:"not null;default:0"`
}

// DataVersion is bumped by every write transaction; polling it is one
// primary-key read.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.conn(ctx).Model(&DataVersion{}).Where("id = 1").Pluck("version", &v).Error
	return v, err
}

func bumpDataVersion(db *gorm.DB) error {
	return db.Exec(`UPDATE data_versions SET version = version + 1 WHERE id = 1`).Error
}
