package store

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"layerwise/bytesum"
)

// Savings: which tags and streams a namespace over its threshold can delete
// to get under it. Exclusive bytes of separate tags do not add up (a layer
// two tags share is exclusive to neither, yet deleting both frees it), so a
// plan is measured as a set: its deletions are taken out of the graph
// together and what the namespace still holds is counted once.
//
//   - A namespace's usage after a set of deletions is the distinct blobs of
//     the history entries that remain: not in a deleted tag or stream, and
//     kept by tonight's prune (the policy and the pins, graph.prunable).
//   - Its freed bytes are the blobs its entries hold now that no image
//     keeps once the set is gone and prune has run (graph.keep's rule with
//     the set's entries removed); for an empty set that is the namespace's
//     reclaimable bytes. Prune keeps an image no entry names while it is
//     younger than the policy's age: the images the set leaves unnamed
//     count as freed, as they are once that age has passed.
//   - A plan never deletes the ladder's last rung (prod) nor a stream that
//     holds it, nor a tag whose history holds an image the namespace pinned
//     or that is in use, or an entry a retention rule keeps whatever its
//     age (never, pulled within).

// Deletion is one tag, or a whole image stream (Tag ""), to delete.
type Deletion struct {
	Stream string `json:"stream"`
	Tag    string `json:"tag,omitempty"`
}

// String is "api:old" for a tag, "api" for a stream.
func (d Deletion) String() string {
	if d.Tag == "" {
		return d.Stream
	}
	return d.Stream + ":" + d.Tag
}

// DeletionEffect is what deleting a set of tags and streams of one
// namespace does, tonight's prune included, each blob counted once.
type DeletionEffect struct {
	// Bytes is the namespace's usage now, AfterPrune once tonight's prune
	// ran, After once the set is deleted as well.
	Bytes      int64 `json:"bytes"`
	AfterPrune int64 `json:"afterPrune"`
	After      int64 `json:"after"`
	// Freed is what leaves the disk: blobs the namespace holds now that no
	// image keeps once the set is deleted and prune ran (on the images the
	// set leaves unnamed, once they are older than the policy's age).
	Freed int64 `json:"freed"`
}

// SavingsStep is one step of a plan: tags of one stream, or the whole
// stream (no Tags); Bytes is what it takes off the namespace's usage after
// the steps before it, so the steps add up. Tags of a stream go in one
// step: two tags holding the same images free them only together.
type SavingsStep struct {
	Stream string   `json:"stream"`
	Tags   []string `json:"tags,omitempty"`
	Bytes  int64    `json:"bytes"`
}

// Deletions are the step's tags, or its stream.
func (s SavingsStep) Deletions() []Deletion {
	if len(s.Tags) == 0 {
		return []Deletion{{Stream: s.Stream}}
	}
	out := make([]Deletion, len(s.Tags))
	for i, t := range s.Tags {
		out[i] = Deletion{Stream: s.Stream, Tag: t}
	}
	return out
}

// String is "api:old, api:dev" or "api".
func (s SavingsStep) String() string {
	var parts []string
	for _, d := range s.Deletions() {
		parts = append(parts, d.String())
	}
	return strings.Join(parts, ", ")
}

// LeftAlone is a tag a plan may not delete, and why.
type LeftAlone struct {
	Deletion
	Reason string `json:"reason"`
}

// SavingsPlan is a set of deletions that brings a namespace under its
// threshold, or, when none can, the most the allowed deletions do.
type SavingsPlan struct {
	Namespace string `json:"namespace"`
	Threshold int64  `json:"threshold"`
	DeletionEffect
	// Steps are the deletions in the order their Bytes are counted; empty
	// when the namespace is under its threshold or prune alone gets it there.
	Steps []SavingsStep `json:"steps"`
	// Reaches says After is under the threshold.
	Reaches   bool        `json:"reaches"`
	LeftAlone []LeftAlone `json:"leftAlone"`
}

// Over says the namespace is at or over its threshold now.
func (p *SavingsPlan) Over() bool { return p.Threshold > 0 && p.Bytes >= p.Threshold }

// PruneSuffices says tonight's prune alone gets the namespace under its
// threshold.
func (p *SavingsPlan) PruneSuffices() bool { return p.Over() && p.AfterPrune < p.Threshold }

