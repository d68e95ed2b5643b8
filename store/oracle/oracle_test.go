package oracle

import (
	"testing"
	"time"
)

// The oracle's own tests: small registries whose figures are worked out by
// hand from the README's rules, so that the referee is checked too.

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

// reg builds a registry: blobs by name with sizes, images by name with
// their blob names (config first), histories as "ns/stream:tag" → image
// names newest first, all a month old unless dated.
type fixture struct {
	blobs   map[string]int64
	images  map[string][]string // name → config, layers...
	lists   map[string][]string // name → children
	tags    map[string][]string // ns/stream:tag → images, newest first
	aliases map[string]string   // ns/stream:tag → source tag (same stream)
	pins    [][2]string
	created map[string]time.Duration // "ns/stream:tag#pos" → age; default a month
	policy  map[string]Policy        // namespace overrides
	unknown []string                 // image names known only by digest
	records map[string]time.Duration // image name → age of the record; default a month
	rules   map[string][]Rule        // namespace → retention rules
	pulls   []pullAt                 // last pulls
}

// pullAt is a pull of image (name) from "ns/stream", age ago.
type pullAt struct {
	stream, image string
	age           time.Duration
}

const month = 30 * 24 * time.Hour

func (f fixture) build(t *testing.T) *Registry {
	t.Helper()
	r := &Registry{}
	for name, size := range f.blobs {
		r.Blobs = append(r.Blobs, Blob{Digest: Digest("b:" + name), Size: size})
	}
	rec := func(name string) time.Time {
		if a, ok := f.records[name]; ok {
			return ago(a)
		}
		return ago(month)
	}
	for name, bl := range f.images {
		img := Image{Digest: Digest("i:" + name), Known: true, Recorded: rec(name), Config: Digest("b:" + bl[0])}
		for _, l := range bl[1:] {
			img.Layers = append(img.Layers, Digest("b:"+l))
		}
		r.Images = append(r.Images, img)
	}
	for name, kids := range f.lists {
		img := Image{Digest: Digest("i:" + name), Known: true, Recorded: rec(name)}
		for _, k := range kids {
			img.Children = append(img.Children, Digest("i:"+k))
		}
		r.Images = append(r.Images, img)
	}
	for _, name := range f.unknown {
		r.Images = append(r.Images, Image{Digest: Digest("i:" + name), Recorded: rec(name)})
	}
	nsIdx := map[string]int{}
	for ref, imgs := range f.tags {
		ns, stream, tag := split(t, ref)
		i, ok := nsIdx[ns]
		if !ok {
			i = len(r.Namespaces)
			nsIdx[ns] = i
			n := Namespace{Name: ns}
			if p, ok := f.policy[ns]; ok {
				n.KeepTagRevisions, n.KeepYoungerThan = &p.KeepTagRevisions, &p.KeepYoungerThan
			}
			r.Namespaces = append(r.Namespaces, n)
		}
		n := &r.Namespaces[i]
		si := -1
		for j, st := range n.Streams {
			if st.Name == stream {
				si = j
			}
		}
		if si < 0 {
			n.Streams = append(n.Streams, Stream{Name: stream})
			si = len(n.Streams) - 1
		}
		tg := Tag{Name: tag}
		if src, ok := f.aliases[ref]; ok {
			tg.Alias, tg.AliasOf = true, src
		}
		for pos, name := range imgs {
			age := month + time.Duration(pos)*time.Hour
			if a, ok := f.created[ref+"#"+string(rune('0'+pos))]; ok {
				age = a
			}
			tg.History = append(tg.History, Entry{Image: Digest("i:" + name), Created: ago(age)})
		}
		n.Streams[si].Tags = append(n.Streams[si].Tags, tg)
	}
	for _, p := range f.pins {
		r.Pins = append(r.Pins, Pin{Namespace: p[0], Image: Digest("i:" + p[1])})
	}
	for i := range r.Namespaces {
		r.Namespaces[i].Rules = f.rules[r.Namespaces[i].Name]
	}
	for _, p := range f.pulls {
		ns, stream, _ := split(t, p.stream+":x")
		r.Pulls = append(r.Pulls, Pull{Namespace: ns, Stream: stream, Image: Digest("i:" + p.image), At: ago(p.age)})
	}
	return r
}

func dur(d time.Duration) *time.Duration { return &d }
func num(n int) *int                     { return &n }

func split(t *testing.T, ref string) (ns, stream, tag string) {
	t.Helper()
	for i := range ref {
		if ref[i] == '/' {
			ns, ref = ref[:i], ref[i+1:]
			break
		}
	}
	for i := range ref {
		if ref[i] == ':' {
			return ns, ref[:i], ref[i+1:]
		}
	}
	t.Fatalf("bad ref %q", ref)
	return
}

