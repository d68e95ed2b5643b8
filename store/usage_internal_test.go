package store

import (
	"fmt"
	"testing"
)

func TestEachInts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		n    int
		want string
		err  bool
	}{
		{"1:2,3:4", 2, "[1 2][3 4]", false},
		{"7", 1, "[7]", false},
		{"5:0:-1", 3, "[5 0 -1]", false},
		{"", 2, "", false},
		{"1:2,3", 2, "[1 2]", true},
		{"1:x", 2, "", true},
		{"1,,2", 1, "[1]", true},
	}
	for _, c := range cases {
		got := ""
		err := eachInts([]byte(c.in), c.n, func(v []int64) error {
			got += fmt.Sprint(v)
			return nil
		})
		if (err != nil) != c.err || got != c.want {
			t.Errorf("eachInts(%q, %d) = %q, %v; want %q (error %v)", c.in, c.n, got, err, c.want, c.err)
		}
	}
}
