// Package jobs runs the scheduled jobs (usage snapshot now; import, sync,
// prune and reports as they land) and keeps the usage figures the pages read.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"layerwise/panics"
	"layerwise/store"
)

// Result is what a job run reports.
type Result struct {
	Count      int64
	BytesFreed int64
	Message    string
}

// Job is one scheduled task.
type Job struct {
	Name     string
	Schedule string // robfig/cron: "@daily", "0 7 * * 1", "@every 15m"
	Run      func(ctx context.Context) (Result, error)
	// Audits: a run records what it changed in one audit event, as the
	// actor its context names (ActorOf; a run started by hand) or as the
	// job itself; whoever starts it by hand needs no event of their own.
	Audits bool
}

type actorKey struct{}

// WithActor names who started a run by hand, for the job's audit event.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf is who started the run by hand ("": its schedule).
func ActorOf(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// Scheduler runs jobs on their schedules. A job never overlaps itself, a
// panic becomes a failed run, and every run is recorded in job_runs.
//
// Replicas sharing one database run each job once: a scheduled run first
// claims its period (the lease "tick:JOB", held until shortly before the
// job's next scheduled time), then every run, scheduled or started by hand,
// takes the lease "run:JOB" for as long as it runs (LeaseTTL, renewed every
// LeaseTTL/3: store.WithLease). A replica that finds either lease held
// skips the run and records nothing. See store/leases.go.
type Scheduler struct {
	store   *store.Store
	log     *slog.Logger
	cron    *cron.Cron
	jobs    []Job
	entries map[string]cron.EntryID
	running map[string]*sync.Mutex
	// OnRun is called after each run (metrics).
	OnRun func(job, status string, d time.Duration)
	// OnPanic is called when a run panicked (metrics).
	OnPanic func(job string)
	// Holder names this replica in the leases (default host:pid:random).
	Holder string
	// LeaseTTL bounds how long a replica that died mid-run keeps a job from
	// the others (default 1 minute).
	LeaseTTL time.Duration
	ctx      context.Context
	stop     context.CancelFunc
	hand     sync.WaitGroup // runs started by Trigger
}

// NewScheduler checks every schedule up front so a typo fails at start-up.
func NewScheduler(s *store.Store, log *slog.Logger, jobs []Job) (*Scheduler, error) {
	sc := &Scheduler{store: s, log: log, cron: cron.New(), jobs: jobs,
		entries: map[string]cron.EntryID{}, running: map[string]*sync.Mutex{},
		Holder: defaultHolder(), LeaseTTL: store.LeaseTTL}
	sc.ctx, sc.stop = context.WithCancel(context.Background())
	for _, j := range jobs {
		j := j
		if _, dup := sc.running[j.Name]; dup {
			return nil, fmt.Errorf("job %s is registered twice", j.Name)
		}
		sc.running[j.Name] = &sync.Mutex{}
		id, err := sc.cron.AddFunc(j.Schedule, func() { sc.tick(sc.ctx, j.Name, time.Now()) })
		if err != nil {
			return nil, fmt.Errorf("job %s: schedule %q: %w (use robfig/cron syntax such as \"@daily\" or \"0 7 * * 1\")", j.Name, j.Schedule, err)
		}
		sc.entries[j.Name] = id
	}
	return sc, nil
}

// Start starts the clock.
func (sc *Scheduler) Start() { sc.cron.Start() }

// Stop stops scheduling and waits (until ctx ends) for running jobs; their
// context is cancelled so they can stop early.
func (sc *Scheduler) Stop(ctx context.Context) {
	done := sc.cron.Stop().Done()
	hand := make(chan struct{})
	go func() { sc.hand.Wait(); close(hand) }()
	for _, c := range []<-chan struct{}{done, hand} {
		select {
		case <-c:
		case <-ctx.Done():
		}
	}
	sc.stop()
}

// Has says whether a job of that name is scheduled here.
func (sc *Scheduler) Has(name string) bool {
	_, ok := sc.running[name]
	return ok
}

// Audits says whether the job writes its own audit event (Job.Audits).
func (sc *Scheduler) Audits(name string) bool {
	for _, j := range sc.jobs {
		if j.Name == name {
			return j.Audits
		}
	}
	return false
}

// Trigger starts a run of the job now for actor, in the background, as its
// schedule would (RunNow: never overlapping itself, here or on another
// replica); done receives RunNow's answer: false when the run was skipped.
// Stop waits for the run as for a scheduled one.
func (sc *Scheduler) Trigger(name, actor string) (done <-chan bool, err error) {
	if !sc.Has(name) {
		return nil, fmt.Errorf("no job %q is scheduled in this process", name)
	}
	ch := make(chan bool, 1)
	sc.hand.Add(1)
	go func() {
		defer sc.hand.Done()
		ch <- sc.RunNow(WithActor(sc.ctx, actor), name)
	}()
	return ch, nil
}

// Status is a job with its next run time.
type Status struct {
	Name     string
	Schedule string
	// Words is the schedule in words ("Mondays at 07:00 UTC"); "" when
	// DescribeSchedule has none.
	Words string
	Next  time.Time
}

// Statuses lists the jobs in registration order.
func (sc *Scheduler) Statuses() []Status {
	out := make([]Status, 0, len(sc.jobs))
	for _, j := range sc.jobs {
		out = append(out, Status{Name: j.Name, Schedule: j.Schedule, Words: DescribeSchedule(j.Schedule, sc.cron.Location()),
			Next: sc.cron.Entry(sc.entries[j.Name]).Next})
	}
	return out
}

// tick is a scheduled run: it runs only if this replica claims the period
// that starts now, that is until just before the job's next scheduled time.
func (sc *Scheduler) tick(ctx context.Context, name string, now time.Time) bool {
	until := sc.periodEnd(name, now)
	ok, err := sc.store.AcquireLease(ctx, "tick:"+name, sc.Holder, until)
	if err != nil {
		sc.log.Error("job not started: cannot take its lease", "job", name, "err", err)
		return false
	}
	if !ok {
		sc.log.Debug("job skipped: another replica has this run", "job", name)
		return false
	}
	return sc.RunNow(ctx, name)
}

// periodEnd is shortly before the job's next scheduled time after now: a
// tenth of the period (at most a minute) early, so that replicas whose
// clocks or tickers differ a little still see the claim of this period.
func (sc *Scheduler) periodEnd(name string, now time.Time) time.Time {
	next := sc.cron.Entry(sc.entries[name]).Schedule.Next(now)
	margin := min(next.Sub(now)/10, time.Minute)
	return next.Add(-margin)
}

// RunNow runs a job at once unless it is already running, here or on
// another replica; it returns false when the run was skipped.
func (sc *Scheduler) RunNow(ctx context.Context, name string) bool {
	var job *Job
	for i := range sc.jobs {
		if sc.jobs[i].Name == name {
			job = &sc.jobs[i]
		}
	}
	mu := sc.running[name]
	if job == nil || !mu.TryLock() {
		sc.log.Info("job skipped: still running", "job", name)
		return false
	}
	defer mu.Unlock()
	ran := false
	err := sc.store.WithLease(ctx, "run:"+name, sc.Holder, sc.LeaseTTL, func(renew func() error) error {
		ran = sc.run(ctx, job)
		if err := renew(); err != nil {
			// Another replica may have run the job meanwhile.
			sc.log.Error("a job lost its lease while it ran", "job", name, "err", err)
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrBusy):
		sc.log.Debug("job skipped: running on another replica", "job", name)
	case err != nil:
		sc.log.Error("job not started: cannot take its lease", "job", name, "err", err)
	}
	return ran
}

// run runs a job holding its run lease and records the run; it returns
// false when the run could not be recorded (and did not run).
func (sc *Scheduler) run(ctx context.Context, job *Job) bool {
	name := job.Name
	start := time.Now()
	run, err := sc.store.StartJobRun(ctx, name, sc.Holder)
	if err != nil {
		sc.log.Error("job not started: cannot record the run", "job", name, "err", err)
		return false
	}
	res, err := safeRun(ctx, job.Run)
	run.Count, run.BytesFreed, run.Message = res.Count, res.BytesFreed, res.Message
	run.Status = "ok"
	if pe, ok := panics.As(err); ok {
		// A bug, not bad luck: the stack goes to the log, the run is
		// failed on /jobs and counted; the process and the next runs go on.
		run.Status, run.Message = "failed", err.Error()
		sc.log.Error("job panicked", "job", name, "err", err, "stack", string(pe.Stack), "duration", time.Since(start))
		if sc.OnPanic != nil {
			sc.OnPanic(name)
		}
	} else if err != nil {
		run.Status, run.Message = "failed", err.Error()
		sc.log.Error("job failed", "job", name, "err", err, "duration", time.Since(start))
	} else {
		sc.log.Info("job done", "job", name, "count", res.Count, "duration", time.Since(start))
	}
	// Record the end even when ctx was cancelled by shutdown.
	if err := sc.store.FinishJobRun(context.WithoutCancel(ctx), run); err != nil {
		sc.log.Error("cannot record the end of a job run", "job", name, "err", err)
	}
	if sc.OnRun != nil {
		sc.OnRun(name, run.Status, time.Since(start))
	}
	return true
}

// defaultHolder names this process: host, pid and a random part, so that
// two processes never share a lease even on one host.
func defaultHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

func safeRun(ctx context.Context, fn func(context.Context) (Result, error)) (res Result, err error) {
	defer panics.Recover(&err)
	return fn(ctx)
}
