package openshift

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"layerwise/store"
	"layerwise/store/storetest"
)

// fakeCluster serves image streams and images as the OpenShift API does:
// typed lists without kinds on the items, limit/continue pagination, a
// bearer token. failAt makes one page of one collection answer 500.
type fakeCluster struct {
	*httptest.Server
	token string

	mu       sync.Mutex
	streams  []map[string]any
	images   []map[string]any
	requests map[string]int // by collection
	failAt   map[string]int // collection → page (1-based) that fails
	// workloads are the objects of each workload collection, by path
	// (every collection of WorkloadReads, empty unless a test fills it).
	workloads map[string][]map[string]any
	// refuse answers 401 on a collection; hang makes it wait until the
	// request is cancelled (a client timeout).
	refuse, hang map[string]bool
}

// newFakeCluster serves every ImageStream and Image of the fixtures.
func newFakeCluster(t *testing.T) *fakeCluster {
	t.Helper()
	c := &fakeCluster{token: "sha256~cluster-token", requests: map[string]int{}, failAt: map[string]int{},
		workloads: map[string][]map[string]any{}, refuse: map[string]bool{}, hang: map[string]bool{}}
	for _, coll := range WorkloadReads() {
		c.workloads[coll.Path()] = []map[string]any{}
	}
	seen := map[string]bool{}
	for _, path := range allFixtures(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var top map[string]any
		if err := json.Unmarshal(j, &top); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		objs := []map[string]any{top}
		if items, ok := top["items"].([]any); ok {
			objs = nil
			elem := strings.TrimSuffix(top["kind"].(string), "List")
			for _, it := range items {
				o := it.(map[string]any)
				if o["kind"] == nil {
					o["kind"] = elem
				}
				objs = append(objs, o)
			}
		}
		for _, o := range objs {
			meta := o["metadata"].(map[string]any)
			kind := o["kind"].(string)
			if kind == KindImageStream && meta["namespace"] == nil {
				meta["namespace"] = "default" // the API always says
			}
			key := kind + "/" + strOf(meta["namespace"]) + "/" + strOf(meta["name"])
			if seen[key] {
				continue
			}
			seen[key] = true
			delete(o, "kind") // items of a typed list carry none
			delete(o, "apiVersion")
			switch kind {
			case KindImageStream:
				c.streams = append(c.streams, o)
			case KindImage:
				c.images = append(c.images, o)
			}
		}
	}
	if len(c.streams) < 10 || len(c.images) < 2 {
		t.Fatalf("fixtures gave %d streams and %d images", len(c.streams), len(c.images))
	}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

const pathImageStreams = "/apis/image.openshift.io/v1/imagestreams"

func strOf(v any) string { s, _ := v.(string); return s }

func (c *fakeCluster) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	hang := c.hang[r.URL.Path]
	c.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+c.token || c.refuse[r.URL.Path] {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
		return
	}
	var items []map[string]any
	var kind string
	switch r.URL.Path {
	case "/apis/image.openshift.io/v1/imagestreams":
		items, kind = c.streams, "ImageStreamList"
	case "/apis/image.openshift.io/v1/images":
		items, kind = c.images, "ImageList"
	default:
		var ok bool
		if items, ok = c.workloads[r.URL.Path]; !ok {
			http.NotFound(w, r)
			return
		}
		for _, coll := range WorkloadReads() {
			if coll.Path() == r.URL.Path {
				kind = coll.ListKind
			}
		}
	}
	c.requests[r.URL.Path]++
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit <= 0 {
		http.Error(w, `{"kind":"Status","code":400,"message":"want limit"}`, http.StatusBadRequest)
		return
	}
	offset := 0
	if cont := r.URL.Query().Get("continue"); cont != "" {
		b, err := base64.StdEncoding.DecodeString(cont)
		if err != nil {
			http.Error(w, `{"kind":"Status","code":400}`, http.StatusBadRequest)
			return
		}
		offset, _ = strconv.Atoi(strings.TrimPrefix(string(b), "offset="))
	}
	if page := offset/limit + 1; c.failAt[r.URL.Path] == page {
		http.Error(w, `{"kind":"Status","code":500,"message":"etcd timed out"}`, http.StatusInternalServerError)
		return
	}
	end := min(offset+limit, len(items))
	meta := map[string]any{"resourceVersion": "12345"}
	if end < len(items) {
		meta["continue"] = base64.StdEncoding.EncodeToString([]byte("offset=" + strconv.Itoa(end)))
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"kind": kind, "apiVersion": apiVersionImage, "metadata": meta, "items": items[offset:end]})
}

