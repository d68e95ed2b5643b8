package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/oracle"
	"layerwise/store/storetest"
)

// Every figure of the product against the oracle (store/oracle), on random
// registries: see docs/ORACLE.md.

var octx = context.Background()

// oracleNow is the clock of every case: whole seconds, as the store keeps.
var oracleNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func openOracleStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(octx, storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetClock(func() time.Time { return oracleNow })
	s.SetPlanBatch(2) // streamed plans cross batch boundaries
	return s
}

// casePolicy is the platform policy of a case: mostly the default, now and
// then another, so that namespaces with and without their own differ.
func casePolicy(seed uint64) store.Policy {
	r := oracle.Rand(seed ^ 0x5eed)
	if r.IntN(4) != 0 {
		return store.DefaultPolicy
	}
	ds := []time.Duration{0, time.Hour, 96 * time.Hour, 200 * time.Hour}
	return store.Policy{KeepTagRevisions: r.IntN(5), KeepYoungerThan: ds[r.IntN(len(ds))]}
}

func toOracle(p store.Policy) oracle.Policy {
	return oracle.Policy{KeepTagRevisions: p.KeepTagRevisions, KeepYoungerThan: p.KeepYoungerThan}
}

// mismatch is one figure where the product and the oracle disagree.
type mismatch struct {
	rank      int // the scope's size: image/blob, revision, tag, stream, namespace, registry
	scope     string
	what      string
	got, want any
}

const (
	rankItem = iota // an image or a blob
	rankRevision
	rankTag
	rankStream
	rankNamespace
	rankRegistry
)

func (m mismatch) String() string {
	return fmt.Sprintf("%s: %s = %v, oracle %v", m.scope, m.what, m.got, m.want)
}

type diffs []mismatch

func (d *diffs) eq(rank int, scope, what string, got, want any) {
	if !reflect.DeepEqual(got, want) {
		*d = append(*d, mismatch{rank, scope, what, got, want})
	}
}

func (d *diffs) time(rank int, scope, what string, got, want time.Time) {
	if !got.Equal(want) {
		*d = append(*d, mismatch{rank, scope, what, got, want})
	}
}

// smallestFirst orders the mismatches by scope size, then by name.
func (d diffs) smallestFirst() diffs {
	out := append(diffs(nil), d...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].rank != out[j].rank {
			return out[i].rank < out[j].rank
		}
		return out[i].scope < out[j].scope
	})
	return out
}

