package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"layerwise/change"
	"layerwise/store"
	"layerwise/store/storetest"
)

func TestServeDemoOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.1:8080", "example.com:80"} {
		r := lw(t, db, "", "serve", "--demo", "--addr", addr)
		if r.code != 2 || !strings.Contains(r.err, "only listens on a loopback address") {
			t.Errorf("serve --demo --addr %s: exit %d %q", addr, r.code, r.err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "localhost:1", "[::1]:8080"} {
		if !loopback(addr) {
			t.Errorf("%s is loopback", addr)
		}
	}
}

func TestLoadDemoOnceWithTheDemoAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, newDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, op := change.New(s, nil), &store.Principal{User: "cli:op", PlatformAdmin: true}
	if loaded, err := loadDemo(ctx, svc, op, log, store.DefaultPolicy); err != nil || !loaded {
		t.Fatalf("first start: loaded %v, %v", loaded, err)
	}
	// Loaded through the Service: audited as who ran serve --demo.
	evs, err := s.AuditLog(ctx, store.AuditFilter{Actor: "cli:op"})
	if err != nil || len(evs) != 4 {
		t.Errorf("demo load audit: %d events, %v; want the dump, two namespaces' settings and the account", len(evs), err)
	}
	before := storetest.Dump(t, s)
	if loaded, err := loadDemo(ctx, svc, op, log, store.DefaultPolicy); err != nil || loaded {
		t.Fatalf("second start: loaded %v, %v", loaded, err)
	}
	if after := storetest.Dump(t, s); after != before {
		t.Fatal("a second --demo start changed the data")
	}
	if _, err := s.Authenticate(ctx, "demo", "demo"); err != nil {
		t.Fatalf("demo/demo: %v", err)
	}
	// The newest history entry is about an hour old, so ages look real.
	u, err := s.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	var newest int64
	for _, n := range u.Namespaces {
		for _, st := range n.Streams {
			if st.Updated.Unix() > newest {
				newest = st.Updated.Unix()
			}
		}
	}
	if age := s.Now().Unix() - newest; age < 3500 || age > 3700 {
		t.Errorf("newest demo entry is %d s old, want about an hour", age)
	}
	ml, _ := s.GetNamespace(ctx, "ml")
	if n, _ := u.Namespace("ml"); ml.ThresholdBytes == nil || n.Bytes < *ml.ThresholdBytes {
		t.Errorf("the demo should show ml over its threshold")
	}
	// Twelve weeks of history, a week apart, the newest a week ago, for
	// the registry and every namespace (issue 16: the demo had none, so
	// the e-mail said "no snapshot from last week yet").
	for _, ns := range append([]string{""}, "ml", "payments") {
		snaps, err := s.Trend(ctx, ns, s.Now().AddDate(0, 0, -100))
		if err != nil || len(snaps) != 12 {
			t.Fatalf("%q: %d snapshots (%v), want 12", ns, len(snaps), err)
		}
		for i, sn := range snaps {
			if i > 0 && sn.TakenAt.Sub(snaps[i-1].TakenAt) != 7*24*time.Hour {
				t.Errorf("%q: snapshots %s and %s are not a week apart", ns, snaps[i-1].TakenAt, sn.TakenAt)
			}
			if sn.Bytes <= 0 || sn.ExclusiveBytes > sn.Bytes || sn.ReclaimableBytes > sn.Bytes {
				t.Errorf("%q: implausible snapshot %+v", ns, sn)
			}
		}
		if age := s.Now().Sub(snaps[11].TakenAt); age < 7*24*time.Hour || age > 8*24*time.Hour {
			t.Errorf("%q: the newest snapshot is %s old, want a week", ns, age)
		}
	}
}