// drop removes a stream from the cluster; with tag, only that tag.
func (c *fakeCluster) drop(t *testing.T, ns, name, tag string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.streams {
		meta := s["metadata"].(map[string]any)
		if meta["namespace"] != ns || meta["name"] != name {
			continue
		}
		if tag == "" {
			c.streams = append(c.streams[:i:i], c.streams[i+1:]...)
			return
		}
		// A deep copy, so that the earlier listing is not changed under us.
		b, _ := json.Marshal(s)
		var cp map[string]any
		_ = json.Unmarshal(b, &cp)
		spec := cp["spec"].(map[string]any)
		var keep []any
		for _, st := range spec["tags"].([]any) {
			if st.(map[string]any)["name"] != tag {
				keep = append(keep, st)
			}
		}
		spec["tags"] = keep
		if status, ok := cp["status"].(map[string]any); ok {
			var keepS []any
			for _, st := range asList(status["tags"]) {
				if st.(map[string]any)["tag"] != tag {
					keepS = append(keepS, st)
				}
			}
			status["tags"] = keepS
		}
		c.streams[i] = cp
		return
	}
	t.Fatalf("no stream %s/%s in the cluster", ns, name)
}

func asList(v any) []any { l, _ := v.([]any); return l }

func (c *fakeCluster) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.requests
	c.requests = map[string]int{}
	return r
}