func sortedStrings(xs []string) []string {
	out := append([]string{}, xs...)
	sort.Strings(out)
	return out
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// compareWithOracle reads the registry back, computes the oracle's figures
// and compares every figure of the product with them (the image and blob
// pages, which read the database directly, only when pages is set). It
// returns the registry as read and the oracle's figures.
func compareWithOracle(t *testing.T, s *store.Store, policy store.Policy, pages bool) (*oracle.Registry, *oracle.Figures, diffs) {
	t.Helper()
	reg, err := oracle.Load(octx, s.DB())
	if err != nil {
		t.Fatalf("the oracle cannot read the database: %v", err)
	}
	f := oracle.Compute(reg, toOracle(policy), s.Now())
	var d diffs
	compareUsage(t, s, policy, f, &d)
	comparePlan(t, s, policy, reg, f, &d)
	compareStreamSizes(t, s, f, &d)
	if pages {
		compareImagesAndBlobs(t, s, reg, f, &d)
	}
	return reg, f, d
}

func compareUsage(t *testing.T, s *store.Store, policy store.Policy, f *oracle.Figures, d *diffs) {
	t.Helper()
	u, err := s.ComputeUsage(octx, policy)
	if err != nil {
		t.Fatalf("compute usage: %v", err)
	}
	// The accounting tables, kept by every write, against the full pass.
	diffsStored, err := s.VerifyUsage(octx)
	if err != nil {
		t.Fatalf("verify usage: %v", err)
	}
	for _, x := range diffsStored {
		d.eq(rankRegistry, x.Scope, "stored "+x.Figure, x.Stored, x.Computed)
	}
	// The plan's stored figures, as pages read them.
	if _, err := s.ComputePlanSummary(octx, policy); err != nil {
		t.Fatalf("plan summary: %v", err)
	}
	sum, err := s.ReadPlanSummary(octx)
	if err != nil {
		t.Fatalf("plan summary: %v", err)
	}
	d.eq(rankRegistry, "registry", "stored plan reclaimableBytes", sum.RegistryReclaimable, f.Registry.Reclaimable)
	var nsReclaim int64
	for _, n := range sum.Namespaces {
		nsReclaim += n.ReclaimableBytes
	}
	var wantNSReclaim int64
	for _, n := range u.Namespaces {
		wantNSReclaim += n.ReclaimableBytes
	}
	d.eq(rankRegistry, "registry", "stored plan namespaces' reclaimableBytes", nsReclaim, wantNSReclaim)
	compareFigures(t, "", u, func(ds []string) (map[string]store.BlobShares, error) { return u.Shares(octx, s, ds) }, f, d)

	// The stored figures as pages, the API, the CLI and e-mails read them
	// (accounting_read.go): the same figures, every one, and the
	// time-dependent ones from the plan just stored.
	stored, err := s.ReadUsage(octx)
	if err != nil {
		t.Fatalf("read usage: %v", err)
	}
	d.time(rankRegistry, "registry", "stored planComputedAt", stored.PlanComputedAt, oracleNowOf(s))
	compareFigures(t, "stored ", stored, func(ds []string) (map[string]store.BlobShares, error) { return s.ReadBlobShares(octx, ds) }, f, d)
	compareStoredReads(t, s, u, stored, d)
}

// oracleNowOf is the store's clock (the plan's time).
func oracleNowOf(s *store.Store) time.Time { return s.Now() }

// compareFigures compares one reading of the whole registry's usage (the
// full pass's or the stored figures', labelled by prefix) with the oracle.
func compareFigures(t *testing.T, prefix string, u *store.Usage, shares func([]string) (map[string]store.BlobShares, error), f *oracle.Figures, d *diffs) {
	t.Helper()
	d.eq(rankRegistry, prefix+"registry", "bytes", u.Registry.Bytes, f.Registry.Bytes)
	d.eq(rankRegistry, prefix+"registry", "blobs", u.Registry.Blobs, f.Registry.Blobs)
	d.eq(rankRegistry, prefix+"registry", "reclaimableBytes", u.Registry.ReclaimableBytes, f.Registry.Reclaimable)
	d.eq(rankRegistry, prefix+"registry", "unknownImages", u.Registry.UnknownImages, f.Registry.UnknownImages)

	var gotNS, wantNS []string
	for _, n := range u.Namespaces {
		gotNS = append(gotNS, n.Name)
	}
	for _, n := range f.Namespaces {
		wantNS = append(wantNS, n.Name)
	}
	d.eq(rankRegistry, prefix+"registry", "namespaces", gotNS, wantNS)
	for _, wn := range f.Namespaces {
		gn, ok := u.Namespace(wn.Name)
		if !ok {
			continue
		}
		scope := prefix + "namespace " + wn.Name
		d.eq(rankNamespace, scope, "bytes", gn.Bytes, wn.Bytes)
		d.eq(rankNamespace, scope, "exclusiveBytes", gn.ExclusiveBytes, wn.Exclusive)
		d.eq(rankNamespace, scope, "reclaimableBytes", gn.ReclaimableBytes, wn.Reclaimable)
		streams := map[string]store.StreamUsage{}
		for _, st := range gn.Streams {
			streams[st.Name] = st
		}
		var wantStreams []string
		for _, st := range wn.Streams {
			wantStreams = append(wantStreams, st.Name)
		}
		d.eq(rankNamespace, scope, "streams", keysOf(streams), sortedStrings(wantStreams))
		for _, ws := range wn.Streams {
			gs, ok := streams[ws.Name]
			if !ok {
				continue
			}
			scope := prefix + "stream " + wn.Name + "/" + ws.Name
			d.eq(rankStream, scope, "bytes", gs.Bytes, ws.Bytes)
			d.eq(rankStream, scope, "exclusiveBytes", gs.ExclusiveBytes, ws.Exclusive)
			d.eq(rankStream, scope, "uniqueImages", gs.UniqueImages, ws.UniqueImages)
			d.time(rankStream, scope, "updated", gs.Updated, ws.Updated)
			tags := map[string]store.TagUsage{}
			for _, tg := range gs.Tags {
				tags[tg.Name] = tg
			}
			var wantTags []string
			for _, tg := range ws.Tags {
				wantTags = append(wantTags, tg.Name)
			}
			d.eq(rankStream, scope, "tags", keysOf(tags), sortedStrings(wantTags))
			for _, wt := range ws.Tags {
				gt, ok := tags[wt.Name]
				if !ok {
					continue
				}
				scope := prefix + "tag " + wn.Name + "/" + ws.Name + ":" + wt.Name
				d.eq(rankTag, scope, "bytes", gt.Bytes, wt.Bytes)
				d.eq(rankTag, scope, "exclusiveBytes", gt.ExclusiveBytes, wt.Exclusive)
				d.eq(rankTag, scope, "revisions", len(gt.Revisions), len(wt.Revisions))
				for i := range min(len(gt.Revisions), len(wt.Revisions)) {
					g, w := gt.Revisions[i], wt.Revisions[i]
					scope := prefix + fmt.Sprintf("revision %s/%s:%s#%d", wn.Name, ws.Name, wt.Name, i)
					d.eq(rankRevision, scope, "image", g.Image, w.Image)
					d.eq(rankRevision, scope, "reference", g.Reference, w.Ref)
					d.time(rankRevision, scope, "created", g.Created, w.Created)
					d.eq(rankRevision, scope, "bytes", g.Bytes, w.Bytes)
					d.eq(rankRevision, scope, "current", g.Current, w.Current)
					d.eq(rankRevision, scope, "prunable", g.Prunable, w.Prunable)
				}
			}
		}
	}

	// The "shared by" counts of every blob.
	digests := keysOf(f.Shares)
	sh, err := shares(digests)
	if err != nil {
		t.Fatalf("shares: %v", err)
	}
	for _, b := range digests {
		w := f.Shares[b]
		d.eq(rankItem, prefix+"blob "+oracle.Short(b), "shares", sh[b], store.BlobShares{Images: w.Images, Tags: w.Tags, Streams: w.Streams, Namespaces: w.Namespaces})
	}
}

// compareStoredReads checks the stored reads a page makes (one namespace,
// one stream, a ranking, search sizes, revision sizes) against the whole
// stored reading, and the figures the oracle does not model against the
// full pass.
func compareStoredReads(t *testing.T, s *store.Store, full, stored *store.Usage, d *diffs) {
	t.Helper()
	d.eq(rankRegistry, "stored registry", "pullsRecordedSince", stored.PullsRecordedSince, full.PullsRecordedSince)
	var names []store.ScopeName
	want := map[store.ScopeName]int64{}
	images := map[string]int64{}
	for _, n := range stored.Namespaces {
		scope := "stored namespace " + n.Name
		if fn, ok := full.Namespace(n.Name); ok {
			d.eq(rankNamespace, scope, "notPulledBytes", n.NotPulledBytes, fn.NotPulledBytes)
		}
		whole, err := s.ReadNamespaceUsageFull(octx, n.Name)
		if err != nil {
			t.Fatalf("read namespace %s: %v", n.Name, err)
		}
		d.eq(rankNamespace, scope, "read alone", whole, n)
		// As encoding/json writes it (usage -o json, the API's list).
		for _, ind := range []string{"", "  "} {
			got, err := n.AppendJSON(nil, ind, ind)
			want, _ := json.MarshalIndent(n, ind, ind)
			if ind == "" {
				want, _ = json.Marshal(n)
			}
			d.eq(rankNamespace, scope, "JSON indented by "+strconv.Quote(ind), string(got)+fmt.Sprint(err), string(want)+"<nil>")
		}
		page, err := s.ReadNamespaceUsage(octx, n.Name)
		if err != nil {
			t.Fatalf("read namespace %s: %v", n.Name, err)
		}
		d.eq(rankNamespace, scope, "read for its page", page, withoutRevisions(n))
		names = append(names, store.ScopeName{Namespace: n.Name})
		want[store.ScopeName{Namespace: n.Name}] = n.Bytes
		for _, st := range n.Streams {
			got, err := s.ReadStreamUsage(octx, store.StreamRef{Namespace: n.Name, Stream: st.Name})
			if err != nil {
				t.Fatalf("read stream %s/%s: %v", n.Name, st.Name, err)
			}
			d.eq(rankStream, "stored stream "+n.Name+"/"+st.Name, "read alone", got, st)
			k := store.ScopeName{Namespace: n.Name, Stream: st.Name}
			names, want[k] = append(names, k), st.Bytes
			for _, tg := range st.Tags {
				k := store.ScopeName{Namespace: n.Name, Stream: st.Name, Tag: tg.Name}
				names, want[k] = append(names, k), tg.Bytes
				for _, r := range tg.Revisions {
					if r.Image != "" {
						images[r.Image] = r.Bytes
					}
				}
			}
		}
	}
	got, err := s.ReadScopeBytes(octx, names)
	if err != nil {
		t.Fatalf("read scope bytes: %v", err)
	}
	d.eq(rankRegistry, "stored search sizes", "bytes", got, want)
	digests := keysOf(images)
	sizes, err := s.ReadImageBytes(octx, digests)
	if err != nil {
		t.Fatalf("read image bytes: %v", err)
	}
	for _, dg := range digests {
		d.eq(rankItem, "stored image "+oracle.Short(dg), "bytes", sizes[dg], images[dg])
	}
	compareRankings(t, s, stored, d)
	// Limited to some namespaces (a reader who is no platform admin).
	if n := len(stored.Namespaces); n > 0 {
		want := []store.NamespaceUsage{stored.Namespaces[n-1]}
		only := []string{stored.Namespaces[n-1].Name, "not-there"}
		if n > 1 {
			want = []store.NamespaceUsage{stored.Namespaces[0], stored.Namespaces[n-1]}
			only = append(only, stored.Namespaces[0].Name)
		}
		var got []store.NamespaceUsage
		if err := s.EachNamespaceUsageOf(octx, only, func(nu store.NamespaceUsage) error { got = append(got, nu); return nil }); err != nil {
			t.Fatalf("read some namespaces: %v", err)
		}
		d.eq(rankRegistry, "stored registry", "some namespaces", got, want)
		got = nil
		if err := s.EachNamespaceUsageOf(octx, []string{}, func(nu store.NamespaceUsage) error { got = append(got, nu); return nil }); err != nil || got != nil {
			d.eq(rankRegistry, "stored registry", "no namespaces", fmt.Sprint(len(got), err), "0 <nil>")
		}
	}
}

func withoutRevisions(n store.NamespaceUsage) store.NamespaceUsage {
	out := n
	out.Streams = make([]store.StreamUsage, len(n.Streams))
	for i, st := range n.Streams {
		out.Streams[i] = st
		out.Streams[i].Tags = make([]store.TagUsage, len(st.Tags))
		for j, tg := range st.Tags {
			tg.Revisions = []store.RevisionUsage{}
			out.Streams[i].Tags[j] = tg
		}
	}
	return out
}

// compareRankings checks the overview's ordered, paged read: every order,
// a page of it and the figures over all namespaces.
func compareRankings(t *testing.T, s *store.Store, stored *store.Usage, d *diffs) {
	t.Helper()
	const threshold = 1 << 20
	var over int
	var biggest int64
	for _, n := range stored.Namespaces {
		if n.Bytes >= threshold {
			over++
		}
		biggest = max(biggest, n.Bytes)
	}
	for order := range store.NamespaceOrders {
		all, err := s.ReadNamespaces(octx, store.NamespaceQuery{Order: order, DefaultThreshold: threshold})
		if err != nil {
			t.Fatalf("read namespaces by %s: %v", order, err)
		}
		scope := "stored ranking by " + order
		d.eq(rankRegistry, scope, "total", all.Total, len(stored.Namespaces))
		d.eq(rankRegistry, scope, "over", all.Over, over)
		d.eq(rankRegistry, scope, "biggest", all.Biggest, biggest)
		d.eq(rankRegistry, scope, "rows", len(all.Rows), len(stored.Namespaces))
		for i, r := range all.Rows {
			n, ok := stored.Namespace(r.Name)
			if !ok {
				d.eq(rankNamespace, scope, "row "+r.Name, "present", "absent")
				continue
			}
			d.eq(rankNamespace, scope+" "+r.Name, "figures", [4]int64{r.Bytes, r.ExclusiveBytes, r.ReclaimableBytes, r.NotPulledBytes},
				[4]int64{n.Bytes, n.ExclusiveBytes, n.ReclaimableBytes, n.NotPulledBytes})
			d.eq(rankNamespace, scope+" "+r.Name, "streams", r.StreamCount, len(n.Streams))
			if i > 0 && rankedBefore(order, r, all.Rows[i-1]) {
				d.eq(rankNamespace, scope, "order at "+r.Name, all.Rows[i-1].Name+" before "+r.Name, "the other way round")
			}
		}
		if len(all.Rows) > 2 {
			page, err := s.ReadNamespaces(octx, store.NamespaceQuery{Order: order, DefaultThreshold: threshold, Offset: 1, Limit: 2})
			if err != nil {
				t.Fatalf("read namespaces by %s: %v", order, err)
			}
			var gotNames, wantNames []string
			for _, r := range page.Rows {
				gotNames = append(gotNames, r.Name)
			}
			for _, r := range all.Rows[1:3] {
				wantNames = append(wantNames, r.Name)
			}
			d.eq(rankRegistry, scope, "second page of two", gotNames, wantNames)
			only := []string{all.Rows[0].Name, all.Rows[2].Name}
			some, err := s.ReadNamespaces(octx, store.NamespaceQuery{Order: order, DefaultThreshold: threshold, Only: only})
			if err != nil {
				t.Fatalf("read namespaces by %s: %v", order, err)
			}
			d.eq(rankRegistry, scope, "only two: total", some.Total, 2)
		}
	}
}

// rankedBefore says whether a must come before b in order (ties by name).
func rankedBefore(order string, a, b store.NamespaceFigures) bool {
	used := func(n store.NamespaceFigures) float64 {
		if n.Threshold <= 0 {
			return -1
		}
		return float64(n.Bytes) / float64(n.Threshold)
	}
	var ka, kb float64
	switch order {
	case "name":
		return a.Name < b.Name
	case "size":
		ka, kb = float64(a.Bytes), float64(b.Bytes)
	case "exclusive":
		ka, kb = float64(a.ExclusiveBytes), float64(b.ExclusiveBytes)
	case "reclaimable":
		ka, kb = float64(a.ReclaimableBytes), float64(b.ReclaimableBytes)
	case "threshold":
		ka, kb = used(a), used(b)
	case "streams":
		ka, kb = float64(a.StreamCount), float64(b.StreamCount)
	}
	if ka != kb {
		return ka > kb
	}
	return a.Name < b.Name
}

type plannedRev struct {
	ns, stream, tag string
	pos             int
	image           string
	created         int64
}

func (r plannedRev) String() string {
	return fmt.Sprintf("%s/%s:%s#%d(%s)", r.ns, r.stream, r.tag, r.pos, oracle.Short(r.image))
}

func plannedSet(xs []plannedRev) []string {
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprintf("%s@%d", x, x.created))
	}
	sort.Strings(out)
	return out
}

