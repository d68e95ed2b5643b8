package store

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func setRules(t *testing.T, s *Store, ns, text string) {
	t.Helper()
	rules, err := ParseRetentionRules(text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRetentionRules(ctx, ns, rules); err != nil {
		t.Fatal(err)
	}
}

func recordPull(t *testing.T, s *Store, stream, digest string, at time.Time) {
	t.Helper()
	ref, err := ParseStreamRef(stream, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordPulls(ctx, []Pull{{Stream: ref, Digest: digest, At: at}}); err != nil {
		t.Fatal(err)
	}
}

// reasons lists the plan's revisions, kept or not, as "tag@position=reason/rule".
func reasons(pl *PrunePlan, ns string) string {
	var out []string
	for _, list := range [][]PruneRevision{pl.Revisions, pl.Kept} {
		for _, r := range list {
			if r.Namespace == ns {
				out = append(out, fmt.Sprintf("%s@%d=%s/%d", r.Tag, r.Position, r.Retention.Reason, r.Retention.Rule))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// Release tags are never pruned and PR tags keep one revision, whatever
// the policy; other tags and namespaces keep the policy's.
func TestRetentionRulesInThePlanAndTheRun(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "shop/app:v1.2.3", "a", "b", "c", "d", "e")
	pushOld(t, s, "shop/app:pr-7", "f", "g", "h", "i")
	pushOld(t, s, "shop/app:latest", "j", "k", "l", "m", "n")
	pushOld(t, s, "other/app:v1.2.3", "o", "p", "q", "r", "s")
	setRules(t, s, "shop", `^v\d+\.\d+\.\d+$ never`+"\n"+`^pr-\d+$ keep 1 younger-than 0`)

	pl, err := s.PlanPruneWith(ctx, DefaultPolicy, nil, PlanOptions{Kept: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "latest@0=current/0 latest@1=newest/0 latest@2=newest/0 latest@3=prunable/0 latest@4=prunable/0 " +
		"pr-7@0=current/0 pr-7@1=prunable/2 pr-7@2=prunable/2 pr-7@3=prunable/2 " +
		"v1.2.3@0=current/0 v1.2.3@1=never/1 v1.2.3@2=never/1 v1.2.3@3=never/1 v1.2.3@4=never/1"
	if got := reasons(pl, "shop"); got != want {
		t.Errorf("shop's reasons:\n got %s\nwant %s", got, want)
	}
	if got := reasons(pl, "other"); !strings.Contains(got, "v1.2.3@3=prunable/0") {
		t.Errorf("another namespace follows the policy, not shop's rules: %s", got)
	}
	for _, n := range pl.Namespaces {
		if n.Name == "shop" && strings.Join(n.Rules, "|") != `^v\d+\.\d+\.\d+$ never|^pr-\d+$ keep 1 younger-than 0s` {
			t.Errorf("the plan shows shop's rules as %q", n.Rules)
		}
	}
	// Without Kept, the plan is the same but lists only what goes.
	short := plan(t, s, DefaultPolicy)
	if len(short.Kept) != 0 || len(short.Revisions) != len(pl.Revisions) || short.BytesFreed != pl.BytesFreed {
		t.Errorf("plan without kept: %d kept, %d/%d revisions", len(short.Kept), len(short.Revisions), len(pl.Revisions))
	}
	u, err := s.ComputeUsage(ctx, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if u.Registry.ReclaimableBytes != pl.BytesFreed {
		t.Errorf("usage's reclaimable %d, the plan frees %d", u.Registry.ReclaimableBytes, pl.BytesFreed)
	}
	apply(t, s, short)
	checkIntegrity(t, s)
	for ref, want := range map[string]string{"shop/app:v1.2.3": "e,d,c,b,a", "shop/app:pr-7": "i", "shop/app:latest": "n,m,l", "other/app:v1.2.3": "s,r,q"} {
		if got := names(t, s, ref); got != want {
			t.Errorf("%s after prune: %s, want %s", ref, got, want)
		}
	}
}

// A rule set between plan and run keeps what it keeps: the run re-checks
// every entry with the rules as they are then.
func TestPruneRunRechecksTheRules(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "shop/app:v1.0.0", "a", "b", "c", "d", "e")
	pl := plan(t, s, DefaultPolicy)
	if len(pl.Revisions) != 2 {
		t.Fatalf("plan removes %d revisions, want 2", len(pl.Revisions))
	}
	setRules(t, s, "shop", `^v.* never`)
	res := apply(t, s, pl)
	if res.Revisions != 0 || res.Skipped != 2 || names(t, s, "shop/app:v1.0.0") != "e,d,c,b,a" {
		t.Errorf("run after the rule: %+v, history %s", res, names(t, s, "shop/app:v1.0.0"))
	}
}

// A pulled-within rule keeps a revision pulled from its stream within the
// window, a manifest list when one of its platform images was pulled, and
// nothing pulled only from another stream.
func TestPulledWithinKeepsPulledRevisions(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "shop/app:latest", "a", "b", "c", "d", "e")
	pushOld(t, s, "shop/copy:latest", "a", "b", "c", "d", "e")
	amd := image("amd", 1, layer{"base-amd", 700})
	mustPutImage(t, s, amd)
	list := ImageSnapshot{Digest: dg("list"), MediaType: "application/vnd.oci.image.index.v1+json",
		Manifests: []ManifestRef{{Digest: amd.Digest, OS: "linux", Architecture: "amd64"}}}
	pushTo(t, s, "shop/multi:latest", list, ago(old))
	pushOld(t, s, "shop/multi:latest", "f", "g", "h")
	setRules(t, s, "shop", "pulled-within 30d")

	recordPull(t, s, "shop/app", dg("image:a"), ago(10*24*time.Hour))
	recordPull(t, s, "shop/app", dg("image:b"), ago(30*24*time.Hour)) // exactly 30 days: not within
	recordPull(t, s, "shop/copy", dg("image:b"), ago(time.Hour))      // another stream's pull
	recordPull(t, s, "shop/multi", amd.Digest, ago(24*time.Hour))     // the list's platform image

	pl, err := s.PlanPruneWith(ctx, DefaultPolicy, nil, PlanOptions{Kept: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Retention{}
	for _, list := range [][]PruneRevision{pl.Revisions, pl.Kept} {
		for _, r := range list {
			got[fmt.Sprintf("%s:%s@%d", r.Stream, r.Tag, r.Position)] = r.Retention
		}
	}
	for key, want := range map[string]RetentionReason{
		"app:latest@4": ReasonPulled, "app:latest@3": ReasonPrunable, "copy:latest@4": ReasonPrunable,
		"copy:latest@3": ReasonPulled, "multi:latest@3": ReasonPulled,
	} {
		if got[key].Reason != want {
			t.Errorf("%s: %s (%s), want %s", key, got[key].Reason, got[key].Text(), want)
		}
	}
	if r := got["app:latest@4"]; r.PrunableAt() != ago(10*24*time.Hour).Add(30*24*time.Hour) || !strings.HasPrefix(r.Text(), "rule 1: pulled within 30d (last ") {
		t.Errorf("app:latest@4 kept %q, prunable on %v", r.Text(), r.PrunableAt())
	}
	apply(t, s, plan(t, s, DefaultPolicy))
	if got := names(t, s, "shop/app:latest"); got != "e,d,c,a" {
		t.Errorf("shop/app:latest after prune: %s, want e,d,c,a (a was pulled)", got)
	}
	if !imageExists(t, s, dg("list")) || !imageExists(t, s, amd.Digest) {
		t.Error("the pulled manifest list went")
	}
}

func TestRecordPulls(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "shop/app:latest", "a", "b")
	app := StreamRef{"shop", "app"}
	last := func(digest string) time.Time {
		t.Helper()
		f, err := s.StreamFacts(ctx, app, DefaultPolicy)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.StreamPulls(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range f.Evaluate(p, pruneNow)["latest"] {
			if e.Image == digest {
				return e.LastPulled
			}
		}
		t.Fatalf("%s is not in the history", digest)
		return time.Time{}
	}
	if since, err := s.PullsRecordedSince(ctx); err != nil || !since.IsZero() || !last(dg("image:a")).IsZero() {
		t.Fatalf("before any pull: since %v (%v), last pulled %v", since, err, last(dg("image:a")))
	}
	version := func() int64 {
		v, err := s.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v0 := version()
	t1 := ago(2 * time.Hour)
	n, err := s.RecordPulls(ctx, []Pull{
		{Stream: app, Digest: dg("image:a"), At: t1.Add(-time.Hour)},
		{Stream: app, Digest: dg("image:a"), At: t1.Add(500 * time.Millisecond)}, // the newest of a batch, in whole seconds
		{Stream: StreamRef{"shop", "nope"}, Digest: dg("image:a"), At: t1},       // no such stream
		{Stream: app, Digest: dg("image:unknown"), At: t1},                       // no such image
		{Stream: app, Digest: dg("image:b"), At: pruneNow.Add(time.Hour)},        // a clock ahead: now
	})
	if err != nil || n != 2 {
		t.Fatalf("recorded %d, %v; want 2 (a and b)", n, err)
	}
	if got := last(dg("image:a")); !got.Equal(t1) {
		t.Errorf("a last pulled %v, want %v", got, t1)
	}
	if got := last(dg("image:b")); !got.Equal(pruneNow) {
		t.Errorf("b last pulled %v, want now (%v), not the future", got, pruneNow)
	}
	// Redelivered and late events change nothing.
	for _, at := range []time.Time{t1, t1.Add(-24 * time.Hour)} {
		if _, err := s.RecordPulls(ctx, []Pull{{Stream: app, Digest: dg("image:a"), At: at}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := last(dg("image:a")); !got.Equal(t1) {
		t.Errorf("after a redelivered and a late pull, a last pulled %v, want %v", got, t1)
	}
	if v := version(); v != v0 {
		t.Errorf("recording pulls moved the data version from %d to %d (every page cache would be dropped)", v0, v)
	}
	if since, err := s.PullsRecordedSince(ctx); err != nil || !since.Equal(t1.Add(-24*time.Hour)) {
		t.Errorf("pulls recorded since %v (%v), want the earliest pull recorded, %v", since, err, t1.Add(-24*time.Hour))
	}
}

// The pages' per-stream evaluation and the plan's whole-registry one give
// every entry the same answer.
func TestStreamFactsAgreeWithThePlan(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "shop/app:v1.0.0", "a", "b", "c", "d", "e")
	pushOld(t, s, "shop/app:pr-1", "f", "g", "h")
	pushOld(t, s, "shop/app:latest", "i", "j", "k", "l", "m")
	pushTo(t, s, "shop/app:latest", rev("n"), ago(time.Hour))
	pushTo(t, s, "shop/app:nightly", rev("o"), ago(50*time.Hour))
	pushTo(t, s, "shop/app:nightly", rev("p"), ago(40*time.Hour))
	pushTo(t, s, "shop/app:nightly", rev("q"), ago(30*time.Hour))
	pushTo(t, s, "shop/app:nightly", rev("r"), ago(20*time.Hour))
	if _, err := s.PinImage(ctx, "shop", dg("image:j"), "prod", "t"); err != nil {
		t.Fatal(err)
	}
	setRules(t, s, "shop", "^v.* never\n^pr-.* keep 1 younger-than 0\npulled-within 7d\n^nightly$ keep 0 younger-than 36h")
	if err := s.SetNamespace(ctx, "shop", NamespaceSettings{PruneKeepTagRevisions: ptr(2)}); err != nil {
		t.Fatal(err)
	}
	recordPull(t, s, "shop/app", dg("image:k"), ago(24*time.Hour))
	recordPull(t, s, "shop/app", dg("image:o"), ago(24*time.Hour))

	pl, err := s.PlanPruneWith(ctx, DefaultPolicy, nil, PlanOptions{Kept: true})
	if err != nil {
		t.Fatal(err)
	}
	fromPlan := map[string]Retention{}
	for _, list := range [][]PruneRevision{pl.Revisions, pl.Kept} {
		for _, r := range list {
			fromPlan[fmt.Sprintf("%s@%d %s", r.Tag, r.Position, r.Image)] = r.Retention
		}
	}
	f, err := s.StreamFacts(ctx, StreamRef{"shop", "app"}, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.StreamPulls(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	seen := map[RetentionReason]bool{}
	for tag, list := range f.Evaluate(p, pruneNow) {
		for _, e := range list {
			n++
			key := fmt.Sprintf("%s@%d %s", tag, e.Position, e.Image)
			if want, ok := fromPlan[key]; !ok || want != e.Retention {
				t.Errorf("%s: stream %+v (%s), plan %+v (%s)", key, e.Retention, e.Retention.Text(), want, want.Text())
			}
			seen[e.Retention.Reason] = true
		}
	}
	if n != len(fromPlan) || n != 18 {
		t.Errorf("stream has %d entries, the plan %d; want 18", n, len(fromPlan))
	}
	for _, r := range []RetentionReason{ReasonCurrent, ReasonPinned, ReasonNever, ReasonPulled, ReasonNewest, ReasonYounger, ReasonPrunable} {
		if !seen[r] {
			t.Errorf("the fixture has no entry %s", r)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// The e-mail's "not pulled in 90 days": the namespace's exclusive bytes
// that only revisions not pulled in 90 days hold; nothing is said before
// pulls are recorded at all.
func TestNotPulledBytes(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushTo(t, s, "shop/app:latest", image("a", 1, layer{"base", 1000}, layer{"a", 10}), ago(200*24*time.Hour))
	pushTo(t, s, "shop/app:latest", image("b", 2, layer{"base", 1000}, layer{"b", 20}), ago(100*24*time.Hour))
	pushTo(t, s, "shop/old:latest", image("c", 4, layer{"c", 40}), ago(100*24*time.Hour))
	pushTo(t, s, "team/x:latest", image("d", 8, layer{"base", 1000}), ago(100*24*time.Hour))
	nsUsage := func() (NamespaceUsage, *Usage) {
		t.Helper()
		u, err := s.ComputeUsage(ctx, DefaultPolicy)
		if err != nil {
			t.Fatal(err)
		}
		nu, _ := u.Namespace("shop")
		return nu, u
	}
	if nu, u := nsUsage(); nu.NotPulledBytes != 0 || u.PullsRecordedSince != nil {
		t.Fatalf("before any pull: %d bytes not pulled, recorded since %v", nu.NotPulledBytes, u.PullsRecordedSince)
	}
	recordPull(t, s, "shop/app", dg("image:b"), ago(89*24*time.Hour))
	recordPull(t, s, "shop/app", dg("image:a"), ago(91*24*time.Hour))
	nu, u := nsUsage()
	// b (and the base it shares with a) was pulled within 90 days; a's own
	// layer and config and all of c were not. The base is also team's.
	if want := int64(10 + 1 + 40 + 4); nu.NotPulledBytes != want {
		t.Errorf("not pulled in 90 days: %d, want %d (exclusive: %d)", nu.NotPulledBytes, want, nu.ExclusiveBytes)
	}
	if u.PullsRecordedSince == nil || !u.PullsRecordedSince.Equal(ago(91*24*time.Hour)) {
		t.Errorf("pulls recorded since %v", u.PullsRecordedSince)
	}
}

// Times are read as whole unix seconds, rounded down, on both databases
// and in the run's re-check alike (PostgreSQL's EXTRACT rounds to the
// nearest second: an entry recorded 0.6 s after a whole second would be a
// second younger there than on SQLite, in the plan than in the run).
func TestSecondsRoundDownOnBothDatabases(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushTo(t, s, "p/app:latest", rev("a"), ago(96*time.Hour).Add(600*time.Millisecond))
	for i, n := range []string{"b", "c", "d"} {
		pushTo(t, s, "p/app:latest", rev(n), ago(time.Duration(3-i)*time.Hour))
	}
	pl := plan(t, s, DefaultPolicy)
	if len(pl.Revisions) != 1 || pl.Revisions[0].Image != dg("image:a") {
		t.Fatalf("the plan removes %d revisions, want a (exactly 96h old in whole seconds)", len(pl.Revisions))
	}
	f, err := s.StreamFacts(ctx, StreamRef{"p", "app"}, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.StreamPulls(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Evaluate(p, pruneNow)["latest"][3].Retention; r.Kept() {
		t.Errorf("the stream page keeps it: %s", r.Text())
	}
	if res := apply(t, s, pl); res.Revisions != 1 || res.Skipped != 0 {
		t.Errorf("the run: %+v", res)
	}
}