// find returns the figures of the tag ns/stream:tag and of its stream and namespace.
func find(t *testing.T, f *Figures, ref string) (NamespaceFigures, StreamFigures, TagFigures) {
	t.Helper()
	ns, stream, tag := split(t, ref)
	for _, n := range f.Namespaces {
		for _, st := range n.Streams {
			for _, tg := range st.Tags {
				if n.Name == ns && st.Name == stream && tg.Name == tag {
					return n, st, tg
				}
			}
		}
	}
	t.Fatalf("no %s in the figures", ref)
	return NamespaceFigures{}, StreamFigures{}, TagFigures{}
}

func TestSizesCountedOnce(t *testing.T) {
	// team-a/api and team-a/web share base; team-b/db shares it too.
	f := fixture{
		blobs:  map[string]int64{"base": 100, "api": 10, "web": 20, "db": 30, "c1": 1, "c2": 2, "c3": 3},
		images: map[string][]string{"api": {"c1", "base", "api"}, "web": {"c2", "base", "web"}, "db": {"c3", "base", "db"}},
		tags:   map[string][]string{"team-a/api:latest": {"api"}, "team-a/web:latest": {"web"}, "team-b/db:latest": {"db"}},
	}.build(t)
	got := Compute(f, DefaultPolicy(), now)
	if got.Registry.Bytes != 166 || got.Registry.Blobs != 7 {
		t.Errorf("registry = %+v, want 166 bytes in 7 blobs", got.Registry)
	}
	a, api, _ := find(t, got, "team-a/api:latest")
	if a.Bytes != 133 || a.Exclusive != 33 {
		t.Errorf("team-a = %d/%d, want 133/33 (base once; base is in team-b too)", a.Bytes, a.Exclusive)
	}
	// base is held by two streams of team-a: exclusive to neither stream.
	if api.Bytes != 111 || api.Exclusive != 11 {
		t.Errorf("api = %d/%d, want 111/11", api.Bytes, api.Exclusive)
	}
	if s := got.Shares[Digest("b:base")]; s != (Shares{Images: 3, Tags: 3, Streams: 3, Namespaces: 2}) {
		t.Errorf("base shares = %+v", s)
	}
}

func TestExclusiveWithTwoHolders(t *testing.T) {
	// "shared" is held by exactly two tags of one stream, and by two
	// streams of one namespace through the same image.
	f := fixture{
		blobs:  map[string]int64{"shared": 1000, "a": 1, "b": 2, "c": 4},
		images: map[string][]string{"a": {"a", "shared"}, "b": {"b", "shared"}, "c": {"c"}},
		tags:   map[string][]string{"p/one:x": {"a"}, "p/one:y": {"b"}, "p/two:z": {"a", "c"}},
	}.build(t)
	got := Compute(f, DefaultPolicy(), now)
	_, _, x := find(t, got, "p/one:x")
	if x.Bytes != 1001 || x.Exclusive != 0 {
		t.Errorf("p/one:x = %d/%d, want 1001/0 (a is in p/two:z too)", x.Bytes, x.Exclusive)
	}
	_, _, y := find(t, got, "p/one:y")
	if y.Exclusive != 2 {
		t.Errorf("p/one:y exclusive = %d, want 2 (shared is in two tags)", y.Exclusive)
	}
	n, one, _ := find(t, got, "p/one:x")
	if one.Exclusive != 2 || n.Exclusive != 1007 {
		t.Errorf("p/one exclusive = %d (want 2), p = %d (want 1007)", one.Exclusive, n.Exclusive)
	}
}

func TestLayerTwiceAndSharedListChild(t *testing.T) {
	f := fixture{
		blobs:  map[string]int64{"base": 100, "dup": 7, "amd": 10, "arm": 20, "c": 1},
		images: map[string][]string{"twice": {"c", "dup", "base", "dup"}, "amd": {"c", "base", "amd"}, "arm": {"c", "base", "arm"}},
		lists:  map[string][]string{"l1": {"amd", "arm"}, "l2": {"amd"}},
		tags:   map[string][]string{"p/s:t": {"twice"}, "p/m:latest": {"l1", "l2"}},
	}.build(t)
	got := Compute(f, DefaultPolicy(), now)
	if b := got.ImageBytes[Digest("i:twice")]; b != 108 {
		t.Errorf("image with a layer twice = %d, want 108", b)
	}
	if b := got.ImageBytes[Digest("i:l1")]; b != 131 {
		t.Errorf("list = %d, want 131 (base and config once over both children)", b)
	}
	_, _, m := find(t, got, "p/m:latest")
	if m.Bytes != 131 || m.Revisions[1].Bytes != 111 {
		t.Errorf("p/m:latest = %d (want 131), l2 = %d (want 111)", m.Bytes, m.Revisions[1].Bytes)
	}
	if s := got.Shares[Digest("b:amd")]; s != (Shares{Images: 1, Tags: 1, Streams: 1, Namespaces: 1}) {
		t.Errorf("amd shares = %+v: one image lists it, one tag holds it through two lists", s)
	}
}