func shortSet(digests []string) []string {
	var out []string
	for _, d := range digests {
		out = append(out, oracle.Short(d))
	}
	sort.Strings(out)
	return out
}

func comparePlan(t *testing.T, s *store.Store, policy store.Policy, reg *oracle.Registry, f *oracle.Figures, d *diffs) {
	t.Helper()
	p, err := s.PlanPrune(octx, policy, nil)
	if err != nil {
		t.Fatalf("plan prune: %v", err)
	}
	w := f.Plan
	var got, want []plannedRev
	for _, r := range p.Revisions {
		got = append(got, plannedRev{r.Namespace, r.Stream, r.Tag, r.Position, r.Image, r.Created.Unix()})
	}
	for _, r := range w.Revisions {
		want = append(want, plannedRev{r.Namespace, r.Stream, r.Tag, r.Position, r.Image, r.Created.Unix()})
	}
	d.eq(rankRevision, "plan", "revisions", plannedSet(got), plannedSet(want))
	d.eq(rankItem, "plan", "images", shortSet(p.Images), shortSet(oracle.SortedImages(w.Images)))
	d.eq(rankRegistry, "plan", "blobs", p.Blobs, len(w.Blobs))
	d.eq(rankRegistry, "plan", "bytesFreed", p.BytesFreed, w.BytesFreed)
	d.eq(rankRegistry, "plan", "policy", p.Policy, store.PlanPolicy{KeepTagRevisions: policy.KeepTagRevisions, KeepYoungerThan: policy.KeepYoungerThan.String()})

	gotNS := map[string]store.PruneNamespace{}
	for _, n := range p.Namespaces {
		gotNS[n.Name] = n
	}
	var wantNames []string
	for _, wn := range w.Namespaces {
		wantNames = append(wantNames, wn.Name)
	}
	d.eq(rankRegistry, "plan", "namespaces", keysOf(gotNS), sortedStrings(wantNames))
	for _, wn := range w.Namespaces {
		gn, ok := gotNS[wn.Name]
		if !ok {
			continue
		}
		scope := "plan of namespace " + wn.Name
		d.eq(rankNamespace, scope, "revisions", gn.Revisions, wn.Revisions)
		d.eq(rankNamespace, scope, "bytesFreed", gn.BytesFreed, wn.BytesFreed)
		d.eq(rankNamespace, scope, "override", gn.Override, wn.Override)
		d.eq(rankNamespace, scope, "policy", gn.Policy, store.PlanPolicy{KeepTagRevisions: wn.Policy.KeepTagRevisions, KeepYoungerThan: wn.Policy.KeepYoungerThan.String()})
		gotSt := map[string]store.PruneStream{}
		for _, st := range gn.Streams {
			gotSt[st.Name] = st
		}
		var wantSt []string
		for _, st := range wn.Streams {
			wantSt = append(wantSt, st.Name)
		}
		d.eq(rankNamespace, scope, "streams", keysOf(gotSt), sortedStrings(wantSt))
		for _, ws := range wn.Streams {
			gs := gotSt[ws.Name]
			scope := "plan of stream " + wn.Name + "/" + ws.Name
			d.eq(rankStream, scope, "revisions", gs.Revisions, ws.Revisions)
			d.eq(rankStream, scope, "bytesFreed", gs.BytesFreed, ws.BytesFreed)
		}
	}

	// What a user with a role in one namespace sees.
	for _, n := range reg.Namespaces {
		vp, err := s.PlanPrune(octx, policy, &store.PlanFilter{Namespaces: []string{n.Name}})
		if err != nil {
			t.Fatalf("plan prune for %s: %v", n.Name, err)
		}
		wv := w.Visible([]string{n.Name})
		scope := "plan seen from namespace " + n.Name
		var got, want []plannedRev
		for _, r := range vp.Revisions {
			got = append(got, plannedRev{r.Namespace, r.Stream, r.Tag, r.Position, r.Image, r.Created.Unix()})
		}
		for _, r := range wv.Revisions {
			want = append(want, plannedRev{r.Namespace, r.Stream, r.Tag, r.Position, r.Image, r.Created.Unix()})
		}
		d.eq(rankNamespace, scope, "revisions", plannedSet(got), plannedSet(want))
		d.eq(rankNamespace, scope, "images", shortSet(vp.Images), shortSet(oracle.SortedImages(wv.Images)))
		d.eq(rankNamespace, scope, "blobs", vp.Blobs, len(wv.Blobs))
		d.eq(rankNamespace, scope, "bytesFreed", vp.BytesFreed, wv.BytesFreed)
	}
}

