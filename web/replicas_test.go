package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"layerwise/jobs/openshift"
	"layerwise/store"
	"layerwise/store/storetest"
)

// replica is one server process of several sharing a database.
type replica struct {
	store *store.Store
	url   string
	logs  *syncBuffer
	done  chan error
}

func startReplica(t *testing.T, ctx context.Context, dsn string) *replica {
	t.Helper()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	logs := &syncBuffer{}
	srv, err := New(Config{Addr: "127.0.0.1:0", Threshold: 50 << 30, Policy: store.DefaultPolicy,
		SnapshotSchedule: "@every 1s", ShutdownTimeout: 10 * time.Second},
		s, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{store: s, url: "http://" + ln.Addr().String(), logs: logs, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx, ln) }()
	return r
}

// Two servers on one database (PostgreSQL in CI; the same code path on a
// SQLite file, which otherwise serves one process): every scheduled tick of
// the snapshot job runs on exactly one of them, a session made on one is
// good on the other, and a change made through one shows on the other's
// cached pages within seconds.
func TestTwoReplicasShareOneDatabase(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs for several seconds")
	}
	dsn := storetest.DSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seed, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	seed.SetPasswordCost(bcrypt.MinCost) // seconds per hash under -race at the default cost
	objs, err := openshift.Decode("demo", bytes.NewReader(openshift.DemoData()), openshift.Options{DefaultNamespace: "default", Now: seed.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Tx(ctx, func(tx *store.Store) error { _, err := openshift.Apply(ctx, tx, objs); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.CreateUser(ctx, "demo", "demo", true); err != nil {
		t.Fatal(err)
	}
	seed.Close()

	a, b := startReplica(t, ctx, dsn), startReplica(t, ctx, dsn)
	waitReady(t, a.url)
	waitReady(t, b.url)

	// A session made through replica A's login form is good on replica B,
	// and so is A's CSRF token (a stateless double-submit cookie).
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	body := fetch(t, c, a.url+"/login", http.StatusOK)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field on replica A's login form")
	}
	resp, err := c.PostForm(a.url+"/login", url.Values{"name": {"demo"}, "password": {"demo"}, "_csrf": {m[1]}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login on A: %d", resp.StatusCode)
	}
	// Cookies are per host, not per port: the jar sends A's to B.
	if page := fetch(t, c, b.url+"/ns/payments/is/api", http.StatusOK); !strings.Contains(page, "demo") {
		t.Fatal("replica B does not show the user logged in on replica A")
	}

	// A change through replica A's store shows on replica B's cached page.
	if strings.Contains(fetch(t, c, b.url+"/ns/payments/is/api", http.StatusOK), "hotfix") {
		t.Fatal("fixture already has a hotfix tag")
	}
	if _, err := a.store.SetTag(ctx, store.Source{Kind: store.KindImageStreamTag, Namespace: "payments", Stream: "api", Tag: "latest"},
		store.TagRef{Namespace: "payments", Stream: "api", Tag: "hotfix"}, store.TagOptions{}); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	for !strings.Contains(fetch(t, c, b.url+"/ns/payments/is/api", http.StatusOK), "hotfix") {
		if time.Since(changed) > 10*time.Second {
			t.Fatal("replica B still shows the stream without the tag made on replica A after 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("a change on A showed on B after %s", time.Since(changed).Round(10*time.Millisecond))

	// Let the 1 s snapshot schedule tick a few times on both, then stop both.
	time.Sleep(3500 * time.Millisecond)
	cancel()
	for _, r := range []*replica{a, b} {
		if err := <-r.done; err != nil {
			t.Fatalf("replica stopped with %v\n%s", err, r.logs)
		}
	}

	check, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	runs, err := check.RecentJobRuns(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	perSecond := map[int64]int{}
	for _, r := range runs {
		if r.Job != "usage-snapshot" {
			continue
		}
		if r.Status != "ok" {
			t.Errorf("run %+v did not succeed", r)
		}
		perSecond[r.Started.Unix()]++
	}
	if len(perSecond) < 3 {
		t.Fatalf("only %d ticks ran in ~5 s on two replicas", len(perSecond))
	}
	for sec, n := range perSecond {
		if n != 1 {
			t.Errorf("the tick of %s ran %d times", time.Unix(sec, 0).UTC().Format(time.TimeOnly), n)
		}
	}
	skipped := strings.Count(a.logs.String()+b.logs.String(), "another replica has this run")
	t.Logf("%d ticks ran once each; %d ticks skipped because the other replica had them", len(perSecond), skipped)
	if skipped == 0 {
		t.Error("no replica ever skipped a tick: were both schedulers running?")
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", base)
}

func fetch(t *testing.T, c *http.Client, u string, status int) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d\n%s", u, resp.StatusCode, status, firstLines(string(b), 20))
	}
	return string(b)
}