// PlanSavings plans, for each namespace named in thresholds, deletions that
// bring its usage under that threshold; a namespace that does not exist
// (any more) has no plan. It reads the graph once.
func (s *Store) PlanSavings(ctx context.Context, policy Policy, thresholds map[string]int64) (map[string]*SavingsPlan, error) {
	var g *graph
	var ladders map[string][]string
	err := s.Snapshot(ctx, func(s *Store) error {
		var err error
		if g, err = s.readGraph(ctx); err != nil {
			return err
		}
		ladders, err = s.ladders(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("plan savings: %w", err)
	}
	sv := newSavings(g, policy, s.now())
	out := make(map[string]*SavingsPlan, len(thresholds))
	for _, n := range g.namespaces {
		if th, ok := thresholds[n.name]; ok {
			out[n.name] = sv.plan(n, ladderOr(ladders[n.name]), th)
		}
	}
	return out, nil
}

// EffectOfDeletions measures deleting dels (tags and streams of ns)
// together, with tonight's prune.
func (s *Store) EffectOfDeletions(ctx context.Context, policy Policy, ns string, dels []Deletion) (DeletionEffect, error) {
	g, err := s.loadGraph(ctx)
	if err != nil {
		return DeletionEffect{}, fmt.Errorf("effect of deletions: %w", err)
	}
	for _, n := range g.namespaces {
		if n.name != ns {
			continue
		}
		sv := newSavings(g, policy, s.now())
		v := sv.view(n)
		gone, err := v.resolve(dels)
		if err != nil {
			return DeletionEffect{}, err
		}
		return v.effect(gone), nil
	}
	return DeletionEffect{}, notFoundf("namespace %s not found", ns)
}

// ladders reads every namespace's own promotion ladder.
func (s *Store) ladders(ctx context.Context) (map[string][]string, error) {
	var rows []Namespace
	if err := s.conn(ctx).Select("name, ladder").Where("ladder <> ''").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read promotion ladders: %w", err)
	}
	out := make(map[string][]string, len(rows))
	for _, r := range rows {
		out[r.Name] = strings.Split(r.Ladder, ",")
	}
	return out, nil
}

func ladderOr(l []string) []string {
	if len(l) == 0 {
		return DefaultLadder
	}
	return l
}

// savings holds what every namespace's plan shares: the prune rule's
// answer for the whole registry, with the counts that let one namespace's
// deletions be measured without running it again.
type savings struct {
	g      *graph
	policy Policy
	now    time.Time
	// keptImage is graph.keep's answer; keptBy counts, per blob, the kept
	// images that list it.
	keptImage []bool
	keptBy    []int32
	// hold counts, per image, the entries prune keeps that hold it (as
	// their image or a child of their list); refs counts every entry.
	hold, refs []int32
	pinHeld    []bool    // pinned somewhere, or a child of a pinned list
	young      []bool    // recorded after the platform cutoff (the orphan rule)
	parents    [][]int64 // manifest lists that list each image
	unix       int64     // now, in unix seconds, as the retention rule reads it
}

func newSavings(g *graph, policy Policy, now time.Time) *savings {
	sv := &savings{g: g, policy: policy, now: now, unix: now.Unix()}
	ni := len(g.blobStart)
	sv.keptImage, _ = g.keep(policy, now)
	sv.hold, sv.refs = make([]int32, ni), make([]int32, ni)
	sv.pinHeld, sv.young = make([]bool, ni), make([]bool, ni)
	sv.parents = make([][]int64, ni)
	for list, kids := range g.children {
		for _, c := range kids {
			if c > 0 && int(c) < ni {
				sv.parents[c] = append(sv.parents[c], list)
			}
		}
	}
	for img := range g.pinned {
		sv.each(img, func(i int64) { sv.pinHeld[i] = true })
	}
	cut := now.Add(-policy.KeepYoungerThan).Unix()
	for img := 1; img < ni; img++ {
		// A referrer's age does not keep it: its subject does (prunerule.go).
		sv.young[img] = g.digest[img] != "" && !g.isReferrer[img] && g.imgCreated[img] > cut
	}
	for _, n := range g.namespaces {
		p := g.policyOf(n, policy)
		for _, st := range n.streams {
			for _, t := range st.tags {
				for _, ev := range t.events {
					if ev.image == 0 {
						continue
					}
					kept := !g.prunable(n, st, t, ev, p, sv.unix)
					sv.each(ev.image, func(i int64) {
						sv.refs[i]++
						if kept {
							sv.hold[i]++
						}
					})
				}
			}
		}
	}
	sv.keptBy = make([]int32, len(g.blobSize))
	stamp := make([]int32, len(g.blobSize))
	for img, ok := range sv.keptImage {
		if !ok {
			continue
		}
		for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
			if stamp[b] != int32(img)+1 {
				stamp[b] = int32(img) + 1
				sv.keptBy[b]++
			}
		}
	}
	return sv
}

