package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

var pruneNow = t0.Add(60 * 24 * time.Hour)

func newPruneStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetClock(func() time.Time { return pruneNow })
	return s
}

// rev is an image with a shared base layer and a 10-byte layer of its own.
func rev(name string) ImageSnapshot {
	return image(name, 1, layer{"base", 1000}, layer{name, 10})
}

func ago(d time.Duration) time.Time { return pruneNow.Add(-d) }

const old = 30 * 24 * time.Hour

// pushOld pushes the named revisions, oldest first, an hour apart, a month ago.
func pushOld(t *testing.T, s *Store, ref string, names ...string) {
	t.Helper()
	for i, n := range names {
		pushTo(t, s, ref, rev(n), ago(old).Add(time.Duration(i)*time.Hour))
	}
}

func imageExists(t *testing.T, s *Store, digest string) bool {
	t.Helper()
	var n int64
	if err := s.DB().Model(&Image{}).Where("digest = ?", digest).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func blobExists(t *testing.T, s *Store, digest string) bool {
	t.Helper()
	var n int64
	if err := s.DB().Model(&Blob{}).Where("digest = ?", digest).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// names turns a history back into revision names.
func names(t *testing.T, s *Store, ref string) string {
	t.Helper()
	byDigest := map[string]string{}
	for _, c := range "abcdefghijklmnopqrstuvwxyz" {
		byDigest[dg("image:"+string(c))] = string(c)
	}
	var out []string
	for _, d := range historyImages(t, s, ref) {
		if n, ok := byDigest[d]; ok {
			out = append(out, n)
		} else {
			out = append(out, d[:15])
		}
	}
	return strings.Join(out, ",")
}

// checkIntegrity asserts what every prune leaves: no dangling reference and
// histories numbered 0..n-1.
func checkIntegrity(t *testing.T, s *Store) {
	t.Helper()
	for _, q := range []string{
		`SELECT COUNT(*) FROM tag_events e WHERE e.image_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM images i WHERE i.id = e.image_id)`,
		`SELECT COUNT(*) FROM image_blobs ib WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = ib.blob_id)`,
		`SELECT COUNT(*) FROM image_blobs ib WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.id = ib.image_id)`,
		`SELECT COUNT(*) FROM image_manifests m WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.id = m.child_id)`,
		`SELECT COUNT(*) FROM pins p WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.id = p.image_id)`,
		`SELECT COUNT(*) FROM (SELECT tag_id FROM tag_events GROUP BY tag_id HAVING MIN(position) <> 0 OR MAX(position) <> COUNT(*) - 1 OR COUNT(DISTINCT position) <> COUNT(*)) x`,
	} {
		var n int64
		if err := s.DB().Raw(q).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("integrity: %d rows for %s", n, q)
		}
	}
}

func plan(t *testing.T, s *Store, p Policy) *PrunePlan {
	t.Helper()
	pl, err := s.PlanPrune(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func apply(t *testing.T, s *Store, pl *PrunePlan) PruneResult {
	t.Helper()
	res, err := s.ApplyPrune(ctx, pl, ApplyOptions{BatchTags: 2})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPruneRuleAroundTheEdges(t *testing.T) {
	t.Parallel()
	type want struct {
		history map[string]string // tag → revision names after prune, newest first
		gone    []string          // images removed
		kept    []string          // images that must stay
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, s *Store)
		want  want
	}{
		{"2 revisions", func(t *testing.T, s *Store) { pushOld(t, s, "p/app:latest", "a", "b") },
			want{history: map[string]string{"p/app:latest": "b,a"}, kept: []string{"a", "b"}}},
		{"3 revisions", func(t *testing.T, s *Store) { pushOld(t, s, "p/app:latest", "a", "b", "c") },
			want{history: map[string]string{"p/app:latest": "c,b,a"}, kept: []string{"a"}}},
		{"4 revisions", func(t *testing.T, s *Store) { pushOld(t, s, "p/app:latest", "a", "b", "c", "d") },
			want{history: map[string]string{"p/app:latest": "d,c,b"}, gone: []string{"a"}, kept: []string{"b"}}},
		{"4th revision just over 96h", func(t *testing.T, s *Store) {
			pushTo(t, s, "p/app:latest", rev("a"), ago(96*time.Hour+time.Second))
			for i, n := range []string{"b", "c", "d"} {
				pushTo(t, s, "p/app:latest", rev(n), ago(time.Duration(3-i)*time.Hour))
			}
		}, want{history: map[string]string{"p/app:latest": "d,c,b"}, gone: []string{"a"}}},
		{"4th revision just under 96h", func(t *testing.T, s *Store) {
			pushTo(t, s, "p/app:latest", rev("a"), ago(96*time.Hour-time.Second))
			for i, n := range []string{"b", "c", "d"} {
				pushTo(t, s, "p/app:latest", rev(n), ago(time.Duration(3-i)*time.Hour))
			}
		}, want{history: map[string]string{"p/app:latest": "d,c,b,a"}, kept: []string{"a"}}},
		// Exactly 96h old is not younger than 96h (oc adm prune keeps
		// what was created after now - 96h): it goes.
		{"4th revision exactly 96h old goes", func(t *testing.T, s *Store) {
			pushTo(t, s, "p/app:latest", rev("a"), ago(96*time.Hour))
			for i, n := range []string{"b", "c", "d"} {
				pushTo(t, s, "p/app:latest", rev(n), ago(time.Duration(3-i)*time.Hour))
			}
		}, want{history: map[string]string{"p/app:latest": "d,c,b"}, gone: []string{"a"}}},
		{"rollback puts a digest in the history twice", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a", "b", "c", "d")
			if _, err := s.Rollback(ctx, TagRef{"p", "app", "latest"}, dg("image:a")); err != nil {
				t.Fatal(err)
			}
		}, want{history: map[string]string{"p/app:latest": "a,d,c"}, gone: []string{"b"}, kept: []string{"a"}}},
		{"alias tag drops the same image: counted once", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a")
			s.SetClock(func() time.Time { return ago(old) })
			if _, err := s.SetTag(ctx, Source{Kind: KindImageStreamTag, Namespace: "p", Stream: "app", Tag: "latest"},
				TagRef{"p", "app", "stable"}, TagOptions{Alias: true}); err != nil {
				t.Fatal(err)
			}
			s.SetClock(func() time.Time { return pruneNow })
			for i, n := range []string{"b", "c", "d"} {
				pushTo(t, s, "p/app:latest", rev(n), ago(old).Add(time.Duration(i+1)*time.Hour))
			}
		}, want{history: map[string]string{"p/app:latest": "d,c,b", "p/app:stable": "d,c,b"}, gone: []string{"a"}}},
		{"image kept by one tag and dropped by another stays", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a", "b", "c", "d", "e")
			s.SetClock(func() time.Time { return ago(old) })
			if _, err := s.SetTag(ctx, Source{Kind: KindImageStreamImage, Namespace: "p", Stream: "app", Digest: dg("image:a")},
				TagRef{"p", "app", "old"}, TagOptions{}); err != nil {
				t.Fatal(err)
			}
			s.SetClock(func() time.Time { return pruneNow })
		}, want{history: map[string]string{"p/app:latest": "e,d,c", "p/app:old": "a"}, gone: []string{"b"}, kept: []string{"a"}}},
		{"image kept in another namespace stays", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a", "b", "c", "d")
			pushTo(t, s, "q/copy:latest", rev("a"), ago(old))
		}, want{history: map[string]string{"p/app:latest": "d,c,b", "q/copy:latest": "a"}, kept: []string{"a"}}},
		{"pinned image stays", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a", "b", "c", "d", "e")
			if _, err := s.PinImage(ctx, "p", dg("image:a"), "used by deployment api in prod", "ann"); err != nil {
				t.Fatal(err)
			}
		}, want{history: map[string]string{"p/app:latest": "e,d,c,a"}, gone: []string{"b"}, kept: []string{"a"}}},
		{"pinned old revisions keep their order after the gap closes", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
			for _, n := range []string{"a", "b"} {
				if _, err := s.PinImage(ctx, "p", dg("image:"+n), "", "ann"); err != nil {
					t.Fatal(err)
				}
			}
		}, want{history: map[string]string{"p/app:latest": "j,i,h,b,a"}, gone: []string{"c", "d", "e", "f", "g"}, kept: []string{"a", "b"}}},
		{"namespace override keeps fewer", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a", "b", "c", "d")
			pushOld(t, s, "q/app:latest", "a", "b", "c", "d")
			one := 1
			if err := s.SetNamespace(ctx, "p", NamespaceSettings{PruneKeepTagRevisions: &one}); err != nil {
				t.Fatal(err)
			}
		}, want{history: map[string]string{"p/app:latest": "d", "q/app:latest": "d,c,b"}, gone: []string{"a"}, kept: []string{"b", "c"}}},
		{"namespace override keeps younger", func(t *testing.T, s *Store) {
			pushOld(t, s, "p/app:latest", "a", "b", "c", "d")
			long := 90 * 24 * time.Hour
			if err := s.SetNamespace(ctx, "p", NamespaceSettings{PruneKeepYoungerThan: &long}); err != nil {
				t.Fatal(err)
			}
		}, want{history: map[string]string{"p/app:latest": "d,c,b,a"}, kept: []string{"a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newPruneStore(t)
			tc.setup(t, s)
			u, err := s.ComputeUsage(ctx, DefaultPolicy)
			if err != nil {
				t.Fatal(err)
			}
			pl := plan(t, s, DefaultPolicy)
			// Bytes counted once: 10 + 1 per image gone; the base layer stays.
			if want := int64(11 * len(tc.want.gone)); pl.BytesFreed != want || u.Registry.ReclaimableBytes != want {
				t.Errorf("plan frees %d, usage says %d reclaimable, want %d", pl.BytesFreed, u.Registry.ReclaimableBytes, want)
			}
			if len(pl.Images) != len(tc.want.gone) {
				t.Errorf("plan removes images %v, want %v", pl.Images, tc.want.gone)
			}
			res := apply(t, s, pl)
			if res.BytesFreed != pl.BytesFreed || res.Images != int64(len(tc.want.gone)) {
				t.Errorf("apply freed %d bytes and %d images; plan said %d and %d", res.BytesFreed, res.Images, pl.BytesFreed, len(pl.Images))
			}
			for ref, want := range tc.want.history {
				if got := names(t, s, ref); got != want {
					t.Errorf("%s = %s, want %s", ref, got, want)
				}
			}
			for _, n := range tc.want.gone {
				if imageExists(t, s, dg("image:"+n)) || blobExists(t, s, dg("layer:"+n)) {
					t.Errorf("image %s or its layer is still there", n)
				}
			}
			for _, n := range tc.want.kept {
				if !imageExists(t, s, dg("image:"+n)) || !blobExists(t, s, dg("layer:"+n)) {
					t.Errorf("image %s or its layer was removed", n)
				}
			}
			if !blobExists(t, s, dg("layer:base")) {
				t.Error("the shared base layer was removed")
			}
			checkIntegrity(t, s)
			// A second run finds nothing more to do.
			if again := plan(t, s, DefaultPolicy); len(again.Revisions)+len(again.Images) != 0 {
				t.Errorf("second plan still removes %d revisions, %d images", len(again.Revisions), len(again.Images))
			}
		})
	}
}

