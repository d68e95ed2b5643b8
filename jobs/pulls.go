package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"layerwise/panics"
	"layerwise/store"
)

// PullRecorder batches the registry's pull notifications. The webhook
// queues each pull and answers; a writer records the queue every
// FlushEvery (sooner once FlushAt (stream, image) pairs wait) in one
// transaction, keeping only the newest pull of each pair. Pulls outnumber
// pushes a hundredfold: one write per pull would make the webhook as slow
// as the database's commits.
//
// A process that dies loses at most the last FlushEvery of pull times: the
// last-pulled time of those images stays older than it should (never
// newer), and their next pull records it again. While the database
// refuses the writes, the queue holds up to MaxPending pairs; past that
// Add refuses, the webhook answers 503 and the registry sends the events
// again later.
type PullRecorder struct {
	store *store.Store
	log   *slog.Logger

	FlushEvery time.Duration
	FlushAt    int
	MaxPending int
	// OnFlush is called after each flush with the pairs recorded (metrics, tests).
	OnFlush func(recorded int, err error)

	mu      sync.Mutex
	pending map[pullKey]time.Time
	kick    chan struct{}
	flushMu sync.Mutex // one flush at a time
}

type pullKey struct {
	stream store.StreamRef
	digest string
}

// ErrPullBacklog is returned by Add while the queue is full.
var ErrPullBacklog = errors.New("too many pull notifications wait to be recorded (is the database refusing writes?); send them again later")

// NewPullRecorder makes a recorder; Run flushes it.
func NewPullRecorder(s *store.Store, log *slog.Logger) *PullRecorder {
	return &PullRecorder{store: s, log: log, FlushEvery: time.Second, FlushAt: 5000, MaxPending: 200_000,
		pending: map[pullKey]time.Time{}, kick: make(chan struct{}, 1)}
}

// Add queues pulls (a pair already waiting keeps its newest time).
func (r *PullRecorder) Add(pulls []store.Pull) error {
	r.mu.Lock()
	if len(r.pending) >= r.MaxPending {
		r.mu.Unlock()
		return ErrPullBacklog
	}
	for _, p := range pulls {
		k := pullKey{p.Stream, p.Digest}
		if t, ok := r.pending[k]; !ok || p.At.After(t) {
			r.pending[k] = p.At
		}
	}
	full := len(r.pending) >= r.FlushAt
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// Pending is how many (stream, image) pairs wait.
func (r *PullRecorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Flush records what waits now; on failure the pulls wait for the next one.
func (r *PullRecorder) Flush(ctx context.Context) (int, error) {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch := r.pending
	r.pending = make(map[pullKey]time.Time, len(batch))
	r.mu.Unlock()
	if len(batch) == 0 {
		return 0, nil
	}
	pulls := make([]store.Pull, 0, len(batch))
	for k, at := range batch {
		pulls = append(pulls, store.Pull{Stream: k.stream, Digest: k.digest, At: at})
	}
	n, err := r.store.RecordPulls(ctx, pulls)
	if err != nil {
		r.mu.Lock()
		for k, at := range batch {
			if t, ok := r.pending[k]; !ok || at.After(t) {
				r.pending[k] = at
			}
		}
		r.mu.Unlock()
	}
	if r.OnFlush != nil {
		r.OnFlush(n, err)
	}
	return n, err
}

// Run flushes every FlushEvery, and when the queue fills, until ctx ends;
// then it records what is left.
// safeFlush is Flush in the background loop: a panic fails this flush
// (the pulls wait for the next) instead of ending the process.
func (r *PullRecorder) safeFlush(ctx context.Context) (n int, err error) {
	defer panics.Recover(&err)
	return r.Flush(ctx)
}

func (r *PullRecorder) Run(ctx context.Context) {
	t := time.NewTicker(r.FlushEvery)
	defer t.Stop()
	flush := func(ctx context.Context) {
		if _, err := r.safeFlush(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("recording pulls failed; they wait for the next try", "pending", r.Pending(), "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			flush(fctx)
			cancel()
			return
		case <-t.C:
			flush(ctx)
		case <-r.kick:
			flush(ctx)
		}
	}
}