// TestServeSyncFlags: the cluster needs its token file; a bad registry URL
// is refused before anything listens.
func TestServeSyncFlags(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	r := lw(t, db, "", "serve", "--no-jobs", "--openshift-url", "https://api.example.com:6443")
	if r.code != 2 || !strings.Contains(r.err, "--openshift-url needs --openshift-token-file") {
		t.Errorf("openshift without token: exit %d %q", r.code, r.err)
	}
	r = lw(t, db, "", "serve", "--no-jobs", "--addr", "127.0.0.1:0", "--registry-url", "ftp://registry/x")
	if r.code != 1 || !strings.Contains(r.err, "LAYERWISE_REGISTRY_URL") {
		t.Errorf("bad registry URL: exit %d %q", r.code, r.err)
	}
	r = lw(t, db, "", "serve", "--no-jobs", "--addr", "127.0.0.1:0", "--webhook-token-file", "/nonexistent/token")
	if r.code != 1 || !strings.Contains(r.err, "--webhook-token-file") {
		t.Errorf("missing webhook token file: exit %d %q", r.code, r.err)
	}
	r = lw(t, db, "", "serve", "--no-jobs", "--addr", "127.0.0.1:0", "--metrics-token-file", "/nonexistent/token")
	if r.code != 1 || !strings.Contains(r.err, "--metrics-token-file") {
		t.Errorf("missing metrics token file: exit %d %q", r.code, r.err)
	}
	r = lw(t, db, "", "serve", "--no-jobs", "--addr", "127.0.0.1:0", "--import-allow", "10.0.0.0/8,http://registry.internal")
	if r.code != 1 || !strings.Contains(r.err, "LAYERWISE_IMPORT_ALLOW") {
		t.Errorf("bad --import-allow: exit %d %q", r.code, r.err)
	}
}

// TestServeDemoPortTaken: with the port taken, serve --demo fails before
// it says where to log in, and says how to pick another port.
func TestServeDemoPortTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	db := newDB(t)
	r := lw(t, db, "", "serve", "--demo", "--no-jobs", "--addr", addr)
	if r.code != 1 {
		t.Fatalf("serve --demo on a taken port: exit %d, stderr %q", r.code, r.err)
	}
	if !strings.Contains(r.err, "already in use") || !strings.Contains(r.err, "--addr") || !strings.Contains(r.err, "LAYERWISE_ADDR") {
		t.Errorf("the error does not say how to pick another port: %q", r.err)
	}
	if strings.Contains(r.out, "Log in") || strings.Contains(r.out, "Layerwise on") {
		t.Errorf("serve printed where to log in although it could not listen: %q", r.out)
	}
	if d := dump(t, db); strings.Contains(d, "payments") {
		t.Error("the demo data was loaded although serve could not listen")
	}
}

// lockedBuffer is a stdout the test reads while serve writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveUntil runs serve until its stdout contains want, checks that the
// address it printed accepts connections at that moment, stops it and
// returns what it printed.
func serveUntil(t *testing.T, db, want string, args ...string) string {
	t.Helper()
	var out lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard,
		getenv: func(k string) string {
			if k == "LAYERWISE_DB" {
				return db
			}
			return ""
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- c.run(ctx, append([]string{"serve"}, args...)) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), want) {
		select {
		case code := <-done:
			t.Fatalf("serve ended with %d before printing %q: %q", code, want, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not print %q: %q", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`Layerwise on http://([^/]+)/`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("serve printed no address: %q", out.String())
	}
	conn, err := net.Dial("tcp", m[1])
	if err != nil {
		t.Fatalf("serve printed %q but %s does not accept connections: %v", want, m[1], err)
	}
	conn.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve stopped with exit %d", code)
	}
	return out.String()
}

// TestServeDemoSaysWhenItReuses: the first serve --demo loads the demo and
// says where to log in once it listens; a second one on the same database
// says that it reuses it and how to start fresh.
func TestServeDemoSaysWhenItReuses(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	first := serveUntil(t, db, "Log in as demo / demo.", "--demo", "--no-jobs", "--addr", "127.0.0.1:0")
	if strings.Contains(first, "Reusing") {
		t.Errorf("the first start says it reuses a database: %q", first)
	}
	second := serveUntil(t, db, "Log in as demo / demo.", "--demo", "--no-jobs", "--addr", "127.0.0.1:0")
	if !strings.Contains(second, "Reusing the existing database") || !strings.Contains(second, "To start fresh") {
		t.Errorf("the second start does not say it reuses the database: %q", second)
	}
}
