package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/store"
)

var ctx = context.Background()

// wantErr checks an error's kind and that its message says msg.
func wantErr(t *testing.T, err error, kind error, msg ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	t.Logf("%v", err)
	if !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	for _, m := range msg {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not say %q", err, m)
		}
	}
}

// checkImage compares a snapshot with the image pushed.
func checkImage(t *testing.T, got store.ImageSnapshot, img v1.Image, repo string) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	mt, _ := img.MediaType()
	if got.Digest != d.String() || got.MediaType != string(mt) || got.DockerImageReference != repo+"@"+d.String() {
		t.Errorf("image %s %s %s, want %s %s %s@%s", got.Digest, got.MediaType, got.DockerImageReference, d, mt, repo, d)
	}
	wantCfg := store.BlobRef{Digest: m.Config.Digest.String(), Size: m.Config.Size, MediaType: string(m.Config.MediaType)}
	if got.Config == nil || *got.Config != wantCfg || got.ConfigDigest != wantCfg.Digest {
		t.Errorf("config %+v, want %+v", got.Config, wantCfg)
	}
	var want []store.BlobRef
	for _, l := range m.Layers {
		want = append(want, store.BlobRef{Digest: l.Digest.String(), Size: l.Size, MediaType: string(l.MediaType)})
	}
	if !reflect.DeepEqual(got.Layers, want) {
		t.Errorf("layers\n%+v\nwant\n%+v", got.Layers, want)
	}
	cf, _ := img.ConfigFile()
	gm := got.Meta
	if gm.OS != cf.OS || gm.Architecture != cf.Architecture || gm.Variant != cf.Variant || gm.Author != "platform@example.com" ||
		gm.Created == nil || !gm.Created.Equal(cf.Created.Time) || gm.User != "1001" || gm.WorkingDir != "/srv" ||
		!reflect.DeepEqual(gm.Entrypoint, []string{"/app"}) || !reflect.DeepEqual(gm.Cmd, []string{"--serve"}) ||
		!reflect.DeepEqual(gm.Env, []string{"PATH=/usr/bin", "MODE=prod"}) || gm.Labels["team"] != "payments" ||
		!reflect.DeepEqual(gm.Ports, []string{"443/tcp", "8080/tcp"}) {
		t.Errorf("metadata %+v", gm)
	}
}

