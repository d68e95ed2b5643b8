package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/jobs/registry"
	"layerwise/panics"
	"layerwise/store"
	"layerwise/store/storetest"
)

// pushList writes a manifest list of a linux/amd64 and a linux/arm64 image
// as host/repoTag; it returns the list's digest and the amd64 image's.
func (r *faultyRegistry) pushList(t testing.TB, repoTag string) (list, amd64 string) {
	t.Helper()
	idx := v1.ImageIndex(empty.Index)
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		if p.Architecture == "amd64" {
			d, _ := img.Digest()
			amd64 = d.String()
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String(), amd64
}

// TestUnchangedTagCostsOneRequest: re-checking scheduled tags that did not
// change asks the registry exactly once per tag (a HEAD on the manifest),
// manifest lists imported in Legacy mode included, and writes nothing.
func TestUnchangedTagCostsOneRequest(t *testing.T) {
	t.Parallel()
	const n = 200
	e := newImportEnv(t, 8)
	var legacy store.TagRef
	for i := range n {
		ref := store.TagRef{Namespace: fmt.Sprintf("team-%d", i%5), Stream: fmt.Sprintf("app%d", i), Tag: "latest"}
		repo := fmt.Sprintf("%s/app%d:latest", ref.Namespace, i)
		if i%20 == 0 {
			// A manifest list: Legacy keeps the amd64 image, the check
			// remembers the list's digest.
			_, amd := e.reg.pushList(t, repo)
			if res := e.schedule(t, ref, repo, "Legacy"); res.Image != amd {
				t.Fatalf("Legacy import of %s took %s, want the amd64 image %s", repo, res.Image, amd)
			}
			legacy = ref
			continue
		}
		e.reg.push(t, repo)
		e.schedule(t, ref, repo, "")
	}
	before := storetest.Dump(t, e.s)

	// A fresh importer shakes hands with the host once (GET /v2/).
	e.reg.requests.Store(0)
	e.reg.heads.Store(0)
	st := e.run(t)
	if st.Tags != n || st.Checked != n || st.Unchanged != n || st.Changed+st.Failed+st.Skipped != 0 {
		t.Errorf("first run: %+v", st)
	}
	if got := e.reg.requests.Load(); got != n+1 {
		t.Errorf("first run: %d requests for %d unchanged tags, want %d (one HEAD each and one handshake)", got, n, n+1)
	}
	// From then on: exactly one request per tag, and it is a HEAD.
	e.reg.requests.Store(0)
	e.reg.heads.Store(0)
	st = e.run(t)
	if st.Unchanged != n {
		t.Errorf("second run: %+v", st)
	}
	if got, heads := e.reg.requests.Load(), e.reg.heads.Load(); got != n || heads != n {
		t.Errorf("second run: %d requests (%d HEAD) for %d unchanged tags, want exactly one HEAD per tag", got, heads, n)
	}
	if after := storetest.Dump(t, e.s); after != before {
		t.Error("re-checking unchanged tags wrote to the database")
	}
	if tg := e.tag(t, legacy); len(tg.Items) != 1 {
		t.Errorf("the Legacy manifest list tag moved: %v", historyOf(tg))
	}
	if !strings.Contains(st.String(), "200 checked (0 changed, 200 unchanged, 0 failed), 0 skipped") {
		t.Errorf("message %q", st.String())
	}
}

// TestChangedTagIsImported: a new image under a scheduled tag's source adds
// one history entry, moves the alias that tracks the tag and is audited as
// the system principal; a second run changes nothing and audits nothing.
func TestChangedTagIsImported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newImportEnv(t, 8)
	prod := store.TagRef{Namespace: "shop", Stream: "app", Tag: "prod"}
	other := store.TagRef{Namespace: "shop", Stream: "web", Tag: "prod"}
	d1 := e.reg.push(t, "shop/app:prod")
	e.reg.push(t, "shop/web:prod")
	e.schedule(t, prod, "shop/app:prod", "")
	e.schedule(t, other, "shop/web:prod", "")
	stable := store.TagRef{Namespace: "shop", Stream: "app", Tag: "stable"}
	src := store.Source{Kind: store.KindImageStreamTag, Namespace: "shop", Stream: "app", Tag: "prod"}
	if _, err := e.s.SetTag(ctx, src, stable, store.TagOptions{Alias: true}); err != nil {
		t.Fatal(err)
	}
	changed := 0
	e.im.Changed = func() { changed++ }

	d2 := e.reg.push(t, "shop/app:prod")
	st := e.run(t)
	if st.Checked != 2 || st.Changed != 1 || st.Unchanged != 1 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	if got := historyOf(e.tag(t, prod)); len(got) != 2 || got[0] != d2 || got[1] != d1 {
		t.Errorf("prod history %v, want [%s %s]", got, d2, d1)
	}
	if got := historyOf(e.tag(t, stable)); len(got) == 0 || got[0] != d2 {
		t.Errorf("the alias did not follow: %v", got)
	}
	if changed != 1 {
		t.Errorf("Changed called %d times", changed)
	}
	evs, err := e.s.AuditLog(ctx, store.AuditFilter{Actor: ImportActor})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Action != "tag.import" || evs[0].Target != "shop/app:prod" || evs[0].Before != d1 ||
		!strings.HasPrefix(evs[0].After, d2) {
		t.Errorf("audit %+v", evs)
	}

	// Nothing new upstream: one HEAD each, no entry, no audit event.
	e.reg.requests.Store(0)
	st = e.run(t)
	if st.Unchanged != 2 || e.reg.requests.Load() != 2 {
		t.Errorf("second run %+v, %d requests", st, e.reg.requests.Load())
	}
	if evs, _ := e.s.AuditLog(ctx, store.AuditFilter{Actor: ImportActor}); len(evs) != 1 {
		t.Errorf("an unchanged run wrote audit events: %+v", evs)
	}
	if changed != 1 {
		t.Errorf("Changed called after an unchanged run")
	}

	// A tag scheduled without an image yet (`tag --scheduled`) is imported.
	e.reg.push(t, "shop/new:1")
	fresh := store.TagRef{Namespace: "shop", Stream: "new", Tag: "1"}
	if _, err := e.s.SetTag(ctx, store.Source{Kind: store.KindDockerImage, Ref: e.reg.host + "/shop/new:1"}, fresh, store.TagOptions{Scheduled: true}); err != nil {
		t.Fatal(err)
	}
	st = e.run(t)
	if st.Changed != 1 || len(e.tag(t, fresh).Items) != 1 {
		t.Errorf("a scheduled tag without an image: %+v, history %v", st, historyOf(e.tag(t, fresh)))
	}
}

