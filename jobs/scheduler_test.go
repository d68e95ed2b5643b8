package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"layerwise/store"
)

func newScheduler(t *testing.T, jobs ...Job) (*Scheduler, *store.Store) {
	t.Helper()
	s, err := store.Open(context.Background(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sc, err := NewScheduler(s, slog.New(slog.NewTextHandler(io.Discard, nil)), jobs)
	if err != nil {
		t.Fatal(err)
	}
	return sc, s
}

func TestRunsAreRecordedAndPanicsBecomeFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc, s := newScheduler(t,
		Job{Name: "good", Schedule: "@daily", Run: func(context.Context) (Result, error) { return Result{Count: 7, Message: "done"}, nil }},
		Job{Name: "bad", Schedule: "@daily", Run: func(context.Context) (Result, error) { return Result{}, errors.New("registry unreachable") }},
		Job{Name: "boom", Schedule: "@daily", Run: func(context.Context) (Result, error) { panic("nil map") }},
	)
	for _, name := range []string{"good", "bad", "boom"} {
		if !sc.RunNow(ctx, name) {
			t.Fatalf("%s did not run", name)
		}
	}
	last, err := s.LastJobRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := last["good"]; r.Status != "ok" || r.Count != 7 || r.Finished == nil {
		t.Errorf("good = %+v", r)
	}
	if r := last["bad"]; r.Status != "failed" || r.Message != "registry unreachable" {
		t.Errorf("bad = %+v", r)
	}
	if r := last["boom"]; r.Status != "failed" || !strings.HasPrefix(r.Message, "panic: nil map") {
		t.Errorf("boom = %+v", r)
	}
}

func TestAJobNeverOverlapsItself(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	sc, _ := newScheduler(t, Job{Name: "slow", Schedule: "@every 1h", Run: func(context.Context) (Result, error) {
		once.Do(func() { close(started) })
		<-release
		return Result{}, nil
	}})
	done := make(chan bool)
	go func() { done <- sc.RunNow(context.Background(), "slow") }()
	<-started
	if sc.RunNow(context.Background(), "slow") {
		t.Fatal("a second run started while the first was running")
	}
	close(release)
	if !<-done {
		t.Fatal("the first run reported skipped")
	}
}

func TestBadScheduleFailsAtStart(t *testing.T) {
	t.Parallel()
	s, err := store.Open(context.Background(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = NewScheduler(s, slog.New(slog.NewTextHandler(io.Discard, nil)), []Job{{Name: "x", Schedule: "every tuesday", Run: nil}})
	if err == nil || !strings.Contains(err.Error(), `job x: schedule "every tuesday"`) {
		t.Fatalf("err = %v", err)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
