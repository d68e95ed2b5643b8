package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"layerwise/jobs/openshift"
	"layerwise/store"
)

// testServer is a real server on a real SQLite file with the demo data.
type testServer struct {
	*httptest.Server
	store *store.Store
	srv   *Server
	usage *store.Usage
	logs  *syncBuffer // everything the server logged
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestServer loads the demo registry (moved so its newest entry is an
// hour old), creates demo/demo when withUser, and computes usage once.
func newTestServer(t testing.TB, withUser bool, extra ...string) *testServer {
	t.Helper()
	return newTestServerWith(t, withUser, nil, extra...)
}

// newTestServerWith is newTestServer with a change to the configuration.
func newTestServerWith(t testing.TB, withUser bool, configure func(*Config), extra ...string) *testServer {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	// bcrypt at its default cost takes seconds per hash under -race, and
	// the harness logs in a lot.
	s.SetPasswordCost(bcrypt.MinCost)
	t.Cleanup(func() { s.Close() })
	docs := append([][]byte{openshift.DemoData()}, nil)
	for _, e := range extra {
		docs = append(docs, []byte(e))
	}
	for i, doc := range docs {
		if doc == nil {
			continue
		}
		opt := openshift.Options{DefaultNamespace: "default", Now: s.Now()}
		if i == 0 {
			opt.Shift = time.Since(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)).Truncate(time.Second)
		}
		objs, err := openshift.Decode("test data", bytes.NewReader(doc), opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Tx(ctx, func(tx *store.Store) error { _, err := openshift.Apply(ctx, tx, objs); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if withUser {
		if _, err := s.CreateUser(ctx, "demo", "demo", true); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	cfg := Config{Addr: "127.0.0.1:0", Threshold: 50 << 30, Policy: store.DefaultPolicy, SnapshotSchedule: "@daily",
		MetricsToken: testMetricsToken, ImportAllow: testImportAllow}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg, s, log)
	if err != nil {
		t.Fatal(err)
	}
	// The stored prune plan (the lead's plan job keeps it), and the full
	// pass's figures: what the pages, reading the stored ones, must show.
	if _, err := s.ComputePlanSummary(ctx, cfg.Policy); err != nil {
		t.Fatal(err)
	}
	u, err := s.ComputeUsage(ctx, cfg.Policy)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(checkAPIResponses(t, srv.Handler()))
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, store: s, srv: srv, usage: u, logs: logs}
}

// testMetricsToken is the harness's LAYERWISE_METRICS_TOKEN.
const testMetricsToken = "metrics-s3cret"

// testImportAllow is the harness's LAYERWISE_IMPORT_ALLOW: the test
// registries listen on loopback, which imports may not reach by default.
const testImportAllow = "127.0.0.0/8,::1"

// scrape reads /metrics as Prometheus would, with the harness's token.
func (ts *testServer) scrape(t testing.TB) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics with the token: %d\n%s", resp.StatusCode, b)
	}
	return string(b)
}

// client is a browser-like client: cookies, no automatic redirects.
func (ts *testServer) client(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRe = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// login logs c in as name/password through the real form.
func (ts *testServer) login(t testing.TB, c *http.Client, name, password string) *http.Response {
	t.Helper()
	body := ts.get(t, c, "/login", http.StatusOK)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in the login form:\n%s", body)
	}
	resp, err := c.PostForm(ts.URL+"/login", url.Values{"name": {name}, "password": {password}, "_csrf": {m[1]}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// get fetches a path and checks the status.
func (ts *testServer) get(t testing.TB, c *http.Client, path string, status int) string {
	t.Helper()
	resp, err := c.Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d\n%s", path, resp.StatusCode, status, firstLines(string(b), 20))
	}
	return string(b)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
