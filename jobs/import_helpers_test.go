package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/jobs/registry"
	"layerwise/store"
)

// faultyRegistry is go-containerregistry's in-memory registry on a
// loopback port behind a request counter, with faults a test switches on:
// it can be stopped and started again on the same address (down), demand
// credentials (unauthorized), deny a manifest (not found), answer a
// manifest with rubbish (malformed) or never answer (hang).
type faultyRegistry struct {
	t    testing.TB
	host string
	reg  http.Handler
	srv  *httptest.Server

	requests atomic.Int64 // every request that reached it
	heads    atomic.Int64 // HEAD requests on manifests

	mu    sync.Mutex
	fault string // "", "unauthorized", "notfound", "malformed", "hang"
}

const junkManifest = "{not json"

func newFaultyRegistry(t testing.TB) *faultyRegistry {
	t.Helper()
	return newFaultyRegistryOf(t, ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
}

// newFaultyRegistryOf puts the counter and the faults in front of reg
// (a reverse proxy to another registry, say).
func newFaultyRegistryOf(t testing.TB, reg http.Handler) *faultyRegistry {
	t.Helper()
	r := &faultyRegistry{t: t, reg: reg}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.host = strings.TrimPrefix(r.srv.URL, "http://")
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *faultyRegistry) setFault(f string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
}

func (r *faultyRegistry) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	manifest := strings.Contains(req.URL.Path, "/manifests/")
	if manifest && req.Method == http.MethodHead {
		r.heads.Add(1)
	}
	r.mu.Lock()
	fault := r.fault
	r.mu.Unlock()
	switch {
	case fault == "unauthorized":
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	case fault == "hang":
		<-req.Context().Done()
		return
	case fault == "notfound" && manifest:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
		return
	case fault == "malformed" && manifest:
		sum := sha256.Sum256([]byte(junkManifest))
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
		w.Header().Set("Content-Length", "9")
		if req.Method != http.MethodHead {
			io.WriteString(w, junkManifest)
		}
		return
	}
	r.reg.ServeHTTP(w, req)
}

// stop takes the registry off the network: connections are refused.
func (r *faultyRegistry) stop() { r.srv.Close() }

// start brings it back on the same address with the same content.
func (r *faultyRegistry) start() {
	r.t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", r.host); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listen on %s again: %v", r.host, err)
	}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Listener.Close()
	r.srv.Listener = l
	r.srv.Start()
}

// push writes a new random image as host/repoTag and returns its digest.
func (r *faultyRegistry) push(t testing.TB, repoTag string) string {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	return r.write(t, repoTag, img)
}

func (r *faultyRegistry) write(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return d.String()
}

// importEnv is a store, a registry and an importer with a clock.
type importEnv struct {
	s   *store.Store
	reg *faultyRegistry
	im  *Importer
	now time.Time
}

func newImportEnv(t testing.TB, workers int) *importEnv {
	t.Helper()
	return newImportEnvOn(t, workers, newFaultyRegistry(t))
}

func newImportEnvOn(t testing.TB, workers int, reg *faultyRegistry) *importEnv {
	t.Helper()
	s, err := store.Open(context.Background(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &importEnv{s: s, reg: reg, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	e.im = e.importer(workers)
	return e
}

// importer is a fresh Importer (no transports cached yet).
func (e *importEnv) importer(workers int) *Importer {
	c := &registry.Client{Timeout: 500 * time.Millisecond}
	im := NewImporter(e.s, c, ImportSettings{Workers: workers}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	im.Now = func() time.Time { return e.now }
	return im
}

// schedule imports host/from into ref as a scheduled tag.
func (e *importEnv) schedule(t testing.TB, ref store.TagRef, from string, mode string) store.TagResult {
	t.Helper()
	res, err := registry.Import(context.Background(), e.s, e.im.Client, ref, e.reg.host+"/"+from,
		registry.ImportOptions{Scheduled: true, Confirm: true, ImportMode: mode, Actor: "ann"})
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	return res
}

func (e *importEnv) run(t testing.TB) ImportStats {
	t.Helper()
	st, err := e.im.Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v (%+v)", err, st)
	}
	return st
}

// tag reads one tag as the pages see it.
func (e *importEnv) tag(t testing.TB, ref store.TagRef) store.TagSnapshot {
	t.Helper()
	st, err := e.s.GetStream(context.Background(), store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range st.Tags {
		if tg.Name == ref.Tag {
			return tg
		}
	}
	t.Fatalf("no tag %s", ref)
	return store.TagSnapshot{}
}

func historyOf(tg store.TagSnapshot) []string {
	var out []string
	for _, it := range tg.Items {
		out = append(out, it.Image)
	}
	return out
}