// each calls fn for an image, its manifest-list children and the
// referrers of both (signatures, SBOMs: held with their subject).
func (sv *savings) each(img int64, fn func(int64)) {
	sv.eachDepth(img, fn, 0)
}

func (sv *savings) eachDepth(img int64, fn func(int64), depth int) {
	if img <= 0 || int(img) >= len(sv.hold) {
		return
	}
	fn(img)
	for _, c := range sv.g.children[img] {
		if c > 0 && int(c) < len(sv.hold) {
			fn(c)
		}
	}
	if depth >= maxReferrerDepth || len(sv.g.referrers) == 0 {
		return
	}
	for _, r := range sv.g.referrers[img] {
		sv.eachDepth(r, fn, depth+1)
	}
	for _, c := range sv.g.children[img] {
		for _, r := range sv.g.referrers[c] {
			sv.eachDepth(r, fn, depth+1)
		}
	}
}

// protectedBy says why a plan leaves the tag of entry ev alone, "" when
// nothing keeps it: an image the namespace pinned (the entry's, or a
// platform image of its list), an image in use, or a retention rule of the
// namespace that keeps the entry whatever its age (never, pulled within).
// The current entry is asked as if it were not current.
func (sv *savings) protectedBy(n *gNamespace, st *gStream, t *gTag, ev gEvent, p Policy) string {
	pinned := false
	sv.each(ev.image, func(i int64) { pinned = pinned || sv.g.pinnedIn(n.id, i) })
	if pinned {
		return "holds a pinned image"
	}
	f := sv.g.facts(n, st, t, ev)
	f.position = math.MaxInt32
	switch r := n.rules.decide(f, p, sv.unix); r.Reason {
	case ReasonInUse:
		return "holds an image in use"
	case ReasonUnproven:
		return "could hold an image in use (the cluster's in-use read failed or has not run)"
	case ReasonNever, ReasonPulled:
		return "kept by retention " + r.Text()
	}
	return ""
}

// sTag is one tag of the namespace being planned.
type sTag struct {
	stream int // index into nsView.streams
	tag    *gTag
	blobs  []int32 // distinct blobs of the entries prune keeps, as indexes into nsView.all
	// protected says why no plan deletes it ("": nothing keeps it): its
	// history holds an image the namespace pinned or that is in use, or one
	// of the namespace's retention rules keeps an entry (never, pulled within).
	protected string
}

// nsView is one namespace, ready to measure sets of deletions. Its blobs
// are numbered densely (all[i] is the graph's blob), so that counting a
// set is a walk over small arrays.
type nsView struct {
	sv      *savings
	n       *gNamespace
	tags    []sTag
	streams []*gStream
	all     []int32 // distinct blobs of every entry: the usage now
	size    []int64 // by index into all
	count   []int32 // by index into all: the tags whose kept entries hold it
}

func (sv *savings) view(n *gNamespace) *nsView {
	g := sv.g
	v := &nsView{sv: sv, n: n, streams: n.streams}
	p := g.policyOf(n, sv.policy)
	local := map[int32]int32{}
	for si, st := range n.streams {
		for _, t := range st.tags {
			tg := sTag{stream: si, tag: t}
			seen := map[int32]bool{}
			for _, ev := range t.events {
				if ev.image == 0 {
					continue
				}
				if tg.protected == "" {
					tg.protected = sv.protectedBy(n, st, t, ev, p)
				}
				kept := !g.prunable(n, st, t, ev, p, sv.unix)
				g.forBlobs(ev.image, func(b int32) {
					k, ok := local[b]
					if !ok {
						k = int32(len(v.all))
						local[b] = k
						v.all = append(v.all, b)
						v.size = append(v.size, g.blobSize[b])
						v.count = append(v.count, 0)
					}
					if kept && !seen[k] {
						seen[k] = true
						tg.blobs = append(tg.blobs, k)
						v.count[k]++
					}
				})
			}
			v.tags = append(v.tags, tg)
		}
	}
	return v
}

