package store_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"layerwise/jobs/openshift"
	"layerwise/store"
	"layerwise/store/oracle"
)

// TestOracleWriteSequences drives random sequences of writes through the
// store's public functions — push (mapping and registry event), tag (copy,
// alias, stream image), promote, rollback, delete tag and stream, registry
// delete, pin and unpin, namespace policy, time passing, prune applied and
// the registry's own dump re-imported — and compares every figure with the
// oracle after each step. This is the check an incremental usage must pass.
// Some writes also have an expected effect the oracle knows: a refused
// write changes nothing, a prune leaves exactly the oracle's plan applied,
// a re-imported dump changes nothing.
func TestOracleWriteSequences(t *testing.T) {
	t.Parallel()
	s := openOracleStore(t)
	const steps = 12
	failures := 0
	for _, seed := range oracle.Seeds(40) {
		if !runSequence(t, s, seed, steps) {
			if failures++; failures == 3 {
				t.Fatal("stopping after 3 failing seeds")
			}
		}
	}
}

// sequence is one random run of writes.
type sequence struct {
	t      *testing.T
	s      *store.Store
	r      *rand.Rand
	seed   uint64
	now    time.Time
	policy store.Policy
	log    []string
	fresh  int // counter that names new images and blobs
}

func runSequence(t *testing.T, s *store.Store, seed uint64, steps int) bool {
	t.Helper()
	q := &sequence{t: t, s: s, r: oracle.Rand(seed ^ 0xc0ffee), seed: seed, now: oracleNow, policy: store.DefaultPolicy}
	s.SetClock(func() time.Time { return oracleNow })
	defer s.SetClock(func() time.Time { return oracleNow })
	start := oracle.Generate(seed, oracleNow)
	if err := oracle.Reset(octx, s.DB()); err != nil {
		t.Fatal(err)
	}
	if err := oracle.Insert(octx, s.DB(), start); err != nil {
		t.Fatal(err)
	}
	// The start comes in around Store.Tx: build the accounting from it, then
	// every step's write keeps it up to date.
	if err := s.BuildUsage(octx, nil); err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= steps; step++ {
		before, err := oracle.Load(octx, s.DB())
		if err != nil {
			t.Fatal(err)
		}
		desc, expect := q.step(before)
		q.log = append(q.log, desc)
		// Usage, the plan and the stream pages after every write; the image
		// and blob pages (plain queries, covered fully on random
		// registries) every third write and at the end.
		after, _, d := compareWithOracle(t, s, q.policy, step%3 == 0 || step == steps)
		if msg := expect(after); msg != "" {
			d = append(d, mismatch{rankRegistry, "after " + desc, msg, "", ""})
		}
		if len(d) > 0 {
			q.fail(step, d, start)
			return false
		}
	}
	if testing.Verbose() {
		t.Logf("seed %d: %s", seed, strings.Join(q.log, "; "))
	}
	return true
}

func (q *sequence) fail(step int, d diffs, start *oracle.Registry) {
	q.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, step %d: %d figure(s) differ from the oracle; smallest scope first:\n", q.seed, step, len(d))
	for i, m := range d.smallestFirst() {
		if i == 8 {
			fmt.Fprintf(&b, "  … and %d more\n", len(d)-i)
			break
		}
		fmt.Fprintf(&b, "  %s\n", m)
	}
	fmt.Fprintf(&b, "writes:\n")
	for i, l := range q.log {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, l)
	}
	fmt.Fprintf(&b, "replay: go test ./store -run TestOracleWriteSequences -oracle.seed=%d -v\n", q.seed)
	fmt.Fprintf(&b, "starting registry:\n%s", start)
	q.t.Error(b.String())
}

func (q *sequence) chance(p float64) bool { return q.r.Float64() < p }

func pickOf[T any](q *sequence, xs []T) T { return xs[q.r.IntN(len(xs))] }

// expectation checks the registry after a write; "" means as expected.
type expectation func(after *oracle.Registry) string

func anything(*oracle.Registry) string { return "" }

