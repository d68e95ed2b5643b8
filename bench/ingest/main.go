// Command ingest is the benchmarks' registry: it posts registry
// notification envelopes to a Layerwise server's webhook
// (POST /api/v1/registry/events) at a steady rate of pushes per second, each
// push a new manifest on a tag of an existing image stream, and serves
// those manifests itself (an in-process registry on a loopback port) for
// the server to read back. Start the server with
//
//	LAYERWISE_REGISTRY_URL=http://127.0.0.1:5001 LAYERWISE_WEBHOOK_TOKEN=t layerwise serve ...
//
// then
//
//	go run ./bench/ingest -url http://127.0.0.1:8080 -registry 127.0.0.1:5001 -token t -rate 100 -duration 10s
//
// It prints the pushes per second the server absorbed, the webhook's
// latency p50/p99 and the errors, and exits 1 on any error (a non-2xx
// answer, a push the server could not record). It only ever connects to
// loopback addresses. bench/run runs it while wrk reads the pages.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(mainRun(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func mainRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "", "the Layerwise server, http://127.0.0.1:PORT (loopback only)")
	regAddr := fs.String("registry", "", "loopback host:port to serve the pushed manifests on: the server's LAYERWISE_REGISTRY_URL must be http://this")
	token := fs.String("token", os.Getenv("LAYERWISE_WEBHOOK_TOKEN"), "the webhook's bearer token (default $LAYERWISE_WEBHOOK_TOKEN)")
	readToken := fs.String("read-token", "", "an API token to read the streams with, when the server has accounts")
	rate := fs.Float64("rate", 100, "pushes per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	envelope := fs.Int("envelope", 1, "pushes per notification envelope")
	seed := fs.Uint64("seed", 1, "which streams, tags and sizes (digests are new on every run)")
	namespaces := fs.String("namespaces", "", "comma-separated namespaces to push to; empty: every namespace (reads /api/v1/usage whole)")
	streams := fs.Int("streams", 200, "at most this many streams get the pushes")
	inFlight := fs.Int("max-in-flight", 512, "envelopes sent and not answered yet, at most")
	timeout := fs.Duration("timeout", 60*time.Second, "one webhook request")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *rawURL == "" || *regAddr == "" || *token == "" {
		fmt.Fprintln(stderr, "ingest needs -url, -registry and -token (or LAYERWISE_WEBHOOK_TOKEN)")
		return 2
	}
	u, err := loopbackURL(ctx, *rawURL, net.DefaultResolver.LookupIPAddr)
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return 2
	}
	reg, err := startRegistry(ctx, *regAddr)
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return 2
	}
	defer reg.Close()
	opt := options{URL: u, Token: *token, ReadToken: *readToken, Rate: *rate, Duration: *duration, Envelope: *envelope,
		Seed: *seed, MaxStreams: *streams, MaxInFlight: *inFlight, Timeout: *timeout}
	for _, ns := range strings.Split(*namespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			opt.Namespaces = append(opt.Namespaces, ns)
		}
	}
	res, err := run(ctx, opt, reg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return 1
	}
	res.report(stdout)
	if res.errorCount() > 0 {
		return 1
	}
	return 0
}