func TestFetchImage(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	base, top := testLayer(t, 4096), testLayer(t, 1000)
	// The same layer twice in one image: kept twice, in order.
	docker := testImage(t, "linux/amd64", base, top, top)
	reg.push(t, "payments/api:1.0", docker)
	oci := mutate.ConfigMediaType(mutate.MediaType(testImage(t, "linux/amd64", base, testLayer(t, 777)), types.OCIManifestSchema1), types.OCIConfigJSON)
	reg.push(t, "payments/api:oci", oci)

	c := NewFetcher("")
	res, err := c.Fetch(ctx, reg.host+"/payments/api:1.0", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repo := reg.host + "/payments/api"
	checkImage(t, res.Image, docker, repo)
	if len(res.Image.Layers) != 3 || res.Image.Layers[1] != res.Image.Layers[2] {
		t.Errorf("the duplicate layer is not kept: %+v", res.Image.Layers)
	}
	if len(res.Images) != 1 || res.Repository != repo || res.PullSpec != repo+"@"+res.Digest || res.Digest != res.Image.Digest {
		t.Errorf("result %+v", res)
	}

	res, err = c.Fetch(ctx, reg.host+"/payments/api:oci", FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, res.Image, oci, repo)
	if res.Image.MediaType != string(types.OCIManifestSchema1) || res.Image.Config.MediaType != string(types.OCIConfigJSON) {
		t.Errorf("OCI media types: %s, %s", res.Image.MediaType, res.Image.Config.MediaType)
	}

	// By digest too.
	res2, err := c.Fetch(ctx, res.PullSpec, FetchOptions{})
	if err != nil || res2.Digest != res.Digest {
		t.Fatalf("by digest: %v %s", err, res2.Digest)
	}
}

func TestFetchManifestList(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	base := testLayer(t, 8192)
	imgs := map[string]v1.Image{
		"linux/amd64":    testImage(t, "linux/amd64", base, testLayer(t, 100)),
		"linux/arm64/v8": testImage(t, "linux/arm64/v8", base, testLayer(t, 200)),
	}
	for _, mt := range []types.MediaType{types.DockerManifestList, types.OCIImageIndex} {
		t.Run(string(mt), func(t *testing.T) {
			idx := testIndex(t, mt, imgs, "linux/amd64", "linux/arm64/v8")
			listDigest := reg.pushIndex(t, "shop/multi:1", idx)
			ref := reg.host + "/shop/multi:1"
			repo := reg.host + "/shop/multi"
			c := NewFetcher("")

			// Legacy: only linux/amd64 (default) or the platform asked for.
			res, err := c.Fetch(ctx, ref, FetchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, res.Image, imgs["linux/amd64"], repo)
			if len(res.Images) != 1 {
				t.Errorf("Legacy recorded %d images, want 1", len(res.Images))
			}
			res, err = c.Fetch(ctx, ref, FetchOptions{ImportMode: "Legacy", Platform: "linux/arm64"})
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, res.Image, imgs["linux/arm64/v8"], repo)

			_, err = c.Fetch(ctx, ref, FetchOptions{Platform: "linux/s390x"})
			wantErr(t, err, ErrNotFound, "has no linux/s390x image", "linux/amd64, linux/arm64/v8", "import mode PreserveOriginal")
			wantErr(t, err, store.ErrNotFound)

			// PreserveOriginal: the list and every child.
			res, err = c.Fetch(ctx, ref, FetchOptions{ImportMode: "PreserveOriginal"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Digest != listDigest || res.Image.Digest != listDigest || len(res.Images) != 3 || res.Images[2].Digest != listDigest {
				t.Fatalf("PreserveOriginal: digest %s, %d images", res.Digest, len(res.Images))
			}
			if res.Image.MediaType != string(mt) || res.Image.Config != nil || len(res.Image.Layers) != 0 {
				t.Errorf("list snapshot %+v", res.Image)
			}
			im, _ := idx.IndexManifest()
			for i, m := range res.Image.Manifests {
				d := im.Manifests[i]
				want := store.ManifestRef{Digest: d.Digest.String(), MediaType: string(d.MediaType), ManifestSize: d.Size,
					OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}
				if m != want {
					t.Errorf("manifest %d: %+v, want %+v", i, m, want)
				}
			}
			checkImage(t, res.Images[0], imgs["linux/amd64"], repo)
			checkImage(t, res.Images[1], imgs["linux/arm64/v8"], repo)
		})
	}
}

func TestFetchErrors(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	reg.push(t, "payments/api:1.0", testImage(t, "linux/amd64", testLayer(t, 10)))
	c := NewFetcher("")

	_, err := c.Fetch(ctx, reg.host+"/payments/api:nope", FetchOptions{})
	wantErr(t, err, ErrNotFound, reg.host+"/payments/api:nope not found in "+reg.host, "MANIFEST_UNKNOWN")
	if Reason(err) != ReasonNotFound {
		t.Errorf("reason %q", Reason(err))
	}
	_, err = c.Fetch(ctx, reg.host+"/payments/nothing:1", FetchOptions{})
	wantErr(t, err, ErrNotFound, "not found in "+reg.host)

	_, err = c.Fetch(ctx, "Payments/API::1", FetchOptions{})
	wantErr(t, err, ErrInvalidReference, `invalid image reference "Payments/API::1"`)
	wantErr(t, err, store.ErrInvalid)
	_, err = c.Fetch(ctx, reg.host+"/payments/api:1.0", FetchOptions{ImportMode: "Everything"})
	wantErr(t, err, ErrInvalidReference, "valid ImportMode values are Legacy or PreserveOriginal")

	// A registry that is down.
	down := httptest.NewServer(http.NotFoundHandler())
	downHost := strings.TrimPrefix(down.URL, "http://")
	down.Close()
	_, err = c.Fetch(ctx, downHost+"/payments/api:1.0", FetchOptions{})
	wantErr(t, err, ErrUnreachable, "cannot read from registry "+downHost)
	if d := err.(*Error).Detail(); !strings.Contains(d, "connection refused") {
		t.Errorf("detail %q", d)
	}
	if Reason(err) != ReasonUnreachable {
		t.Errorf("reason %q", Reason(err))
	}

	// A registry that never answers.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	hangHost := strings.TrimPrefix(hang.URL, "http://")
	slow := &Client{Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err = slow.Fetch(ctx, hangHost+"/payments/api:1.0", FetchOptions{})
	wantErr(t, err, ErrUnreachable, "cannot read from registry "+hangHost)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timeout took %s", d)
	}
	if NewFetcher("").timeout() != 30*time.Second {
		t.Error("the default timeout is not 30s")
	}

	// A registry that answers rubbish.
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", string(types.DockerManifestSchema2))
		w.Write([]byte("{not json"))
	}))
	defer junk.Close()
	_, err = c.Fetch(ctx, strings.TrimPrefix(junk.URL, "http://")+"/payments/api:1.0", FetchOptions{})
	wantErr(t, err, ErrMalformed, "malformed manifest")

	// A caller that gives up is not a registry failure.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Fetch(cctx, reg.host+"/payments/api:1.0", FetchOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestFetchAuth(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "robot", "s3cret")
	reg.push(t, "ml/trainer:1", testImage(t, "linux/amd64", testLayer(t, 10)))
	ref := reg.host + "/ml/trainer:1"

	_, err := NewFetcher("").Fetch(ctx, ref, FetchOptions{})
	wantErr(t, err, ErrUnauthorized, "unauthorized", "registry "+reg.host+" wants credentials and none are configured", "check LAYERWISE_REGISTRY_AUTH_FILE")
	if Reason(err) != ReasonUnauthorized {
		t.Errorf("reason %q", Reason(err))
	}

	other := authFile(t, "quay.io", "robot", "s3cret")
	_, err = NewFetcher(other).Fetch(ctx, ref, FetchOptions{})
	wantErr(t, err, ErrUnauthorized, "has none for it")

	wrong := authFile(t, reg.host, "robot", "guess")
	_, err = NewFetcher(wrong).Fetch(ctx, ref, FetchOptions{})
	wantErr(t, err, ErrUnauthorized, "refused the credentials in LAYERWISE_REGISTRY_AUTH_FILE ("+wrong+")")

	good := authFile(t, reg.host, "robot", "s3cret")
	res, err := NewFetcher(good).Fetch(ctx, ref, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.Meta.Architecture != "amd64" {
		t.Errorf("image %+v", res.Image)
	}

	// A key with a scheme and a path (as docker login writes for some
	// registries) covers the repositories under it.
	scoped := authFile(t, "http://"+reg.host+"/ml", "robot", "s3cret")
	if _, err := NewFetcher(scoped).Fetch(ctx, ref, FetchOptions{}); err != nil {
		t.Errorf("scoped key: %v", err)
	}

	missing := filepath.Join(t.TempDir(), "nope.json")
	_, err = NewFetcher(missing).Fetch(ctx, ref, FetchOptions{})
	wantErr(t, err, ErrUnauthorized, "LAYERWISE_REGISTRY_AUTH_FILE", "nope.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("[1,2]"), 0o600)
	_, err = NewFetcher(bad).Fetch(ctx, ref, FetchOptions{})
	wantErr(t, err, ErrUnauthorized, "is not a .dockerconfigjson file")
}

func TestKeychainKeys(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://index.docker.io/v1/": "index.docker.io",
		"docker.io":                   "index.docker.io",
		"Quay.io":                     "quay.io",
		"quay.io/org/":                "quay.io/org",
		"http://127.0.0.1:5000":       "127.0.0.1:5000",
	} {
		if got := normalizeKey(in); got != want {
			t.Errorf("normalizeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// The fixtures are a real manifest list with its two manifests (their
// digests are their sha256) and configs (reformatted, so they no longer
// match their digests); testdata/registry/README.md says where they come
// from.
const fixtures = "../../testdata/registry/openshift-openshift-apiserver__pkg-image-apiserver-importer-testdata-"

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixtures + name)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

func TestFixtureSnapshots(t *testing.T) {
	t.Parallel()
	m, err := v1.ParseManifest(bytes.NewReader(readFixture(t, "manifest-linux-amd64.json")))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(readFixture(t, "config-linux-amd64.json")))
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:ca013ac5c09f9a9f6db8370c1b759a29fe997d64d6591e9a75b71748858f7da0"
	img := imageSnapshot("docker.io/library/ubuntu", digest, types.DockerManifestSchema2, m, cf)
	var sizes []int64
	for _, l := range img.Layers {
		sizes = append(sizes, l.Size)
		if l.MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
			t.Errorf("layer media type %s", l.MediaType)
		}
	}
	if !reflect.DeepEqual(sizes, []int64{26687415, 35366, 848, 162}) || img.Layers[0].Digest != "sha256:35c102085707f703de2d9eaad8752d6fe1b8f02b5d2149f1d8357c9cc7fb7d0a" {
		t.Errorf("layers %+v", img.Layers)
	}
	if img.Config.Size != 3409 || img.Config.Digest != "sha256:a2a15febcdf362f6115e801d37b5e60d6faaeedcb9896155e5fe9d754025be12" ||
		img.Config.MediaType != "application/vnd.docker.container.image.v1+json" {
		t.Errorf("config %+v", img.Config)
	}
	if img.Meta.Architecture != "amd64" || img.Meta.OS != "linux" || img.Meta.Created == nil ||
		img.Meta.Created.Format(time.RFC3339Nano) != "2019-08-15T07:28:14.830150536Z" ||
		!reflect.DeepEqual(img.Meta.Cmd, []string{"/bin/bash"}) || len(img.Meta.Env) != 1 || img.Meta.Ports != nil {
		t.Errorf("metadata %+v", img.Meta)
	}
	if img.DockerImageReference != "docker.io/library/ubuntu@"+digest {
		t.Errorf("pull spec %s", img.DockerImageReference)
	}

	for _, f := range []string{"manifest-list.json", "image-index.json"} {
		im, err := v1.ParseIndexManifest(bytes.NewReader(readFixture(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		list := listSnapshot("docker.io/library/ubuntu", "sha256:5020d54ec2de60c4e187128b5a03adda261a7fe78c9c500ffd24ff4af476fb41", im.MediaType, im)
		want := []store.ManifestRef{
			{Digest: digest, MediaType: string(types.DockerManifestSchema2), ManifestSize: 1152, OS: "linux", Architecture: "amd64"},
			{Digest: "sha256:1a06d68cb9117b52965035a5b0fa4c1470ef892e6062ffedb1af1922952e0950", MediaType: string(types.DockerManifestSchema2),
				ManifestSize: 1152, OS: "linux", Architecture: "arm64", Variant: "v8"},
		}
		if !reflect.DeepEqual(list.Manifests, want) || list.MediaType != string(im.MediaType) {
			t.Errorf("%s: %+v", f, list)
		}
	}
}

// TestFixtureRegistry serves the fixtures as a registry would: the list
// and the manifests are read as they are; the reformatted configs no
// longer match their digests, and the fetch says so instead of recording
// a config that is not the image's.
func TestFixtureRegistry(t *testing.T) {
	t.Parallel()
	blobs := map[string][]byte{}
	manifests := map[string][]byte{}
	list := readFixture(t, "manifest-list.json")
	manifests["latest"] = list
	for _, arch := range []string{"amd64", "arm64"} {
		b := readFixture(t, "manifest-linux-"+arch+".json")
		m, err := v1.ParseManifest(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := v1.SHA256(bytes.NewReader(b))
		manifests[h.String()] = b
		blobs[m.Config.Digest.String()] = readFixture(t, "config-linux-"+arch+".json")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/")
		last := parts[len(parts)-1]
		switch {
		case r.URL.Path == "/v2/":
		case strings.Contains(r.URL.Path, "/manifests/") && manifests[last] != nil:
			var m struct {
				MediaType string `json:"mediaType"`
			}
			b := manifests[last]
			_ = json.Unmarshal(b, &m)
			h, _, _ := v1.SHA256(bytes.NewReader(b))
			w.Header().Set("Content-Type", m.MediaType)
			w.Header().Set("Docker-Content-Digest", h.String())
			w.Write(b)
		case strings.Contains(r.URL.Path, "/blobs/") && blobs[last] != nil:
			w.Write(blobs[last])
		default:
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/library/ubuntu:latest"
	_, err := NewFetcher("").Fetch(ctx, ref, FetchOptions{})
	wantErr(t, err, ErrMalformed, "config blob for "+ref+" that does not match its digest sha256:a2a15febcdf362f6115e801d37b5e60d6faaeedcb9896155e5fe9d754025be12")
	if Reason(err) != ReasonInvalidManifest {
		t.Errorf("reason %q", Reason(err))
	}
}

// TestInsecureFetchesReuseConnections: reads from a registry marked
// insecure (a plain-HTTP managed registry: every push the webhook records)
// share one connection pool. A transport per fetch opened a connection
// each time and left it idle: under a burst of pushes, thousands of idle
// connections held the replica's memory.
func TestInsecureFetchesReuseConnections(t *testing.T) {
	t.Parallel()
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	// The connections kept open after serving a request (each fetch also
	// tries TLS first on a connection the server closes at once).
	var mu sync.Mutex
	kept := map[string]bool{}
	srv := httptest.NewUnstartedServer(reg)
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateIdle {
			mu.Lock()
			kept[c.RemoteAddr().String()] = true
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	r := &testRegistry{Server: srv, host: strings.TrimPrefix(srv.URL, "http://")}
	r.push(t, "payments/api:1.0", testImage(t, "linux/amd64", testLayer(t, 512)))
	mu.Lock()
	clear(kept) // the push's own
	mu.Unlock()

	c := NewFetcher("")
	const fetches = 20
	for i := 0; i < fetches; i++ {
		if _, err := c.Fetch(ctx, r.host+"/payments/api:1.0", FetchOptions{Insecure: true}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(kept) > 1 {
		t.Errorf("%d insecure fetches left %d connections open, want one reused", fetches, len(kept))
	}
}