// resolve turns named deletions into tag indexes.
func (v *nsView) resolve(dels []Deletion) ([]int, error) {
	var out []int
	in := map[int]bool{}
	for _, d := range dels {
		found := false
		for i, t := range v.tags {
			if v.streams[t.stream].name == d.Stream && (d.Tag == "" || t.tag.name == d.Tag) {
				found = true
				if !in[i] {
					in[i] = true
					out = append(out, i)
				}
			}
		}
		if !found && d.Tag != "" {
			return nil, notFoundf("tag %s/%s not found", v.n.name, d)
		}
		if !found && !v.hasStream(d.Stream) {
			return nil, notFoundf("image stream %s/%s not found", v.n.name, d.Stream)
		}
	}
	return out, nil
}

func (v *nsView) hasStream(name string) bool {
	for _, st := range v.streams {
		if st.name == name {
			return true
		}
	}
	return false
}

// usage is the namespace's usage after prune, with count as it stands.
func (v *nsView) usage() int64 {
	var n int64
	for k, c := range v.count {
		if c > 0 {
			n = bytesum.Add(n, v.size[k])
		}
	}
	return n
}

// remove takes tags out of count and returns the bytes that left the
// namespace's usage; add puts them back and returns the bytes that came back.
func (v *nsView) remove(tags []int) int64 {
	var freed int64
	for _, i := range tags {
		for _, k := range v.tags[i].blobs {
			v.count[k]--
			if v.count[k] == 0 {
				freed = bytesum.Add(freed, v.size[k])
			}
		}
	}
	return freed
}

func (v *nsView) add(tags []int) int64 {
	var back int64
	for _, i := range tags {
		for _, k := range v.tags[i].blobs {
			if v.count[k] == 0 {
				back = bytesum.Add(back, v.size[k])
			}
			v.count[k]++
		}
	}
	return back
}

// gain is what removing tags would take off the usage, leaving count as it was.
func (v *nsView) gain(tags []int) int64 {
	g := v.remove(tags)
	v.add(tags)
	return g
}

// effect measures deleting the tags gone together, with prune; count is
// left as it was.
func (v *nsView) effect(gone []int) DeletionEffect {
	e := DeletionEffect{Bytes: bytesum.Sum(v.size...), AfterPrune: v.usage()}
	e.After = bytesum.Diff(e.AfterPrune, v.remove(gone))
	v.add(gone)
	e.Freed = v.freed(gone)
	return e
}

// freed is the bytes of the namespace's blobs that no image keeps once the
// tags gone lose their entries: graph.keep's rule, recomputed only for the
// images those entries hold.
func (v *nsView) freed(gone []int) int64 {
	sv, g := v.sv, v.sv.g
	p := g.policyOf(v.n, sv.policy)
	dHold, dRefs := map[int64]int32{}, map[int64]int32{}
	isGone := map[int]bool{}
	for _, i := range gone {
		if isGone[i] {
			continue
		}
		isGone[i] = true
		st := v.streams[v.tags[i].stream]
		for _, ev := range v.tags[i].tag.events {
			if ev.image == 0 {
				continue
			}
			kept := !g.prunable(v.n, st, v.tags[i].tag, ev, p, sv.unix)
			sv.each(ev.image, func(img int64) {
				dRefs[img]++
				if kept {
					dHold[img]++
				}
			})
		}
	}
	// An image no entry names stays while it is young; those the set
	// leaves unnamed are counted as gone, as they will be once older.
	orphanKept := func(img int64) bool { return dRefs[img] == 0 && sv.refs[img] == 0 && sv.young[img] }
	var keptAfterDepth func(img int64, depth int) bool
	keptAfterDepth = func(img int64, depth int) bool {
		if sv.hold[img]-dHold[img] > 0 || sv.pinHeld[img] || orphanKept(img) {
			return true
		}
		for _, l := range sv.parents[img] {
			if orphanKept(l) {
				return true
			}
		}
		// A referrer stays while its subject does.
		if depth < maxReferrerDepth {
			for _, s := range sv.g.subjectOf[img] {
				if keptAfterDepth(s, depth+1) {
					return true
				}
			}
		}
		return false
	}
	keptAfter := func(img int64) bool { return keptAfterDepth(img, 0) }
	// Kept images that list a blob and go (the other way round cannot
	// happen with the rule above; counted anyway, should it change).
	lost := map[int32]int32{}
	for img := range dRefs {
		d := int32(0)
		switch before, after := sv.keptImage[img], keptAfter(img); {
		case before && !after:
			d = 1
		case !before && after:
			d = -1
		default:
			continue
		}
		seen := map[int32]bool{}
		for _, b := range g.blobList[g.blobStart[img]:g.blobEnd[img]] {
			if !seen[b] {
				seen[b] = true
				lost[b] += d
			}
		}
	}
	var freed int64
	for _, b := range v.all {
		if sv.keptBy[b]-lost[b] == 0 {
			freed = bytesum.Add(freed, g.blobSize[b])
		}
	}
	return freed
}

