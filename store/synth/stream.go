package synth

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// nsInfo is what a stream needs of its namespace.
type nsInfo struct {
	id      int64
	name    string
	domain  string
	created time.Time
}

func (g *generator) namespace(i int) {
	kind := nsKinds[g.rng.IntN(len(nsKinds))]
	domain := nsDomains[g.rng.IntN(len(nsDomains))]
	ns := &nsInfo{name: fmt.Sprintf("%s-%s-%04d", kind, domain, i+1), domain: domain}
	ns.created = g.anchor.Add(-g.dur(60*day, 900*day))
	g.lastNS++
	ns.id = g.lastNS

	display := strings.ToUpper(domain[:1]) + domain[1:] + " (" + kind + ")"
	contacts := domain + "-team@example.com"
	if g.chance(600) {
		contacts += "," + firstNames[g.rng.IntN(len(firstNames))] + "." +
			lastNames[g.rng.IntN(len(lastNames))] + "@example.com"
	}
	var threshold any // NULL: the global default
	if g.chance(150) {
		threshold = []int64{20 * giB, 100 * giB, 200 * giB, 500 * giB}[g.rng.IntN(4)]
	}
	g.w.add(g.tNamespaces, ns.id, ns.name, display, contacts, threshold, "", ns.created)

	// 1..40 streams, about 10 on average.
	n := 1 + g.minOf(3, 40)
	names := g.rng.Perm(len(streamNames))[:n]
	for _, k := range names {
		g.stream(ns, streamNames[k])
	}
}

// build is one build of a stream: a manifest, or a manifest list.
type build struct {
	imageID int64
	digest  string
	at      time.Time // pushed
}

// event is one history entry; build is -1 for an upstream image.
type event struct {
	at      time.Time
	build   int
	imageID int64
	ref     string
	gen     int64
}

type tagPlan struct {
	name               string
	fromKind, fromName string
	alias, scheduled   bool
	events             []*event // oldest first
	failure            *failureEntry
	failedFrom         string
	condTime           time.Time
}

// streamState carries a stream's image config and its previous build's
// layers while its builds are generated.
type streamState struct {
	ns                   *nsInfo
	name, pull           string
	rt                   *runtimeDef
	base                 *baseDef
	oci, multi           bool
	appLayers            int
	entrypoint, cmd, env string
	ports, user, wd      string
	prevApp              [numArch][]int64
	prevBase             *baseDef
	prevRT               *runtimeDef
	links                []int64
}

func (g *generator) stream(ns *nsInfo, name string) {
	s := &streamState{ns: ns, name: name, pull: internalRegistry + "/" + ns.name + "/" + name}
	if g.chance(850) {
		s.rt = g.runtimes[g.pick(g.runtimeWeights)]
		s.base = s.rt.base
	} else {
		s.base = g.bases[g.pick(g.baseWeights)]
	}
	s.multi = g.chance(50)
	s.oci = g.chance(300)
	s.appLayers = 3 + g.rng.IntN(5)
	g.imageConfig(s)

	// Build times, oldest first. About 40% of the streams are busy
	// (builds every few hours to days, the last one recent); the rest went
	// quiet weeks or months ago.
	n := min(30, 1+g.minOf(2, 32))
	var lastAge, gap time.Duration
	if g.chance(400) {
		lastAge, gap = g.dur(0, 3*day), g.dur(8*time.Hour, 3*day)
	} else {
		lastAge, gap = g.dur(4*day, 200*day), g.dur(2*day, 25*day)
	}
	earliest := ns.created.Add(time.Hour)
	last := g.anchor.Add(-lastAge)
	if last.Before(earliest.Add(time.Hour)) {
		last = earliest.Add(g.dur(time.Hour, g.anchor.Sub(earliest)))
	}
	gaps := make([]int64, n) // gaps[i]: seconds from build i to build i+1
	var span int64
	for i := range n - 1 {
		gaps[i] = max(600, min(g.rng.Int64N(int64(3*gap/time.Second)), g.rng.Int64N(int64(3*gap/time.Second))))
		span += gaps[i]
	}
	if avail := int64(last.Sub(earliest) / time.Second); span > avail {
		for i := range n - 1 {
			gaps[i] = max(60, gaps[i]*avail/span)
		}
	}
	builds := make([]build, n)
	at := last
	for i := n - 1; i >= 0; i-- {
		builds[i].at = at
		at = at.Add(-time.Duration(gaps[max(i-1, 0)]) * time.Second)
	}
	created := builds[0].at.Add(-g.dur(5*time.Minute, 2*day))
	if floor := ns.created.Add(time.Minute); created.Before(floor) {
		created = floor
	}

	buildNo := 1 + g.rng.IntN(200) // builds before the history starts were pruned
	for i := range builds {
		if i > 0 {
			g.upgrade(s)
		}
		builds[i].imageID, builds[i].digest = g.buildImage(s, builds[i].at, buildNo+i)
	}

	tags := g.tags(s, builds, created)
	g.writeStream(s, created, builds, tags)
}

