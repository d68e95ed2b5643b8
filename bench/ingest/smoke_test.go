package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/storetest"
	"layerwise/store/synth"
	"layerwise/web"
)

// startServer runs the real server (web.Server.Serve) on a loopback port
// over a small synthetic registry, its webhook reading pushes back from
// reg.
func startServer(t *testing.T, reg *Registry, token string) *url.URL {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := store.Open(ctx, storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Generate(ctx, s, synth.Options{Namespaces: 2, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Threshold: 50 << 30, Policy: store.DefaultPolicy, SnapshotSchedule: "@daily", NoJobs: true,
		RegistryURL: "http://" + reg.Host, WebhookToken: token}, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.Close()
	})
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

// TestIngestRecordsEveryPush is the harness end to end, briefly: about a
// second of pushes at a low rate into the real server, and then what a
// user checks — every tag pushed to now shows the last image pushed there,
// weighing what its manifest, config and layers weigh.
func TestIngestRecordsEveryPush(t *testing.T) {
	ctx := context.Background()
	reg, err := startRegistry(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	base := startServer(t, reg, "secret")

	res, err := run(ctx, options{URL: base, Token: "secret", Rate: 12, Duration: time.Second, Envelope: 2, Seed: 3,
		MaxStreams: 5, MaxInFlight: 8, Timeout: 30 * time.Second}, reg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.report(&out)
	t.Log(out.String())
	if res.errorCount() != 0 || res.Recorded != res.Pushes || res.Changed != res.Pushes || res.Pushes != 12 {
		t.Fatalf("want 12 pushes each recorded as a change, no errors:\n%s", out.String())
	}
	if len(res.Current) < 2 {
		t.Fatalf("the pushes went to %d tags; want them spread over several", len(res.Current))
	}
	api := &apiClient{base: base, http: loopbackClient(10 * time.Second)}
	for key, p := range res.Current {
		repo, tag, _ := strings.Cut(key, ":")
		ns, stream, _ := strings.Cut(repo, "/")
		var got apiTag
		if err := api.getJSON(ctx, tagPath(ns, stream, tag), &got); err != nil {
			t.Fatal(err)
		}
		if got.Image.Metadata.Name != p.digest {
			t.Errorf("%s shows image %s; the last push there was %s", key, got.Image.Metadata.Name, p.digest)
		}
		if got.SizeBytes == nil || *got.SizeBytes != p.bytes {
			t.Errorf("%s weighs %v bytes; the pushed image's blobs weigh %d", key, got.SizeBytes, p.bytes)
		}
	}
}

// A webhook that answers non-2xx (here: the wrong token) is an error, and
// the command exits non-zero.
func TestIngestExitsNonZeroOnRefusedPushes(t *testing.T) {
	ctx := context.Background()
	reg, err := startRegistry(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	base := startServer(t, reg, "secret")
	var stdout, stderr bytes.Buffer
	code := mainRun(ctx, []string{"-url", base.String(), "-registry", "127.0.0.1:0", "-token", "wrong",
		"-rate", "10", "-duration", "300ms"}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stdout.String(), "401 Unauthorized") || !strings.Contains(stdout.String(), "non-2xx envelopes 3") {
		t.Fatalf("exit %d with\n%s%s\nwant non-zero, 3 envelopes refused with 401", code, stdout.String(), stderr.String())
	}
}

// startFakeServer is a stand-in for the server's API on a loopback port:
// one namespace with one tag to push to, and events for the webhook.
func startFakeServer(t *testing.T, events http.HandlerFunc) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/usage"):
			io.WriteString(w, `{"namespaces": [{"name": "team-a", "streams": [{"name": "api", "tags": [{"name": "latest"}]}]}]}`)
		case strings.Contains(r.URL.Path, "/imagestreamtags/"):
			io.WriteString(w, `{"image": {"dockerImageLayers": []}}`)
		case r.URL.Path == "/api/v1/registry/events":
			events(w, r)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

// The schedule is kept by the clock: every scheduled push is sent even
// when the server answers slower than the interval.
func TestIngestSendsTheWholeScheduleToASlowServer(t *testing.T) {
	ctx := context.Background()
	reg, err := startRegistry(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	posts := make(chan struct{}, 100)
	base := startFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		posts <- struct{}{}
		time.Sleep(400 * time.Millisecond) // four intervals
		io.WriteString(w, `{"pushes": 1, "changed": 1}`)
	})
	res, err := run(ctx, options{URL: base, Token: "t", Rate: 10, Duration: time.Second,
		Envelope: 1, MaxInFlight: 64, Timeout: 10 * time.Second}, reg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 10 || res.Recorded != 10 || res.errorCount() != 0 {
		t.Fatalf("the server got %d envelopes, %d recorded, %d errors; want all 10 sent on schedule", len(posts), res.Recorded, res.errorCount())
	}
}

// An envelope the server refuses as busy (503 with Retry-After) is sent
// again after the wait, as a registry does; it is not an error, and each
// push is counted once.
func TestIngestSendsBusyRefusalsAgain(t *testing.T) {
	ctx := context.Background()
	reg, err := startRegistry(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var mu sync.Mutex
	posts := 0
	base := startFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		first := posts%2 == 1
		mu.Unlock()
		if first { // every envelope is refused once
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error": "busy"}`)
			return
		}
		io.WriteString(w, `{"pushes": 1, "changed": 1}`)
	})
	res, err := run(ctx, options{URL: base, Token: "t", Rate: 5, Duration: time.Second,
		Envelope: 1, MaxInFlight: 1, Timeout: 10 * time.Second}, reg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.report(&out)
	mu.Lock()
	defer mu.Unlock()
	if posts != 10 || res.Retried != 5 || res.Recorded != 5 || res.errorCount() != 0 || !strings.Contains(out.String(), "retried=5") {
		t.Fatalf("%d posts, %d retried, %d recorded, %d errors; want 5 pushes each refused once and sent again:\n%s",
			posts, res.Retried, res.Recorded, res.errorCount(), out.String())
	}
}