// compareStreamSizes checks the sizes the stream page and `describe` show.
func compareStreamSizes(t *testing.T, s *store.Store, f *oracle.Figures, d *diffs) {
	t.Helper()
	for _, wn := range f.Namespaces {
		for _, ws := range wn.Streams {
			sz, err := s.StreamSizes(octx, store.StreamRef{Namespace: wn.Name, Stream: ws.Name})
			if err != nil {
				t.Fatalf("stream sizes of %s/%s: %v", wn.Name, ws.Name, err)
			}
			scope := "stream page " + wn.Name + "/" + ws.Name
			d.eq(rankStream, scope, "bytes", sz.Bytes, ws.Bytes)
			d.eq(rankStream, scope, "uniqueImages", sz.UniqueImages, ws.UniqueImages)
			d.eq(rankStream, scope, "images", sz.Images, ws.ImageBytes)
			d.eq(rankStream, scope, "unknown", sz.Unknown, ws.Unknown)
			tags := map[string]int64{}
			for _, wt := range ws.Tags {
				if hasImage(wt) {
					tags[wt.Name] = wt.Bytes
				}
			}
			d.eq(rankTag, scope, "tag bytes", sz.Tags, tags)
		}
	}
}

func hasImage(t oracle.TagFigures) bool {
	for _, r := range t.Revisions {
		if r.Image != "" {
			return true
		}
	}
	return false
}