// TestFailedImportKeepsTheImage: for every way a registry fails, the
// scheduled import marks the tag ImportSuccess=False with a reason and a
// message, keeps its image and history, and the next run that reaches the
// registry clears the failure. A registry that is down or does not answer
// fails as a whole: its other tags are skipped (and marked) and the host
// is backed off.
func TestFailedImportKeepsTheImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		fault   string // faultyRegistry fault, or "down"
		reason  string
		says    string
		hostErr bool // the whole host fails: the other tag is skipped
	}{
		{"registry down", "down", registry.ReasonUnreachable, "cannot read from registry", true},
		{"never answers", "hang", registry.ReasonUnreachable, "cannot read from registry", true},
		{"unauthorized", "unauthorized", registry.ReasonUnauthorized, "wants credentials and none are configured", false},
		{"unknown tag", "notfound", registry.ReasonNotFound, "not found in", false},
		{"malformed manifest", "malformed", registry.ReasonInvalidManifest, "malformed manifest", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newImportEnv(t, 1)
			a := store.TagRef{Namespace: "shop", Stream: "app", Tag: "1"}
			b := store.TagRef{Namespace: "shop", Stream: "web", Tag: "1"}
			da := e.reg.push(t, "shop/app:1")
			db := e.reg.push(t, "shop/web:1")
			e.schedule(t, a, "shop/app:1", "")
			e.schedule(t, b, "shop/web:1", "")
			e.run(t)

			if tc.fault == "down" {
				e.reg.stop()
			} else {
				e.reg.setFault(tc.fault)
			}
			start := time.Now()
			st := e.run(t)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the failing run took %s", d)
			}
			wantFailed, wantSkipped := 2, 0
			if tc.hostErr {
				wantFailed, wantSkipped = 1, 1
			}
			if st.Failed != wantFailed || st.Skipped != wantSkipped || st.Changed != 0 {
				t.Errorf("stats %+v, want %d failed, %d skipped", st, wantFailed, wantSkipped)
			}
			for ref, d := range map[store.TagRef]string{a: da, b: db} {
				tg := e.tag(t, ref)
				c := tg.Condition
				if c == nil || c.Status != "False" || c.Reason != tc.reason || !strings.Contains(c.Message, tc.says) {
					t.Errorf("%s: condition %+v, want False/%s saying %q", ref, c, tc.reason, tc.says)
				}
				if got := historyOf(tg); len(got) != 1 || got[0] != d {
					t.Errorf("%s: history %v, want the image kept (%s)", ref, got, d)
				}
			}
			backoffs, err := e.s.RegistryBackoffs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.hostErr != (len(backoffs) == 1) {
				t.Errorf("backoffs %+v", backoffs)
			}
			if tc.hostErr {
				if b := backoffs[0]; b.Host != e.reg.host || b.Failures != 1 || !b.Until.Equal(e.now.Add(15*time.Minute)) || b.Reason != tc.reason {
					t.Errorf("backoff %+v", b)
				}
				if !strings.Contains(st.String(), "backing off "+e.reg.host) {
					t.Errorf("message %q", st.String())
				}
				// Still backed off: nothing is asked.
				e.reg.requests.Store(0)
				if st := e.run(t); st.Skipped != 2 || st.Checked != 0 {
					t.Errorf("during the backoff: %+v", st)
				}
				e.now = e.now.Add(15 * time.Minute)
			}

			if tc.fault == "down" {
				e.reg.start()
			} else {
				e.reg.setFault("")
			}
			st = e.run(t)
			if st.Unchanged != 2 || st.Failed != 0 {
				t.Errorf("after the repair: %+v", st)
			}
			for _, ref := range []store.TagRef{a, b} {
				if c := e.tag(t, ref).Condition; c == nil || c.Status != "True" || c.Message != "" {
					t.Errorf("%s: condition after the repair %+v", ref, c)
				}
			}
			if backoffs, _ := e.s.RegistryBackoffs(ctx); len(backoffs) != 0 {
				t.Errorf("backoff not cleared: %+v", backoffs)
			}
		})
	}
}