// unchanged expects the registry as it was.
func unchanged(before *oracle.Registry) expectation {
	want := before.String()
	return func(after *oracle.Registry) string {
		if got := after.String(); got != want {
			return "the registry changed:\n" + lineDiff(want, got)
		}
		return ""
	}
}

// lineDiff lists the lines only one side has.
func lineDiff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "    - %s\n", l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			fmt.Fprintf(&b, "    + %s\n", l)
		}
	}
	return b.String()
}

// place is a tag of the registry with its history.
type place struct {
	ref store.TagRef
	tag oracle.Tag
}

func places(r *oracle.Registry) []place {
	var out []place
	for _, n := range r.Namespaces {
		for _, st := range n.Streams {
			for _, t := range st.Tags {
				out = append(out, place{store.TagRef{Namespace: n.Name, Stream: st.Name, Tag: t.Name}, t})
			}
		}
	}
	return out
}

var (
	seqNamespaces = []string{"ns0", "ns1", "ns2", "ns9"}
	seqStreams    = []string{"s0", "s1", "s2"}
	seqTags       = []string{"latest", "test", "prod", "v1", "dev"}
)

// someRef is an existing tag most of the time, else a new one.
func (q *sequence) someRef(r *oracle.Registry) store.TagRef {
	if ps := places(r); len(ps) > 0 && q.chance(0.6) {
		return pickOf(q, ps).ref
	}
	return store.TagRef{Namespace: pickOf(q, seqNamespaces), Stream: pickOf(q, seqStreams), Tag: pickOf(q, seqTags)}
}

// someImage is an image to push: one the registry has, or a new one made
// of its blobs and new ones (a layer twice now and then), or a new list.
func (q *sequence) someImage(r *oracle.Registry) []store.ImageSnapshot {
	if len(r.Images) > 0 && q.chance(0.4) {
		img := pickOf(q, r.Images)
		info, err := q.s.GetImage(octx, img.Digest)
		if err != nil {
			q.t.Fatal(err)
		}
		return []store.ImageSnapshot{info.ImageSnapshot}
	}
	q.fresh++
	size := map[string]int64{}
	for _, b := range r.Blobs {
		size[b.Digest] = b.Size
	}
	blob := func() store.BlobRef {
		if len(r.Blobs) > 0 && q.chance(0.6) {
			b := pickOf(q, r.Blobs)
			return store.BlobRef{Digest: b.Digest, Size: b.Size}
		}
		q.fresh++
		return store.BlobRef{Digest: oracle.Digest(fmt.Sprintf("seq-blob:%d:%d", q.seed, q.fresh)), Size: 1 + q.r.Int64N(5000)}
	}
	plain := func() store.ImageSnapshot {
		q.fresh++
		c := blob()
		img := store.ImageSnapshot{Digest: oracle.Digest(fmt.Sprintf("seq-image:%d:%d", q.seed, q.fresh)),
			MediaType: "application/vnd.oci.image.manifest.v1+json", Config: &c}
		for k := q.r.IntN(4); k > 0; k-- {
			img.Layers = append(img.Layers, blob())
		}
		if len(img.Layers) > 0 && q.chance(0.3) {
			img.Layers = append(img.Layers, img.Layers[0])
		}
		return img
	}
	if q.chance(0.2) {
		// A manifest list over a new image and one the registry has.
		child := plain()
		list := store.ImageSnapshot{Digest: oracle.Digest(fmt.Sprintf("seq-list:%d:%d", q.seed, q.fresh)),
			MediaType: "application/vnd.oci.image.index.v1+json",
			Manifests: []store.ManifestRef{{Digest: child.Digest, OS: "linux", Architecture: "amd64"}}}
		for _, img := range r.Images {
			if img.Known && len(img.Children) == 0 && q.chance(0.3) {
				list.Manifests = append(list.Manifests, store.ManifestRef{Digest: img.Digest, OS: "linux", Architecture: "arm64"})
				break
			}
		}
		return []store.ImageSnapshot{child, list}
	}
	return []store.ImageSnapshot{plain()}
}

