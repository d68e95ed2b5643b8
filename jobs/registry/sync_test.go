package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/store"
	"layerwise/store/storetest"
)

// pagedRegistry is go-containerregistry's in-process registry with the
// pagination of the CNCF registry added: _catalog and tags/list answer at
// most n names after last, with a Link header to the next page. It counts
// requests by kind ("catalog", "tags", "GET manifest", "HEAD manifest").
type pagedRegistry struct {
	*testRegistry
	mu     sync.Mutex
	counts map[string]int
}

func newPagedRegistry(t *testing.T) *pagedRegistry {
	t.Helper()
	inner := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	p := &pagedRegistry{testRegistry: &testRegistry{}, counts: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case path == "/v2/_catalog":
			p.count("catalog")
			var c struct {
				Repositories []string `json:"repositories"`
			}
			p.innerJSON(t, inner, "/v2/_catalog?n=100000", &c)
			p.page(w, r, "repositories", c.Repositories, nil)
			return
		case strings.HasSuffix(path, "/tags/list"):
			p.count("tags")
			var l struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			p.innerJSON(t, inner, path, &l)
			p.page(w, r, "tags", l.Tags, map[string]any{"name": l.Name})
			return
		case strings.Contains(path, "/manifests/"):
			p.count(r.Method + " manifest")
		case strings.Contains(path, "/referrers/"):
			p.count("referrers")
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	p.host = strings.TrimPrefix(p.URL, "http://")
	return p
}

func (p *pagedRegistry) count(kind string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[kind]++
}

// take returns the counts so far and starts over.
func (p *pagedRegistry) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = map[string]int{}
	return c
}

func (p *pagedRegistry) innerJSON(t *testing.T, inner http.Handler, path string, v any) {
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Errorf("inner registry %s: %v", path, err)
	}
}

func (p *pagedRegistry) page(w http.ResponseWriter, r *http.Request, key string, names []string, extra map[string]any) {
	sort.Strings(names)
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(names, last)
		for i < len(names) && names[i] <= last {
			i++
		}
		names = names[i:]
	}
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n < len(names) {
		names = names[:n]
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {names[n-1]}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode()))
	}
	body := map[string]any{key: names}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func syncStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func currentOf(t *testing.T, s *store.Store, ns, stream, tag string) []string {
	t.Helper()
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: ns, Stream: stream})
	if err != nil {
		return nil
	}
	for _, tg := range st.Tags {
		if tg.Name == tag {
			var out []string
			for _, it := range tg.Items {
				out = append(out, it.Image)
			}
			return out
		}
	}
	return nil
}

