package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"layerwise/jobs/registry"
	"layerwise/panics"
	"layerwise/store"
)

// ImportActor is the principal the scheduled import acts as in the audit
// log. It records an event only for an import that moved a tag.
const ImportActor = "system:import"

// ImportSettings configure the scheduled import.
type ImportSettings struct {
	// Workers is how many tags are checked at once; default 8.
	Workers int
	// BackoffBase is how long a registry host that failed is left alone
	// after its first failed run; it doubles with every further failed run
	// up to BackoffMax. Defaults 15m and 6h.
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// ImportStats is what one run of the scheduled import did.
type ImportStats struct {
	Tags      int // scheduled tags
	Checked   int // asked their registry (Unchanged + Changed + Failed)
	Unchanged int
	Changed   int // got a new history entry
	Failed    int // ImportSuccess=False now
	Skipped   int // not asked: their registry host is backed off
	// Backoff lists the hosts backed off after this run, with until when.
	Backoff []store.RegistryBackoff
}

func (st ImportStats) String() string {
	msg := fmt.Sprintf("%d scheduled tags: %d checked (%d changed, %d unchanged, %d failed), %d skipped by registry backoff",
		st.Tags, st.Checked, st.Changed, st.Unchanged, st.Failed, st.Skipped)
	for i, b := range st.Backoff {
		if i == 0 {
			msg += "; backing off "
		} else {
			msg += ", "
		}
		msg += fmt.Sprintf("%s until %s (%d failed runs: %s)", b.Host, b.Until.UTC().Format(time.RFC3339), b.Failures, b.Reason)
	}
	return msg
}

// Importer re-checks every scheduled tag: one HEAD request for a tag whose
// source still points where the last import found it, a full import only
// when the digest changed (or was never recorded). A registry host that is
// unreachable or does not answer in time is skipped for the rest of the run
// and backed off across runs.
type Importer struct {
	Store    *store.Store
	Client   *registry.Client
	Checker  *registry.Checker
	Settings ImportSettings
	Log      *slog.Logger
	// Now is the clock of the backoff; default time.Now.
	Now func() time.Time
	// Changed is called after a run that changed a tag or its condition
	// (the usage and page caches).
	Changed func()
}

// NewImporter makes an Importer that reads registries through c.
func NewImporter(s *store.Store, c *registry.Client, set ImportSettings, log *slog.Logger) *Importer {
	return &Importer{Store: s, Client: c, Checker: registry.NewChecker(c), Settings: set, Log: log}
}

// ImportJob is the scheduled job "import".
func ImportJob(im *Importer, schedule string) Job {
	return Job{Name: "import", Schedule: schedule, Run: func(ctx context.Context) (Result, error) {
		st, err := im.Run(ctx)
		return Result{Count: int64(st.Checked), Message: st.String()}, err
	}}
}

func (im *Importer) now() time.Time {
	if im.Now != nil {
		return im.Now().UTC()
	}
	return time.Now().UTC()
}

// hostFailure is the first failure of a host in a run.
type hostFailure struct {
	reason, message string
	skipped         []int64 // tags not asked after it
}

// importRun is one run's shared state.
type importRun struct {
	mu       sync.Mutex
	stats    ImportStats
	failed   map[string]*hostFailure
	reached  map[string]bool
	touched  bool // a tag or a condition changed
	internal error
}

func (r *importRun) hostFailed(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.failed[host]; f != nil {
		return true
	}
	return false
}

// Run checks every scheduled tag once.
func (im *Importer) Run(ctx context.Context) (ImportStats, error) {
	tags, err := im.Store.ScheduledTags(ctx)
	if err != nil {
		return ImportStats{}, err
	}
	backoffs, err := im.Store.RegistryBackoffs(ctx)
	if err != nil {
		return ImportStats{}, err
	}
	now := im.now()
	held := map[string]store.RegistryBackoff{}
	for _, b := range backoffs {
		held[b.Host] = b
	}
	run := &importRun{failed: map[string]*hostFailure{}, reached: map[string]bool{}}
	run.stats.Tags = len(tags)
	queue := make(chan store.ScheduledTag)
	workers := im.Settings.Workers
	if workers <= 0 {
		workers = 8
	}
	var wg sync.WaitGroup
	for range min(workers, max(len(tags), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range queue {
				im.safeCheck(ctx, run, t)
			}
		}()
	}
feed:
	for _, t := range tags {
		if b, ok := held[registry.Host(t.From)]; ok && b.Until.After(now) {
			run.stats.Skipped++
			continue
		}
		select {
		case queue <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return run.stats, fmt.Errorf("scheduled import stopped: %w", err)
	}
	if err := im.settle(ctx, run, held, now); err != nil {
		return run.stats, err
	}
	if run.touched && im.Changed != nil {
		im.Changed()
	}
	return run.stats, run.internal
}

// check handles one tag: HEAD when its last digest is known, a full import
// when it changed or is unknown.
func (im *Importer) check(ctx context.Context, run *importRun, t store.ScheduledTag) {
	if ctx.Err() != nil {
		return
	}
	host := registry.Host(t.From)
	if run.hostFailed(host) {
		run.mu.Lock()
		f := run.failed[host]
		f.skipped = append(f.skipped, t.ID)
		run.stats.Skipped++
		run.mu.Unlock()
		return
	}
	if t.LastDigest != "" {
		digest, err := im.Checker.Head(ctx, t.From, t.Insecure)
		switch {
		case err == nil && digest == t.LastDigest:
			im.unchanged(ctx, run, t, host)
			return
		case err == nil:
			// Changed: the full import below.
		case ctx.Err() != nil:
			return
		case errors.Is(err, registry.ErrMalformed):
			// A registry that answers HEAD oddly (no digest header): the
			// full import reads the manifest and says what is wrong.
		default:
			im.failed(ctx, run, t, host, err, true)
			return
		}
	}
	res, err := registry.Import(ctx, im.Store, im.Client, t.Ref, "", registry.ImportOptions{Actor: ImportActor})
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		// Import has recorded a registry's failure on the tag; a refusal
		// of its own (a malformed reference) is recorded here.
		var rerr *registry.Error
		im.failed(ctx, run, t, host, err, !errors.As(err, &rerr))
		return
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.reached[host] = true
	run.stats.Checked++
	if res.Changed {
		run.stats.Changed++
		run.touched = true
		im.Log.Info("scheduled import: new image", "tag", t.Ref.String(), "from", t.From, "image", res.Image)
	} else {
		run.stats.Unchanged++
		run.touched = run.touched || t.CondStatus != "True"
	}
}

// unchanged is a tag whose source still points at the digest it had; a
// failure recorded earlier is cleared.
func (im *Importer) unchanged(ctx context.Context, run *importRun, t store.ScheduledTag, host string) {
	cleared := false
	if t.CondStatus == "False" {
		if err := im.Store.SetImportCondition(ctx, t.Ref, true, "", ""); err != nil {
			im.internalError(run, fmt.Errorf("clear the import failure of %s: %w", t.Ref, err))
		} else {
			cleared = true
		}
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.reached[host] = true
	run.stats.Checked++
	run.stats.Unchanged++
	run.touched = run.touched || cleared
}

// failed records a failed check. A host that is unreachable or does not
// answer in time fails as a whole: its remaining tags are skipped.
func (im *Importer) failed(ctx context.Context, run *importRun, t store.ScheduledTag, host string, err error, record bool) {
	reason := registry.Reason(err)
	var rerr *registry.Error
	switch {
	case errors.As(err, &rerr):
	case errors.Is(err, store.ErrNotFound):
		return // the tag went away since the run started
	case errors.Is(err, store.ErrInvalid):
		reason = registry.ReasonInvalidReference
	default:
		// Not the registry's doing (the database, say).
		im.internalError(run, fmt.Errorf("import %s: %w", t.Ref, err))
		return
	}
	if record {
		// Import records its own failures; a failed HEAD is recorded here.
		if cerr := im.Store.SetImportCondition(context.WithoutCancel(ctx), t.Ref, false, reason, err.Error()); cerr != nil {
			im.internalError(run, fmt.Errorf("record the import failure of %s: %w", t.Ref, cerr))
		}
	}
	im.Log.Warn("scheduled import failed", "tag", t.Ref.String(), "from", t.From, "reason", reason, "err", err)
	hostDown := reason == registry.ReasonUnreachable || reason == registry.ReasonTimeout
	if hostDown {
		im.Checker.Forget(host)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.stats.Checked++
	run.stats.Failed++
	run.touched = true
	switch {
	case hostDown && host != "" && run.failed[host] == nil:
		run.failed[host] = &hostFailure{reason: reason, message: err.Error()}
	case !hostDown && host != "":
		run.reached[host] = true // it answered
	}
}

// safeCheck is check in a worker goroutine, which the scheduler's recover
// does not reach: a panic on one tag fails the run (a panics.Error, so the
// scheduler logs its stack and counts it) and the other tags go on.
func (im *Importer) safeCheck(ctx context.Context, run *importRun, t store.ScheduledTag) {
	var err error
	func() {
		defer panics.Recover(&err)
		im.check(ctx, run, t)
	}()
	if err != nil {
		run.mu.Lock()
		defer run.mu.Unlock()
		if _, first := panics.As(run.internal); !first {
			run.internal = fmt.Errorf("import %s: %w", t.Ref, err)
		}
	}
}

func (im *Importer) internalError(run *importRun, err error) {
	im.Log.Error("scheduled import", "err", err)
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.internal == nil {
		run.internal = err
	}
}

// settle records the hosts that failed (their skipped tags get the
// failure, the host a longer backoff) and forgets the backoff of hosts
// that answered.
func (im *Importer) settle(ctx context.Context, run *importRun, held map[string]store.RegistryBackoff, now time.Time) error {
	base, maxWait := im.Settings.BackoffBase, im.Settings.BackoffMax
	if base <= 0 {
		base = 15 * time.Minute
	}
	if maxWait <= 0 {
		maxWait = 6 * time.Hour
	}
	hosts := make([]string, 0, len(run.failed))
	for h := range run.failed {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		f := run.failed[h]
		b := store.RegistryBackoff{Host: h, Failures: held[h].Failures + 1, FailedAt: now, Reason: f.reason, Message: f.message}
		wait := base
		for i := 1; i < b.Failures && wait < maxWait; i++ {
			wait *= 2
		}
		b.Until = now.Add(min(wait, maxWait))
		if err := im.Store.SaveRegistryBackoff(ctx, b); err != nil {
			return err
		}
		run.stats.Backoff = append(run.stats.Backoff, b)
		if len(f.skipped) > 0 {
			msg := fmt.Sprintf("not checked: registry %s failed earlier in this run (%s); next attempt after %s",
				h, strings.TrimSuffix(f.message, "."), b.Until.Format(time.RFC3339))
			if err := im.Store.SetImportFailures(ctx, f.skipped, f.reason, msg); err != nil {
				return err
			}
		}
	}
	for h := range run.reached {
		if _, ok := held[h]; ok && run.failed[h] == nil {
			if err := im.Store.ClearRegistryBackoff(ctx, h); err != nil {
				return err
			}
		}
	}
	return nil
}
