package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Threshold alerts: a namespace's side of its usage threshold is kept
// here; each time it changes sides (a crossing) its alerts are written to
// the delivery log in the same transaction, one row per channel, keyed by
// the crossing's number. The unique (namespace, key) index and the
// conditional state change make "one alert per crossing" hold across
// restarts, crashes and replicas checking at once.

// ThresholdState is a namespace's side of its threshold as last checked.
type ThresholdState struct {
	NamespaceID int64 `gorm:"primaryKey;autoIncrement:false"`
	Over        bool  `gorm:"not null;default:false"`
	// Crossings counts the changes of side; the alerts of the newest one
	// are the only ones still worth sending.
	Crossings int64 `gorm:"not null;default:0"`
	// The figures at the newest crossing, which its alerts tell.
	Bytes          int64     `gorm:"not null;default:0"`
	ThresholdBytes int64     `gorm:"not null;default:0"`
	ChangedAt      time.Time `gorm:"not null"`

	Namespace *Namespace `gorm:"constraint:OnDelete:CASCADE"`
}

// Delivery kinds: the weekly report (and digest) has none.
const (
	DeliveryAlertMail    = "alert"
	DeliveryAlertWebhook = "alert-webhook"
	// DeliverySuperseded marks an alert not sent because the namespace
	// crossed again since (the newer crossing's alert says where it is).
	DeliverySuperseded = "superseded"
)

func migrateThresholdAlerts(tx *gorm.DB) error {
	if !tx.Migrator().HasColumn(&ReportDelivery{}, "Kind") {
		if err := tx.Migrator().AddColumn(&ReportDelivery{}, "Kind"); err != nil {
			return err
		}
	}
	return tx.AutoMigrate(&ThresholdState{})
}

// ThresholdCheck is one namespace's usage against its threshold now.
type ThresholdCheck struct {
	NamespaceID    int64
	Namespace      string
	Bytes          int64
	ThresholdBytes int64 // <= 0: none (never over)
}

// Over is the weekly report's rule: at or over a threshold.
func (c ThresholdCheck) Over() bool { return c.ThresholdBytes > 0 && c.Bytes >= c.ThresholdBytes }

// Crossing is a change of side and its alert.
type Crossing struct {
	NamespaceID    int64
	Namespace      string
	Seq            int64 // the namespace's crossing number, from 1
	Up             bool  // over now; false: back below
	Bytes          int64
	ThresholdBytes int64
	At             time.Time
}

// alertKey is the delivery log key of crossing seq on a channel.
func alertKey(seq int64, up bool, kind string) string {
	dir := "down"
	if up {
		dir = "up"
	}
	key := fmt.Sprintf("alert-%06d-%s", seq, dir)
	if kind == DeliveryAlertWebhook {
		key += "-webhook"
	}
	return key
}

// parseAlertKey reads alertKey back.
func parseAlertKey(key string) (seq int64, up bool, ok bool) {
	var dir string
	if _, err := fmt.Sscanf(strings.TrimSuffix(key, "-webhook"), "alert-%06d-%s", &seq, &dir); err != nil {
		return 0, false, false
	}
	return seq, dir == "up", dir == "up" || dir == "down"
}