// compareImagesAndBlobs checks the image page's size and the blob page's
// lists of sharers.
func compareImagesAndBlobs(t *testing.T, s *store.Store, reg *oracle.Registry, f *oracle.Figures, d *diffs) {
	t.Helper()
	for _, img := range reg.Images {
		info, err := s.GetImage(octx, img.Digest)
		if err != nil {
			t.Fatalf("get image %s: %v", img.Digest, err)
		}
		d.eq(rankItem, "image "+oracle.Short(img.Digest), "bytes", info.Bytes, f.ImageBytes[img.Digest])
	}
	for _, b := range reg.Blobs {
		info, err := s.GetBlob(octx, b.Digest, 1000, nil)
		if err != nil {
			t.Fatalf("get blob %s: %v", b.Digest, err)
		}
		scope := "blob page " + oracle.Short(b.Digest)
		d.eq(rankItem, scope, "images", info.ImageCount, int64(f.Shares[b.Digest].Images))
		var streams []string
		for _, st := range info.Streams {
			streams = append(streams, st.Namespace+"/"+st.Stream)
		}
		h := f.Holders[b.Digest]
		d.eq(rankItem, scope, "streams", sortedStrings(streams), sortedStrings(h.Streams))
		d.eq(rankItem, scope, "namespaces", sortedStrings(info.Namespaces), sortedStrings(h.Namespaces))
	}
}