// upgrade sometimes moves a stream to the next runtime or base version.
func (g *generator) upgrade(s *streamState) {
	if !g.chance(40) {
		return
	}
	if s.rt != nil && s.rt.next != nil {
		s.rt = s.rt.next
		s.base = s.rt.base
		g.imageConfig(s)
	} else if s.rt == nil && s.base.next != nil {
		s.base = s.base.next
	}
	if g.chance(200) {
		s.appLayers = min(7, max(3, s.appLayers+g.rng.IntN(3)-1))
	}
}

// imageConfig sets the config fields all builds of a stream share.
func (g *generator) imageConfig(s *streamState) {
	s.user, s.ports = "1001", `["8080/tcp"]`
	path := "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if s.rt == nil {
		s.entrypoint, s.cmd, s.wd = `["/usr/local/bin/`+s.name+`"]`, `[]`, "/"
		s.env = `["` + path + `"]`
		return
	}
	e := s.rt.entry
	if strings.HasPrefix(e.base, "ubi") {
		s.entrypoint, s.cmd, s.wd = `["container-entrypoint"]`, `["/usr/libexec/s2i/run"]`, "/opt/app-root/src"
		path = "PATH=/opt/app-root/src/bin:/opt/app-root/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
	} else {
		s.entrypoint, s.cmd, s.wd = `[]`, `["/app/run.sh"]`, "/app"
	}
	s.env = `["` + path + `","` + strings.ToUpper(e.lang) + `_VERSION=` + e.version + `"]`
}

// buildImage writes one build: a manifest, or a manifest list with an
// amd64 and an arm64 child.
func (g *generator) buildImage(s *streamState, at time.Time, no int) (int64, string) {
	built := at.Add(-g.dur(time.Minute, 15*time.Minute))
	labels := `{"io.openshift.build.commit.id":"` + g.hex(20) + `","io.openshift.build.name":"` +
		s.name + "-" + fmt.Sprint(no) + `","io.openshift.build.source-location":"https://git.example.com/` +
		s.ns.name + "/" + s.name + `.git"}`
	sameStack := s.prevBase == s.base && s.prevRT == s.rt
	s.prevBase, s.prevRT = s.base, s.rt
	if !s.multi {
		return g.archImage(s, amd64, at, &built, labels, sameStack)
	}
	var ids [numArch]int64
	for a := range numArch {
		ids[a], _ = g.archImage(s, a, at, &built, labels, sameStack)
	}
	listMT, childMT := mtDockerList, mtDockerManifest
	if s.oci {
		listMT, childMT = mtOCIIndex, mtOCIManifest
	}
	id, d := g.writeImage(&imageRow{mediaType: listMT, repo: s.pull, list: true, created: at})
	g.manifestLists++
	for a := range numArch {
		g.w.add(g.tManifest, id, int64(a), ids[a], childMT, g.between(900, 1600), "linux",
			archName(a), archVariant(a))
	}
	return id, d
}

// archImage writes a single-platform image: base layers, runtime layers,
// the build's own layers (the first one, dependencies, sometimes unchanged
// from the last build) and its config.
func (g *generator) archImage(s *streamState, arch int, at time.Time, built *time.Time, labels string, sameStack bool) (int64, string) {
	layerMT, configMT, mt := mtDockerLayer, mtDockerConfig, mtDockerManifest
	if s.oci {
		layerMT, configMT, mt = mtOCILayer, mtOCIConfig, mtOCIManifest
	}
	links := s.links[:0]
	for _, b := range s.base.layers[arch] {
		links = append(links, g.useBlob(b))
	}
	if s.rt != nil {
		for _, b := range s.rt.layers[arch] {
			links = append(links, g.useBlob(b))
		}
	}
	// A few images list the empty layer twice, as Dockerfiles with
	// metadata-only steps do.
	dup := g.chance(30)
	if dup {
		links = append(links, g.useBlob(g.empty))
	}
	appStart := len(links)
	prev := s.prevApp[arch]
	for j := range s.appLayers {
		if j == 0 && sameStack && len(prev) > 0 && g.chance(300) {
			links = append(links, prev[0])
			continue
		}
		var size int64
		if j == 0 {
			size = g.between(2*miB, 40*miB)
		} else {
			size = g.skewed(100*kiB, 40*miB)
		}
		id, _ := g.newBlob(size, layerMT)
		links = append(links, id)
	}
	s.prevApp[arch] = append(s.prevApp[arch][:0], links[appStart:]...)
	if dup {
		links = append(links, g.useBlob(g.empty))
	}
	s.links = links
	cfg, cfgDigest := g.newBlob(g.between(1*kiB, 15*kiB), configMT)
	id, d := g.writeImage(&imageRow{mediaType: mt, repo: s.pull, created: at, built: built,
		arch: arch, entrypoint: s.entrypoint, cmd: s.cmd, env: s.env, labels: labels,
		ports: s.ports, user: s.user, wd: s.wd, configDigest: cfgDigest})
	g.linkBlobs(id, cfg, links)
	return id, d
}

