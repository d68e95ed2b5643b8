package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// options say what to send where.
type options struct {
	URL        *url.URL // the server, loopback only (loopbackURL)
	Token      string   // LAYERWISE_WEBHOOK_TOKEN
	ReadToken  string   // an API token for discovery when the server has accounts
	Rate       float64  // pushes per second
	Duration   time.Duration
	Envelope   int // pushes per notification envelope
	Seed       uint64
	Namespaces []string // where to push; none: every namespace
	MaxStreams int      // how many streams the pushes spread over
	// MaxInFlight bounds the envelopes sent and not answered yet; when it
	// is reached the schedule waits, and the wait is reported as lag.
	MaxInFlight int
	Timeout     time.Duration // one webhook request
}

// result is what came of a run.
type result struct {
	Rate               float64
	Envelopes, Pushes  int // scheduled, all sent
	Recorded           int // pushes answered 2xx and not reported failed
	Changed, Unchanged int
	Non2xx, Transport  int // envelopes
	Retried            int // sends refused as busy (503, Retry-After) and sent again
	Failed             int // pushes the server could not read back or refused
	Errors             []string
	Latencies          []time.Duration // one per envelope answered
	Elapsed            time.Duration   // first scheduled send to last answer
	Late               int             // envelopes sent more than one interval after their time
	Stalled            int             // of them, held back by MaxInFlight unanswered envelopes
	MaxLag             time.Duration
	Current            map[string]*push // "ns/stream:tag" → the newest push recorded there
}

func (r *result) errorCount() int { return r.Non2xx + r.Transport + r.Failed }

// achieved is recorded pushes per second over the whole run, the wait for
// the last answer included: a server that falls behind shows here.
func (r *result) achieved() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Recorded) / r.Elapsed.Seconds()
}

// percentile is the nearest-rank q-quantile of the webhook latencies.
func (r *result) percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.Latencies)
	slices.Sort(l)
	i := int(float64(len(l))*q+0.999999) - 1
	return l[max(0, min(i, len(l)-1))]
}

// webhookAnswer is the webhook's answer (handlers.WebhookResult).
type webhookAnswer struct {
	Pushes    int      `json:"pushes"`
	Changed   int      `json:"changed"`
	Unchanged int      `json:"unchanged"`
	Failed    []string `json:"failed"`
}