// TestSyncWalksThePagedCatalog: the sync follows Link pagination through
// the catalog and every tag list, records every tag of every mapped
// repository, costs one HEAD per tag when nothing changed, and reads only
// what changed.
func TestSyncWalksThePagedCatalog(t *testing.T) {
	t.Parallel()
	reg := newPagedRegistry(t)
	s := syncStore(t)
	base := testLayer(t, 5000)
	d := map[string]string{}
	for _, rt := range []string{"team-a/api:v1", "team-a/api:v2", "team-a/api:v3", "team-a/web:latest", "team-b/db:latest",
		"team-a/tools/builder:1", "busybox:latest"} {
		d[rt] = reg.push(t, rt, testImage(t, "linux/amd64", base, testLayer(t, 100)))
	}
	idx := testIndex(t, types.OCIImageIndex, map[string]v1.Image{
		"linux/amd64": testImage(t, "linux/amd64", base, testLayer(t, 100)),
		"linux/arm64": testImage(t, "linux/arm64", base, testLayer(t, 100)),
	}, "linux/amd64", "linux/arm64")
	d["team-b/multi:latest"] = reg.pushIndex(t, "team-b/multi:latest", idx)
	reg.take()

	m := &Managed{Host: reg.host, Insecure: true, Client: &Client{}, PageSize: 2}
	res, err := m.Sync(t.Context(), s, "system:sync")
	if err != nil {
		t.Fatal(err)
	}
	if res.Repositories != 6 || res.Tags != 7 || res.Changed != 7 || len(res.Skipped) != 1 || len(res.Failed) != 0 {
		t.Errorf("first sync: %+v", res)
	}
	if !strings.Contains(res.Skipped[0], `"busybox" has no namespace`) {
		t.Errorf("skipped %v", res.Skipped)
	}
	c := reg.take()
	if c["catalog"] != 3 || c["tags"] != 6 { // 6 repositories, 2 a page; api's 3 tags take 2 pages
		t.Errorf("requests %v: want the catalog in 3 pages and the tag lists in 6", c)
	}
	for rt, digest := range d {
		if rt == "busybox:latest" {
			continue
		}
		repo, tag, _ := strings.Cut(rt, ":")
		ref, _ := MapRepository(repo)
		if got := currentOf(t, s, ref.Namespace, ref.Stream, tag); !slices.Equal(got, []string{digest}) {
			t.Errorf("%s: history %v, want [%s]", rt, got, digest)
		}
	}
	info, err := s.GetImage(t.Context(), d["team-b/multi:latest"])
	if err != nil || len(info.Manifests) != 2 {
		t.Errorf("the index is not kept whole: %+v %v", info.Manifests, err)
	}

	// Unchanged: one HEAD per tag, no manifest read, nothing written; the
	// referrers API is asked once, and this registry has none.
	before := storetest.Dump(t, s)
	res, err = m.Sync(t.Context(), s, "system:sync")
	if err != nil || res.Changed != 0 {
		t.Errorf("second sync: %+v %v", res, err)
	}
	c = reg.take()
	if c["HEAD manifest"] != 7 || c["GET manifest"] != 0 || c["referrers"] != 1 {
		t.Errorf("an unchanged registry cost %v; want 7 HEADs, one referrers probe and no GET", c)
	}
	if after := storetest.Dump(t, s); after != before {
		t.Error("an unchanged sync changed the database")
	}

	// A new push (its notification lost): the sync records just that.
	nd := reg.push(t, "team-a/api:v1", testImage(t, "linux/amd64", base, testLayer(t, 200)))
	res, err = m.Sync(t.Context(), s, "system:sync")
	if err != nil || res.Changed != 1 {
		t.Errorf("third sync: %+v %v", res, err)
	}
	if got := currentOf(t, s, "team-a", "api", "v1"); !slices.Equal(got, []string{nd, d["team-a/api:v1"]}) {
		t.Errorf("api:v1 history %v", got)
	}
	evs, _ := s.AuditLog(t.Context(), store.AuditFilter{Actor: "system:sync", Limit: 1000})
	if len(evs) != 8 {
		t.Errorf("%d audit events by system:sync, want 8", len(evs))
	}
}

// TestSyncFailures: a registry that is down, refuses us, or never answers
// fails the sync with a message that says so, and nothing is written.
func TestSyncFailures(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "robot", "pw")
	reg.push(t, "team-a/api:v1", testImage(t, "linux/amd64", testLayer(t, 100)))
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	cases := []struct {
		name, host, msg string
	}{
		{"down", "127.0.0.1:1", "connection refused"},
		{"wants credentials", reg.host, "unauthorized: registry " + reg.host + " refused access (401"},
		{"never answers", strings.TrimPrefix(hang.URL, "http://"), "did not answer within 200ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := syncStore(t)
			before := storetest.Dump(t, s)
			m := &Managed{Host: c.host, Insecure: true, Client: &Client{Timeout: 200 * time.Millisecond}}
			start := time.Now()
			_, err := m.Sync(t.Context(), s, "system:sync")
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want one with %q", err, c.msg)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if after := storetest.Dump(t, s); after != before {
				t.Error("a failed sync wrote")
			}
		})
	}
	// With the credentials it works.
	m := &Managed{Host: reg.host, Insecure: true, Client: &Client{AuthFile: authFile(t, reg.host, "robot", "pw")}}
	if res, err := m.Sync(t.Context(), syncStore(t), "system:sync"); err != nil || res.Changed != 1 {
		t.Errorf("with credentials: %+v %v", res, err)
	}
}

// TestMapRepository: how registry repositories map to image streams.
func TestMapRepository(t *testing.T) {
	t.Parallel()
	cases := []struct {
		repo, want, err string
	}{
		{"team-a/api", "team-a/api", ""},
		{"team-a/tools/builder", "team-a/tools.builder", ""},
		{"team-a/a/b/c", "team-a/a.b.c", ""},
		{"busybox", "", "has no namespace"},
		{"Team_A/api", "", "does not map"},
		{"team-a/-api", "", "does not map"},
	}
	for _, c := range cases {
		ref, err := MapRepository(c.repo)
		switch {
		case c.err == "" && (err != nil || ref.String() != c.want):
			t.Errorf("%s: %v %v, want %s", c.repo, ref, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v, want an error with %q", c.repo, err, c.err)
		}
	}
}
