//go:build ignore

// Gendemo writes demo.yaml, the demo registry of package openshift. Run it
// from the package directory:
//
//	go run internal/gendemo/main.go
//
// Everything is derived from names, so the output is the same every run.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

const (
	internalRegistry = "image-registry.openshift-image-registry.svc:5000"
	publicRegistry   = "default-route-openshift-image-registry.apps.ocp4.acme.example"
	layerMT          = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	configMT         = "application/vnd.docker.container.image.v1+json"
	manifestMT       = "application/vnd.docker.distribution.manifest.v2+json"
	listMT           = "application/vnd.docker.distribution.manifest.list.v2+json"
	mb               = 1_000_000
	pathEnv          = "PATH=/opt/app-root/src/bin:/opt/app-root/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// newest is the cut-off: nothing in the demo happens later.
func newest() time.Time { return at(11, 20, 18, 0) }

func at(month, day, hour, minute int) time.Time {
	return time.Date(2026, time.Month(month), day, hour, minute, 0, 0, time.UTC)
}

func sum(parts ...string) [32]byte { return sha256.Sum256([]byte(strings.Join(parts, "\x00"))) }

func dg(parts ...string) string {
	h := sum(parts...)
	return "sha256:" + hex.EncodeToString(h[:])
}

func between(lo, hi int64, parts ...string) int64 {
	h := sum(parts...)
	return lo + int64(binary.BigEndian.Uint64(h[:8])%uint64(hi-lo+1))
}

func cat(lists ...[]store.BlobRef) []store.BlobRef {
	var out []store.BlobRef
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func layer(key string, lo, hi int64) []store.BlobRef {
	return []store.BlobRef{{Digest: dg("layer", key), Size: between(lo, hi, "size", key), MediaType: layerMT}}
}

type demo struct {
	images  []store.ImageSnapshot
	streams []store.StreamSnapshot
}

func (d *demo) image(key, repo string, created time.Time, layers []store.BlobRef, meta store.ImageMeta) store.ImageSnapshot {
	digest := dg("manifest", key)
	c := created
	meta.Created = &c
	if meta.Architecture == "" {
		meta.Architecture, meta.OS = "amd64", "linux"
	}
	cfg := &store.BlobRef{Digest: dg("config", key), Size: between(2500, 14000, "config-size", key), MediaType: configMT}
	img := store.ImageSnapshot{
		Digest:               digest,
		MediaType:            manifestMT,
		DockerImageReference: repo + "@" + digest,
		Meta:                 meta,
		Config:               cfg,
		ConfigDigest:         cfg.Digest,
		Layers:               layers,
	}
	d.images = append(d.images, img)
	return img
}

// stream builds one image stream by replaying what happened to it.
type stream struct {
	s       store.StreamSnapshot
	gen     int64
	aliases map[string][]string // source tag -> alias tags
}

func newStream(ns, name string, created time.Time, labels map[string]string) *stream {
	return &stream{
		s: store.StreamSnapshot{
			Namespace:      ns,
			Name:           name,
			Created:        created,
			Labels:         labels,
			PullSpec:       internalRegistry + "/" + ns + "/" + name,
			PublicPullSpec: publicRegistry + "/" + ns + "/" + name,
			Generation:     1,
		},
		gen:     1,
		aliases: map[string][]string{},
	}
}

func (b *stream) repo() string { return internalRegistry + "/" + b.s.Namespace + "/" + b.s.Name }

func (b *stream) tag(name string) *store.TagSnapshot {
	for i := range b.s.Tags {
		if b.s.Tags[i].Name == name {
			return &b.s.Tags[i]
		}
	}
	b.s.Tags = append(b.s.Tags, store.TagSnapshot{Name: name})
	return &b.s.Tags[len(b.s.Tags)-1]
}

// push records a new current image of a tag (a build's push, an import);
// aliases of the tag follow it.
func (b *stream) push(tag string, img store.ImageSnapshot, ref string, when time.Time) {
	t := b.tag(tag)
	if len(t.Items) == 0 || t.Items[0].Image != img.Digest {
		e := store.EventSnapshot{Created: when, DockerImageReference: ref, Image: img.Digest, Generation: b.gen}
		t.Items = append([]store.EventSnapshot{e}, t.Items...)
	}
	for _, a := range b.aliases[tag] {
		b.push(a, img, ref, when)
	}
}

func (b *stream) spec(tag string) *store.TagSnapshot {
	b.gen++
	b.s.Generation = b.gen
	t := b.tag(tag)
	g := b.gen
	t.InSpec, t.Generation, t.ReferencePolicy = true, &g, "Source"
	return t
}

// set is `oc tag STREAM@DIGEST STREAM:TAG`: promotions, rollbacks, versions.
func (b *stream) set(tag string, img store.ImageSnapshot, when time.Time) {
	t := b.spec(tag)
	t.From = &store.ObjectRef{Kind: "ImageStreamImage", Name: b.s.Name + "@" + img.Digest}
	b.push(tag, img, b.repo()+"@"+img.Digest, when)
}

// alias is `oc tag --alias STREAM:SRC STREAM:TAG`.
func (b *stream) alias(tag, src string, when time.Time) {
	t := b.spec(tag)
	t.From = &store.ObjectRef{Kind: "ImageStreamTag", Name: b.s.Name + ":" + src}
	b.aliases[src] = append(b.aliases[src], tag)
	if s := b.tag(src); len(s.Items) > 0 {
		b.push(tag, store.ImageSnapshot{Digest: s.Items[0].Image}, s.Items[0].DockerImageReference, when)
	}
}

// importFrom is `oc import-image --scheduled` of an external image.
func (b *stream) importFrom(tag, from, mode string) *store.TagSnapshot {
	t := b.spec(tag)
	t.From = &store.ObjectRef{Kind: "DockerImage", Name: from}
	t.Scheduled, t.ImportMode, t.ReferencePolicy = true, mode, "Local"
	return t
}

func (d *demo) add(b *stream) { d.streams = append(d.streams, b.s) }

// runtime is one rebuild of the shared base and language images.
type runtime struct {
	when                        time.Time
	ubi, minimal                []store.BlobRef
	python, nodejs, openjdk     []store.BlobRef // full layer lists
	pythonImg, nodeImg, javaImg store.ImageSnapshot
}

func main() {
	d := &demo{}
	rts := d.platformBase()
	torch := d.mlBase(rts)
	d.payments(rts)
	d.web(rts)
	d.dataPlatform(rts)
	d.ml(rts, torch)

	out, err := openshift.ExportList(d.streams, d.images)
	if err != nil {
		log.Fatal(err)
	}
	y, err := yaml.JSONToYAML(out)
	if err != nil {
		log.Fatal(err)
	}
	head := "# Layerwise demo registry: one OpenShift List of Images and ImageStreams.\n" +
		"# Generated by internal/gendemo (go run internal/gendemo/main.go); do not edit.\n" +
		"# Times are in 2026, newest near 2026-11-20; `serve --demo` shifts them to now.\n"
	if err := os.WriteFile("demo.yaml", append([]byte(head), y...), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("demo.yaml: %d bytes, %d images, %d streams\n", len(head)+len(y), len(d.images), len(d.streams))
}

func rhLabels(name, version string) map[string]string {
	return map[string]string{"name": name, "version": version, "vendor": "Red Hat, Inc."}
}

func (d *demo) platformBase() []runtime {
	const ns = "platform-base"
	revs := []time.Time{at(2, 10, 9, 5), at(6, 16, 9, 5), at(10, 13, 9, 5)}
	minor := []string{"9.6", "9.6", "9.7"}
	labels := func(app string) map[string]string {
		return map[string]string{"app.kubernetes.io/part-of": "platform-base", "app.kubernetes.io/name": app}
	}
	ubi := newStream(ns, "ubi9", at(1, 8, 14, 0), labels("ubi9"))
	ubi.s.LookupLocal = true
	ubi.importFrom("latest", "registry.access.redhat.com/ubi9/ubi:latest", "Legacy")
	ubi.importFrom("9.6", "registry.access.redhat.com/ubi9/ubi:9.6", "Legacy")
	ubi.importFrom("9.7", "registry.access.redhat.com/ubi9/ubi:9.7", "Legacy")
	mini := newStream(ns, "ubi9-minimal", at(1, 8, 14, 2), labels("ubi9-minimal"))
	mini.s.LookupLocal = true
	mini.importFrom("latest", "registry.access.redhat.com/ubi9/ubi-minimal:latest", "Legacy")
	py := newStream(ns, "python-312", at(1, 9, 10, 0), labels("python-312"))
	py.alias("latest", "3.12", at(1, 9, 10, 0))
	node := newStream(ns, "nodejs-20", at(1, 9, 10, 5), labels("nodejs-20"))
	node.alias("latest", "20", at(1, 9, 10, 5))
	java := newStream(ns, "openjdk-21", at(1, 9, 10, 9), labels("openjdk-21"))
	java.alias("latest", "21", at(1, 9, 10, 9))

	var rts []runtime
	for k, when := range revs {
		r := runtime{when: when}
		rev := fmt.Sprint(k)
		built := when.Add(-70 * time.Hour)
		r.ubi = layer("ubi9-os-"+rev, 74*mb, 80*mb)
		ubiImg := d.image("ubi9-"+rev, "registry.access.redhat.com/ubi9/ubi", built, r.ubi, store.ImageMeta{
			Cmd: []string{"/bin/bash"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=oci"},
			Labels: rhLabels("ubi9", minor[k]),
		})
		ubi.push("latest", ubiImg, ubiImg.DockerImageReference, when)
		ubi.push(minor[k], ubiImg, ubiImg.DockerImageReference, when)

		r.minimal = layer("ubi9-minimal-os-"+rev, 36*mb, 40*mb)
		minImg := d.image("ubi9-minimal-"+rev, "registry.access.redhat.com/ubi9/ubi-minimal", built.Add(-time.Hour), r.minimal, store.ImageMeta{
			Cmd: []string{"/bin/bash"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=oci"},
			Labels: rhLabels("ubi9-minimal", minor[k]),
		})
		mini.push("latest", minImg, minImg.DockerImageReference, when.Add(2*time.Minute))

		b := when.Add(26 * time.Hour)
		r.python = cat(r.ubi, layer("python-312-"+rev, 96*mb, 112*mb), layer("python-312-s2i-"+rev, 8*mb, 14*mb))
		r.pythonImg = d.image("python-312-"+rev, py.repo(), b, r.python, store.ImageMeta{
			Entrypoint: []string{"container-entrypoint"}, Cmd: []string{"/bin/sh", "-c", "$STI_SCRIPTS_PATH/usage"},
			Env:    []string{pathEnv, "PYTHON_VERSION=3.12", "APP_ROOT=/opt/app-root"},
			Labels: map[string]string{"io.openshift.tags": "builder,python,python312", "version": "1-" + rev},
			Ports:  []string{"8080/tcp"}, User: "1001", WorkingDir: "/opt/app-root/src",
		})
		py.push("3.12", r.pythonImg, py.repo()+"@"+r.pythonImg.Digest, b)

		r.nodejs = cat(r.minimal, layer("nodejs-20-"+rev, 48*mb, 58*mb))
		r.nodeImg = d.image("nodejs-20-"+rev, node.repo(), b.Add(20*time.Minute), r.nodejs, store.ImageMeta{
			Cmd: []string{"/usr/libexec/s2i/run"}, Env: []string{pathEnv, "NODEJS_VERSION=20", "NODE_ENV=production"},
			Labels: map[string]string{"io.openshift.tags": "builder,nodejs,nodejs20", "version": "1-" + rev},
			Ports:  []string{"8080/tcp"}, User: "1001", WorkingDir: "/opt/app-root/src",
		})
		node.push("20", r.nodeImg, node.repo()+"@"+r.nodeImg.Digest, b.Add(20*time.Minute))

		r.openjdk = cat(r.minimal, layer("openjdk-21-"+rev, 138*mb, 152*mb))
		r.javaImg = d.image("openjdk-21-"+rev, java.repo(), b.Add(45*time.Minute), r.openjdk, store.ImageMeta{
			Cmd: []string{"/opt/jboss/container/java/run/run-java.sh"}, Env: []string{"JAVA_HOME=/usr/lib/jvm/jre", "JAVA_VERSION=21"},
			Labels: map[string]string{"io.openshift.tags": "builder,java,openjdk", "version": "1.21-" + rev},
			Ports:  []string{"8080/tcp", "8443/tcp"}, User: "185", WorkingDir: "/home/default",
		})
		java.push("21", r.javaImg, java.repo()+"@"+r.javaImg.Digest, b.Add(45*time.Minute))
		rts = append(rts, r)
	}

	for _, b := range []*stream{ubi, mini, py, node, java} {
		d.add(b)
	}
	return rts
}

// runtimeAt is the newest platform rebuild a build at t would use.
func runtimeAt(rts []runtime, t time.Time) runtime {
	r := rts[0]
	for _, x := range rts {
		if !x.when.Add(48 * time.Hour).After(t) {
			r = x
		}
	}
	return r
}

type mlBase struct {
	when   time.Time
	layers []store.BlobRef
}

func (d *demo) mlBase(rts []runtime) []mlBase {
	b := newStream("ml", "pytorch-base", at(5, 18, 8, 0), map[string]string{"app.kubernetes.io/name": "pytorch-base", "team": "ml"})
	var out []mlBase
	tags := []string{"2.5", "2.5", "2.6"}
	for k, when := range []time.Time{at(5, 20, 16, 40), at(8, 18, 15, 10), at(10, 27, 17, 55)} {
		rev := fmt.Sprint(k)
		r := runtimeAt(rts, when)
		layers := cat(r.python, layer("cuda-12-runtime-"+rev, 182*mb, 199*mb), layer("torch-"+rev, 168*mb, 198*mb))
		img := d.image("pytorch-base-"+rev, b.repo(), when, layers, store.ImageMeta{
			Entrypoint: []string{"container-entrypoint"}, Cmd: []string{"python3"},
			Env:    []string{pathEnv, "CUDA_VERSION=12.4.1", "NVIDIA_VISIBLE_DEVICES=all", "TORCH_VERSION=" + tags[k]},
			Labels: map[string]string{"io.openshift.build.source-location": "https://git.acme.example/ml/pytorch-base.git"},
			User:   "1001", WorkingDir: "/opt/app-root/src",
		})
		if k == 2 {
			b.alias("latest", "2.6", when)
		}
		b.push(tags[k], img, b.repo()+"@"+img.Digest, when)
		out = append(out, mlBase{when: when, layers: layers})
	}
	d.add(b)
	return out
}

// app describes a team's application stream: a build every `every`, the
// last at `last`; each build goes to latest, every testEvery-th to test,
// every prodEvery-th to prod (and gets a version tag when version != "").
type app struct {
	ns, name, runtime    string
	builds               int
	every                time.Duration
	last                 time.Time
	testEvery, prodEvery int
	version              string // "1.%d.0"
	firstMinor           int
	rollbackAt           int // prod promotion number that is rolled back; 0 = none
	appLo, appHi         int64
	depsLo, depsHi       int64
	depsEvery            int
	cmd, ports, env      []string
	user, workdir        string
}

func (d *demo) app(a app, rts []runtime, torch []mlBase) {
	first := a.last.Add(-time.Duration(a.builds-1) * a.every)
	b := newStream(a.ns, a.name, first.Add(-50*time.Hour), map[string]string{"app": a.name, "team": a.ns})
	prodCount, minor := 0, a.firstMinor
	var prevProd store.ImageSnapshot
	for i := 0; i < a.builds; i++ {
		t := a.last.Add(-time.Duration(a.builds-1-i) * a.every)
		if i < a.builds-1 {
			t = t.Add(-time.Duration(between(0, 30*60, a.ns, a.name, "jitter", fmt.Sprint(i))) * time.Minute)
		}
		t = t.Truncate(time.Minute)
		var base []store.BlobRef
		switch a.runtime {
		case "python":
			base = runtimeAt(rts, t).python
		case "nodejs":
			base = runtimeAt(rts, t).nodejs
		case "openjdk":
			base = runtimeAt(rts, t).openjdk
		case "nginx":
			base = cat(runtimeAt(rts, t).minimal, layer("nginx-124-"+runtimeAt(rts, t).when.Format("0102"), 11*mb, 13*mb))
		case "ml":
			base = torch[0].layers
			for _, x := range torch {
				if !x.when.After(t) {
					base = x.layers
				}
			}
		}
		key := a.ns + "/" + a.name
		layers := cat(base,
			layer(fmt.Sprintf("%s/deps/%d", key, i/max(1, a.depsEvery)), a.depsLo, a.depsHi),
			layer(fmt.Sprintf("%s/app/%d", key, i), a.appLo, a.appHi))
		commit := dg(key, "commit", fmt.Sprint(i))[7:47]
		env := append([]string{pathEnv}, a.env...)
		img := d.image(fmt.Sprintf("%s/%d", key, i), b.repo(), t, layers, store.ImageMeta{
			Entrypoint: []string{"container-entrypoint"},
			Cmd:        a.cmd, Env: env, Ports: a.ports, User: a.user, WorkingDir: a.workdir,
			Labels: map[string]string{
				"io.openshift.build.commit.id": commit,
			},
		})
		b.push("latest", img, b.repo()+"@"+img.Digest, t)
		if a.testEvery > 0 && i%a.testEvery == a.testEvery-1 {
			if tt := t.Add(20 * time.Hour); tt.Before(newest()) {
				b.set("test", img, tt)
			}
		}
		if a.prodEvery > 0 && i%a.prodEvery == a.prodEvery-1 {
			pt := t.Add(74 * time.Hour)
			if !pt.Before(newest()) {
				continue
			}
			prodCount++
			b.set("prod", img, pt)
			if prodCount == a.rollbackAt && prevProd.Digest != "" {
				// The release misbehaved: prod goes back to the previous image.
				b.set("prod", prevProd, pt.Add(95*time.Minute))
				continue
			}
			if a.version != "" {
				b.set(fmt.Sprintf(a.version, minor), img, pt)
				minor++
			}
			prevProd = img
		}
	}
	d.add(b)
}

func (d *demo) payments(rts []runtime) {
	d.app(app{ns: "payments", name: "api", runtime: "python", builds: 14, every: 12 * 24 * time.Hour, last: at(11, 20, 9, 42),
		testEvery: 2, prodEvery: 3, version: "v1.%d.0", firstMinor: 18, rollbackAt: 3,
		appLo: 3 * mb, appHi: 8 * mb, depsLo: 18 * mb, depsHi: 26 * mb, depsEvery: 4,
		cmd: []string{"/usr/libexec/s2i/run"}, ports: []string{"8080/tcp"}, env: []string{"APP_MODULE=payments.api:app", "GUNICORN_CMD_ARGS=--workers 4"},
		user: "1001", workdir: "/opt/app-root/src"}, rts, nil)
	d.app(app{ns: "payments", name: "ledger", runtime: "openjdk", builds: 4, every: 21 * 24 * time.Hour, last: at(11, 12, 15, 3),
		testEvery: 1, prodEvery: 2, version: "v3.%d.0", firstMinor: 4,
		appLo: 18 * mb, appHi: 28 * mb, depsLo: 24 * mb, depsHi: 30 * mb, depsEvery: 3,
		cmd: []string{"/opt/jboss/container/java/run/run-java.sh"}, ports: []string{"8080/tcp", "8443/tcp"},
		env: []string{"JAVA_OPTS_APPEND=-XX:MaxRAMPercentage=75"}, user: "185", workdir: "/home/default"}, rts, nil)
	d.app(app{ns: "payments", name: "fraud-worker", runtime: "python", builds: 3, every: 25 * 24 * time.Hour, last: at(11, 5, 11, 20),
		testEvery: 1, prodEvery: 2, appLo: 1 * mb, appHi: 4 * mb, depsLo: 20 * mb, depsHi: 29 * mb, depsEvery: 2,
		cmd: []string{"python", "-m", "fraud.worker"}, env: []string{"QUEUE=fraud-checks"},
		user: "1001", workdir: "/opt/app-root/src"}, rts, nil)

	// legacy-gateway comes from a vendor registry; its 2.3 tag was deleted
	// upstream, so the scheduled import now fails and 2.3 keeps its image.
	const repo = "quay.io/acme/legacy"
	b := newStream("payments", "legacy-gateway", at(1, 20, 13, 0), map[string]string{"app": "legacy-gateway", "team": "payments"})
	base := layer("debian-bullseye-slim", 30*mb, 32*mb)
	empty := []store.BlobRef{{Digest: "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4", Size: 32, MediaType: layerMT}}
	meta := func(v string) store.ImageMeta {
		return store.ImageMeta{Author: "Acme Integrations <integrations@acme.example>", Cmd: []string{"/opt/legacy/bin/gateway", "--config", "/etc/legacy/gateway.yaml"},
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LEGACY_VERSION=" + v}, Ports: []string{"9090/tcp"}, WorkingDir: "/opt/legacy"}
	}
	t22 := b.importFrom("2.2", repo+":2.2", "Legacy")
	t22.Scheduled = false
	img22 := d.image("legacy-2.2", repo, at(1, 6, 8, 0), cat(base, empty, layer("legacy-2.2", 21*mb, 23*mb), empty), meta("2.2"))
	b.push("2.2", img22, img22.DockerImageReference, at(1, 20, 13, 1))
	b.importFrom("2.3", repo+":2.3", "Legacy")
	for k, when := range []time.Time{at(2, 3, 10, 15), at(5, 12, 10, 30)} {
		img := d.image(fmt.Sprintf("legacy-2.3-%d", k), repo, when.Add(-40*time.Hour),
			cat(base, empty, layer(fmt.Sprintf("legacy-2.3-%d", k), 22*mb, 24*mb), empty), meta("2.3"))
		b.push("2.3", img, img.DockerImageReference, when)
	}
	failed := at(11, 20, 6, 15)
	t23 := b.tag("2.3")
	t23.Condition = &store.Condition{Type: "ImportSuccess", Status: "False", Reason: "NotFound",
		Message: `dockerimage.image.openshift.io "quay.io/acme/legacy:2.3" not found`, Time: &failed, Generation: *t23.Generation}
	d.add(b)
}

func (d *demo) web(rts []runtime) {
	nodeEnv := []string{"NODEJS_VERSION=20", "NODE_ENV=production", "NPM_RUN=start"}
	d.app(app{ns: "web", name: "storefront", runtime: "nodejs", builds: 9, every: 9 * 24 * time.Hour, last: at(11, 18, 16, 12),
		testEvery: 2, prodEvery: 4, version: "2026.%d", firstMinor: 7, rollbackAt: 2,
		appLo: 4 * mb, appHi: 12 * mb, depsLo: 22 * mb, depsHi: 30 * mb, depsEvery: 3,
		cmd: []string{"/usr/libexec/s2i/run"}, ports: []string{"8080/tcp"}, env: nodeEnv,
		user: "1001", workdir: "/opt/app-root/src"}, rts, nil)
	d.app(app{ns: "web", name: "admin-ui", runtime: "nodejs", builds: 3, every: 20 * 24 * time.Hour, last: at(11, 3, 10, 48),
		testEvery: 1, prodEvery: 2, appLo: 2 * mb, appHi: 6 * mb, depsLo: 15 * mb, depsHi: 21 * mb, depsEvery: 5,
		cmd: []string{"/usr/libexec/s2i/run"}, ports: []string{"8080/tcp"}, env: nodeEnv,
		user: "1001", workdir: "/opt/app-root/src"}, rts, nil)
	d.app(app{ns: "web", name: "edge-proxy", runtime: "nginx", builds: 3, every: 45 * 24 * time.Hour, last: at(10, 20, 9, 30),
		prodEvery: 1, appLo: 1 * mb, appHi: 2 * mb, depsLo: 1 * mb, depsHi: 2 * mb, depsEvery: 3,
		cmd: []string{"nginx", "-g", "daemon off;"}, ports: []string{"8080/tcp", "8443/tcp"},
		user: "1001", workdir: "/opt/app-root/src"}, rts, nil)

	// nginx is imported with PreserveOriginal (the web tier also runs on
	// arm64 nodes): the manifest list and both platform images.
	const upstream = "docker.io/nginxinc/nginx-unprivileged"
	ng := newStream("web", "nginx", at(3, 2, 11, 0), map[string]string{"app": "nginx", "team": "web"})
	ng.importFrom("1.27-alpine", upstream+":1.27-alpine", "PreserveOriginal")
	ng.alias("latest", "1.27-alpine", at(3, 2, 11, 0))
	for k, when := range []time.Time{at(3, 2, 11, 1), at(9, 28, 4, 30)} {
		rev := fmt.Sprint(k)
		var refs []store.ManifestRef
		for _, p := range []struct{ arch, variant string }{{"amd64", ""}, {"arm64", "v8"}} {
			child := d.image("nginx-"+p.arch+"-"+rev, upstream, when.Add(-9*24*time.Hour),
				cat(layer("alpine-"+p.arch+"-"+rev, 3_500_000, 4_100_000), layer("nginx-"+p.arch+"-"+rev, 15*mb, 18*mb)),
				store.ImageMeta{Architecture: p.arch, OS: "linux", Variant: p.variant,
					Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
					Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27." + rev},
					Ports: []string{"8080/tcp"}, User: "101"})
			refs = append(refs, store.ManifestRef{Digest: child.Digest, MediaType: manifestMT, ManifestSize: 1568,
				OS: "linux", Architecture: p.arch, Variant: p.variant})
		}
		list := store.ImageSnapshot{Digest: dg("list", "nginx", rev), MediaType: listMT, Manifests: refs}
		list.DockerImageReference = upstream + "@" + list.Digest
		d.images = append(d.images, list)
		ng.push("1.27-alpine", list, list.DockerImageReference, when)
	}
	d.add(ng)
}

func (d *demo) dataPlatform(rts []runtime) {
	d.app(app{ns: "data-platform", name: "etl-runner", runtime: "openjdk", builds: 4, every: 18 * 24 * time.Hour, last: at(11, 16, 2, 10),
		testEvery: 2, prodEvery: 3, version: "v0.%d", firstMinor: 31,
		appLo: 12 * mb, appHi: 20 * mb, depsLo: 26 * mb, depsHi: 30 * mb, depsEvery: 2,
		cmd: []string{"/opt/jboss/container/java/run/run-java.sh"}, ports: []string{"8080/tcp"},
		env: []string{"JAVA_MAIN_CLASS=com.acme.etl.Main"}, user: "185", workdir: "/home/default"}, rts, nil)
	d.app(app{ns: "data-platform", name: "kafka-connect", runtime: "openjdk", builds: 2, every: 40 * 24 * time.Hour, last: at(10, 28, 13, 0),
		prodEvery: 1, appLo: 8 * mb, appHi: 14 * mb, depsLo: 25 * mb, depsHi: 30 * mb, depsEvery: 1,
		cmd: []string{"/opt/kafka/bin/connect-distributed.sh", "/opt/kafka/config/connect-distributed.properties"}, ports: []string{"8083/tcp"},
		user: "185", workdir: "/opt/kafka"}, rts, nil)

	// airflow follows upstream versions: 2.9 then 2.10, latest tracks 2.10.
	b := newStream("data-platform", "airflow", at(3, 1, 9, 0), map[string]string{"app": "airflow", "team": "data-platform"})
	for k, when := range []time.Time{at(3, 3, 14, 0), at(5, 26, 14, 20), at(8, 11, 9, 45), at(10, 30, 15, 5)} {
		tag := "2.9"
		if k >= 2 {
			tag = "2.10"
		}
		layers := cat(runtimeAt(rts, when).python, layer(fmt.Sprintf("airflow-%s-deps-%d", tag, k), 120*mb, 140*mb), layer(fmt.Sprintf("airflow-dags-%d", k), 1*mb, 3*mb))
		img := d.image(fmt.Sprintf("airflow-%d", k), b.repo(), when, layers, store.ImageMeta{
			Entrypoint: []string{"/usr/bin/dumb-init", "--", "/entrypoint"}, Cmd: []string{"airflow", "webserver"},
			Env: []string{pathEnv, "AIRFLOW_VERSION=" + tag + ".0", "AIRFLOW_HOME=/opt/airflow"}, Ports: []string{"8080/tcp"},
			User: "50000", WorkingDir: "/opt/airflow",
		})
		if k == 2 {
			b.alias("latest", "2.10", when)
		}
		b.push(tag, img, b.repo()+"@"+img.Digest, when)
	}
	d.add(b)
}

func (d *demo) ml(rts []runtime, torch []mlBase) {
	mlEnv := []string{"CUDA_VERSION=12.4.1", "NVIDIA_VISIBLE_DEVICES=all"}
	d.app(app{ns: "ml", name: "trainer", runtime: "ml", builds: 4, every: 20 * 24 * time.Hour, last: at(11, 17, 21, 30),
		testEvery: 1, prodEvery: 2, appLo: 2 * mb, appHi: 6 * mb, depsLo: 22 * mb, depsHi: 30 * mb, depsEvery: 3,
		cmd: []string{"python", "-m", "trainer.main"}, env: mlEnv,
		user: "1001", workdir: "/opt/app-root/src"}, rts, torch)
	d.app(app{ns: "ml", name: "inference", runtime: "ml", builds: 4, every: 18 * 24 * time.Hour, last: at(11, 19, 7, 55),
		testEvery: 2, prodEvery: 3, version: "v2.%d", firstMinor: 3,
		appLo: 3 * mb, appHi: 9 * mb, depsLo: 18 * mb, depsHi: 25 * mb, depsEvery: 2,
		cmd: []string{"python", "-m", "inference.serve"}, ports: []string{"8000/tcp"}, env: mlEnv,
		user: "1001", workdir: "/opt/app-root/src"}, rts, torch)
	d.app(app{ns: "ml", name: "notebooks", runtime: "ml", builds: 2, every: 60 * 24 * time.Hour, last: at(10, 1, 12, 0),
		appLo: 1 * mb, appHi: 2 * mb, depsLo: 28 * mb, depsHi: 30 * mb, depsEvery: 1,
		cmd: []string{"start-notebook.sh"}, ports: []string{"8888/tcp"}, env: mlEnv,
		user: "1001", workdir: "/opt/app-root/src"}, rts, torch)
}