// TestBackoffGrowsAcrossRuns: each further failed run doubles the wait,
// up to the cap.
func TestBackoffGrowsAcrossRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newImportEnv(t, 2)
	e.im.Settings.BackoffBase, e.im.Settings.BackoffMax = 10*time.Minute, time.Hour
	ref := store.TagRef{Namespace: "shop", Stream: "app", Tag: "1"}
	e.reg.push(t, "shop/app:1")
	e.schedule(t, ref, "shop/app:1", "")
	e.reg.stop()
	for i, want := range []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, time.Hour} {
		st := e.run(t)
		if st.Failed != 1 {
			t.Fatalf("run %d: %+v", i+1, st)
		}
		bs, err := e.s.RegistryBackoffs(ctx)
		if err != nil || len(bs) != 1 {
			t.Fatalf("run %d: backoffs %+v %v", i+1, bs, err)
		}
		if got := bs[0].Until.Sub(e.now); got != want || bs[0].Failures != i+1 {
			t.Errorf("run %d: backed off %s after %d failures, want %s", i+1, got, bs[0].Failures, want)
		}
		// Half way through the wait the host is left alone.
		e.now = e.now.Add(want / 2)
		if st := e.run(t); st.Skipped != 1 || st.Checked != 0 {
			t.Errorf("run %d: during the backoff %+v", i+1, st)
		}
		e.now = e.now.Add(want - want/2)
	}
}

// A panic while checking one tag happens in a worker goroutine, out of the
// scheduler's reach: it fails the run as a recovered panic (logged with its
// stack and counted by the scheduler) instead of ending the process, and
// the other tags are still checked.
func TestAPanicInAnImportWorkerFailsTheRun(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t, 2)
	for i := range 3 {
		ref := store.TagRef{Namespace: "team-a", Stream: fmt.Sprintf("app%d", i), Tag: "latest"}
		repo := fmt.Sprintf("team-a/app%d:latest", i)
		e.reg.push(t, repo)
		e.schedule(t, ref, repo, "")
	}
	e.im.Checker = nil // a bug: the HEAD check dereferences nil
	_, err := e.im.Run(context.Background())
	pe, ok := panics.As(err)
	if !ok {
		t.Fatalf("run error = %v, want a recovered panic", err)
	}
	if !strings.Contains(string(pe.Stack), "jobs.(*Importer).check") {
		t.Errorf("the stack does not show the check:\n%s", pe.Stack)
	}
}