// plan picks deletions greedily: while the namespace is at or over the
// threshold, the smallest allowed deletion that gets it under, else the one
// taking off the most; then it drops steps the rest can do without, and a
// stream whose every tag goes becomes one stream deletion.
func (sv *savings) plan(n *gNamespace, ladder []string, threshold int64) *SavingsPlan {
	v := sv.view(n)
	out := &SavingsPlan{Namespace: n.name, Threshold: threshold, Steps: []SavingsStep{}, LeftAlone: []LeftAlone{}}
	last := ladder[len(ladder)-1]
	// What may go: tags that are not the last rung and that nothing
	// protects (protectedBy); streams whose tags may all go.
	allowed := make([]bool, len(v.tags))
	streamOK := make([]bool, len(v.streams))
	streamTags := make([][]int, len(v.streams))
	for i := range streamOK {
		streamOK[i] = true
	}
	for i, t := range v.tags {
		streamTags[t.stream] = append(streamTags[t.stream], i)
		switch {
		case t.tag.name == last:
			out.LeftAlone = append(out.LeftAlone, LeftAlone{Deletion{v.streams[t.stream].name, t.tag.name}, "the last rung of the promotion ladder"})
		case t.protected != "":
			out.LeftAlone = append(out.LeftAlone, LeftAlone{Deletion{v.streams[t.stream].name, t.tag.name}, t.protected})
		default:
			allowed[i] = true
			continue
		}
		streamOK[t.stream] = false
	}
	effect := v.effect(nil)
	out.DeletionEffect = effect
	if !out.Over() || effect.AfterPrune < threshold {
		out.Reaches = true
		return out
	}
	var allowedTags []int
	for i, ok := range allowed {
		if ok {
			allowedTags = append(allowedTags, i)
		}
	}
	taken := make([]bool, len(v.tags))
	var chosen [][]int
	current := effect.AfterPrune
	if most := v.gain(allowedTags); effect.AfterPrune-most >= threshold {
		// No set gets there: the most is every tag that may go; the pass
		// below drops those that take nothing off.
		for _, i := range allowedTags {
			chosen = append(chosen, []int{i})
		}
		current -= v.remove(allowedTags)
	} else {
		chosen, current = v.greedy(allowed, streamOK, streamTags, taken, current, threshold)
	}
	out.Reaches = current < threshold
	// Drop a step the others do without, latest first: they still reach
	// the threshold or, when nothing reaches it, get as low.
	for k := len(chosen) - 1; k >= 0; k-- {
		back := v.add(chosen[k])
		if current+back < threshold || !out.Reaches && back == 0 {
			current += back
			chosen = append(chosen[:k], chosen[k+1:]...)
			continue
		}
		v.remove(chosen[k])
	}
	// Back to the untouched counts, then count the steps in order.
	var gone []int
	for _, step := range chosen {
		gone = append(gone, step...)
	}
	v.add(gone)
	inSet := map[int]bool{}
	for _, i := range gone {
		inSet[i] = true
	}
	// One step per stream, where its first tag was chosen: the stream
	// itself when every tag of it goes.
	var groups []SavingsStep
	var groupTags [][]int
	emitted := map[int]bool{}
	for _, step := range chosen {
		for _, i := range step {
			si := v.tags[i].stream
			if emitted[si] {
				continue
			}
			emitted[si] = true
			st := SavingsStep{Stream: v.streams[si].name}
			var tags []int
			whole := streamOK[si]
			for _, k := range streamTags[si] {
				whole = whole && inSet[k]
				if inSet[k] {
					tags = append(tags, k)
					st.Tags = append(st.Tags, v.tags[k].tag.name)
				}
			}
			if whole {
				st.Tags = nil
			}
			sort.Strings(st.Tags)
			groups, groupTags = append(groups, st), append(groupTags, tags)
		}
	}
	if !out.Reaches {
		// No plan: list what helps most first.
		order := make([]int, 0, len(groups))
		left := make([]bool, len(groups))
		for i := range left {
			left[i] = true
		}
		for range groups {
			best, bestGain := -1, int64(-1)
			for g, ok := range left {
				if gain := v.gain(groupTags[g]); ok && gain > bestGain {
					best, bestGain = g, gain
				}
			}
			left[best] = false
			order = append(order, best)
			v.remove(groupTags[best])
		}
		v.add(gone)
		sorted, sortedTags := make([]SavingsStep, len(order)), make([][]int, len(order))
		for i, g := range order {
			sorted[i], sortedTags[i] = groups[g], groupTags[g]
		}
		groups, groupTags = sorted, sortedTags
	}
	for g, st := range groups {
		st.Bytes = v.remove(groupTags[g])
		out.Steps = append(out.Steps, st)
	}
	v.add(gone)
	after := v.effect(gone)
	out.After, out.Freed = after.After, after.Freed
	sort.SliceStable(out.LeftAlone, func(i, j int) bool { return out.LeftAlone[i].String() < out.LeftAlone[j].String() })
	return out
}