func TestAliasIsASecondHolderOfItsTag(t *testing.T) {
	f := fixture{
		blobs:   map[string]int64{"a": 10, "b": 20},
		images:  map[string][]string{"a": {"a"}, "b": {"b"}},
		tags:    map[string][]string{"p/s:latest": {"b", "a"}, "p/s:stable": {"b"}},
		aliases: map[string]string{"p/s:stable": "latest"},
	}.build(t)
	got := Compute(f, DefaultPolicy(), now)
	_, st, latest := find(t, got, "p/s:latest")
	// Deleting latest keeps stable's own history: b is not freed.
	if latest.Exclusive != 10 {
		t.Errorf("latest exclusive = %d, want 10", latest.Exclusive)
	}
	if st.Exclusive != 30 || st.UniqueImages != 2 {
		t.Errorf("stream = %d exclusive, %d images, want 30 and 2", st.Exclusive, st.UniqueImages)
	}
}

func TestPruneRule(t *testing.T) {
	const d = 96 * time.Hour
	cases := []struct {
		name      string
		f         fixture
		revisions int
		images    []string
		freed     int64
	}{
		{"4 old revisions: the 4th goes", fixture{
			blobs:  map[string]int64{"base": 1000, "a": 1, "b": 2, "c": 4, "d": 8},
			images: map[string][]string{"a": {"a", "base"}, "b": {"b", "base"}, "c": {"c", "base"}, "d": {"d", "base"}},
			tags:   map[string][]string{"p/s:t": {"d", "c", "b", "a"}},
		}, 1, []string{"a"}, 1},
		{"exactly 96h old is not younger than 96h: it goes", fixture{
			blobs:   map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8},
			images:  map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}},
			tags:    map[string][]string{"p/s:t": {"d", "c", "b", "a"}},
			created: map[string]time.Duration{"p/s:t#0": time.Hour, "p/s:t#1": time.Hour, "p/s:t#2": time.Hour, "p/s:t#3": d},
		}, 1, []string{"a"}, 1},
		{"a second younger stays", fixture{
			blobs:   map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8},
			images:  map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}},
			tags:    map[string][]string{"p/s:t": {"d", "c", "b", "a"}},
			created: map[string]time.Duration{"p/s:t#0": time.Hour, "p/s:t#1": time.Hour, "p/s:t#2": time.Hour, "p/s:t#3": d - time.Second},
		}, 0, nil, 0},
		{"a pinned image keeps its entries", fixture{
			blobs:  map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8, "e": 16},
			images: map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}, "e": {"e"}},
			tags:   map[string][]string{"p/s:t": {"e", "d", "c", "b", "a"}},
			pins:   [][2]string{{"p", "a"}},
		}, 1, []string{"b"}, 2},
		{"a pin in another namespace keeps the image, not the entry", fixture{
			blobs:  map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8},
			images: map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}},
			tags:   map[string][]string{"p/s:t": {"d", "c", "b", "a"}, "q/s:t": {"a"}},
			pins:   [][2]string{{"q", "a"}},
		}, 1, nil, 0},
		{"an image only pruned entries name goes however recently recorded", fixture{
			blobs:   map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8},
			images:  map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}},
			tags:    map[string][]string{"p/s:t": {"d", "c", "b", "a"}},
			records: map[string]time.Duration{"a": time.Hour},
		}, 1, []string{"a"}, 1},
		{"an image no entry names: kept while young, gone when old", fixture{
			blobs:   map[string]int64{"young": 1, "edge": 2, "old": 4},
			images:  map[string][]string{"young": {"young"}, "edge": {"edge"}, "old": {"old"}},
			records: map[string]time.Duration{"young": d - time.Second, "edge": d, "old": d + time.Second},
		}, 0, []string{"edge", "old"}, 6},
		{"a list goes with its own children, not with shared ones", fixture{
			blobs:  map[string]int64{"own": 1, "shared": 2, "x": 4, "y": 8, "z": 16},
			images: map[string][]string{"own": {"own"}, "shared": {"shared"}, "x": {"x"}, "y": {"y"}, "z": {"z"}},
			lists:  map[string][]string{"old": {"own", "shared"}, "cur": {"shared", "x"}},
			tags:   map[string][]string{"p/s:t": {"cur", "y", "z", "old"}},
		}, 1, []string{"old", "own"}, 1},
		{"namespace policy: keep 1", fixture{
			blobs:  map[string]int64{"a": 1, "b": 2},
			images: map[string][]string{"a": {"a"}, "b": {"b"}},
			tags:   map[string][]string{"p/s:t": {"b", "a"}},
			policy: map[string]Policy{"p": {KeepTagRevisions: 1, KeepYoungerThan: time.Hour}},
		}, 1, []string{"a"}, 1},
		{"rules: a release tag is never pruned, another tag follows the policy", fixture{
			blobs:  map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8},
			images: map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}},
			tags:   map[string][]string{"p/s:v1": {"d", "c", "b", "a"}, "p/s:t": {"d", "c", "b", "a"}},
			rules:  map[string][]Rule{"p": {{Tags: `^v\d+$`, Never: true}}},
		}, 1, nil, 0},
		{"rules: a pattern matches the whole tag name", fixture{
			blobs:  map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8},
			images: map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}},
			tags:   map[string][]string{"p/s:v1": {"d", "c", "b", "a"}},
			rules:  map[string][]Rule{"p": {{Tags: "v", Never: true}}},
		}, 1, []string{"a"}, 1},
		{"rules: the first deciding rule wins", fixture{
			blobs:  map[string]int64{"a": 1, "b": 2, "c": 4},
			images: map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}},
			tags:   map[string][]string{"p/s:t": {"c", "b", "a"}},
			rules:  map[string][]Rule{"p": {{Tags: "t", Keep: num(1), Younger: dur(0)}, {Tags: "t", Never: true}}},
		}, 2, []string{"a", "b"}, 3},
		{"rules: pulled within 24h stays, pulled exactly 24h ago goes", fixture{
			blobs:  map[string]int64{"a": 1, "b": 2, "c": 4, "d": 8, "e": 16},
			images: map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}, "d": {"d"}, "e": {"e"}},
			tags:   map[string][]string{"p/s:t": {"e", "d", "c", "b", "a"}},
			rules:  map[string][]Rule{"p": {{PulledWithin: dur(24 * time.Hour)}}},
			pulls:  []pullAt{{"p/s", "a", time.Hour}, {"p/s", "b", 24 * time.Hour}, {"p/other", "b", time.Hour}},
		}, 1, []string{"b"}, 2},
		{"rules: a list stays when one of its platform images was pulled", fixture{
			blobs:  map[string]int64{"own": 1, "shared": 2, "x": 4, "y": 8, "z": 16},
			images: map[string][]string{"own": {"own"}, "shared": {"shared"}, "x": {"x"}, "y": {"y"}, "z": {"z"}},
			lists:  map[string][]string{"old": {"own", "shared"}, "cur": {"shared", "x"}},
			tags:   map[string][]string{"p/s:t": {"cur", "y", "z", "old"}},
			rules:  map[string][]Rule{"p": {{PulledWithin: dur(24 * time.Hour)}}},
			pulls:  []pullAt{{"p/s", "own", time.Hour}},
		}, 0, nil, 0},
		{"an unknown image goes like any other", fixture{
			blobs:   map[string]int64{"a": 1, "b": 2, "c": 4},
			images:  map[string][]string{"a": {"a"}, "b": {"b"}, "c": {"c"}},
			unknown: []string{"ghost"},
			tags:    map[string][]string{"p/s:t": {"c", "b", "a", "ghost"}},
		}, 1, []string{"ghost"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.f.build(t)
			got := Compute(r, DefaultPolicy(), now)
			p := got.Plan
			var want []string
			for _, n := range tc.images {
				want = append(want, Digest("i:"+n))
			}
			if len(p.Revisions) != tc.revisions || !sameSet(p.Images, want) || p.BytesFreed != tc.freed || got.Registry.Reclaimable != tc.freed {
				t.Errorf("plan: %d revisions, images %d, %d bytes (reclaimable %d); want %d, %d, %d",
					len(p.Revisions), len(p.Images), p.BytesFreed, got.Registry.Reclaimable, tc.revisions, len(want), tc.freed)
			}
			// Applying the plan leaves nothing more to do.
			again := PlanPrune(p.After, DefaultPolicy(), now)
			if len(again.Revisions)+len(again.Images)+len(again.Blobs) != 0 {
				t.Errorf("a second plan still removes %d revisions, %d images", len(again.Revisions), len(again.Images))
			}
		})
	}
}

func sameSet(m map[string]bool, xs []string) bool {
	if len(m) != len(xs) {
		return false
	}
	for _, x := range xs {
		if !m[x] {
			return false
		}
	}
	return true
}

func TestGenerateIsDeterministic(t *testing.T) {
	for seed := uint64(1); seed < 50; seed++ {
		a, b := Generate(seed, now).String(), Generate(seed, now).String()
		if a != b {
			t.Fatalf("seed %d: two registries", seed)
		}
	}
}
