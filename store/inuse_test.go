package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const testCluster = "openshift:https://api.test.example:6443"

func deployment(ns, name string) Workload {
	return Workload{Kind: "deployment", Namespace: ns, Name: name}
}

func replaceInUse(t *testing.T, s *Store, refs ...InUseRef) InUseResult {
	t.Helper()
	res, err := s.ReplaceInUse(ctx, testCluster, refs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// planned lists the plan's revisions as "tag:name" in plan order.
func plannedNames(pl *PrunePlan) string {
	byDigest := map[string]string{}
	for _, c := range "abcdefghijklmnopqrstuvwxyz" {
		byDigest[dg("image:"+string(c))] = string(c)
	}
	var out []string
	for _, r := range pl.Revisions {
		out = append(out, r.Stream+":"+byDigest[r.Image])
	}
	return strings.Join(out, ",")
}

// TestInUseResolvesReferences: a reference by digest is that image; by a
// stream's pull spec and tag (or no tag: latest) or by ImageStreamTag, the
// tag's current image; references to other registries resolve to nothing.
func TestInUseResolvesReferences(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "payments/api:latest", "a", "b", "c")
	pushOld(t, s, "payments/api:v1", "d")
	if err := s.DB().Exec(`UPDATE image_streams SET pull_spec = ?, public_pull_spec = ?`,
		"image-registry.openshift-image-registry.svc:5000/payments/api", "registry.apps.example.com/payments/api").Error; err != nil {
		t.Fatal(err)
	}
	w := deployment("payments", "api")
	for _, tc := range []struct {
		name string
		ref  InUseRef
		want string // image name, "" for none
	}{
		{"by digest (an older revision)", InUseRef{Workload: w, PullSpec: "image-registry.openshift-image-registry.svc:5000/payments/api@" + dg("image:a")}, "a"},
		{"by digest, from any repository", InUseRef{Workload: w, PullSpec: "elsewhere.example/x/y@" + dg("image:b")}, "b"},
		{"by pull spec and tag", InUseRef{Workload: w, PullSpec: "image-registry.openshift-image-registry.svc:5000/payments/api:latest"}, "c"},
		{"by the public pull spec and another tag", InUseRef{Workload: w, PullSpec: "registry.apps.example.com/payments/api:v1"}, "d"},
		{"no tag is latest", InUseRef{Workload: w, PullSpec: "registry.apps.example.com/payments/api"}, "c"},
		{"ImageStreamTag", InUseRef{Workload: w, StreamTag: &TagRef{Namespace: "payments", Stream: "api", Tag: "v1"}}, "d"},
		{"ImageStreamTag of no such tag", InUseRef{Workload: w, StreamTag: &TagRef{Namespace: "payments", Stream: "api", Tag: "nope"}}, ""},
		{"another registry's image", InUseRef{Workload: w, PullSpec: "quay.io/payments/api:latest"}, ""},
		{"an unknown digest", InUseRef{Workload: w, PullSpec: "quay.io/payments/api@" + dg("image:zz")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := replaceInUse(t, s, tc.ref)
			var got []string
			if err := s.DB().Raw(`SELECT i.digest FROM in_use_images u JOIN images i ON i.id = u.image_id`).Scan(&got).Error; err != nil {
				t.Fatal(err)
			}
			want := []string{}
			if tc.want != "" {
				want = []string{dg("image:" + tc.want)}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") || res.Unresolved != 1-len(want) {
				t.Errorf("in use %v (unresolved %d), want %v", got, res.Unresolved, want)
			}
		})
	}
}

// TestInUseIsNeverPruned: an old revision a deployment runs (by digest)
// leaves the plan — kept as "in use by deployment payments/api" — and its
// image survives the prune; the same revision was planned before.
func TestInUseIsNeverPruned(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "payments/api:latest", "a", "b", "c", "d", "e")
	if got := plannedNames(plan(t, s, DefaultPolicy)); got != "api:b,api:a" {
		t.Fatalf("before: planned %s, want api:b,api:a", got)
	}
	replaceInUse(t, s,
		InUseRef{Workload: deployment("payments", "api"), PullSpec: "image-registry.svc:5000/payments/api@" + dg("image:a")},
		InUseRef{Workload: Workload{"pod", "payments", "api-7d9f-x2x"}, PullSpec: "image-registry.svc:5000/payments/api@" + dg("image:a")},
		InUseRef{Workload: Workload{"cron job", "billing", "nightly"}, PullSpec: "image-registry.svc:5000/payments/api@" + dg("image:a")},
		InUseRef{Workload: deployment("billing", "invoices"), PullSpec: "image-registry.svc:5000/payments/api@" + dg("image:a")})
	pl, err := s.PlanPruneWith(ctx, DefaultPolicy, nil, PlanOptions{Kept: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := plannedNames(pl); got != "api:b" {
		t.Fatalf("planned %s, want api:b", got)
	}
	var kept *PruneRevision
	for i, r := range pl.Kept {
		if r.Image == dg("image:a") {
			kept = &pl.Kept[i]
		}
	}
	if kept == nil || kept.Retention.Reason != ReasonInUse || kept.InUseBy != "in use by deployment billing/invoices and 3 more" {
		t.Fatalf("kept %+v", kept)
	}
	// A reader of payments only: billing's deployment is counted, not named.
	scoped, err := s.PlanPruneWith(ctx, DefaultPolicy, &PlanFilter{Namespaces: []string{"payments"}}, PlanOptions{Kept: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range scoped.Kept {
		if r.Image == dg("image:a") && r.InUseBy != "in use by deployment payments/api and 3 more" {
			t.Errorf("scoped: %q", r.InUseBy)
		}
	}
	apply(t, s, pl)
	checkIntegrity(t, s)
	if got := names(t, s, "payments/api:latest"); got != "e,d,c,a" {
		t.Errorf("history after prune %s, want e,d,c,a", got)
	}
	if !imageExists(t, s, dg("image:a")) || imageExists(t, s, dg("image:b")) {
		t.Error("the image in use went, or b stayed")
	}
	// The usage's reclaimable bytes agree with the plan.
	u, err := s.ComputeUsage(ctx, DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if u.Registry.ReclaimableBytes != 0 {
		t.Errorf("reclaimable %d after the prune", u.Registry.ReclaimableBytes)
	}
}

// TestInUseThroughAManifestList: a platform image in use keeps its list's
// entry, and a list in use keeps its platform images.
func TestInUseThroughAManifestList(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	var lists []string
	for _, n := range []string{"a", "b", "c", "d"} {
		amd, arm := image("amd-"+n, 1, layer{"amd-" + n, 10}), image("arm-"+n, 1, layer{"arm-" + n, 10})
		mustPutImage(t, s, amd)
		mustPutImage(t, s, arm)
		l := ImageSnapshot{Digest: dg("list-" + n), MediaType: "application/vnd.oci.image.index.v1+json",
			Manifests: []ManifestRef{{Digest: amd.Digest, OS: "linux", Architecture: "amd64"}, {Digest: arm.Digest, OS: "linux", Architecture: "arm64"}}}
		pushTo(t, s, "multi/tool:latest", l, ago(old).Add(time.Duration(len(lists))*time.Hour))
		lists = append(lists, l.Digest)
	}
	// list-a is the 4th revision: planned with its platform images.
	if pl := plan(t, s, DefaultPolicy); len(pl.Revisions) != 1 || pl.Revisions[0].Image != dg("list-a") {
		t.Fatalf("before: %+v", pl.Revisions)
	}
	replaceInUse(t, s, InUseRef{Workload: Workload{"pod", "multi", "tool-1"}, PullSpec: "r.example/multi/tool@" + dg("image:arm-a")})
	if pl := plan(t, s, DefaultPolicy); len(pl.Revisions) != 0 || len(pl.Images) != 0 {
		t.Errorf("a platform image in use: planned %d revisions, images %v", len(pl.Revisions), pl.Images)
	}
	replaceInUse(t, s, InUseRef{Workload: Workload{"pod", "multi", "tool-1"}, PullSpec: "r.example/multi/tool@" + dg("list-a")})
	pl := plan(t, s, DefaultPolicy)
	if len(pl.Revisions) != 0 || len(pl.Images) != 0 {
		t.Errorf("the list in use: planned %d revisions, images %v", len(pl.Revisions), pl.Images)
	}
}

// TestInUseFailedReadKeepsEverything: with a cluster configured, prune
// keeps every revision until its first read succeeds, and again after a
// failed read, which leaves the records it had untouched; apply refuses a
// plan made before the failure.
func TestInUseFailedReadKeepsEverything(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "payments/api:latest", "a", "b", "c", "d", "e")
	before := plan(t, s, DefaultPolicy)
	if len(before.Revisions) != 2 || before.Hold != nil {
		t.Fatalf("no cluster: %d revisions, hold %v", len(before.Revisions), before.Hold)
	}
	if err := s.RegisterInUseCluster(ctx, testCluster); err != nil {
		t.Fatal(err)
	}
	checkHeld := func(when string) {
		t.Helper()
		pl, err := s.PlanPruneWith(ctx, DefaultPolicy, nil, PlanOptions{Kept: true})
		if err != nil {
			t.Fatal(err)
		}
		if pl.Hold == nil || len(pl.Revisions) != 0 || len(pl.Images) != 0 || pl.BytesFreed != 0 {
			t.Fatalf("%s: hold %v, %d revisions, %d images", when, pl.Hold, len(pl.Revisions), len(pl.Images))
		}
		for _, r := range pl.Kept {
			if r.Position > 0 && r.Retention.Reason != ReasonUnproven && !(r.Image == dg("image:a") && r.Retention.Reason == ReasonInUse) {
				t.Errorf("%s: %s kept as %s", when, r.Image[:15], r.Retention.Reason)
			}
		}
		u, err := s.ComputeUsage(ctx, DefaultPolicy)
		if err != nil {
			t.Fatal(err)
		}
		if u.Registry.ReclaimableBytes != 0 {
			t.Errorf("%s: %d bytes reclaimable", when, u.Registry.ReclaimableBytes)
		}
		if _, err := s.ApplyPrune(ctx, before, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "prune keeps every revision") {
			t.Errorf("%s: applying an earlier plan: %v", when, err)
		}
	}
	checkHeld("never read")
	if h := plan(t, s, DefaultPolicy).Hold; !strings.Contains(h.Text(), "have not been read yet") {
		t.Errorf("hold %q", h.Text())
	}

	replaceInUse(t, s, InUseRef{Workload: deployment("payments", "api"), PullSpec: "r/payments/api@" + dg("image:a")})
	if pl := plan(t, s, DefaultPolicy); pl.Hold != nil || plannedNames(pl) != "api:b" {
		t.Fatalf("after a read: hold %v, planned %s", pl.Hold, plannedNames(pl))
	}

	if err := s.RecordInUseFailure(ctx, testCluster, errors.New("list deployments (page 2): 500 Internal Server Error")); err != nil {
		t.Fatal(err)
	}
	checkHeld("after a failure")
	h := plan(t, s, DefaultPolicy).Hold
	if !strings.Contains(h.Text(), "failed at "+pruneNow.Format("2006-01-02 15:04 UTC")) || !strings.Contains(h.Text(), "list deployments (page 2)") {
		t.Errorf("hold %q", h.Text())
	}
	var n int64
	if err := s.DB().Table("in_use_images").Count(&n).Error; err != nil || n != 1 {
		t.Errorf("the failure changed the records: %d %v", n, err)
	}

	// A later read succeeds: only what is proven in use stays.
	s.SetClock(func() time.Time { return pruneNow.Add(time.Minute) })
	again := InUseRef{Workload: deployment("payments", "api"), PullSpec: "r/payments/api@" + dg("image:a")}
	if res := replaceInUse(t, s, again); !res.Changed {
		t.Error("the read that ends a hold says nothing changed")
	}
	if res := replaceInUse(t, s, again); res.Changed {
		t.Error("the same set again says it changed")
	}
	if pl := plan(t, s, DefaultPolicy); pl.Hold != nil || plannedNames(pl) != "api:b" {
		t.Fatalf("after a new read: hold %v, planned %s", pl.Hold, plannedNames(pl))
	}
	// Another cluster configured instead: the old one's records and state go.
	if err := s.RegisterInUseCluster(ctx, "openshift:https://other:6443"); err != nil {
		t.Fatal(err)
	}
	reads, _ := s.InUseReads(ctx)
	if len(reads) != 1 || reads[0].Cluster != "openshift:https://other:6443" {
		t.Errorf("reads %+v", reads)
	}
}

// TestSavingsLeaveInUseAlone: the savings plan that deleted train:v1
// leaves it alone once a deployment runs its image, and never proposes
// the stream that holds it.
func TestSavingsLeaveInUseAlone(t *testing.T) {
	t.Parallel()
	s := savingsStore(t, false)
	planFor := func() *SavingsPlan {
		plans, err := s.PlanSavings(ctx, DefaultPolicy, map[string]int64{"ml": 1000})
		if err != nil {
			t.Fatal(err)
		}
		return plans["ml"]
	}
	if got := stepsText(planFor()); !strings.Contains(got, "train:v1") {
		t.Fatalf("before: %q does not delete train:v1", got)
	}
	if _, err := s.ReplaceInUse(ctx, testCluster, []InUseRef{{Workload: deployment("ml", "trainer"), PullSpec: "r/ml/train@" + dg("image:v1")}}); err != nil {
		t.Fatal(err)
	}
	p := planFor()
	for _, st := range p.Steps {
		for _, d := range st.Deletions() {
			if d.Stream == "train" && (d.Tag == "" || d.Tag == "v1") {
				t.Errorf("step %s deletes what holds the image in use", st)
			}
		}
	}
	found := false
	for _, l := range p.LeftAlone {
		if l.String() == "train:v1" && strings.Contains(l.Reason, "in use") {
			found = true
		}
	}
	if !found {
		t.Errorf("left alone %+v, want train:v1 (in use)", p.LeftAlone)
	}
}

func TestInUseDescribe(t *testing.T) {
	t.Parallel()
	u := InUse{deployment("payments", "api"), {Kind: "pod", Namespace: "payments", Name: "api-1"}, {Kind: "job", Namespace: "ops", Name: "x"}}
	for _, tc := range []struct {
		name string
		u    InUse
		sees func(string) bool
		want string
	}{
		{"none", nil, nil, ""},
		{"one", u[:1], nil, "in use by deployment payments/api"},
		{"several", u, nil, "in use by deployment payments/api and 2 more"},
		{"the first one seen is named", u, func(ns string) bool { return ns == "ops" }, "in use by job ops/x and 2 more"},
		{"none seen", u, func(string) bool { return false }, "in use by 3 workloads in other namespaces"},
		{"one not seen", u[:1], func(string) bool { return false }, "in use by a workload in another namespace"},
	} {
		if got := tc.u.Describe(tc.sees); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPruneRechecksInUse: a revision planned before a workload started
// using its image stays when the plan is applied.
func TestPruneRechecksInUse(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "payments/api:latest", "a", "b", "c", "d", "e")
	pl := plan(t, s, DefaultPolicy)
	if got := plannedNames(pl); got != "api:b,api:a" {
		t.Fatalf("planned %s", got)
	}
	replaceInUse(t, s, InUseRef{Workload: deployment("payments", "api"), PullSpec: "r/payments/api@" + dg("image:a")})
	res := apply(t, s, pl)
	checkIntegrity(t, s)
	if res.Revisions != 1 || res.Skipped != 1 || !imageExists(t, s, dg("image:a")) || imageExists(t, s, dg("image:b")) {
		t.Errorf("result %+v; a exists %v", res, imageExists(t, s, dg("image:a")))
	}
}
