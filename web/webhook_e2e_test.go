package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs/registry/regtest"
	"layerwise/store"
	"layerwise/store/storetest"
)

// hookServer is a Layerwise server (no demo data, no jobs) whose listener
// exists before the server, so that a registry can be told where to send
// its notifications first.
type hookServer struct {
	URL   string
	store *store.Store
	srv   *Server
	logs  *syncBuffer
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func startHookServer(t testing.TB, ln net.Listener, cfg Config) *hookServer {
	t.Helper()
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	logs := &syncBuffer{}
	cfg.Addr, cfg.Threshold, cfg.Policy, cfg.SnapshotSchedule, cfg.NoJobs = ln.Addr().String(), 50<<30, store.DefaultPolicy, "@daily", true
	srv, err := New(cfg, s, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: checkAPIResponses(t, srv.Handler())}}
	ts.Start()
	t.Cleanup(ts.Close)
	return &hookServer{URL: ts.URL, store: s, srv: srv, logs: logs}
}

// history is a tag's digests, current first; nil when the tag is missing.
func history(t *testing.T, s *store.Store, ref store.TagRef) []string {
	t.Helper()
	st, err := s.GetStream(context.Background(), store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		return nil
	}
	for _, tag := range st.Tags {
		if tag.Name == ref.Tag {
			out := []string{}
			for _, it := range tag.Items {
				out = append(out, it.Image)
			}
			return out
		}
	}
	return nil
}