// An image no history entry references stays while younger than the
// threshold: recorded exactly 96h ago it is not younger, and goes.
func TestPruneUnreferencedImagesAtTheThreshold(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	for name, age := range map[string]time.Duration{"young": 96*time.Hour - time.Second, "edge": 96 * time.Hour, "old": 96*time.Hour + time.Second} {
		s.SetClock(func() time.Time { return ago(age) })
		mustPutImage(t, s, image(name, 1, layer{name, 10}))
	}
	s.SetClock(func() time.Time { return pruneNow })
	pl := plan(t, s, DefaultPolicy)
	got := append([]string(nil), pl.Images...)
	sort.Strings(got)
	want := []string{dg("image:edge"), dg("image:old")}
	sort.Strings(want)
	if !equalStrings(got, want) || pl.BytesFreed != 22 {
		t.Errorf("plan removes %d images freeing %d bytes, want edge and old freeing 22", len(pl.Images), pl.BytesFreed)
	}
	apply(t, s, pl)
	if !imageExists(t, s, dg("image:young")) || imageExists(t, s, dg("image:edge")) {
		t.Error("the young image went or the one exactly at the threshold stayed")
	}
}

func TestPruneManifestListChildrenStayWithAKeptList(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	shared := image("arm-shared", 1, layer{"base-arm", 500}, layer{"arm-app", 20})
	mustPutImage(t, s, shared)
	var lists []ImageSnapshot
	for i := 0; i < 4; i++ {
		amd := image(fmt.Sprintf("amd%d", i), 1, layer{"base-amd", 700}, layer{fmt.Sprintf("amd-app%d", i), 30})
		mustPutImage(t, s, amd)
		arm := shared
		if i == 1 || i == 2 {
			arm = image(fmt.Sprintf("arm%d", i), 1, layer{"base-arm", 500}, layer{fmt.Sprintf("arm-app%d", i), 20})
			mustPutImage(t, s, arm)
		}
		l := ImageSnapshot{Digest: dg(fmt.Sprintf("list%d", i)), MediaType: "application/vnd.oci.image.index.v1+json",
			Manifests: []ManifestRef{{Digest: amd.Digest, OS: "linux", Architecture: "amd64"}, {Digest: arm.Digest, OS: "linux", Architecture: "arm64"}}}
		lists = append(lists, l)
		pushTo(t, s, "multi/tool:latest", l, ago(old).Add(time.Duration(i)*time.Hour))
	}
	// list0 (amd0 + arm-shared) is the 4th revision: it goes with amd0;
	// arm-shared stays because the current list3 holds it too.
	u, _ := s.ComputeUsage(ctx, DefaultPolicy)
	pl := plan(t, s, DefaultPolicy)
	if want := int64(1 + 30); pl.BytesFreed != want || u.Registry.ReclaimableBytes != want {
		t.Errorf("plan frees %d (usage %d), want %d (amd0's config and app layer)", pl.BytesFreed, u.Registry.ReclaimableBytes, want)
	}
	apply(t, s, pl)
	checkIntegrity(t, s)
	if imageExists(t, s, dg("list0")) || imageExists(t, s, dg("image:amd0")) {
		t.Error("list0 or its own child amd0 is still there")
	}
	for _, d := range []string{dg("list1"), dg("list3"), dg("image:arm-shared"), dg("image:amd1"), dg("image:arm1"), dg("image:amd3")} {
		if !imageExists(t, s, d) {
			t.Errorf("%s was removed but a kept list holds it", d[:20])
		}
	}
	if !blobExists(t, s, dg("layer:arm-app")) || blobExists(t, s, dg("layer:amd-app0")) {
		t.Error("wrong layers removed")
	}
}

func TestPruneDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "p/app:latest", "a", "b", "c", "d", "e")
	pushOld(t, s, "p/web:prod", "f", "g", "h", "i")
	before := dumpTables(t, s)
	pl := plan(t, s, DefaultPolicy)
	if len(pl.Revisions) != 3 || !pl.DryRun {
		t.Fatalf("plan has %d revisions (want 3), dryRun %v", len(pl.Revisions), pl.DryRun)
	}
	if _, err := s.PlanPrune(ctx, DefaultPolicy, &PlanFilter{Namespaces: []string{"p"}}); err != nil {
		t.Fatal(err)
	}
	if after := dumpTables(t, s); after != before {
		t.Error("planning a prune changed the database")
	}
}

func TestPrunePlanAgreesWithUsage(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	// Many tags sharing images across streams and namespaces, some pinned.
	for i := 0; i < 12; i++ {
		ref := fmt.Sprintf("ns%d/s%d:t%d", i%3, i%5, i%2)
		for j := 0; j < 6; j++ {
			name := string(rune('a' + (i*3+j)%20))
			pushTo(t, s, ref, rev(name), ago(time.Duration(200-i*10-j)*time.Hour))
		}
	}
	if _, err := s.PinImage(ctx, "ns1", historyImages(t, s, "ns1/s1:t1")[4], "keep", "ann"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Policy{DefaultPolicy, {KeepTagRevisions: 1, KeepYoungerThan: time.Hour}, {KeepTagRevisions: 2, KeepYoungerThan: 150 * time.Hour}} {
		u, err := s.ComputeUsage(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		pl := plan(t, s, p)
		if pl.BytesFreed != u.Registry.ReclaimableBytes {
			t.Errorf("%+v: plan frees %d, usage reclaimable %d", p, pl.BytesFreed, u.Registry.ReclaimableBytes)
		}
		marked := 0
		for _, n := range u.Namespaces {
			var planNS int64
			for _, pn := range pl.Namespaces {
				if pn.Name == n.Name {
					planNS = pn.BytesFreed
				}
			}
			if planNS != n.ReclaimableBytes {
				t.Errorf("%+v: namespace %s: plan %d, usage %d", p, n.Name, planNS, n.ReclaimableBytes)
			}
			for _, st := range n.Streams {
				for _, tg := range st.Tags {
					for _, r := range tg.Revisions {
						if r.Prunable {
							marked++
						}
					}
				}
			}
		}
		if marked != len(pl.Revisions) {
			t.Errorf("%+v: usage marks %d revisions prunable, the plan removes %d", p, marked, len(pl.Revisions))
		}
	}
}

// buildResumeData makes 10 streams that share a base and each drop 3 of 6
// revisions, plus an old image no tag references.
func buildResumeData(t *testing.T, s *Store) {
	for i := 0; i < 10; i++ {
		ref := fmt.Sprintf("ns%d/app%d:latest", i%2, i)
		for j := 0; j < 6; j++ {
			pushTo(t, s, ref, image(fmt.Sprintf("r%d-%d", i, j), 1, layer{"base", 1000}, layer{fmt.Sprintf("l%d-%d", i, j), 10}), ago(old).Add(time.Duration(j)*time.Hour))
		}
	}
	s.SetClock(func() time.Time { return ago(old) })
	mustPutImage(t, s, image("orphan", 1, layer{"orphan-layer", 5}))
	s.SetClock(func() time.Time { return pruneNow })
}

// contentTables is the dump of the tables prune changes.
func contentTables(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT t.name, e.position, e.created, i.digest FROM tag_events e JOIN tags t ON t.id = e.tag_id LEFT JOIN images i ON i.id = e.image_id ORDER BY t.id, e.position`,
		`SELECT digest FROM images ORDER BY digest`,
		`SELECT digest, size FROM blobs ORDER BY digest`,
		`SELECT i.digest, ib.position, b.digest FROM image_blobs ib JOIN images i ON i.id = ib.image_id JOIN blobs b ON b.id = ib.blob_id ORDER BY 1, 2`,
	} {
		rows, err := s.DB().Raw(q).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals, err := scanAny(rows, len(cols))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

func TestPruneKilledHalfWayResumes(t *testing.T) {
	t.Parallel()
	// The reference: one uninterrupted run.
	ref := newPruneStore(t)
	buildResumeData(t, ref)
	refPlan := plan(t, ref, DefaultPolicy)
	refRes := apply(t, ref, refPlan)
	if refRes.Revisions != 30 || refRes.Images != 31 {
		t.Fatalf("reference run removed %d revisions and %d images, want 30 and 31", refRes.Revisions, refRes.Images)
	}
	want := contentTables(t, ref)

	for _, killAt := range []int{1, 3, 5, 6} {
		t.Run(fmt.Sprintf("killed after batch %d", killAt), func(t *testing.T) {
			s := newPruneStore(t)
			buildResumeData(t, s)
			pl := plan(t, s, DefaultPolicy)
			res, err := s.ApplyPrune(killedAfterBatch(t, s, killAt), pl, ApplyOptions{BatchTags: 2})
			if err == nil || res.Batches != killAt {
				t.Fatalf("run was not stopped after batch %d: %d batches, %v", killAt, res.Batches, err)
			}
			checkIntegrity(t, s)
			// Nothing the policy keeps is lost: every kept entry is there.
			for i := 0; i < 10; i++ {
				ref := fmt.Sprintf("ns%d/app%d:latest", i%2, i)
				h := historyImages(t, s, ref)
				if len(h) < 3 || h[0] != dg(fmt.Sprintf("image:r%d-5", i)) || h[2] != dg(fmt.Sprintf("image:r%d-3", i)) {
					t.Errorf("%s lost kept revisions: %d entries", ref, len(h))
				}
			}
			// The next run plans again from the database and finishes.
			apply(t, s, plan(t, s, DefaultPolicy))
			checkIntegrity(t, s)
			if got := contentTables(t, s); got != want {
				t.Errorf("after resuming, the data differs from one uninterrupted run:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// killedAfterBatch is a context cancelled as the write transaction after
// the first n begins: a run of ApplyPrune given it stops with n batches
// committed, as a run killed there does.
func killedAfterBatch(t *testing.T, s *Store, n int) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var began atomic.Int32
	// Every write transaction starts by bumping the data version (Store.Tx).
	err := s.DB().Callback().Raw().After("gorm:raw").Register("test:kill", func(db *gorm.DB) {
		if strings.Contains(db.Statement.SQL.String(), "data_versions") && began.Add(1) > int32(n) {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func TestPruneRunsNeverOverlap(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "p/app:latest", "a", "b", "c", "d")
	pl := plan(t, s, DefaultPolicy)
	if ok, err := s.AcquireLease(ctx, "prune", "nightly job", time.Now().Add(LeaseTTL)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	before := dumpTables(t, s)
	_, err := s.ApplyPrune(ctx, pl, ApplyOptions{Holder: "cli"})
	wantErr(t, err, ErrBusy, "another prune run (nightly job, started ")
	if dumpTables(t, s) != before {
		t.Error("a refused run changed the database")
	}
	// A run that died leaves its lease; once it expires the next run takes over.
	expireLease(t, s, "prune")
	if _, err := s.ApplyPrune(ctx, pl, ApplyOptions{Holder: "cli"}); err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
	if got := names(t, s, "p/app:latest"); got != "d,c,b" {
		t.Errorf("history = %s", got)
	}
	// The lease is released at the end.
	if ok, err := s.AcquireLease(ctx, "prune", "next", time.Now().Add(LeaseTTL)); err != nil || !ok {
		t.Errorf("lease not released: %v %v", ok, err)
	}
}

// A run whose lease another run took (it expired while the run was stuck)
// stops at its next batch.
func TestPruneStopsWhenItLostItsLease(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	for i := range 4 {
		pushOld(t, s, fmt.Sprintf("p/app%d:latest", i), "a", "b", "c", "d")
	}
	pl := plan(t, s, DefaultPolicy)
	if ok, err := s.AcquireLease(ctx, "prune", "stuck", time.Now().Add(LeaseTTL)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	expireLease(t, s, "prune")
	if ok, err := s.AcquireLease(ctx, "prune", "next", time.Now().Add(LeaseTTL)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	res, err := s.ApplyPrune(ctx, pl, ApplyOptions{Holder: "stuck", Leased: true, BatchTags: 1})
	wantErr(t, err, ErrBusy, "lost the prune lease")
	if res.Batches != 1 || res.Revisions != 1 {
		t.Errorf("the run went on after it lost its lease: %+v", res)
	}
	checkIntegrity(t, s)
}

func TestPruneRechecksTheCurrentState(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "p/app:latest", "a", "b", "c", "d", "e")
	pushOld(t, s, "p/web:latest", "f", "g", "h", "i")
	pushOld(t, s, "p/db:latest", "j", "k", "l", "m")
	pl := plan(t, s, DefaultPolicy)
	if len(pl.Revisions) != 4 {
		t.Fatalf("plan removes %d revisions, want 4 (a, b, f, j)", len(pl.Revisions))
	}
	// After the plan was shown: a rollback makes b current again (a new
	// entry; the image must stay), f's history is rewritten so that f is
	// the current entry, and j gets pinned.
	if _, err := s.Rollback(ctx, TagRef{"p", "app", "latest"}, dg("image:b")); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(`UPDATE tag_events SET position = CASE WHEN position = 3 THEN 0 ELSE position + 1 END
		WHERE tag_id = (SELECT t.id FROM tags t JOIN image_streams st ON st.id = t.stream_id WHERE st.name = 'web')`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := s.PinImage(ctx, "p", dg("image:j"), "", "ann"); err != nil {
		t.Fatal(err)
	}
	res := apply(t, s, pl)
	checkIntegrity(t, s)
	if got := names(t, s, "p/web:latest"); got != "f,i,h,g" {
		t.Errorf("web = %s, want f,i,h,g (f became current and stays)", got)
	}
	if got := names(t, s, "p/db:latest"); got != "m,l,k,j" {
		t.Errorf("db = %s, want the pinned j kept", got)
	}
	if !imageExists(t, s, dg("image:b")) || imageExists(t, s, dg("image:a")) {
		t.Error("b (current again) must stay and a must go")
	}
	if res.Skipped != 2 {
		t.Errorf("skipped %d planned entries, want 2 (f and j)", res.Skipped)
	}
}

func TestPinsAndUnpins(t *testing.T) {
	t.Parallel()
	s := newPruneStore(t)
	pushOld(t, s, "p/app:latest", "a", "b")
	if _, err := s.PinImage(ctx, "p", dg("image:zz"), "", "ann"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pinning an image not in the namespace: %v", err)
	}
	if _, err := s.PinImage(ctx, "p", dg("image:a"), "used by deployment api in prod", "ann"); err != nil {
		t.Fatal(err)
	}
	before, err := s.PinImage(ctx, "p", dg("image:a"), "used by api and worker", "bob")
	if err != nil || before == nil || before.Note != "used by deployment api in prod" {
		t.Fatalf("re-pin: %v %+v", err, before)
	}
	pins, _ := s.Pins(ctx, "p", "")
	if len(pins) != 1 || pins[0].Note != "used by api and worker" || pins[0].CreatedBy != "ann" {
		t.Errorf("pins = %+v", pins)
	}
	if _, err := s.UnpinImage(ctx, "p", dg("image:a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UnpinImage(ctx, "p", dg("image:a")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unpin twice: %v", err)
	}
	_ = sort.Strings
}