// ages around the platform policy's edge.
func (q *sequence) age() time.Duration {
	return pickOf(q, []time.Duration{0, time.Hour, 95 * time.Hour, 96*time.Hour - time.Second, 96 * time.Hour, 96*time.Hour + time.Second, 300 * time.Hour})
}

// step makes one random write and says what it did and what to expect.
func (q *sequence) step(r *oracle.Registry) (string, expectation) {
	ps := places(r)
	withImage := func() (place, bool) {
		var out []place
		for _, p := range ps {
			if len(p.tag.History) > 0 && p.tag.History[0].Image != "" {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return place{}, false
		}
		return pickOf(q, out), true
	}
	// refusedOr turns a refused write into "nothing changes".
	refusedOr := func(desc string, err error, exp expectation) (string, expectation) {
		if err == nil {
			return desc, exp
		}
		if refused(err) {
			return desc + " (refused: " + err.Error() + ")", unchanged(r)
		}
		q.t.Fatalf("seed %d: %s: %v", q.seed, desc, err)
		return "", nil
	}
	switch op := q.r.IntN(16); op {
	case 0, 1: // an ImageStreamMapping at some time
		ref, imgs := q.someRef(r), q.someImage(r)
		created := q.now.Add(-q.age())
		for _, img := range imgs[:len(imgs)-1] {
			if _, err := q.s.PutImage(octx, img); err != nil {
				q.t.Fatalf("put image: %v", err)
			}
		}
		img := imgs[len(imgs)-1]
		_, err := q.s.MapImage(octx, ref.Namespace, ref.Stream, ref.Tag, img, created)
		return refusedOr(fmt.Sprintf("map %s to %s at -%s", oracle.Short(img.Digest), ref, q.now.Sub(created)), err, anything)
	case 2: // a registry push event, maybe delivered late
		ref, imgs := q.someRef(r), q.someImage(r)
		at := q.now.Add(-q.age())
		img := imgs[len(imgs)-1]
		_, err := q.s.RecordPush(octx, store.Push{Tag: ref, Images: imgs, At: at,
			PullSpec: "127.0.0.1:5000/" + ref.Namespace + "/" + ref.Stream + "@" + img.Digest})
		return refusedOr(fmt.Sprintf("push %s to %s at -%s", oracle.Short(img.Digest), ref, q.now.Sub(at)), err, anything)
	case 3: // tag: a copy of another tag, anywhere
		src, ok := withImage()
		if !ok {
			return "no tag to copy", unchanged(r)
		}
		dst := q.someRef(r)
		_, err := q.s.SetTag(octx, store.Source{Kind: store.KindImageStreamTag, Namespace: src.ref.Namespace, Stream: src.ref.Stream, Tag: src.ref.Tag}, dst, store.TagOptions{})
		return refusedOr(fmt.Sprintf("tag %s %s", src.ref, dst), err, anything)
	case 4: // tag --alias within the stream
		src, ok := withImage()
		if !ok {
			return "no tag to alias", unchanged(r)
		}
		dst := store.TagRef{Namespace: src.ref.Namespace, Stream: src.ref.Stream, Tag: pickOf(q, seqTags)}
		_, err := q.s.SetTag(octx, store.Source{Kind: store.KindImageStreamTag, Namespace: src.ref.Namespace, Stream: src.ref.Stream, Tag: src.ref.Tag}, dst, store.TagOptions{Alias: true})
		return refusedOr(fmt.Sprintf("tag --alias %s %s", src.ref, dst), err, anything)
	case 5: // tag stream@digest
		src, ok := withImage()
		if !ok {
			return "no image to tag", unchanged(r)
		}
		e := pickOf(q, src.tag.History)
		if e.Image == "" {
			return "no image to tag", unchanged(r)
		}
		dst := q.someRef(r)
		_, err := q.s.SetTag(octx, store.Source{Kind: store.KindImageStreamImage, Namespace: src.ref.Namespace, Stream: src.ref.Stream, Digest: e.Image}, dst, store.TagOptions{})
		return refusedOr(fmt.Sprintf("tag %s/%s@%s %s", src.ref.Namespace, src.ref.Stream, oracle.Short(e.Image), dst), err, anything)
	case 6: // promote along the ladder
		if len(ps) == 0 {
			return "nothing to promote", unchanged(r)
		}
		p := pickOf(q, ps)
		_, err := q.s.Promote(octx, store.StreamRef{Namespace: p.ref.Namespace, Stream: p.ref.Stream}, p.ref.Tag, "")
		return refusedOr("promote "+p.ref.String(), err, anything)
	case 7: // rollback, to the previous image or a named one
		if len(ps) == 0 {
			return "nothing to roll back", unchanged(r)
		}
		p := pickOf(q, ps)
		digest := ""
		if len(p.tag.History) > 0 && q.chance(0.5) {
			digest = pickOf(q, p.tag.History).Image
		}
		_, err := q.s.Rollback(octx, p.ref, digest)
		return refusedOr(fmt.Sprintf("rollback %s %s", p.ref, oracle.Short(digest)), err, anything)
	case 8: // delete a tag: exactly it goes
		if len(ps) == 0 {
			return "no tag to delete", unchanged(r)
		}
		p := pickOf(q, ps)
		want := r.Clone()
		for ni := range want.Namespaces {
			for si := range want.Namespaces[ni].Streams {
				st := &want.Namespaces[ni].Streams[si]
				if want.Namespaces[ni].Name != p.ref.Namespace || st.Name != p.ref.Stream {
					continue
				}
				var tags []oracle.Tag
				for _, tg := range st.Tags {
					if tg.Name != p.ref.Tag {
						tags = append(tags, tg)
					}
				}
				st.Tags = tags
			}
		}
		err := q.s.DeleteTag(octx, p.ref)
		return refusedOr("tag -d "+p.ref.String(), err, unchanged(want))
	case 9: // delete a stream, or the registry deletes a manifest from it
		if len(ps) == 0 {
			return "no stream to delete", unchanged(r)
		}
		p := pickOf(q, ps)
		ref := store.StreamRef{Namespace: p.ref.Namespace, Stream: p.ref.Stream}
		if len(p.tag.History) > 0 && p.tag.History[0].Image != "" && q.chance(0.5) {
			d := pickOf(q, p.tag.History).Image
			if d == "" {
				return "no manifest to delete", unchanged(r)
			}
			_, err := q.s.RemoveImageFromStream(octx, ref, d)
			return refusedOr(fmt.Sprintf("registry deletes %s from %s", oracle.Short(d), ref), err, anything)
		}
		want := r.Clone()
		for ni := range want.Namespaces {
			n := &want.Namespaces[ni]
			if n.Name != ref.Namespace {
				continue
			}
			var sts []oracle.Stream
			for _, st := range n.Streams {
				if st.Name != ref.Stream {
					sts = append(sts, st)
				}
			}
			n.Streams = sts
		}
		// The stream's pull times go with it.
		var pulls []oracle.Pull
		for _, pl := range want.Pulls {
			if pl.Namespace != ref.Namespace || pl.Stream != ref.Stream {
				pulls = append(pulls, pl)
			}
		}
		want.Pulls = pulls
		err := q.s.DeleteStream(octx, ref)
		return refusedOr("delete is "+ref.String(), err, unchanged(want))
	case 10: // pin an image of a namespace's history, or unpin one
		if len(r.Pins) > 0 && q.chance(0.4) {
			p := pickOf(q, r.Pins)
			_, err := q.s.UnpinImage(octx, p.Namespace, p.Image)
			return refusedOr(fmt.Sprintf("unpin %s in %s", oracle.Short(p.Image), p.Namespace), err, anything)
		}
		if len(ps) == 0 {
			return "nothing to pin", unchanged(r)
		}
		p := pickOf(q, ps)
		if len(p.tag.History) == 0 {
			return "nothing to pin", unchanged(r)
		}
		d := pickOf(q, p.tag.History).Image
		if d == "" {
			return "nothing to pin", unchanged(r)
		}
		_, err := q.s.PinImage(octx, p.ref.Namespace, d, "used in prod", "oracle")
		return refusedOr(fmt.Sprintf("pin %s in %s", oracle.Short(d), p.ref.Namespace), err, anything)
	case 11: // a namespace's own policy, set or cleared
		ns := pickOf(q, seqNamespaces)
		if len(r.Namespaces) > 0 {
			ns = pickOf(q, r.Namespaces).Name
		}
		k := pickOf(q, []int{-1, 0, 1, 2, 3, 5})
		d := pickOf(q, []time.Duration{-1, 0, time.Hour, 96 * time.Hour, 200 * time.Hour})
		err := q.s.SetNamespace(octx, ns, store.NamespaceSettings{PruneKeepTagRevisions: &k, PruneKeepYoungerThan: &d})
		return refusedOr(fmt.Sprintf("namespace set %s --keep-tag-revisions %d --keep-younger-than %s", ns, k, d), err, anything)
	case 12: // time passes, across the policy's edges
		by := pickOf(q, []time.Duration{time.Second, time.Hour, 24 * time.Hour, 95 * time.Hour, 96 * time.Hour})
		q.now = q.now.Add(by)
		now := q.now
		q.s.SetClock(func() time.Time { return now })
		return "time passes: +" + by.String(), unchanged(r)
	case 13, 14: // prune, applied
		return q.prune(r)
	default: // the registry's own dump, re-imported
		return q.reimport(r)
	}
}

// prune plans and applies; the database must then be the oracle's plan
// applied, and the run's counts the plan's.
func (q *sequence) prune(r *oracle.Registry) (string, expectation) {
	want := oracle.PlanPrune(r, toOracle(q.policy), q.now)
	pl, err := q.s.PlanPrune(octx, q.policy, nil)
	if err != nil {
		q.t.Fatalf("plan: %v", err)
	}
	res, err := q.s.ApplyPrune(octx, pl, store.ApplyOptions{BatchTags: 1 + q.r.IntN(3)})
	if err != nil {
		q.t.Fatalf("apply prune: %v", err)
	}
	desc := fmt.Sprintf("prune --confirm (%d revisions, %d images, %d blobs, %d bytes)", res.Revisions, res.Images, res.Blobs, res.BytesFreed)
	return desc, func(after *oracle.Registry) string {
		var msgs []string
		got := [4]int64{res.Revisions, res.Images, res.Blobs, res.BytesFreed}
		exp := [4]int64{int64(len(want.Revisions)), int64(len(want.Images)), int64(len(want.Blobs)), want.BytesFreed}
		if got != exp || res.Skipped != 0 {
			msgs = append(msgs, fmt.Sprintf("applied (revisions, images, blobs, bytes) %v skipping %d, oracle %v", got, res.Skipped, exp))
		}
		if g, w := after.String(), want.After.String(); g != w {
			msgs = append(msgs, "the registry is not the plan applied:\n"+lineDiff(w, g))
		}
		return strings.Join(msgs, "; ")
	}
}

// reimport exports every stream and image as `oc get is,images -A -o json`
// would and imports the file again: nothing may change.
func (q *sequence) reimport(r *oracle.Registry) (string, expectation) {
	streams, err := q.s.ListStreams(octx, "")
	if err != nil {
		q.t.Fatal(err)
	}
	var imgs []store.ImageSnapshot
	for _, img := range r.Images {
		info, err := q.s.GetImage(octx, img.Digest)
		if err != nil {
			q.t.Fatal(err)
		}
		imgs = append(imgs, info.ImageSnapshot)
	}
	doc, err := openshift.ExportList(streams, imgs)
	if err != nil {
		q.t.Fatalf("export: %v", err)
	}
	objs, err := openshift.Decode("dump", bytes.NewReader(doc), openshift.Options{Now: q.s.Now()})
	if err != nil {
		q.t.Fatalf("decode our own dump: %v", err)
	}
	err = q.s.Tx(octx, func(tx *store.Store) error {
		_, err := openshift.Apply(octx, tx, objs)
		return err
	})
	if err != nil {
		q.t.Fatalf("re-import our own dump: %v", err)
	}
	return fmt.Sprintf("dump re-imported (%d streams, %d images)", len(streams), len(imgs)), unchanged(r)
}