// run discovers the targets, then sends envelopes on a fixed clock:
// open-loop, each at its time whatever the answers to the earlier ones, so
// a slow server gets a growing queue rather than fewer pushes. The whole
// schedule is always sent; when sending could not keep up, Late and
// MaxLag say by how much.
func run(ctx context.Context, opt options, reg *Registry, progress io.Writer) (*result, error) {
	if opt.Rate <= 0 || opt.Envelope < 1 || opt.Duration <= 0 {
		return nil, fmt.Errorf("-rate, -envelope and -duration must be positive")
	}
	client := loopbackClient(opt.Timeout)
	api := &apiClient{base: opt.URL, http: client, token: opt.ReadToken}
	rng := mrand.New(mrand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	targets, err := discover(ctx, api, opt.Namespaces, opt.MaxStreams, rng)
	if err != nil {
		return nil, fmt.Errorf("discover the streams to push to: %w", err)
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	b := newBuilder(rng, hex.EncodeToString(nonce), targets)

	interval := time.Duration(float64(time.Second) * float64(opt.Envelope) / opt.Rate)
	n := max(1, int(opt.Duration/interval))
	res := &result{Rate: opt.Rate, Envelopes: n, Pushes: n * opt.Envelope, Current: map[string]*push{}}
	fmt.Fprintf(progress, "ingest: sending %d pushes to %d streams in %d envelopes of %d, one every %v (%.4g pushes/s) to %s via registry %s\n",
		res.Pushes, len(targets), n, opt.Envelope, interval, opt.Rate, opt.URL, reg.Host)

	sem := make(chan struct{}, max(1, opt.MaxInFlight))
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		pushes := make([]*push, opt.Envelope)
		for j := range pushes {
			if pushes[j], err = b.next(due.Add(time.Duration(j))); err != nil {
				return nil, err
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			res.Stalled++ // the server has not answered MaxInFlight envelopes
			sem <- struct{}{}
		}
		if lag := time.Since(due); lag > res.MaxLag {
			res.MaxLag = lag
		}
		if time.Since(due) > interval {
			res.Late++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			send(ctx, client, opt, reg, pushes, res, &mu)
		}()
	}
	wg.Wait()
	// The schedule's own length at least: the last envelope goes out one
	// interval before it ends.
	res.Elapsed = max(time.Since(start), time.Duration(n)*interval)
	return res, nil
}

// send puts the envelope's images in the registry, then posts the
// notification as distribution would, and tallies the answer.
func send(ctx context.Context, client *http.Client, opt options, reg *Registry, pushes []*push, res *result, mu *sync.Mutex) {
	fail := func(counter *int, n int, msg string) {
		mu.Lock()
		defer mu.Unlock()
		*counter += n
		if len(res.Errors) < 5 {
			res.Errors = append(res.Errors, msg)
		}
	}
	events := make([]map[string]any, len(pushes))
	for i, p := range pushes {
		if err := reg.put(p.repo, p.tag, p); err != nil {
			fail(&res.Transport, 1, "registry: "+err.Error())
			return
		}
		events[i] = map[string]any{
			"id": fmt.Sprintf("bench-%s-%d", p.digest[7:19], p.seq), "timestamp": p.at.UTC().Format(time.RFC3339Nano), "action": "push",
			"target": map[string]any{"mediaType": mtManifest, "digest": p.digest, "size": len(p.manifest), "length": len(p.manifest),
				"repository": p.repo, "tag": p.tag, "url": "http://" + reg.Host + "/v2/" + p.repo + "/manifests/" + p.digest},
			"request": map[string]any{"method": "PUT", "useragent": "layerwise-bench-ingest", "host": reg.Host},
			"actor":   map[string]any{}, "source": map[string]any{"addr": reg.Host},
		}
	}
	body, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		fail(&res.Transport, 1, err.Error())
		return
	}
	// Like a registry, an envelope refused as busy (503 with Retry-After)
	// is sent again after that wait; its latency runs from the first send.
	t0 := time.Now()
	var resp *http.Response
	var answer []byte
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, opt.URL.String()+"/api/v1/registry/events", bytes.NewReader(body))
		if err != nil {
			fail(&res.Transport, 1, err.Error())
			return
		}
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
		req.Header.Set("Authorization", "Bearer "+opt.Token)
		resp, err = client.Do(req)
		if err != nil {
			fail(&res.Transport, 1, err.Error())
			return
		}
		answer, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			fail(&res.Transport, 1, err.Error())
			return
		}
		wait, ok := retryAfter(resp)
		if !ok {
			break
		}
		mu.Lock()
		res.Retried++
		mu.Unlock()
		select {
		case <-ctx.Done():
			fail(&res.Transport, 1, "gave up waiting to send a refused envelope again: "+ctx.Err().Error())
			return
		case <-time.After(wait):
		}
	}
	took := time.Since(t0)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fail(&res.Non2xx, 1, fmt.Sprintf("webhook answered %s: %.300s", resp.Status, bytes.TrimSpace(answer)))
		return
	}
	var a webhookAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		fail(&res.Non2xx, 1, fmt.Sprintf("webhook answered %s with %.200q: %v", resp.Status, answer, err))
		return
	}
	if len(a.Failed) > 0 {
		fail(&res.Failed, len(a.Failed), "push not recorded: "+a.Failed[0])
	}
	mu.Lock()
	defer mu.Unlock()
	res.Latencies = append(res.Latencies, took)
	res.Changed += a.Changed
	res.Unchanged += a.Unchanged
	for _, p := range pushes {
		if slices.ContainsFunc(a.Failed, func(f string) bool { return strings.Contains(f, "@"+p.digest) }) {
			continue
		}
		res.Recorded++
		key := p.repo + ":" + p.tag
		if cur := res.Current[key]; cur == nil || cur.seq < p.seq {
			res.Current[key] = p
		}
	}
}

// retryAfter says whether the answer is "busy, send again" (503 with
// Retry-After in seconds) and how long to wait.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// report prints the figures bench/run reads (the last line, key=value).
func (r *result) report(w io.Writer) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(w, "pushes: %d scheduled in %d envelopes, %d recorded (%d changed a tag, %d already recorded) in %.2f s: %.1f pushes/s (target %.4g)\n",
		r.Pushes, r.Envelopes, r.Recorded, r.Changed, r.Unchanged, r.Elapsed.Seconds(), r.achieved(), r.Rate)
	fmt.Fprintf(w, "webhook latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d envelopes answered)\n",
		ms(r.percentile(0.50)), ms(r.percentile(0.99)), ms(r.percentile(1)), len(r.Latencies))
	if r.Late > 0 {
		why := "the harness could not keep the rate (CPU)"
		if r.Stalled > 0 {
			why = fmt.Sprintf("%d waited for the server to answer earlier envelopes (-max-in-flight): it does not keep up", r.Stalled)
		}
		fmt.Fprintf(w, "BEHIND: %d of %d envelopes went out more than one interval late (max lag %.1f ms); %s\n",
			r.Late, r.Envelopes, ms(r.MaxLag), why)
	} else {
		fmt.Fprintf(w, "schedule: kept (max lag %.1f ms)\n", ms(r.MaxLag))
	}
	if r.Retried > 0 {
		fmt.Fprintf(w, "busy: %d sends refused with 503 and Retry-After, sent again (as a registry does)\n", r.Retried)
	}
	fmt.Fprintf(w, "errors: %d (non-2xx envelopes %d, failed requests %d, pushes not recorded %d)\n", r.errorCount(), r.Non2xx, r.Transport, r.Failed)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintf(w, "result pushes_per_s=%.1f p50_ms=%.1f p99_ms=%.1f errors=%d late=%d max_lag_ms=%.1f retried=%d\n",
		r.achieved(), ms(r.percentile(0.50)), ms(r.percentile(0.99)), r.errorCount(), r.Late, ms(r.MaxLag), r.Retried)
}