// RecordCrossings compares the checks with the stored sides. For each
// namespace that changed sides it stores the new side and writes pending
// alerts for the kinds asked (DeliveryAlertMail, DeliveryAlertWebhook),
// all in one transaction, and returns the crossings. A namespace never
// checked before counts as below (a new namespace holds nothing). Checking
// again with the same figures changes nothing.
func (s *Store) RecordCrossings(ctx context.Context, checks []ThresholdCheck, kinds []string) ([]Crossing, error) {
	// Most checks find no crossing: look first, so that they write nothing
	// (a write transaction would drop every replica's cached pages).
	var over []int64
	if err := s.conn(ctx).Model(&ThresholdState{}).Where("over = ?", true).Pluck("namespace_id", &over).Error; err != nil {
		return nil, fmt.Errorf("read threshold states: %w", err)
	}
	isOver := make(map[int64]bool, len(over))
	for _, id := range over {
		isOver[id] = true
	}
	changed := false
	for _, c := range checks {
		changed = changed || c.Over() != isOver[c.NamespaceID]
	}
	if !changed {
		return nil, nil
	}
	var out []Crossing
	err := s.Tx(ctx, func(tx *Store) error {
		db := tx.conn(ctx)
		var states []ThresholdState
		if err := db.Find(&states).Error; err != nil {
			return err
		}
		have := make(map[int64]ThresholdState, len(states))
		for _, st := range states {
			have[st.NamespaceID] = st
		}
		now := tx.now()
		for _, c := range checks {
			st, known := have[c.NamespaceID]
			if c.Over() == st.Over {
				continue // no crossing (a new namespace below its threshold included)
			}
			st = ThresholdState{NamespaceID: c.NamespaceID, Over: c.Over(), Crossings: st.Crossings + 1, Bytes: c.Bytes,
				ThresholdBytes: c.ThresholdBytes, ChangedAt: now}
			var err error
			if known {
				err = db.Select("*").Updates(&st).Error
			} else {
				err = db.Create(&st).Error
			}
			if err != nil {
				return err
			}
			for _, kind := range kinds {
				d := ReportDelivery{NamespaceID: c.NamespaceID, Week: alertKey(st.Crossings, st.Over, kind), Kind: kind, Status: DeliveryPending}
				if err := db.Create(&d).Error; err != nil {
					return err
				}
			}
			out = append(out, Crossing{NamespaceID: c.NamespaceID, Namespace: c.Namespace, Seq: st.Crossings, Up: st.Over,
				Bytes: c.Bytes, ThresholdBytes: c.ThresholdBytes, At: now})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record threshold crossings: %w", err)
	}
	return out, nil
}

// PendingAlert is an alert of the delivery log still to send.
type PendingAlert struct {
	Delivery ReportDelivery
	Crossing Crossing
	// Latest is false when the namespace crossed again since: the alert is
	// then marked superseded, not sent.
	Latest bool
}

// PendingAlerts lists the alerts not sent yet (pending or failed), oldest
// crossing first. Only pending alerts of crossings older than settle are
// listed: a younger one may still be on its way out of the process that
// recorded it.
func (s *Store) PendingAlerts(ctx context.Context, settle time.Duration) ([]PendingAlert, error) {
	var out []PendingAlert
	err := s.Snapshot(ctx, func(s *Store) error {
		db := s.conn(ctx)
		var rows []ReportDelivery
		if err := db.Where("kind IN ? AND status IN ?", []string{DeliveryAlertMail, DeliveryAlertWebhook},
			[]string{DeliveryPending, DeliveryFailed}).Order("id").Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		var states []ThresholdState
		if err := db.Find(&states).Error; err != nil {
			return err
		}
		state := map[int64]ThresholdState{}
		for _, st := range states {
			state[st.NamespaceID] = st
		}
		names := map[int64]string{}
		var nss []Namespace
		if err := db.Select("id, name").Find(&nss).Error; err != nil {
			return err
		}
		for _, n := range nss {
			names[n.ID] = n.Name
		}
		cut := s.now().Add(-settle)
		for _, d := range rows {
			seq, up, ok := parseAlertKey(d.Week)
			st, known := state[d.NamespaceID]
			if !ok || !known {
				continue
			}
			if d.Status == DeliveryPending && st.ChangedAt.After(cut) && seq == st.Crossings {
				continue
			}
			c := Crossing{NamespaceID: d.NamespaceID, Namespace: names[d.NamespaceID], Seq: seq, Up: up}
			p := PendingAlert{Delivery: d, Crossing: c, Latest: seq == st.Crossings}
			if p.Latest {
				p.Crossing.Bytes, p.Crossing.ThresholdBytes, p.Crossing.At = st.Bytes, st.ThresholdBytes, st.ChangedAt
			}
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pending alerts: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Crossing.Seq < out[j].Crossing.Seq })
	return out, nil
}

// AlertDelivery returns the delivery row of a crossing's alert on a channel.
func (s *Store) AlertDelivery(ctx context.Context, c Crossing, kind string) (ReportDelivery, error) {
	var d ReportDelivery
	err := s.conn(ctx).Where("namespace_id = ? AND week = ?", c.NamespaceID, alertKey(c.Seq, c.Up, kind)).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return d, notFoundf("no %s delivery for crossing %d of %s", kind, c.Seq, c.Namespace)
	}
	return d, err
}

// Alerts lists the alert deliveries of a namespace, newest first.
func (s *Store) Alerts(ctx context.Context, nsID int64) ([]ReportDelivery, error) {
	var out []ReportDelivery
	err := s.conn(ctx).Where("namespace_id = ? AND kind IN ?", nsID, []string{DeliveryAlertMail, DeliveryAlertWebhook}).
		Order("id DESC").Find(&out).Error
	return out, err
}
