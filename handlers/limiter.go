package handlers

import (
	"sync"
	"time"
)

// LoginLimiter slows password guessing: after max failures within window
// for a user name or a client address, logins from either wait until the
// window has passed. It lives in memory, per process.
type LoginLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

// NewLoginLimiter makes a limiter.
func NewLoginLimiter(max int, window time.Duration) *LoginLimiter {
	return &LoginLimiter{max: max, window: window, now: time.Now, failures: map[string][]time.Time{}}
}

func (l *LoginLimiter) recent(key string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.failures[key] {
		if now.Sub(t) < l.window {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		delete(l.failures, key)
	} else {
		l.failures[key] = keep
	}
	return keep
}

// Wait says how long keys must wait before another try (0: go ahead).
func (l *LoginLimiter) Wait(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		if r := l.recent(k, now); len(r) >= l.max {
			wait = max(wait, l.window-now.Sub(r[len(r)-l.max]))
		}
	}
	return wait
}

// Fail records a failed login for the keys.
func (l *LoginLimiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.failures[k] = append(l.recent(k, now), now)
	}
}

// Succeed forgets the failures of the keys.
func (l *LoginLimiter) Succeed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.failures, k)
	}
}
