package bytesum

import (
	"math"
	"testing"
)

func TestAdd(t *testing.T) {
	cases := []struct {
		name     string
		total, n int64
		want     int64
	}{
		{"plain", 2000, 142, 2142},
		{"zero", 5, 0, 5},
		{"a negative size counts as nothing", 5, -1, 5},
		{"the most negative size too", 5, math.MinInt64, 5},
		{"reaching the top", math.MaxInt64 - 1, 1, math.MaxInt64},
		{"passing the top stays there", math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{"one past the top", math.MaxInt64 - 1, 2, math.MaxInt64},
	}
	for _, c := range cases {
		if got := Add(c.total, c.n); got != c.want {
			t.Errorf("%s: Add(%d, %d) = %d, want %d", c.name, c.total, c.n, got, c.want)
		}
	}
}

func TestSum(t *testing.T) {
	if got := Sum(math.MaxInt64, math.MaxInt64, 1); got != math.MaxInt64 {
		t.Errorf("Sum of two MaxInt64 = %d, want MaxInt64 (never negative)", got)
	}
	if got := Sum(1, 2, -3, 4); got != 7 {
		t.Errorf("Sum(1, 2, -3, 4) = %d, want 7", got)
	}
}

func TestDiff(t *testing.T) {
	cases := []struct {
		a, b, want int64
	}{
		{10, 3, 7},
		{3, 10, -7},
		{math.MaxInt64, -1, math.MaxInt64},
		{math.MaxInt64, math.MinInt64, math.MaxInt64},
		{math.MinInt64, 1, -math.MaxInt64},
		{-5, math.MaxInt64, -math.MaxInt64},
		{0, math.MinInt64, math.MaxInt64},
	}
	for _, c := range cases {
		if got := Diff(c.a, c.b); got != c.want {
			t.Errorf("Diff(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
