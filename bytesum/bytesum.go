// Package bytesum adds and subtracts byte counts without wrapping: every
// figure Layerwise shows is a sum of blob sizes, and a sum that wrapped
// past 2^63−1 would show a negative registry.
package bytesum

import "math"

// Add returns total + n. A negative n (a size from before sizes were
// bounded) counts as nothing, and a total that would pass math.MaxInt64
// stays there: the figure reads "8.0 EiB" rather than wrapping negative.
func Add(total, n int64) int64 {
	if n <= 0 {
		return total
	}
	if total > math.MaxInt64-n {
		return math.MaxInt64
	}
	return total + n
}

// Sum adds sizes with Add.
func Sum(sizes ...int64) int64 {
	var total int64
	for _, n := range sizes {
		total = Add(total, n)
	}
	return total
}

// Diff returns a − b, held within ±math.MaxInt64 (a change between two
// figures, such as a trend).
func Diff(a, b int64) int64 {
	d := a - b
	switch {
	case b < 0 && a > math.MaxInt64+b: // a − b > MaxInt64
		return math.MaxInt64
	case b > 0 && a < -math.MaxInt64+b: // a − b < −MaxInt64
		return -math.MaxInt64
	}
	return d
}
