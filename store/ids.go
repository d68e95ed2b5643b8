package store

import (
	"sort"

	"gorm.io/gorm"
)

// chunk is the most ids one IN (?) list carries.
const chunk = 500

func chunks(ids []int64, n int, fn func([]int64) error) error {
	for i := 0; i < len(ids); i += n {
		j := min(i+n, len(ids))
		if err := fn(ids[i:j]); err != nil {
			return err
		}
	}
	return nil
}

// pluckIn runs "SELECT col FROM ... WHERE x IN (ids)" in chunks of 500.
func pluckIn(db *gorm.DB, query string, ids []int64) ([]int64, error) {
	var out []int64
	err := chunks(ids, chunk, func(part []int64) error {
		var got []int64
		if err := db.Raw(query, part).Scan(&got).Error; err != nil {
			return err
		}
		out = append(out, got...)
		return nil
	})
	return out, err
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func dedupe(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// except is ids without those in drop, in ids' order.
func except(ids, drop []int64) []int64 {
	dropped := make(map[int64]bool, len(drop))
	for _, id := range drop {
		dropped[id] = true
	}
	var out []int64
	for _, id := range ids {
		if !dropped[id] {
			out = append(out, id)
		}
	}
	return out
}