// oracleFailure reports a case: the seed, how to replay it, and the
// smallest registry found that still fails, with its differing figures,
// smallest scope first.
func oracleFailure(t *testing.T, seed uint64, test string, d diffs, reg *oracle.Registry) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d figure(s) differ from the oracle; smallest scope first:\n", seed, len(d))
	for i, m := range d.smallestFirst() {
		if i == 8 {
			fmt.Fprintf(&b, "  … and %d more\n", len(d)-i)
			break
		}
		fmt.Fprintf(&b, "  %s\n", m)
	}
	fmt.Fprintf(&b, "replay: go test ./store -run '%s' -oracle.seed=%d -v\n", test, seed)
	if reg != nil {
		fmt.Fprintf(&b, "registry:\n%s", reg)
	}
	t.Error(b.String())
}

// TestOracleRandomRegistries writes random registries and compares every
// figure of usage, the prune plan, the stream page, the image and blob
// pages with the oracle.
func TestOracleRandomRegistries(t *testing.T) {
	t.Parallel()
	s := openOracleStore(t)
	failures := 0
	for _, seed := range oracle.Seeds(250) {
		reg := oracle.Generate(seed, oracleNow)
		policy := casePolicy(seed)
		d := runCase(t, s, reg, policy)
		if len(d) == 0 {
			continue
		}
		t.Logf("seed %d: %v", seed, d[:min(len(d), 8)])
		// Report the smallest registry that still fails, and its figures.
		small, sd := shrink(t, s, reg, policy, d)
		oracleFailure(t, seed, "TestOracleRandomRegistries", sd, small)
		if failures++; failures == 3 {
			t.Fatal("stopping after 3 failing seeds")
		}
	}
}

