package cli

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"layerwise/change"
	"layerwise/store"
	"layerwise/store/storetest"
)

func TestServeDemoOnlyOnLoopback(t *testing.T) {
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
	ctx := context.Background()
	s, err := store.Open(ctx, newDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, op := change.New(s, nil), &store.Principal{User: "cli:op", PlatformAdmin: true}
	if err := loadDemo(ctx, svc, op, log); err != nil {
		t.Fatal(err)
	}
	// Loaded through the Service: audited as who ran serve --demo.
	evs, err := s.AuditLog(ctx, store.AuditFilter{Actor: "cli:op"})
	if err != nil || len(evs) != 4 {
		t.Errorf("demo load audit: %d events, %v; want the dump, two namespaces' settings and the account", len(evs), err)
	}
	before := storetest.Dump(t, s)
	if err := loadDemo(ctx, svc, op, log); err != nil {
		t.Fatalf("second start: %v", err)
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
}

// TestServeSyncFlags: the cluster needs its token file; a bad registry URL
// is refused before anything listens.
func TestServeSyncFlags(t *testing.T) {
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