func tokenFile(t *testing.T, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func streamTagNames(t *testing.T, s *store.Store, ns, name string) []string {
	t.Helper()
	st, err := s.GetStream(t.Context(), store.StreamRef{Namespace: ns, Stream: name})
	if err != nil {
		return nil
	}
	var out []string
	for _, tg := range st.Tags {
		out = append(out, tg.Name)
	}
	return out
}

// TestClusterSync: the sync reads every page of the real fixtures through
// limit/continue with the token, maps them as `import openshift` does,
// and removes streams and tags gone from the cluster — only its own, and
// only after a complete listing.
func TestClusterSync(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(t)
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetClock(func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) })
	// Data from elsewhere: a pushed stream in a namespace the cluster also has.
	local := store.ImageSnapshot{Digest: "sha256:" + strings.Repeat("1", 64), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: &store.BlobRef{Digest: "sha256:" + strings.Repeat("2", 64), Size: 100},
		Layers: []store.BlobRef{{Digest: "sha256:" + strings.Repeat("3", 64), Size: 1000}}}
	if _, err := s.RecordPush(t.Context(), store.Push{Tag: store.TagRef{Namespace: "default", Stream: "pushed-here", Tag: "latest"},
		Images: []store.ImageSnapshot{local}, PullSpec: "registry.local/default/pushed-here@" + local.Digest}); err != nil {
		t.Fatal(err)
	}

	cl := &Cluster{URL: fc.URL, TokenFile: tokenFile(t, fc.token), PageSize: 4}
	res, err := cl.Sync(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SyncInUse(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	// (One fixture Image is named "test", not by digest: skipped, as import openshift does.)
	if res.Streams != len(fc.streams) || res.Images+len(res.Ignored) != len(fc.images) || res.Images == 0 || res.Removed != 0 {
		t.Errorf("first sync: %+v; the cluster has %d streams and %d images", res, len(fc.streams), len(fc.images))
	}
	if evs, _ := s.AuditLog(t.Context(), store.AuditFilter{Action: "stream.sync", Limit: 1000}); len(evs) != res.StreamsChanged ||
		evs[0].Actor != "system:openshift-sync" {
		t.Errorf("%d stream.sync audit events for %d changed streams", len(evs), res.StreamsChanged)
	}
	req := fc.take()
	if want := (len(fc.streams) + 3) / 4; req[pathImageStreams] != want {
		t.Errorf("%d pages of image streams, want %d", req[pathImageStreams], want)
	}
	// The sync and its in-use read ask for exactly the collections of
	// Reads (what the ClusterRole in deploy/ grants), and nothing else.
	var asked, listed []string
	for p := range req {
		asked = append(asked, p)
	}
	for _, coll := range Reads() {
		listed = append(listed, coll.Path())
	}
	sort.Strings(asked)
	sort.Strings(listed)
	if !slices.Equal(asked, listed) {
		t.Errorf("the sync requested %v; Reads lists %v", asked, listed)
	}
	// The same mapping as `import openshift` of the same objects.
	want, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	want.SetClock(func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) })
	var doc strings.Builder
	for _, l := range []struct {
		kind  string
		items []map[string]any
	}{{"ImageList", fc.images}, {"ImageStreamList", fc.streams}} {
		b, _ := json.Marshal(map[string]any{"kind": l.kind, "apiVersion": "v1", "items": l.items})
		doc.Write(b)
	}
	objs, err := Decode("dump.json", strings.NewReader(doc.String()), Options{Now: want.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := want.Tx(t.Context(), func(tx *store.Store) error { _, err := Apply(t.Context(), tx, objs); return err }); err != nil {
		t.Fatal(err)
	}
	wantStreams, _ := want.ListStreams(t.Context(), "")
	for _, ws := range wantStreams {
		got, err := s.GetStream(t.Context(), store.StreamRef{Namespace: ws.Namespace, Stream: ws.Name})
		if err != nil {
			t.Errorf("%s/%s: %v", ws.Namespace, ws.Name, err)
			continue
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(ws)
		if string(gb) != string(wb) {
			t.Errorf("%s/%s differs from import openshift:\n got %s\nwant %s", ws.Namespace, ws.Name, gb, wb)
		}
	}
	if len(wantStreams) != res.Streams {
		t.Errorf("import openshift made %d streams, the sync %d", len(wantStreams), res.Streams)
	}

	// Again: nothing changes.
	before := dumpOf(t, s)
	if res, err := cl.Sync(t.Context(), s); err != nil || res.StreamsChanged != 0 || res.ImagesChanged != 0 || res.Removed != 0 {
		t.Errorf("second sync: %+v %v", res, err)
	}
	if after := dumpOf(t, s); after != before {
		t.Error("a sync of an unchanged cluster changed the database")
	}

	// A stream and a tag gone from the cluster go here too; the pushed
	// stream stays.
	first := fc.streams[0]["metadata"].(map[string]any)
	goneNS, goneName := first["namespace"].(string), first["name"].(string)
	tagged := findStreamWithTags(t, fc, 2)
	tm := tagged["metadata"].(map[string]any)
	tagNS, tagStream := tm["namespace"].(string), tm["name"].(string)
	goneTag := tagged["spec"].(map[string]any)["tags"].([]any)[0].(map[string]any)["name"].(string)
	fc.drop(t, goneNS, goneName, "")
	fc.drop(t, tagNS, tagStream, goneTag)

	// A failed page first: nothing is removed or written.
	fc.failAt[pathImageStreams] = 2
	before = dumpOf(t, s)
	if _, err := cl.Sync(t.Context(), s); err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "page 2") {
		t.Errorf("failed page: %v", err)
	}
	if after := dumpOf(t, s); after != before {
		t.Error("a sync with a failed page changed the database")
	}
	delete(fc.failAt, pathImageStreams)

	res, err = cl.Sync(t.Context(), s)
	if err != nil || res.Removed != 1 {
		t.Fatalf("sync after removals: %+v %v", res, err)
	}
	if _, err := s.GetStream(t.Context(), store.StreamRef{Namespace: goneNS, Stream: goneName}); err == nil {
		t.Errorf("%s/%s is gone from the cluster but not from Layerwise", goneNS, goneName)
	}
	for _, name := range streamTagNames(t, s, tagNS, tagStream) {
		if name == goneTag {
			t.Errorf("tag %s of %s/%s is gone from the cluster but not from Layerwise", goneTag, tagNS, tagStream)
		}
	}
	if got := streamTagNames(t, s, "default", "pushed-here"); len(got) != 1 {
		t.Errorf("the pushed stream was touched: %v", got)
	}
	evs, _ := s.AuditLog(t.Context(), store.AuditFilter{Action: "stream.delete"})
	if len(evs) != 1 || evs[0].Target != goneNS+"/"+goneName || evs[0].Actor != "system:openshift-sync" {
		t.Errorf("audit %+v", evs)
	}

	// Another cluster's sync never removes this one's streams.
	other := newFakeCluster(t)
	other.streams = other.streams[:1]
	ocl := &Cluster{URL: other.URL, TokenFile: tokenFile(t, other.token)}
	if res, err := ocl.Sync(t.Context(), s); err != nil || res.Removed != 0 {
		t.Errorf("other cluster: %+v %v", res, err)
	}
	if got := streamTagNames(t, s, tagNS, tagStream); len(got) == 0 {
		t.Errorf("the other cluster's sync removed %s/%s", tagNS, tagStream)
	}
}

func findStreamWithTags(t *testing.T, fc *fakeCluster, n int) map[string]any {
	t.Helper()
	for _, s := range fc.streams[1:] {
		spec, _ := s["spec"].(map[string]any)
		if len(asList(spec["tags"])) >= n {
			return s
		}
	}
	t.Fatalf("no stream with %d spec tags", n)
	return nil
}

func dumpOf(t *testing.T, s *store.Store) string {
	t.Helper()
	return storetest.Dump(t, s)
}

// TestClusterSyncToken: a refused or missing token fails with a message
// naming the setting, and writes nothing.
func TestClusterSyncToken(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(t)
	cases := []struct {
		name, file, msg string
	}{
		{"wrong token", tokenFile(t, "sha256~wrong"), "refused the token in LAYERWISE_OPENSHIFT_TOKEN_FILE"},
		{"no file", filepath.Join(t.TempDir(), "missing"), "read LAYERWISE_OPENSHIFT_TOKEN_FILE"},
		{"empty file", tokenFile(t, " "), "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), migratedDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := dumpOf(t, s)
			_, err = (&Cluster{URL: fc.URL, TokenFile: c.file}).Sync(t.Context(), s)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v, want %q", err, c.msg)
			}
			if dumpOf(t, s) != before {
				t.Error("a refused sync wrote")
			}
		})
	}
}
