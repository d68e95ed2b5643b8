package handlers

import (
	"testing"
	"time"
)

func TestLoginLimiter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l := NewLoginLimiter(3, 5*time.Minute)
	l.now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		l.Fail("user:a", "ip:1")
	}
	if w := l.Wait("user:a"); w != 0 {
		t.Fatalf("2 failures already wait %v", w)
	}
	l.Fail("user:a", "ip:1")
	if w := l.Wait("user:a"); w != 5*time.Minute {
		t.Fatalf("after 3 failures wait %v, want 5m", w)
	}
	if w := l.Wait("user:b", "ip:1"); w == 0 {
		t.Fatal("the address key should limit other users")
	}
	now = now.Add(5*time.Minute + time.Second)
	if w := l.Wait("user:a", "ip:1"); w != 0 {
		t.Fatalf("after the window: wait %v", w)
	}
	l.Fail("user:c")
	l.Succeed("user:c")
	if len(l.failures["user:c"]) != 0 {
		t.Fatal("success did not forget failures")
	}
}