// greedy picks steps while the namespace is at or over the threshold: the
// smallest tag or whole stream that gets it under, else the one taking off
// the most; when none takes anything off alone, every tag left (a layer
// only tags of two streams hold). count is left with the steps removed.
func (v *nsView) greedy(allowed, streamOK []bool, streamTags [][]int, taken []bool, current, threshold int64) ([][]int, int64) {
	type cand struct {
		tags  []int
		whole bool // a whole stream
	}
	var cands []cand
	for i, ok := range allowed {
		if ok {
			cands = append(cands, cand{tags: []int{i}})
		}
	}
	for si, ok := range streamOK {
		if ok && len(streamTags[si]) > 1 {
			cands = append(cands, cand{tags: streamTags[si], whole: true})
		}
	}
	var chosen [][]int
	for current >= threshold {
		need := current - threshold + 1
		best, bestGain, bestReaches := -1, int64(0), false
		for ci, c := range cands {
			var rest []int
			for _, i := range c.tags {
				if !taken[i] {
					rest = append(rest, i)
				}
			}
			if len(rest) == 0 || c.whole && len(rest) == 1 { // the tag's own candidate
				continue
			}
			gain := v.gain(rest)
			if gain <= 0 {
				continue
			}
			reaches := gain >= need
			better := false
			switch {
			case best < 0:
				better = true
			case reaches != bestReaches:
				better = reaches
			case reaches: // the smallest that suffices disturbs least
				better = gain < bestGain || gain == bestGain && !c.whole && cands[best].whole
			default:
				better = gain > bestGain || gain == bestGain && !c.whole && cands[best].whole
			}
			if better {
				best, bestGain, bestReaches = ci, gain, reaches
			}
		}
		var step []int
		if best >= 0 {
			for _, i := range cands[best].tags {
				if !taken[i] {
					step = append(step, i)
				}
			}
		} else {
			for i, ok := range allowed {
				if ok && !taken[i] {
					step = append(step, i)
				}
			}
		}
		gain := v.remove(step)
		if gain <= 0 {
			v.add(step)
			break
		}
		for _, i := range step {
			taken[i] = true
		}
		current -= gain
		if best >= 0 {
			chosen = append(chosen, step)
			continue
		}
		for _, i := range step { // one step each, for the pass that drops
			chosen = append(chosen, []int{i})
		}
	}
	return chosen, current
}