// tags plans the stream's tags: latest (every build), test and prod
// (promotions, in order), stable (an alias of prod), release tags and
// maybe a scheduled import of an external image.
func (g *generator) tags(s *streamState, builds []build, created time.Time) []*tagPlan {
	ev := func(at time.Time, b int) *event {
		return &event{at: at, build: b, imageID: builds[b].imageID}
	}
	latest := &tagPlan{name: "latest"}
	for i, b := range builds {
		latest.events = append(latest.events, ev(b.at, i))
	}
	// promote copies a subset of from to a new tag, each later than its
	// source and than the previous promotion, none after the anchor.
	promote := func(name string, from []*event, permille int, lo, hi time.Duration) *tagPlan {
		t := &tagPlan{name: name}
		var prev time.Time
		for _, e := range from {
			if !g.chance(permille) {
				continue
			}
			at := e.at.Add(g.dur(lo, hi))
			if !prev.IsZero() && !at.After(prev) {
				at = prev.Add(time.Minute)
			}
			if at.After(g.anchor) {
				continue
			}
			t.events = append(t.events, ev(at, e.build))
			prev = at
		}
		return t
	}
	test := promote("test", latest.events, 600, 15*time.Minute, 30*time.Hour)
	prod := promote("prod", test.events, 550, 2*time.Hour, 7*day)
	releases := prod.events // before a rollback is added
	if n := len(prod.events); n >= 2 && g.chance(100) {
		// Rollback: prod set back to the previous image, a new entry on top.
		if at := prod.events[n-1].at.Add(g.dur(10*time.Minute, 2*day)); !at.After(g.anchor) {
			prod.events = append(prod.events, ev(at, prod.events[n-2].build))
		}
	}
	out := []*tagPlan{latest}
	for _, t := range []*tagPlan{test, prod} {
		if len(t.events) > 0 {
			out = append(out, t)
		}
	}
	if len(prod.events) > 0 && g.chance(300) {
		stable := &tagPlan{name: "stable", fromKind: "ImageStreamTag", fromName: "prod", alias: true}
		for _, e := range prod.events {
			stable.events = append(stable.events, ev(e.at, e.build))
		}
		out = append(out, stable)
	}
	out = append(out, g.versionTags(builds, releases, test.events, latest.events, ev)...)
	if g.chance(200) {
		out = append(out, g.scheduledTag(created))
	}
	for _, t := range out {
		if t.fromKind == "" && len(t.events) > 0 {
			top := t.events[len(t.events)-1]
			t.fromKind, t.fromName = "ImageStreamImage", s.name+"@"+builds[top.build].digest
		}
	}
	return out
}

// versionTags tags a few released builds v<major>.<minor>.<patch>; some
// were moved once to the following build (a re-tag after a hotfix).
func (g *generator) versionTags(builds []build, prod, test, latest []*event, ev func(time.Time, int) *event) []*tagPlan {
	n := g.pick([]int{25, 25, 20, 15, 10, 5})
	src := prod
	if len(src) < n {
		src = test
	}
	if len(src) < n {
		src = latest
	}
	n = min(n, len(src))
	if n == 0 {
		return nil
	}
	idx := g.rng.Perm(len(src))[:n]
	slices.Sort(idx)
	major, minor, patch := 1+g.rng.IntN(3), g.rng.IntN(8), g.rng.IntN(5)
	var out []*tagPlan
	for _, i := range idx {
		if g.chance(250) {
			minor, patch = minor+1, 0
		} else {
			patch++
		}
		e := src[i]
		at := e.at.Add(g.dur(time.Minute, 3*time.Hour))
		if at.After(g.anchor) {
			continue
		}
		t := &tagPlan{name: fmt.Sprintf("v%d.%d.%d", major, minor, patch)}
		t.events = append(t.events, ev(at, e.build))
		if next := e.build + 1; next < len(builds) && g.chance(250) {
			at2 := builds[next].at
			if at2.Before(at) {
				at2 = at
			}
			if at2 = at2.Add(g.dur(10*time.Minute, day)); !at2.After(g.anchor) {
				t.events = append(t.events, ev(at2, next))
			}
		}
		out = append(out, t)
	}
	return out
}

