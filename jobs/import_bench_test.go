package jobs

import (
	"context"
	"fmt"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/jobs/registry"
	"layerwise/jobs/registry/regtest"
	"layerwise/store"
)

// BenchmarkScheduledRecheck re-checks 5,000 scheduled tags that did not
// change (LAYERWISE_BENCH_IMPORT_TAGS sets another number) against
// go-containerregistry's registry in process, behind a request counter:
// 50 repositories of 100 tags, all imported before the clock starts. It
// reports the wall time of one run and the registry requests per tag.
//
//	go test -run '^$' -bench ScheduledRecheck -benchtime 5x ./jobs/
func BenchmarkScheduledRecheck(b *testing.B) {
	n := 5000
	if v := os.Getenv("LAYERWISE_BENCH_IMPORT_TAGS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	var e *importEnv
	if os.Getenv("LAYERWISE_BENCH_REGISTRY") == "distribution" {
		real := regtest.Start(b, regtest.Options{})
		u, err := url.Parse(real.URL)
		if err != nil {
			b.Fatal(err)
		}
		e = newImportEnvOn(b, 8, newFaultyRegistryOf(b, httputil.NewSingleHostReverseProxy(u)))
	} else {
		e = newImportEnv(b, 8)
	}
	setupStart := time.Now()
	scheduleMany(b, e, n)
	b.Logf("set up %d scheduled tags in %s", n, time.Since(setupStart).Round(time.Millisecond))

	// The first run shakes hands with the host; the runs measured do not.
	if st, err := e.im.Run(ctx); err != nil || st.Unchanged != n {
		b.Fatalf("warm-up run: %+v %v", st, err)
	}
	e.reg.requests.Store(0)
	var runs int64
	b.ResetTimer()
	for b.Loop() {
		st, err := e.im.Run(ctx)
		if err != nil || st.Unchanged != n {
			b.Fatalf("run: %+v %v", st, err)
		}
		runs++
	}
	b.StopTimer()
	perRun := b.Elapsed().Seconds() / float64(runs)
	b.ReportMetric(perRun, "s/run")
	b.ReportMetric(float64(e.reg.requests.Load())/float64(int64(n)*runs), "requests/tag")
	b.ReportMetric(0, "ns/op") // the run's time is s/run
	if perRun > 60 {
		b.Errorf("one re-check of %d tags took %.1fs, target under 60s", n, perRun)
	}
}

// scheduleMany makes n scheduled tags, 100 per repository, each recorded
// as imported from its registry tag (one image for all of them: the
// re-check asks only for digests).
func scheduleMany(b *testing.B, e *importEnv, n int) {
	b.Helper()
	ctx := context.Background()
	e.reg.push(b, "bench/base:1")
	res, err := e.im.Client.Fetch(ctx, e.reg.host+"/bench/base:1", registry.FetchOptions{})
	if err != nil {
		b.Fatal(err)
	}
	baseRef, err := name.ParseReference(e.reg.host + "/bench/base:1")
	if err != nil {
		b.Fatal(err)
	}
	desc, err := remote.Get(baseRef)
	if err != nil {
		b.Fatal(err)
	}
	pusher, err := remote.NewPusher()
	if err != nil {
		b.Fatal(err)
	}
	err = e.s.Tx(ctx, func(tx *store.Store) error {
		for i := range n {
			repo := fmt.Sprintf("bench/r%d", i/100)
			tag := fmt.Sprintf("t%d", i%100)
			ref, err := name.ParseReference(e.reg.host + "/" + repo + ":" + tag)
			if err != nil {
				return err
			}
			if err := pusher.Push(ctx, ref, desc); err != nil {
				return fmt.Errorf("tag %s: %w", ref, err)
			}
			dst := store.TagRef{Namespace: "bench", Stream: fmt.Sprintf("r%d", i/100), Tag: tag}
			from := ref.String()
			opt := store.TagOptions{Scheduled: true}
			if _, err := tx.RecordImport(ctx, dst, from, opt, res.Image, e.reg.host+"/"+repo+"@"+res.Digest); err != nil {
				return err
			}
			if err := tx.RecordImportCheck(ctx, dst, from, "", res.SourceDigest); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
