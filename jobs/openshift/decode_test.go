package openshift

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"layerwise/store"
)

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-20T12:00:00Z")
	tests := []struct {
		file  string
		opt   Options
		check func(t *testing.T, objs []Object)
	}{
		{
			file: "openshift-oc__pkg-helpers-graph-genericgraph-test-prereq-image-present-with-sched.yaml",
			check: func(t *testing.T, objs []Object) {
				eq(t, "objects", len(objs), 5)
				for _, o := range objs[:4] {
					eq(t, o.Path+" kind", o.Kind, "BuildConfig")
					eq(t, o.Path+" other kind", o.OtherKind(), true)
				}
				eq(t, "path", objs[4].Path, "items[4]")
				s := findStream(t, objs, "example", "ruby-20-centos7")
				eq(t, "labels", s.Labels, map[string]string{"app": "ruby"})
				eq(t, "annotations", s.Annotations, map[string]string{"openshift.io/image.dockerRepositoryCheck": "2015-11-09T19:41:58Z"})
				eq(t, "created", s.Created, time.Time{})
				eq(t, "pull spec", s.PullSpec, "example/ruby-20-centos7")
				eq(t, "tags", tagNames(s), []string{"prod", "latest"})
				prod := findTag(t, s, "prod")
				eq(t, "prod in spec", prod.InSpec, true)
				eq(t, "prod scheduled", prod.Scheduled, true)
				eq(t, "prod insecure", prod.Insecure, true)
				eq(t, "prod from", *prod.From, store.ObjectRef{Kind: "ImageStreamImage", Name: "ruby-20-centos7@sha256:5c1bee506fe2522c20eba9662bf956082310fa3e94890906415e77f8f0d21caf"})
				eq(t, "prod generation", *prod.Generation, int64(2))
				eq(t, "prod annotations", prod.Annotations, map[string]string(nil))
				eq(t, "prod items", prod.Items, []store.EventSnapshot{{
					Created:              mustTime(t, "2016-06-29T18:12:07Z"),
					DockerImageReference: "example/ruby-20-centos7@sha256:5c1bee506fe2522c20eba9662bf956082310fa3e94890906415e77f8f0d21caf",
					Image:                "sha256:5c1bee506fe2522c20eba9662bf956082310fa3e94890906415e77f8f0d21caf",
					Generation:           2,
				}})
				latest := findTag(t, s, "latest")
				eq(t, "latest in spec", latest.InSpec, false)
				eq(t, "latest generation", latest.Generation, (*int64)(nil))
				eq(t, "latest image", latest.Items[0].Image, "sha256:603bfa418e1ff0a486f3d795a8b69a2f8f5eed488fbf5c286bffd8ab77b8e7a5")

				w := newFakeWriter()
				sum, err := Apply(context.Background(), w, objs)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "skipped", sum.Skipped, map[string]int{"BuildConfig": 4})
				eq(t, "notes", sum.Notes(), []string{"skipped 4 objects of other kinds (BuildConfig)"})
				eq(t, "streams", sum.Streams, 1)
				eq(t, "tags", sum.Tags, 2)
			},
		},
		{
			file: "openshift-oc__pkg-helpers-graph-genericgraph-test-prereq-image-present.yaml",
			check: func(t *testing.T, objs []Object) {
				s := findStream(t, objs, "openshift", "ruby-20-centos7")
				eq(t, "spec repository", s.DockerImageRepository, "openshift/ruby-20-centos7")
				eq(t, "tags", tagNames(s), []string{"latest"})
				latest := findTag(t, s, "latest")
				eq(t, "in spec", latest.InSpec, false)
				eq(t, "created", latest.Items[0].Created, mustTime(t, "2015-11-09T19:41:58Z"))
			},
		},
		{
			file: "openshift-openshift-restclient-java__src-test-resources-samples-openshift3-v1_image_stream.json",
			check: func(t *testing.T, objs []Object) {
				eq(t, "objects", len(objs), 1)
				eq(t, "path", objs[0].Path, "")
				s := findStream(t, objs, "openshift", "wildfly")
				eq(t, "created", s.Created, mustTime(t, "2015-11-05T20:28:34Z"))
				eq(t, "repository", s.DockerImageRepository, "172.30.224.48:5000/openshift/wildfly")
				eq(t, "pull spec", s.PullSpec, "172.30.224.48:5000/openshift/wildfly")
				eq(t, "tags", tagNames(s), []string{"8.1", "latest"})
				t81 := findTag(t, s, "8.1")
				eq(t, "8.1 from", *t81.From, store.ObjectRef{Kind: "DockerImage", Name: "openshift/wildfly-81-centos7:latest"})
				eq(t, "8.1 annotations", len(t81.Annotations), 6)
				eq(t, "8.1 generation", t81.Generation, (*int64)(nil))
				latest := findTag(t, s, "latest")
				eq(t, "latest from", *latest.From, store.ObjectRef{Kind: "ImageStreamTag", Name: "8.1"})
				eq(t, "latest image", latest.Items[0].Image, "sha256:7e4c604e6ffad326607461165ef2f23dff5158e0249a3d4f7c0ef3eea58b1d2f")
			},
		},
		{
			file: "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-image-streams-image-streams-centos7.json",
			opt:  Options{DefaultNamespace: "openshift"},
			check: func(t *testing.T, objs []Object) {
				streams := streamsOf(objs)
				eq(t, "streams", len(streams), 15)
				tags := 0
				for _, s := range streams {
					eq(t, s.Name+" namespace", s.Namespace, "openshift")
					tags += len(s.Tags)
					latest := findTag(t, s, "latest")
					if latest.From == nil || latest.From.Kind != "ImageStreamTag" {
						t.Errorf("%s:latest from = %+v, want an ImageStreamTag", s.Name, latest.From)
					}
					for _, tag := range s.Tags {
						if !tag.InSpec || len(tag.Items) != 0 {
							t.Errorf("%s:%s: InSpec %v, %d items; want spec only", s.Name, tag.Name, tag.InSpec, len(tag.Items))
						}
					}
				}
				eq(t, "tags", tags, 67)
				eq(t, "last path", objs[14].Path, "items[14]")
				nginx := findStream(t, objs, "openshift", "nginx")
				eq(t, "nginx tags in order", tagNames(nginx), []string{"1.8", "1.10", "1.12", "latest"})
				eq(t, "nginx latest from", findTag(t, nginx, "latest").From.Name, "1.12")
				eq(t, "nginx reference policy", findTag(t, nginx, "1.12").ReferencePolicy, "Local")
				dotnet := findStream(t, objs, "openshift", "dotnet")
				eq(t, "dotnet display name", dotnet.Annotations["openshift.io/display-name"], ".NET Core")
				eq(t, "dotnet reference policy", findTag(t, dotnet, "2.1").ReferencePolicy, "")
				ruby := findStream(t, objs, "openshift", "ruby")
				eq(t, "ruby 2.7-ubi8 generation (null)", findTag(t, ruby, "2.7-ubi8").Generation, (*int64)(nil))
				eq(t, "nodejs 8-RHOAR", findTag(t, findStream(t, objs, "openshift", "nodejs"), "8-RHOAR").From.Name, "docker.io/nodeshift/centos7-s2i-nodejs:8.x")
			},
		},
		{
			file: "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-modified-ruby-imagestream.json",
			check: func(t *testing.T, objs []Object) {
				s := findStream(t, objs, "default", "ruby")
				eq(t, "tags", tagNames(s), []string{"2.7", "newtag"})
				eq(t, "version annotation", findTag(t, s, "2.7").Annotations["version"], "2.7 patched")
				eq(t, "newtag from", *findTag(t, s, "newtag").From, store.ObjectRef{Kind: "DockerImage", Name: "registry.centos.org/centos/ruby-27-centos7:latest"})
			},
		},
		{
			file: "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml",
			opt:  Options{Now: now},
			check: func(t *testing.T, objs []Object) {
				eq(t, "objects", len(objs), 3)
				eq(t, "kinds", []string{objs[0].Kind, objs[1].Kind, objs[2].Kind}, []string{"Image", "ImageStream", "ImageStreamMapping"})
				img := *objs[0].Image
				eq(t, "digest", img.Digest, "sha256:a59906e33509d14c036c8678d687bd4eec81ed7c4b8ce907b888c607f6a1e0e6")
				eq(t, "media type", img.MediaType, "application/vnd.docker.distribution.manifest.v2+json")
				eq(t, "layers", img.Layers, []store.BlobRef{{
					Digest:    "sha256:8ddc19f16526912237dd8af81971d5e4dd0587907234be2b83e249518d5b673f",
					Size:      667590,
					MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
				}})
				eq(t, "config", *img.Config, store.BlobRef{
					Digest:    "sha256:2b8fd9751c4c0f5dd266fcae00707e67a2545ef34f9a29354585f93dac906749",
					Size:      1459,
					MediaType: "application/octet-stream",
				})
				eq(t, "config digest", img.ConfigDigest, img.Config.Digest)
				eq(t, "meta", img.Meta, store.ImageMeta{
					Created:      ptr(mustTime(t, "2016-06-23T23:23:37Z")),
					Architecture: "amd64",
					OS:           "linux",
					Cmd:          []string{"sh"},
					Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
				})
				s := findStream(t, objs, "default", "busybox")
				eq(t, "generation", s.Generation, int64(1))
				eq(t, "tags", len(s.Tags), 0)
				m := objs[2]
				eq(t, "mapping", []string{m.Namespace, m.Name, m.Tag}, []string{"default", "busybox", "latest"})
				// The mapping's bare image is completed from the Image object,
				// whose creationTimestamp dates the history entry.
				eq(t, "image created", objs[0].Created, mustTime(t, "2016-07-27T15:12:10Z"))
				eq(t, "mapping created", m.Created, mustTime(t, "2016-07-27T15:12:10Z"))
				eq(t, "mapping image", *m.Image, img)

				w := newFakeWriter()
				sum, err := Apply(context.Background(), w, objs)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "calls", w.calls, []string{"PutImage " + img.Digest, "PutStream default/busybox"})
				eq(t, "summary", sum, Summary{Streams: 1, StreamsChanged: 1, Tags: 1, Images: 1, ImagesChanged: 1, Mappings: 1, MappingsChanged: 1})
				eq(t, "history", findTag(t, w.streams["default/busybox"], "latest").Items, []store.EventSnapshot{{
					Created:              mustTime(t, "2016-07-27T15:12:10Z"),
					DockerImageReference: "busybox@sha256:a59906e33509d14c036c8678d687bd4eec81ed7c4b8ce907b888c607f6a1e0e6",
					Image:                img.Digest,
					Generation:           1,
				}})
				sum, err = Apply(context.Background(), w, decodeFile(t, fixture(t, "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml"), Options{Now: now.Add(time.Hour)}))
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "changed by a second import", []int{sum.StreamsChanged, sum.ImagesChanged, sum.MappingsChanged}, []int{0, 0, 0})
			},
		},
		{
			file: "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-test-image.json",
			check: func(t *testing.T, objs []Object) {
				eq(t, "objects", len(objs), 1)
				o := objs[0]
				eq(t, "kind", o.Kind, "Image")
				eq(t, "other kind", o.OtherKind(), false)
				eq(t, "skipped", o.Skipped, `metadata.name "test" is not a digest and dockerImageReference "registry.redhat.io/ubi8/ruby-27:latest" has no @digest`)
				sum, err := Apply(context.Background(), newFakeWriter(), objs)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "notes", sum.Notes(), []string{`skipped openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-test-image.json: Image "test": metadata.name "test" is not a digest and dockerImageReference "registry.redhat.io/ubi8/ruby-27:latest" has no @digest`})
				eq(t, "images", sum.Images, 0)
			},
		},
		{
			file: "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-test-multiarch-stream.yaml",
			opt:  Options{DefaultNamespace: "team-a"},
			check: func(t *testing.T, objs []Object) {
				s := findStream(t, objs, "team-a", "test-multiarch-stream")
				eq(t, "tags", tagNames(s), []string{"linux-amd64", "linux-s390x"})
				eq(t, "prefer-arch", findTag(t, s, "linux-s390x").Annotations["importer.image.openshift.io/prefer-arch"], "s390x")
				eq(t, "from", findTag(t, s, "linux-amd64").From.Name, "bparees/multiplatformtest:latest")
			},
		},
		{
			file: "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-test-stream.yaml",
			check: func(t *testing.T, objs []Object) {
				s := findStream(t, objs, "default", "test-stream")
				eq(t, "created", s.Created, mustTime(t, "2015-10-12T12:16:36Z"))
				eq(t, "repository", s.DockerImageRepository, "172.30.30.30:5000/test/test-stream")
				latest := findTag(t, s, "latest")
				eq(t, "latest", latest, store.TagSnapshot{Name: "latest", InSpec: true})
				inst := findTag(t, s, "installable")
				eq(t, "installable from", *inst.From, store.ObjectRef{Kind: "DockerImage", Name: "openshift/origin:v1.0.6"})
				eq(t, "installable annotations", inst.Annotations, map[string]string{"io.openshift.generate.job": "true"})
			},
		},
	}
	covered := map[string]bool{
		"seed-imagestreammapping.yaml": true, // TestDecodeSeedMapping
		"seed-imagestreamtag.yaml":     true, // TestImageStreamTag
		"openshift-openshift-restclient-java__src-test-resources-samples-openshift3-v1_image_stream_import.json": true, // TestImageStreamImport
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			covered[tt.file] = true
			tt.check(t, decodeFile(t, fixture(t, tt.file), tt.opt))
		})
	}
	for _, f := range allFixtures(t) {
		if !covered[filepath.Base(f)] {
			t.Errorf("fixture %s has no test case", filepath.Base(f))
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestDecodeSeedMapping(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-20T12:00:00Z")
	objs := decodeFile(t, fixture(t, "seed-imagestreammapping.yaml"), Options{Now: now})
	eq(t, "objects", len(objs), 1)
	o := objs[0]
	eq(t, "object", o.String(), `ImageStreamMapping "test/origin-ruby-sample"`)
	eq(t, "tag", o.Tag, "latest")
	eq(t, "created", o.Created, now)
	img := o.Image
	eq(t, "digest (from dockerImageReference)", img.Digest, "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d")
	const empty = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
	var digests []string
	var sizes []int64
	for _, l := range img.Layers {
		digests = append(digests, l.Digest)
		sizes = append(sizes, l.Size)
	}
	eq(t, "layer digests", digests, []string{
		empty,
		"sha256:ee1dd2cb6df21971f4af6de0f1d7782b81fb63156801cfde2bb47b4247c23c29",
		empty,
		empty,
		"sha256:ca062656bff07f18bff46be00f40cfbb069687ec124ac0aa038fd676cfaea092",
		"sha256:63d529c59c92843c395befd065de516ee9ed4995549f8218eac6ff088bfa6b6e",
		"sha256:92114219a04977b5563d7dff71ec4caa3a37a15b266ce42ee8f43dba9798c966",
	})
	eq(t, "layer sizes", sizes, []int64{0, 196634330, 0, 0, 177723024, 55679776, 11939149})
	// Id is a bare Docker 1.x image id, not a config digest.
	eq(t, "config digest", img.ConfigDigest, "")
	eq(t, "config", img.Config, (*store.BlobRef)(nil))
	m := img.Meta
	eq(t, "image created", *m.Created, mustTime(t, "2016-01-29T13:40:00Z"))
	eq(t, "platform", m.Architecture+"/"+m.OS, "amd64/linux")
	eq(t, "entrypoint", m.Entrypoint, []string{"container-entrypoint"})
	eq(t, "cmd", m.Cmd, []string{"/usr/libexec/s2i/run"})
	eq(t, "env count", len(m.Env), 13)
	eq(t, "ports", m.Ports, []string{"8080/tcp"})
	eq(t, "user", m.User, "1001")
	eq(t, "workdir", m.WorkingDir, "/opt/app-root/src")
	eq(t, "build-date label (unquoted YAML date)", m.Labels["build-date"], "2015-12-23")
	eq(t, "commit message label", m.Labels["io.openshift.build.commit.message"], "Merge pull request #51 from php-coder/fix_url_and_sti")
	eq(t, "labels", len(m.Labels), 18)

	w := newFakeWriter()
	sum, err := Apply(context.Background(), w, objs)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "mappings", sum.Mappings, 1)
	eq(t, "map call", w.mapped[0].ns+"/"+w.mapped[0].stream+":"+w.mapped[0].tag, "test/origin-ruby-sample:latest")
	eq(t, "map created", w.mapped[0].created, now)
	eq(t, "mapped layers", len(w.mapped[0].img.Layers), 7)
}

func TestDecodeShapes(t *testing.T) {
	t.Parallel()
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	tests := []struct {
		name  string
		input string
		opt   Options
		check func(t *testing.T, objs []Object)
	}{
		{
			name: "multi.yaml",
			input: `# two documents
--- # the first
kind: ImageStream
apiVersion: image.openshift.io/v1
metadata: {name: a, namespace: team-a}
---
---
kind: ImageStreamList
apiVersion: image.openshift.io/v1
items:
- metadata: {name: b}
`,
			opt: Options{DefaultNamespace: "team-b"},
			check: func(t *testing.T, objs []Object) {
				eq(t, "objects", []string{objs[0].String(), objs[1].String()},
					[]string{`document 1 (ImageStream "team-a/a")`, `document 2, items[0] (ImageStream "team-b/b")`})
			},
		},
		{
			name:  "concat.json",
			input: `{"kind":"Image","metadata":{"name":"` + d1 + `"}} {"kind":"ImageList","apiVersion":"v1","items":[{"metadata":{"name":"` + d2 + `"}}]}`,
			check: func(t *testing.T, objs []Object) {
				eq(t, "paths", []string{objs[0].Path, objs[1].Path}, []string{"object 1", "object 2, items[0]"})
				eq(t, "item kind from ImageList", objs[1].Kind, "Image")
				eq(t, "digest", objs[1].Image.Digest, d2)
				eq(t, "cluster-scoped", objs[1].Namespace, "")
			},
		},
		{
			name: "nested.json",
			input: `{"kind":"List","apiVersion":"v1","items":[
				{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"}},
				{"kind":"Secret","apiVersion":"v1","metadata":{"name":"t"}},
				{"kind":"List","apiVersion":"v1","items":[{"kind":"ImageStream","apiVersion":"v1","metadata":{"name":"c","namespace":"x"}}]}]}`,
			check: func(t *testing.T, objs []Object) {
				eq(t, "nested", objs[2].String(), `items[2].items[0] (ImageStream "x/c")`)
				eq(t, "skipped", objs[0].Skipped, "kind Secret")
			},
		},
		{
			name: "array.json",
			input: `[{"kind":"ImageStream","metadata":{"name":"a"}},
			         {"kind":"ImageStream","metadata":{"name":"b"}}]`,
			check: func(t *testing.T, objs []Object) {
				eq(t, "paths", []string{objs[0].Path, objs[1].Path}, []string{"[0]", "[1]"})
			},
		},
		{
			name: "shift.yaml",
			opt:  Options{Shift: 48 * time.Hour, Now: mustTime(t, "2030-01-01T00:00:00Z")},
			input: `kind: List
apiVersion: v1
items:
- kind: ImageStream
  apiVersion: image.openshift.io/v1
  metadata: {name: app, namespace: ns, creationTimestamp: "2026-11-01T10:00:00Z"}
  status:
    tags:
    - tag: latest
      items:
      - {created: "2026-11-18T10:00:00.123Z", image: "` + d1 + `", dockerImageReference: "r/ns/app@` + d1 + `"}
      conditions:
      - {type: ImportSuccess, status: "False", reason: NotFound, message: gone, lastTransitionTime: "2026-11-20T00:00:00Z", generation: 4}
      - {type: Other, status: "True"}
- kind: Image
  apiVersion: image.openshift.io/v1
  metadata: {name: "` + d1 + `"}
  dockerImageMetadata: {Created: "2026-11-17T00:00:00Z", Architecture: arm64, Os: linux, Variant: v8}
- kind: ImageStreamMapping
  apiVersion: image.openshift.io/v1
  metadata: {name: app, namespace: ns}
  tag: prod
  image:
    metadata: {name: "` + d1 + `", creationTimestamp: "2026-11-18T11:00:00Z"}
`,
			check: func(t *testing.T, objs []Object) {
				s := objs[0].Stream
				eq(t, "stream created", s.Created, mustTime(t, "2026-11-03T10:00:00Z"))
				tag := s.Tags[0]
				eq(t, "item created (whole seconds)", tag.Items[0].Created, mustTime(t, "2026-11-20T10:00:00Z"))
				eq(t, "condition", *tag.Condition, store.Condition{Type: "ImportSuccess", Status: "False", Reason: "NotFound", Message: "gone",
					Time: ptr(mustTime(t, "2026-11-22T00:00:00Z")), Generation: 4})
				eq(t, "image created", *objs[1].Image.Meta.Created, mustTime(t, "2026-11-19T00:00:00Z"))
				eq(t, "platform", objs[1].Image.Meta.OS+"/"+objs[1].Image.Meta.Architecture+"/"+objs[1].Image.Meta.Variant, "linux/arm64/v8")
				eq(t, "mapping created", objs[2].Created, mustTime(t, "2026-11-20T11:00:00Z"))
			},
		},
		{
			name: "lenient.yaml",
			input: `kind: ImageStream
apiVersion: v1
metadata:
  name: app
  labels: {version: 2.5, enabled: yes, count: 3}
spec:
  tags:
  - name: "1.0"
    from: {kind: DockerImage, name: "quay.io/x/app:1.0"}
    importPolicy: {scheduled: true, importMode: PreserveOriginal}
    referencePolicy: {type: Local}
    reference: true
    generation: 0
`,
			check: func(t *testing.T, objs []Object) {
				s := objs[0].Stream
				eq(t, "labels", s.Labels, map[string]string{"version": "2.5", "enabled": "true", "count": "3"})
				tag := s.Tags[0]
				eq(t, "tag", tag, store.TagSnapshot{Name: "1.0", InSpec: true, From: &store.ObjectRef{Kind: "DockerImage", Name: "quay.io/x/app:1.0"},
					Scheduled: true, Reference: true, ReferencePolicy: "Local", ImportMode: "PreserveOriginal", Generation: ptr(int64(0))})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := decodeString(tt.name, tt.input, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, objs)
		})
	}
}

// registryFile reads one of the registry fixtures: a manifest whose sha256
// is the digest its manifest list gives.
func registryFile(t *testing.T, name string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(registryDir, "openshift-openshift-apiserver__pkg-image-apiserver-importer-testdata-"+name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return string(b), "sha256:" + hex.EncodeToString(sum[:])
}

func imageJSON(t *testing.T, fields map[string]any) string {
	t.Helper()
	obj := map[string]any{"kind": "Image", "apiVersion": "image.openshift.io/v1"}
	for k, v := range fields {
		obj[k] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeImageManifests(t *testing.T) {
	t.Parallel()
	amd64, amd64Digest := registryFile(t, "manifest-linux-amd64.json")
	list, listDigest := registryFile(t, "manifest-list.json")
	index, indexDigest := registryFile(t, "image-index.json")
	eq(t, "amd64 digest as the list gives it", amd64Digest, "sha256:ca013ac5c09f9a9f6db8370c1b759a29fe997d64d6591e9a75b71748858f7da0")

	t.Run("platform manifest fills layers and config", func(t *testing.T) {
		objs, err := decodeString("amd64.json", imageJSON(t, map[string]any{
			"metadata":            map[string]any{"name": amd64Digest},
			"dockerImageManifest": amd64,
		}), Options{})
		if err != nil {
			t.Fatal(err)
		}
		img := objs[0].Image
		eq(t, "media type", img.MediaType, "application/vnd.docker.distribution.manifest.v2+json")
		eq(t, "config", *img.Config, store.BlobRef{Digest: "sha256:a2a15febcdf362f6115e801d37b5e60d6faaeedcb9896155e5fe9d754025be12", Size: 3409, MediaType: "application/vnd.docker.container.image.v1+json"})
		var sizes []int64
		for _, l := range img.Layers {
			sizes = append(sizes, l.Size)
		}
		eq(t, "layer sizes", sizes, []int64{26687415, 35366, 848, 162})
	})
	t.Run("manifest overrides layer media types", func(t *testing.T) {
		var man regManifest
		if err := json.Unmarshal([]byte(amd64), &man); err != nil {
			t.Fatal(err)
		}
		var layers []map[string]any
		for _, l := range man.Layers {
			layers = append(layers, map[string]any{"name": l.Digest, "size": *l.Size, "mediaType": "application/octet-stream"})
		}
		objs, err := decodeString("amd64.json", imageJSON(t, map[string]any{
			"metadata": map[string]any{"name": amd64Digest}, "dockerImageManifest": amd64, "dockerImageLayers": layers,
		}), Options{})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "media type", objs[0].Image.Layers[3].MediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	})
	for _, tc := range []struct{ name, body, digest, mediaType string }{
		{"manifest list", list, listDigest, "application/vnd.docker.distribution.manifest.list.v2+json"},
		{"OCI index", index, indexDigest, "application/vnd.oci.image.index.v1+json"},
	} {
		t.Run(tc.name+" from dockerImageManifest", func(t *testing.T) {
			objs, err := decodeString("list.json", imageJSON(t, map[string]any{
				"metadata": map[string]any{"name": tc.digest}, "dockerImageManifest": tc.body,
			}), Options{})
			if err != nil {
				t.Fatal(err)
			}
			img := objs[0].Image
			eq(t, "media type", img.MediaType, tc.mediaType)
			eq(t, "manifests", img.Manifests, []store.ManifestRef{
				{Digest: amd64Digest, MediaType: "application/vnd.docker.distribution.manifest.v2+json", ManifestSize: 1152, OS: "linux", Architecture: "amd64"},
				{Digest: "sha256:1a06d68cb9117b52965035a5b0fa4c1470ef892e6062ffedb1af1922952e0950", MediaType: "application/vnd.docker.distribution.manifest.v2+json", ManifestSize: 1152, OS: "linux", Architecture: "arm64", Variant: "v8"},
			})
			eq(t, "no layers", img.Layers, []store.BlobRef(nil))
		})
	}
	t.Run("dockerImageManifests without a media type", func(t *testing.T) {
		objs, err := decodeString("list.json", imageJSON(t, map[string]any{
			"metadata": map[string]any{"name": listDigest},
			"dockerImageManifests": []map[string]any{
				{"digest": amd64Digest, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "manifestSize": 1152, "architecture": "amd64", "os": "linux"},
			},
		}), Options{})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "media type", objs[0].Image.MediaType, "application/vnd.docker.distribution.manifest.list.v2+json")
		eq(t, "manifests", len(objs[0].Image.Manifests), 1)
	})
}

// TestDecodeConfigSize checks when a config blob's size counts as known.
func TestDecodeConfigSize(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(fixture(t, "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeFile(t, fixture(t, "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml"), Options{})
	// Rebuild the busybox Image as JSON so single fields can be dropped.
	var list struct{ Items []map[string]any }
	if err := yaml.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	base := list.Items[0]
	const digest = "sha256:2b8fd9751c4c0f5dd266fcae00707e67a2545ef34f9a29354585f93dac906749"
	tests := []struct {
		name   string
		edit   func(m map[string]any)
		config *store.BlobRef
	}{
		{"config bytes hash to the digest", func(m map[string]any) { delete(m, "dockerImageManifest") },
			&store.BlobRef{Digest: digest, Size: 1459, MediaType: "application/vnd.docker.container.image.v1+json"}},
		// Without config bytes the size is derived from dockerImageMetadata.Size
		// (config plus distinct layers): the real image's figure, marked so.
		{"config bytes altered", func(m map[string]any) {
			delete(m, "dockerImageManifest")
			m["dockerImageConfig"] = m["dockerImageConfig"].(string) + " "
		}, &store.BlobRef{Digest: digest, Size: 1459, MediaType: "application/vnd.docker.container.image.v1+json", Derived: true}},
		{"no config bytes", func(m map[string]any) {
			delete(m, "dockerImageManifest")
			delete(m, "dockerImageConfig")
		}, &store.BlobRef{Digest: digest, Size: 1459, MediaType: "application/vnd.docker.container.image.v1+json", Derived: true}},
		{"no config bytes, no metadata size", func(m map[string]any) {
			delete(m, "dockerImageManifest")
			delete(m, "dockerImageConfig")
			meta := map[string]any{}
			for k, v := range m["dockerImageMetadata"].(map[string]any) {
				meta[k] = v
			}
			delete(meta, "Size")
			m["dockerImageMetadata"] = meta
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]any{}
			for k, v := range base {
				m[k] = v
			}
			tt.edit(m)
			b, _ := json.Marshal(m)
			got, err := decodeString("busybox.json", string(b), Options{})
			if err != nil {
				t.Fatal(err)
			}
			img := got[0].Image
			eq(t, "config", img.Config, tt.config)
			eq(t, "config digest (from dockerImageMetadata.Id)", img.ConfigDigest, digest)
			eq(t, "layers", img.Layers, objs[0].Image.Layers)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	const good = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	streamList := func(tags string) string {
		return `{"kind":"List","apiVersion":"v1","items":[
			{"kind":"ImageStream","apiVersion":"v1","metadata":{"name":"web","namespace":"team-a"}},
			{"kind":"BuildConfig","apiVersion":"build.openshift.io/v1","metadata":{"name":"api"}},
			{"kind":"ImageStream","apiVersion":"v1","metadata":{"name":"worker","namespace":"team-a"}},
			{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"api","namespace":"team-a"},` + tags + `}]}`
	}
	tests := []struct {
		name, input, want string
	}{
		{"dump.json", "{\n  \"kind\": \"List\",\n  \"items\": [\n  }\n", `dump.json: line 4, column 3: invalid character '}' looking for beginning of value`},
		{"cut.json", "{\"kind\": \"List\",\n \"items\": [", `cut.json: line 2, column 12: unexpected end of JSON input (is the file cut short?)`},
		{"two.json", "{\"kind\": \"List\"}\n{\"kind\" \"List\"}", `two.json: line 2, column 9: invalid character '"' after object key`},
		{"bad.yaml", "kind: List\nitems:\n- kind: ImageStream\n  metadata: {name: a\n", `bad.yaml: invalid YAML: line 4: did not find expected ',' or '}'`},
		{"docs.yaml", "kind: ImageStream\nmetadata: {name: a}\n---\nkind: ImageStream\nmetadata:\n\tname: b\n", `docs.yaml: invalid YAML: line 6: found character that cannot start any token`},
		{"empty.json", "", `empty.json: file is empty; want the output of ` + "`oc get is,images -o json`" + ` (or -o yaml)`},
		{"blank.yaml", "  \n\n", `blank.yaml: file is empty; want the output of ` + "`oc get is,images -o json`" + ` (or -o yaml)`},
		{"comments.yaml", "# nothing here\n---\n# nor here\n", `comments.yaml: no objects in the file (only comments or empty YAML documents)`},
		{"scalar.yaml", "just text\n", `scalar.yaml: top level: want an object with kind and apiVersion, got a string`},
		{"deploy.json", `{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"x"}}`,
			`deploy.json: Deployment "x": kind "Deployment" is not supported; want List, ImageStreamList, ImageStream, ImageList, Image, ImageStreamMapping, ImageStreamTag or ImageStreamImport`},
		{"nokind.json", `{"apiVersion":"v1","metadata":{"name":"x"}}`,
			"nokind.json: top level: object has no kind; want List, ImageStreamList, ImageStream, ImageList, Image, ImageStreamMapping, ImageStreamTag or ImageStreamImport (the output of `oc get is,images -o json`)"},
		{"item.json", `{"kind":"List","apiVersion":"v1","items":[{"metadata":{"name":"x"}}]}`, `item.json: items[0] (object "x"): item has no kind`},
		{"version.json", `{"kind":"ImageStream","apiVersion":"image.openshift.io/v2","metadata":{"name":"x"}}`,
			`version.json: ImageStream "default/x": apiVersion "image.openshift.io/v2" is not supported; want image.openshift.io/v1 (or the older v1)`},
		{"listversion.json", `{"kind":"ImageStreamList","apiVersion":"apps/v1","items":[]}`,
			`listversion.json: ImageStreamList: apiVersion "apps/v1" is not supported for ImageStreamList; want v1 or image.openshift.io/v1`},
		{"dump.json", streamList(`"spec":{"tags":[{"name":"a"},{"name":"b","from":{"kind":"Foo","name":"x"}}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): spec.tags[1].from.kind "Foo" is not one of DockerImage, ImageStreamTag, ImageStreamImage`},
		{"dump.json", streamList(`"spec":{"tags":[{"name":"a","from":{"kind":"ImageStreamImage","name":"api:latest"}}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): spec.tags[0].from.name "api:latest" must be STREAM@DIGEST for an ImageStreamImage`},
		{"dump.json", streamList(`"spec":{"tags":[{"name":"a","from":{"kind":"ImageStreamImage","name":"api@sha256:abc"}}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): spec.tags[0].from.name "sha256:abc" is not a digest; want sha256: and 64 lower-case hex digits`},
		{"dump.json", streamList(`"status":{"tags":[{"tag":"latest","items":[{"image":"` + good + `"},{"image":"sha256:ABC"}]}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): status.tags[0].items[1].image "sha256:ABC" is not a digest; want sha256: and 64 lower-case hex digits`},
		{"dump.json", streamList(`"status":{"tags":[{"tag":"latest","items":[{"created":"yesterday","image":"` + good + `"}]}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): status.tags[0].items[0].created "yesterday" is not an RFC 3339 time like 2026-11-20T10:00:00Z`},
		{"dump.json", streamList(`"spec":{"tags":[{"name":"a","generation":"two"}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): spec.tags.generation: want an integer, got string`},
		{"dump.json", streamList(`"spec":{"tags":[{"name":"a"},{"name":"a"}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): spec.tags[1]: tag "a" appears twice in spec.tags`},
		{"dump.json", streamList(`"spec":{"tags":[{"name":"bad tag"}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): spec.tags[0].name: tag name "bad tag" must be at most 128 characters: letters a–z and A–Z, digits, '_', '.' and '-', not starting with '.' or '-' (e.g. v1.2.0)`},
		{"dump.json", streamList(`"spec":{"tags":[{"name":"a","importPolicy":{"importMode":"All"}}]}`),
			`dump.json: items[3] (ImageStream "team-a/api"): spec.tags[0].importPolicy.importMode "All" is not one of Legacy, PreserveOriginal`},
		{"name.json", `{"kind":"ImageStream","metadata":{"name":"Team_API"}}`,
			`name.json: ImageStream "default/Team_API": metadata.name: image stream name "Team_API" must be lower-case letters a–z and digits, in groups joined by a single '.', '_' or '-' (e.g. payment-api)`},
		{"ns.json", `{"kind":"ImageStream","metadata":{"name":"a","namespace":"Team A"}}`,
			`ns.json: ImageStream "Team A/a": metadata.namespace: namespace "Team A" must be a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`},
		{"label.json", `{"kind":"ImageStream","metadata":{"name":"a","labels":{"x":{"y":1}}}}`,
			`label.json: ImageStream "default/a": label or annotation "x" must be a string, not an object`},
		{"noname.json", `{"kind":"ImageStream","metadata":{}}`, `noname.json: ImageStream: metadata.name is empty`},
		{"img.json", `{"kind":"List","apiVersion":"v1","items":[{"kind":"Image","metadata":{"name":"` + good + `"},"dockerImageLayers":[{"name":"` + good + `","size":1},{"name":"sha256:abc","size":2}]}]}`,
			`img.json: items[0] (Image "` + good + `"): dockerImageLayers[1].name "sha256:abc" is not a digest; want sha256: and 64 lower-case hex digits`},
		{"img.json", `{"kind":"Image","metadata":{"name":"` + good + `"},"dockerImageLayers":[{"name":"` + good + `","size":-5}]}`,
			`img.json: Image "` + good + `": dockerImageLayers[0].size -5 is negative`},
		{"img.json", `{"kind":"Image","metadata":{"name":"sha256:` + strings.Repeat("z", 64) + `"}}`,
			`img.json: Image "sha256:` + strings.Repeat("z", 64) + `": metadata.name "sha256:` + strings.Repeat("z", 64) + `" is not a digest; want sha256: and 64 lower-case hex digits`},
		{"img.json", `{"kind":"Image","metadata":{"name":"` + good + `"},"dockerImageManifest":"{not json"}`,
			`img.json: Image "` + good + `": dockerImageManifest is not a valid manifest: invalid character 'n' looking for beginning of object key string`},
		{"img.json", `{"kind":"Image","metadata":{"name":"` + good + `"},"dockerImageManifest":"{\"schemaVersion\":2,\"config\":{\"digest\":\"` + good + `\",\"size\":-1}}"}`,
			`img.json: Image "` + good + `": dockerImageManifest config.size -1 is negative`},
		{"img.json", `{"kind":"Image","metadata":{"name":"` + good + `"},"dockerImageLayers":[{"name":"` + good + `","size":1}],"dockerImageManifest":"{\"schemaVersion\":2,\"layers\":[{\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\",\"size\":1}]}"}`,
			`img.json: Image "` + good + `": dockerImageLayers[0].name ` + good + ` differs from layer 0 of dockerImageManifest (sha256:2222222222222222222222222222222222222222222222222222222222222222)`},
		{"img.json", `{"kind":"Image","metadata":{"name":"` + good + `"},"dockerImageManifests":[{"digest":"` + good + `","manifestSize":-3}]}`,
			`img.json: Image "` + good + `": dockerImageManifests[0].manifestSize -3 is negative`},
		{"map.yaml", "kind: ImageStreamMapping\napiVersion: image.openshift.io/v1\nmetadata: {name: app, namespace: ns}\nimage: {metadata: {name: \"" + good + "\"}}\n",
			`map.yaml: ImageStreamMapping "ns/app": tag is empty; an ImageStreamMapping names the tag to set`},
		{"map.yaml", "kind: ImageStreamMapping\napiVersion: image.openshift.io/v1\nmetadata: {name: app, namespace: ns}\ntag: latest\nimage: {dockerImageReference: \"quay.io/x/app:1\"}\n",
			`map.yaml: ImageStreamMapping "ns/app": image.metadata.name is empty and image.dockerImageReference "quay.io/x/app:1" has no @digest`},
		{"map.yaml", "kind: ImageStreamMapping\napiVersion: image.openshift.io/v1\nmetadata: {name: app, namespace: ns}\ntag: latest\nimage:\n  metadata: {name: \"" + good + "\"}\n  dockerImageLayers: [{name: nope, size: 1}]\n",
			`map.yaml: ImageStreamMapping "ns/app": image.dockerImageLayers[0].name "nope" is not a digest; want sha256: and 64 lower-case hex digits`},
		{"multi.yaml", "kind: ImageStream\nmetadata: {name: a}\n---\nkind: List\napiVersion: v1\nitems:\n- kind: ImageStream\n  metadata: {name: b}\n  spec: {tags: [{name: x, from: {kind: Bar, name: other}}]}\n",
			`multi.yaml: document 2, items[0] (ImageStream "default/b"): spec.tags[0].from.kind "Bar" is not one of DockerImage, ImageStreamTag, ImageStreamImage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeString(tt.name, tt.input, Options{})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}
