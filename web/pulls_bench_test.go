package web

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"layerwise/store"
)

// BenchmarkWebhookPullIngest measures pull notifications end to end: HTTP
// on loopback, the token check, the envelope's decoding and checks, the
// queue, and the batched writes to the database (the recorder flushing
// every second meanwhile, and once more at the end, inside the timing).
// Pulls fall on 2,000 (stream, image) pairs. Sub-benchmarks: one event per
// envelope, as the distribution registry sends them one after the other,
// and 4 senders at once (several registry replicas); and envelopes of 50.
// The figure is pulls/s (docs/PERFORMANCE.md).
func BenchmarkWebhookPullIngest(b *testing.B) {
	for _, c := range []struct {
		name             string
		perEnvelope, par int
	}{{"1-per-envelope", 1, 1}, {"1-per-envelope-4-senders", 1, 4}, {"50-per-envelope", 50, 1}} {
		b.Run(c.name, func(b *testing.B) { benchPulls(b, c.perEnvelope, c.par) })
	}
}

func benchPulls(b *testing.B, perEnvelope, par int) {
	ctx := context.Background()
	// The registry is never asked anything: pulls are not read back.
	hs := startHookServer(b, listenLoopback(b), Config{RegistryURL: "http://127.0.0.1:9", WebhookToken: hookToken})
	s := hs.store
	// 20 namespaces × 5 streams, 20 images each: 2,000 (stream, image) pairs.
	type pair struct{ repo, digest string }
	var pairs []pair
	at := time.Now().UTC().Add(-time.Hour)
	for n := range 20 {
		for st := range 5 {
			for i := range 20 {
				name := fmt.Sprintf("bench-%d-%d-%d", n, st, i)
				img := store.ImageSnapshot{Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(name))), MediaType: mtManifest,
					Config: &store.BlobRef{Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("config:"+name))), Size: 100}}
				if _, err := s.MapImage(ctx, fmt.Sprintf("ns%d", n), fmt.Sprintf("app%d", st), fmt.Sprintf("t%d", i), img, at); err != nil {
					b.Fatal(err)
				}
				pairs = append(pairs, pair{fmt.Sprintf("ns%d/app%d", n, st), img.Digest})
			}
		}
	}
	bodies := make([]string, 1000)
	for i := range bodies {
		var evs []map[string]any
		for k := range perEnvelope {
			p := pairs[(i*perEnvelope+k*7919)%len(pairs)]
			ev := event("pull", p.repo, "", p.digest, mtManifest, time.Now().UTC())
			ev["request"] = map[string]any{"method": "GET", "useragent": "containerd/1.7"}
			evs = append(evs, ev)
		}
		bodies[i] = envelope(evs...)
	}
	rec := hs.srv.Pulls()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { rec.Run(runCtx); close(done) }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: par}}
	post := func(body string) {
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/v1/registry/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
		req.Header.Set("Authorization", "Bearer "+hookToken)
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Errorf("status %d", resp.StatusCode)
		}
	}
	b.ResetTimer()
	start := time.Now()
	b.SetParallelism(par)
	if par == 1 {
		for i := 0; i < b.N; i++ {
			post(bodies[i%len(bodies)])
		}
	} else {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				post(bodies[i%len(bodies)])
				i++
			}
		})
	}
	stop()
	<-done // the last flush: every pull is in the database
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*perEnvelope)/elapsed.Seconds(), "pulls/s")
	var n int64
	if err := s.DB().Raw(`SELECT COUNT(*) FROM image_pulls`).Scan(&n).Error; err != nil || n == 0 || rec.Pending() != 0 {
		b.Fatalf("%d pull rows, %d pending, %v", n, rec.Pending(), err)
	}
}