// eventually polls cond until it holds or the deadline passes; the caller
// then asserts on the final state.
func eventually(d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// e2eImage is base's layers plus n own random layers, for platform p.
func e2eImage(t *testing.T, base []v1.Layer, own int, arch string) v1.Image {
	t.Helper()
	layers := append([]v1.Layer(nil), base...)
	for range own {
		l, err := random.Layer(3000, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// TestRegistryWebhookEndToEnd runs the real CNCF registry with its
// notifications pointed at Layerwise, pushes with go-containerregistry, and
// checks that every history entry arrives through notifications alone and
// that each namespace's bytes equal the distinct blob files the registry's
// storage links into that namespace's repositories (layers, config blobs
// and manifests; for an index, every platform's: hence PreserveOriginal for
// pushes).
func TestRegistryWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	const tok = "e2e-webhook-token"
	ln := listenLoopback(t)
	r := regtest.Start(t, regtest.Options{NotifyURL: "http://" + ln.Addr().String() + "/api/v1/registry/events", NotifyToken: tok})
	hs := startHookServer(t, ln, Config{RegistryURL: r.URL, WebhookToken: tok})
	s := hs.store

	base := []v1.Layer{}
	for range 2 {
		l, err := random.Layer(20000, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		base = append(base, l)
	}
	push := func(repoTag string, img v1.Image) string {
		t.Helper()
		ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", repoTag, err)
		}
		return digestOf(t, img)
	}
	tag := func(ns, stream, tag string) store.TagRef {
		return store.TagRef{Namespace: ns, Stream: stream, Tag: tag}
	}

	want := map[store.TagRef][]string{} // newest first
	// Three revisions of one tag, back to back: each must be in the history.
	api := tag("team-a", "api", "latest")
	for range 3 {
		want[api] = append([]string{push("team-a/api:latest", e2eImage(t, base, 1, "amd64"))}, want[api]...)
	}
	// The base shared across streams, and across namespaces.
	web := tag("team-a", "web", "1.0")
	want[web] = []string{push("team-a/web:1.0", e2eImage(t, base, 2, "amd64"))}
	worker := tag("team-b", "worker", "latest")
	want[worker] = []string{push("team-b/worker:latest", e2eImage(t, base, 1, "amd64"))}
	// A deeper repository path: team-a/tools/builder is team-a/tools.builder.
	builder := tag("team-a", "tools.builder", "v1")
	want[builder] = []string{push("team-a/tools/builder:v1", e2eImage(t, base[:1], 1, "amd64"))}
	// A two-platform index.
	amd, arm := e2eImage(t, base, 1, "amd64"), e2eImage(t, base, 2, "arm64")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	multiRef, _ := name.ParseReference(r.Host+"/team-b/multi:2.0", name.Insecure)
	if err := remote.WriteIndex(multiRef, idx); err != nil {
		t.Fatalf("push the index: %v", err)
	}
	multi := tag("team-b", "multi", "2.0")
	want[multi] = []string{digestOf(t, idx)}
	// A repository without a namespace maps to no stream.
	push("busybox:latest", e2eImage(t, nil, 1, "amd64"))

	arrived := func() bool {
		for ref, digests := range want {
			if !slices.Equal(history(t, s, ref), digests) {
				return false
			}
		}
		return true
	}
	eventually(30*time.Second, arrived)
	for ref, digests := range want {
		if got := history(t, s, ref); !slices.Equal(got, digests) {
			t.Errorf("%s: history %v, want %v (pushed newest first)\nserver log:\n%s\nregistry log:\n%s", ref, got, digests, hs.logs, r.Log())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Only notifications wrote: one audited push per history entry.
	evs, err := s.AuditLog(t.Context(), store.AuditFilter{Action: "registry.push", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range want {
		n += len(d)
	}
	if len(evs) != n {
		t.Errorf("%d registry.push audit events, want %d", len(evs), n)
	}
	for _, ev := range evs {
		if ev.Actor != "system:registry" {
			t.Errorf("audit actor %q", ev.Actor)
		}
	}
	// The index is kept whole: the list and both platform images.
	img, err := s.GetImage(t.Context(), digestOf(t, idx))
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Manifests) != 2 {
		t.Errorf("index recorded with %d platforms, want 2", len(img.Manifests))
	}
	if _, err := s.GetStream(t.Context(), store.StreamRef{Namespace: "busybox", Stream: "latest"}); err == nil {
		t.Error("a repository without namespace became a stream")
	}

	checkBytes := func(when string) {
		t.Helper()
		u, err := s.ComputeUsage(t.Context(), store.DefaultPolicy)
		if err != nil {
			t.Fatal(err)
		}
		// The figures every write keeps equal the full pass.
		if diffs, err := s.VerifyUsage(t.Context()); err != nil || len(diffs) > 0 {
			t.Errorf("%s: usage --verify: %v %v", when, diffs, err)
		}
		for _, ns := range []string{"team-a", "team-b"} {
			links := r.Stored(ns)
			nu, ok := u.Namespace(ns)
			if !ok {
				t.Fatalf("%s: namespace %s has no usage", when, ns)
			}
			if nu.Bytes != regtest.Sum(links) || nu.Bytes == 0 {
				t.Errorf("%s: %s uses %d bytes in Layerwise; the registry links %d distinct blobs of %d bytes into its repositories",
					when, ns, nu.Bytes, len(links), regtest.Sum(links))
			}
		}
		// The usage API says the same, at once: it reads the stored figures.
		resp, err := http.Get(hs.URL + "/api/v1/namespaces/team-a/usage")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var api struct {
			Bytes int64 `json:"bytes"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&api); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: usage API: %d %v", when, resp.StatusCode, err)
		}
		if links := r.Stored("team-a"); api.Bytes != regtest.Sum(links) {
			t.Errorf("%s: usage API says team-a uses %d bytes, the registry %d", when, api.Bytes, regtest.Sum(links))
		}
	}
	checkBytes("after the pushes")

	// The full sync walks the real registry (2 names a page) and finds
	// nothing the notifications missed: every tag's digest, the index's
	// included, is what Layerwise has.
	before := storetest.Dump(t, s)
	hs.srv.managed.PageSize = 2
	res, err := hs.srv.managed.Sync(t.Context(), s, "system:sync")
	if err != nil || res.Repositories != 6 || res.Tags != 5 || res.Changed != 0 || len(res.Skipped) != 1 {
		t.Errorf("sync after the notifications: %+v %v", res, err)
	}
	if after := storetest.Dump(t, s); after != before {
		t.Errorf("the sync changed what the notifications wrote:\n%s", diffLines(before, after))
	}

	// A manifest deleted in the registry leaves the history (a delete
	// notification); after garbage collection the numbers still agree.
	oldest := want[api][2]
	del, _ := name.NewDigest(r.Host+"/team-a/api@"+oldest, name.Insecure)
	if err := remote.Delete(del); err != nil {
		t.Fatalf("delete %s: %v", oldest, err)
	}
	eventually(30*time.Second, func() bool { return len(history(t, s, api)) == 2 })
	if got := history(t, s, api); !slices.Equal(got, want[api][:2]) {
		t.Fatalf("after deleting %s: history %v, want %v", oldest, got, want[api][:2])
	}
	out := r.GarbageCollect()
	if !strings.Contains(out, "blob eligible for deletion") {
		t.Logf("garbage-collect deleted nothing?\n%s", out)
	}
	checkBytes("after delete and garbage-collect")
}