// runCase writes reg into the emptied database and compares.
func runCase(t *testing.T, s *store.Store, reg *oracle.Registry, policy store.Policy) diffs {
	t.Helper()
	if err := oracle.Reset(octx, s.DB()); err != nil {
		t.Fatal(err)
	}
	if err := oracle.Insert(octx, s.DB(), reg); err != nil {
		t.Fatal(err)
	}
	// The reset and the insert wrote around Store.Tx; the next transaction
	// settles everything the triggers noted, incrementally, as one change.
	if err := s.Tx(octx, func(*store.Store) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_, _, d := compareWithOracle(t, s, policy, true)
	return d
}

// shrink looks for a smaller registry that still fails, one removal at a
// time (a namespace, stream, tag, entry, pin, layer, child or image), so
// that the failure prints a case a person can read.
func shrink(t *testing.T, s *store.Store, reg *oracle.Registry, policy store.Policy, d diffs) (*oracle.Registry, diffs) {
	t.Helper()
	cur := reg
	for tries := 0; tries < 400; {
		smaller := false
		for _, cand := range reductions(cur) {
			tries++
			if cd := runCase(t, s, cand, policy); len(cd) > 0 {
				cur, d, smaller = cand, cd, true
				break
			}
			if tries >= 400 {
				break
			}
		}
		if !smaller {
			break
		}
	}
	return cur, d
}

// reductions are the registries one step smaller than r.
func reductions(r *oracle.Registry) []*oracle.Registry {
	var out []*oracle.Registry
	edit := func(fn func(c *oracle.Registry)) {
		c := r.Clone()
		fn(c)
		out = append(out, tidy(c))
	}
	for ni := range r.Namespaces {
		edit(func(c *oracle.Registry) { c.Namespaces = append(c.Namespaces[:ni], c.Namespaces[ni+1:]...) })
	}
	for ni, n := range r.Namespaces {
		for si, st := range n.Streams {
			edit(func(c *oracle.Registry) {
				c.Namespaces[ni].Streams = append(c.Namespaces[ni].Streams[:si], c.Namespaces[ni].Streams[si+1:]...)
			})
			for ti, tg := range st.Tags {
				edit(func(c *oracle.Registry) {
					tags := c.Namespaces[ni].Streams[si].Tags
					c.Namespaces[ni].Streams[si].Tags = append(tags[:ti], tags[ti+1:]...)
				})
				for ei := range tg.History {
					edit(func(c *oracle.Registry) {
						h := c.Namespaces[ni].Streams[si].Tags[ti].History
						c.Namespaces[ni].Streams[si].Tags[ti].History = append(h[:ei], h[ei+1:]...)
					})
				}
			}
		}
		if n.KeepTagRevisions != nil || n.KeepYoungerThan != nil {
			edit(func(c *oracle.Registry) {
				c.Namespaces[ni].KeepTagRevisions, c.Namespaces[ni].KeepYoungerThan = nil, nil
			})
		}
	}
	for pi := range r.Pins {
		edit(func(c *oracle.Registry) { c.Pins = append(c.Pins[:pi], c.Pins[pi+1:]...) })
	}
	for ii, img := range r.Images {
		edit(func(c *oracle.Registry) { dropImage(c, img.Digest) })
		for li := range img.Layers {
			edit(func(c *oracle.Registry) {
				c.Images[ii].Layers = append(c.Images[ii].Layers[:li], c.Images[ii].Layers[li+1:]...)
			})
		}
		if img.Config != "" {
			edit(func(c *oracle.Registry) { c.Images[ii].Config = "" })
		}
		for ci := range img.Children {
			edit(func(c *oracle.Registry) {
				c.Images[ii].Children = append(c.Images[ii].Children[:ci], c.Images[ii].Children[ci+1:]...)
			})
		}
	}
	return out
}

// dropImage removes an image and everything that names it.
func dropImage(c *oracle.Registry, digest string) {
	var imgs []oracle.Image
	for _, img := range c.Images {
		if img.Digest == digest {
			continue
		}
		var kids []string
		for _, k := range img.Children {
			if k != digest {
				kids = append(kids, k)
			}
		}
		img.Children = kids
		imgs = append(imgs, img)
	}
	c.Images = imgs
	for ni := range c.Namespaces {
		for si := range c.Namespaces[ni].Streams {
			for ti := range c.Namespaces[ni].Streams[si].Tags {
				tg := &c.Namespaces[ni].Streams[si].Tags[ti]
				var h []oracle.Entry
				for _, e := range tg.History {
					if e.Image != digest {
						h = append(h, e)
					}
				}
				tg.History = h
			}
		}
	}
	var pins []oracle.Pin
	for _, p := range c.Pins {
		if p.Image != digest {
			pins = append(pins, p)
		}
	}
	c.Pins = pins
}

// tidy drops the blobs no image lists and the pins of removed namespaces.
func tidy(c *oracle.Registry) *oracle.Registry {
	used := map[string]bool{}
	for _, img := range c.Images {
		for _, b := range img.OwnBlobs() {
			used[b] = true
		}
	}
	var blobs []oracle.Blob
	for _, b := range c.Blobs {
		if used[b.Digest] {
			blobs = append(blobs, b)
		}
	}
	c.Blobs = blobs
	ns := map[string]bool{}
	for _, n := range c.Namespaces {
		ns[n.Name] = true
	}
	var pins []oracle.Pin
	for _, p := range c.Pins {
		if ns[p.Namespace] {
			pins = append(pins, p)
		}
	}
	c.Pins = pins
	return c
}

// refused reports whether err is one of the refusals a random write may
// rightly meet.
func refused(err error) bool {
	return errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists)
}
