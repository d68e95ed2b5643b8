package panics

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name      string
		fn        func() error
		wantPanic string // "" when no panic
		wantErr   string
	}{
		{"no panic", func() error { return nil }, "", ""},
		{"plain error kept", func() error { return errors.New("boom") }, "", "boom"},
		{"index out of range", func() error {
			var a []int
			i := 3
			return fmt.Errorf("%d", a[i])
		}, "index out of range", "panic: runtime error: index out of range [3] with length 0"},
		{"panic with a value", func() error { panic("bad row") }, "bad row", "panic: bad row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := func() (err error) {
				defer Recover(&err)
				return tt.fn()
			}()
			if got := fmt.Sprint(err); tt.wantErr == "" && err != nil || tt.wantErr != "" && got != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			pe, ok := As(fmt.Errorf("wrapped: %w", err))
			if ok != (tt.wantPanic != "") {
				t.Fatalf("As = %v, want a panic: %v", ok, tt.wantPanic != "")
			}
			if ok && !strings.Contains(string(pe.Stack), "panics.TestRecover") {
				t.Errorf("stack does not show where it panicked:\n%s", pe.Stack)
			}
		})
	}
}