// scheduledTag imports an external image every 15 minutes: its history
// holds each upstream release seen since the tag was created. A quarter of
// them fail now, some never having imported anything.
func (g *generator) scheduledTag(streamCreated time.Time) *tagPlan {
	c := g.channels[g.rng.IntN(len(g.channels))]
	hub := registryHost(c.entry.ref) == "registry-1.docker.io"
	t := &tagPlan{name: c.entry.tag, fromKind: "DockerImage", fromName: c.entry.ref, scheduled: true}
	created := streamCreated.Add(g.dur(0, max(0, g.anchor.Sub(streamCreated)-time.Hour)))
	cutoff := g.anchor
	if g.chance(250) {
		f := failureCatalog[g.rng.IntN(len(failureCatalog))]
		for f.dockerHubOnly && !hub {
			f = failureCatalog[g.rng.IntN(len(failureCatalog))]
		}
		t.failure = &f
		t.failedFrom = c.entry.ref
		t.condTime = g.anchor.Add(-g.dur(0, 15*time.Minute))
		if g.chance(150) {
			cutoff = created
		} else {
			cutoff = created.Add(g.dur(0, g.anchor.Sub(created)))
		}
	}
	first := 0
	for i, u := range c.releases {
		if !u.created.After(created) {
			first = i
		}
	}
	var prev time.Time
	for i := first; i < len(c.releases); i++ {
		u := c.releases[i]
		at := u.created
		if at.Before(created) {
			at = created
		}
		at = at.Add(g.dur(5*time.Second, 15*time.Minute))
		if !prev.IsZero() && !at.After(prev) {
			at = prev.Add(time.Second)
		}
		if !at.Before(cutoff) || at.After(g.anchor) {
			break
		}
		id := g.useUpstream(c, u)
		t.events = append(t.events, &event{at: at, build: -1, imageID: id, ref: c.repo + "@" + u.digest})
		prev = at
	}
	return t
}

// writeStream numbers the stream's spec changes in time order (generation)
// and writes the stream, its tags and their histories.
func (g *generator) writeStream(s *streamState, created time.Time, builds []build, tags []*tagPlan) {
	var all []*event
	for _, t := range tags {
		all = append(all, t.events...)
	}
	slices.SortStableFunc(all, func(a, b *event) int { return a.at.Compare(b.at) })
	for i, e := range all {
		e.gen = int64(i + 1)
	}
	gen := int64(len(all))
	tagGen := make([]int64, len(tags))
	for i, t := range tags {
		if n := len(t.events); n > 0 {
			tagGen[i] = t.events[n-1].gen
		} else {
			gen++ // a spec tag that never imported
			tagGen[i] = gen
		}
	}

	g.lastStream++
	sid := g.lastStream
	labels := `{"app":"` + s.name + `","team":"` + s.ns.domain + `"}`
	g.w.add(g.tStreams, sid, s.ns.id, s.name, created, labels, "", "", s.pull,
		publicRegistry+"/"+s.ns.name+"/"+s.name, g.chance(100), gen)

	policy, mode := "Source", "Legacy"
	if g.chance(100) {
		policy = "Local"
	}
	if s.multi {
		mode = "PreserveOriginal"
	}
	for i, t := range tags {
		g.lastTag++
		tid := g.lastTag
		var condStatus, condReason, condMessage string
		var condTime any
		var condGen int64
		if t.failure != nil {
			condStatus, condReason = "False", t.failure.reason
			condMessage = fmt.Sprintf(t.failure.message, t.failedFrom, registryHost(t.failedFrom))
			condTime, condGen = t.condTime, tagGen[i]
			g.failed++
		}
		tmode := mode
		if t.scheduled {
			tmode = "Legacy"
		}
		g.w.add(g.tTags, tid, sid, t.name, true, "", t.fromKind, t.fromName, "", t.alias,
			t.scheduled, false, false, policy, tmode, tagGen[i], condStatus, condReason,
			condMessage, condTime, condGen)
		n := len(t.events)
		for pos := range n {
			e := t.events[n-1-pos] // position 0 is the newest
			ref := e.ref
			if ref == "" {
				ref = s.pull + "@" + builds[e.build].digest
			}
			g.lastEvent++
			g.w.add(g.tEvents, g.lastEvent, tid, int64(pos), e.at, ref, e.imageID, e.gen)
		}
	}
}

// registryHost is the host a pull spec's registry API answers on.
func registryHost(ref string) string {
	host, _, _ := strings.Cut(ref, "/")
	if host == "docker.io" {
		return "registry-1.docker.io"
	}
	return host
}
