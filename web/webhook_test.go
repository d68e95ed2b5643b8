package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/handlers"
	"layerwise/store"
	"layerwise/store/storetest"
)

// switchRegistry is go-containerregistry's in-process registry behind a
// switch: "ok" serves, "401" wants credentials, "garbage" sends a broken
// manifest, "hang" never answers, "block" answers once gate is closed
// (each blocked request sends on entered first).
type switchRegistry struct {
	*httptest.Server
	host    string
	mode    atomic.Value
	gate    chan struct{}
	entered chan struct{}
}

func newSwitchRegistry(t *testing.T) *switchRegistry {
	t.Helper()
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	r := &switchRegistry{gate: make(chan struct{}), entered: make(chan struct{}, 64)}
	r.mode.Store("ok")
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch r.mode.Load().(string) {
		case "401":
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		case "garbage":
			if strings.Contains(req.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
				io.WriteString(w, `{"schemaVersion": 2, "layers": "not a list"`)
				return
			}
		case "hang":
			<-req.Context().Done()
			return
		case "block":
			select {
			case r.entered <- struct{}{}:
			default:
			}
			select {
			case <-r.gate:
			case <-req.Context().Done():
				return
			}
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	r.host = strings.TrimPrefix(r.URL, "http://")
	return r
}

func (r *switchRegistry) push(t *testing.T, repoTag string) string {
	t.Helper()
	img, err := random.Image(1500, 2)
	if err != nil {
		t.Fatal(err)
	}
	return r.pushImage(t, repoTag, img)
}

func (r *switchRegistry) pushImage(t *testing.T, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return digestOf(t, img)
}

const (
	mtManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

var evT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// event is one notification as distribution writes it.
func event(action, repo, tag, digest, mediaType string, at time.Time) map[string]any {
	target := map[string]any{"mediaType": mediaType, "digest": digest, "repository": repo, "size": 528, "length": 528,
		"url": "http://registry.local/v2/" + repo + "/manifests/" + digest}
	if tag != "" {
		target["tag"] = tag
	}
	return map[string]any{"id": fmt.Sprintf("%s-%s-%d", action, digest, at.UnixNano()), "timestamp": at.Format(time.RFC3339Nano),
		"action": action, "target": target, "request": map[string]any{"method": "PUT", "useragent": "test"},
		"actor": map[string]any{}, "source": map[string]any{"addr": "registry:5000"}}
}

func envelope(events ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"events": events})
	return string(b)
}

// postEvents sends an envelope; it returns the status and the decoded body
// (a WebhookResult on 200, the error message otherwise).
func postEvents(t *testing.T, url, auth, body string) (int, handlers.WebhookResult, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/registry/events", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res handlers.WebhookResult
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
	} else if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error answer %d %q is not {\"error\": …}", resp.StatusCode, b)
	}
	return resp.StatusCode, res, e.Error
}

func dump(t *testing.T, s *store.Store) string {
	t.Helper()
	return storetest.Dump(t, s)
}

const hookToken = "s3cret-webhook-token"

// TestWebhookRefusals: not configured is 503, a wrong token 401, a
// malformed envelope 400 — and none of them changes anything.
func TestWebhookRefusals(t *testing.T) {
	t.Parallel()
	reg := newSwitchRegistry(t)
	d := reg.push(t, "team-a/api:latest")
	good := envelope(event("push", "team-a/api", "latest", d, mtManifest, evT0))

	off := startHookServer(t, listenLoopback(t), Config{RegistryURL: reg.URL})
	status, _, msg := postEvents(t, off.URL, "Bearer "+hookToken, good)
	if status != http.StatusServiceUnavailable || !strings.Contains(msg, "LAYERWISE_WEBHOOK_TOKEN") {
		t.Errorf("without a token configured: %d %q", status, msg)
	}

	hs := startHookServer(t, listenLoopback(t), Config{RegistryURL: reg.URL, WebhookToken: hookToken})
	before := dump(t, hs.store)
	cases := []struct {
		name, auth, body string
		status           int
		msg              string
	}{
		{"no credentials", "", good, 401, "Bearer LAYERWISE_WEBHOOK_TOKEN"},
		{"wrong token", "Bearer " + hookToken + "x", good, 401, "invalid credentials"},
		{"token as basic auth", "Basic " + hookToken, good, 401, "invalid credentials"},
		{"an API token is not the webhook token", "Bearer lw_0123", good, 401, "invalid credentials"},
		{"not JSON", "Bearer " + hookToken, `events: [push]`, 400, "not a registry notification envelope"},
		{"no events list", "Bearer " + hookToken, `{"event": []}`, 400, `no "events" list`},
		{"a list, not an envelope", "Bearer " + hookToken, `[{"action": "push"}]`, 400, "not a registry notification envelope"},
		{"two envelopes", "Bearer " + hookToken, good + good, 400, "nothing after it"},
		{"event without action", "Bearer " + hookToken, `{"events": [{"target": {"repository": "team-a/api"}}]}`, 400, "events[0] has no action"},
		{"push without repository", "Bearer " + hookToken, envelope(event("push", "", "latest", d, mtManifest, evT0)), 400, "no target.repository"},
		{"bad digest", "Bearer " + hookToken, envelope(event("push", "team-a/api", "latest", "sha256:xyz", mtManifest, evT0)), 400, "target.digest"},
		{"bad tag", "Bearer " + hookToken, envelope(event("push", "team-a/api", "-bad", d, mtManifest, evT0)), 400, "target.tag"},
		{"bad timestamp", "Bearer " + hookToken, strings.Replace(good, evT0.Format(time.RFC3339Nano), "yesterday", 1), 400, "not a registry notification envelope"},
		{"larger than 1 MiB", "Bearer " + hookToken, `{"events": [], "pad": "` + strings.Repeat("x", 1<<20) + `"}`, 413, "larger than 1 MiB"},
		// A good event first: nothing of the envelope is applied.
		{"one bad event among good ones", "Bearer " + hookToken,
			envelope(event("push", "team-a/api", "latest", d, mtManifest, evT0), event("delete", "", "", d, "", evT0)), 400, "events[1]"},
	}
	for _, c := range cases {
		status, _, msg := postEvents(t, hs.URL, c.auth, c.body)
		if status != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, status, msg, c.status, c.msg)
		}
	}
	if after := dump(t, hs.store); after != before {
		t.Errorf("a refused envelope changed the database:\n%s", diffLines(before, after))
	}
	if strings.Contains(hs.logs.String(), hookToken) {
		t.Error("the webhook token appears in the log")
	}
	// The right token works.
	if status, res, msg := postEvents(t, hs.URL, "Bearer "+hookToken, good); status != 200 || res.Changed != 1 {
		t.Errorf("good envelope: %d %+v %q", status, res, msg)
	}
}

// TestWebhookPushes: tagged manifest pushes are recorded once, whatever
// the delivery order and however often; everything else is counted and
// left alone; a manifest delete leaves the history.
func TestWebhookPushes(t *testing.T) {
	t.Parallel()
	reg := newSwitchRegistry(t)
	hs := startHookServer(t, listenLoopback(t), Config{RegistryURL: reg.URL, WebhookToken: hookToken})
	s := hs.store
	auth := "Bearer " + hookToken
	d1 := reg.push(t, "team-a/api:latest")
	d2 := reg.push(t, "team-a/api:latest")
	d3 := reg.push(t, "team-a/api:latest")
	api := store.TagRef{Namespace: "team-a", Stream: "api", Tag: "latest"}
	post := func(body string) handlers.WebhookResult {
		t.Helper()
		status, res, msg := postEvents(t, hs.URL, auth, body)
		if status != http.StatusOK {
			t.Fatalf("%d %s", status, msg)
		}
		return res
	}

	first := envelope(
		event("push", "team-a/api", "", "sha256:"+strings.Repeat("a", 64), mtLayer, evT0),  // a blob
		event("push", "team-a/api", "", d1, mtManifest, evT0),                              // by digest only
		event("pull", "team-a/api", "latest", d1, mtManifest, evT0),                        // a pull: its time is recorded
		event("push", "team-a/api", "latest", d1, mtManifest, evT0.Add(time.Second)),       // the push
		event("push", "busybox", "latest", d1, mtManifest, evT0.Add(time.Second)),          // no namespace
		event("mount", "team-b/api", "", "sha256:"+strings.Repeat("b", 64), mtLayer, evT0), // a mount
	)
	res := post(first)
	want := handlers.WebhookResult{Events: 6, Pushes: 2, Changed: 1, Pulls: 1, Ignored: 3}
	if res.Events != want.Events || res.Pushes != want.Pushes || res.Changed != want.Changed || res.Pulls != want.Pulls || res.Ignored != want.Ignored ||
		len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], `"busybox" has no namespace`) || len(res.Failed) != 0 {
		t.Errorf("first envelope: %+v", res)
	}
	if got := history(t, s, api); !slices.Equal(got, []string{d1}) {
		t.Fatalf("history %v", got)
	}
	st, _ := s.GetStream(t.Context(), store.StreamRef{Namespace: "team-a", Stream: "api"})
	if it := st.Tags[0].Items[0]; it.DockerImageReference != reg.host+"/team-a/api@"+d1 || !it.Created.Equal(evT0.Add(time.Second)) {
		t.Errorf("entry %+v: want the registry's pull spec, created at the push time", it)
	}
	evs, _ := s.AuditLog(t.Context(), store.AuditFilter{})
	if len(evs) != 1 || evs[0].Actor != "system:registry" || evs[0].Action != "registry.push" || evs[0].Target != "team-a/api:latest" ||
		evs[0].Before != "none" || evs[0].After != d1 {
		t.Errorf("audit %+v", evs)
	}

	// Redelivered: nothing changes, not even the audit log. The push names
	// the tag's current image, so the registry is not even asked (it
	// refuses everything meanwhile, and nothing fails).
	before := dump(t, s)
	reg.mode.Store("401")
	if res := post(first); res.Changed != 0 || res.Unchanged != 1 || len(res.Failed) != 0 {
		t.Errorf("redelivered: %+v", res)
	}
	reg.mode.Store("ok")
	if after := dump(t, s); after != before {
		t.Errorf("a redelivered envelope changed the database:\n%s", diffLines(before, after))
	}

	// Out of order: the newest push (d3) arrives before d2; d3 stays current
	// and d2 goes below it, where it belongs.
	post(envelope(event("push", "team-a/api", "latest", d3, mtManifest, evT0.Add(3*time.Second))))
	if res := post(envelope(event("push", "team-a/api", "latest", d2, mtManifest, evT0.Add(2*time.Second)))); res.Changed != 1 {
		t.Errorf("late d2: %+v", res)
	}
	if got := history(t, s, api); !slices.Equal(got, []string{d3, d2, d1}) {
		t.Errorf("after out-of-order delivery: %v, want d3 d2 d1", got)
	}
	before = dump(t, s)
	post(envelope(event("push", "team-a/api", "latest", d2, mtManifest, evT0.Add(2*time.Second))))
	if after := dump(t, s); after != before {
		t.Errorf("redelivering the late event changed the database:\n%s", diffLines(before, after))
	}

	// A manifest deleted in the registry leaves the history; a blob delete
	// (same event shape) changes nothing.
	res = post(envelope(event("delete", "team-a/api", "", d1, "", evT0.Add(4*time.Second)),
		event("delete", "team-a/api", "", "sha256:"+strings.Repeat("c", 64), "", evT0.Add(4*time.Second))))
	if res.Deletes != 1 || res.Ignored != 1 {
		t.Errorf("deletes: %+v", res)
	}
	if got := history(t, s, api); !slices.Equal(got, []string{d3, d2}) {
		t.Errorf("after deleting d1: %v", got)
	}
}

// TestWebhookRefusesEnvelopesBeyondItsSlots: a replica handles a bounded
// number of envelopes at once; one more is refused with 503 and
// Retry-After (the registry keeps it and retries) and changes nothing, and
// sent again once a slot is free it is recorded.
func TestWebhookRefusesEnvelopesBeyondItsSlots(t *testing.T) {
	t.Parallel()
	reg := newSwitchRegistry(t)
	hs := startHookServer(t, listenLoopback(t), Config{RegistryURL: reg.URL, WebhookToken: hookToken, WebhookInFlight: 1})
	auth := "Bearer " + hookToken
	d1 := reg.push(t, "team-a/api:latest")
	d2 := reg.push(t, "team-a/web:latest")
	first := envelope(event("push", "team-a/api", "latest", d1, mtManifest, evT0))
	second := envelope(event("push", "team-a/web", "latest", d2, mtManifest, evT0))

	// The first envelope holds the only slot while the registry is slow
	// to serve its manifest.
	reg.mode.Store("block")
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/v1/registry/events", strings.NewReader(first))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-reg.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first envelope never asked the registry for its manifest")
	}
	before := dump(t, hs.store)
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/v1/registry/events", strings.NewReader(second))
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "busy") {
		t.Errorf("an envelope beyond the slots: %d, Retry-After %q, %s; want 503 with Retry-After, saying busy", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if after := dump(t, hs.store); after != before {
		t.Errorf("the refused envelope changed the database:\n%s", diffLines(before, after))
	}

	close(reg.gate)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("the first envelope: %d", code)
	}
	reg.mode.Store("ok")
	if status, res, msg := postEvents(t, hs.URL, auth, second); status != http.StatusOK || res.Changed != 1 {
		t.Fatalf("the refused envelope sent again: %d %+v %s", status, res, msg)
	}
	for ref, want := range map[store.TagRef]string{
		{Namespace: "team-a", Stream: "api", Tag: "latest"}: d1,
		{Namespace: "team-a", Stream: "web", Tag: "latest"}: d2,
	} {
		if got := history(t, hs.store, ref); !slices.Equal(got, []string{want}) {
			t.Errorf("%v: history %v, want [%s]", ref, got, want)
		}
	}
}

// TestWebhookRegistryFailures: when the registry cannot serve the pushed
// image back, the push is answered 200 with the failure (the sync reads it
// later) and nothing is written.
func TestWebhookRegistryFailures(t *testing.T) {
	t.Parallel()
	reg := newSwitchRegistry(t)
	d := reg.push(t, "team-a/api:latest")
	hs := startHookServer(t, listenLoopback(t), Config{RegistryURL: reg.URL, WebhookToken: hookToken})
	hs.srv.managed.Client.Timeout = 300 * time.Millisecond
	down := startHookServer(t, listenLoopback(t), Config{RegistryURL: "http://127.0.0.1:1", WebhookToken: hookToken})
	unknown := "sha256:" + strings.Repeat("d", 64)
	cases := []struct {
		name   string
		server *hookServer
		mode   string
		digest string
		msg    string
	}{
		{"unknown manifest", hs, "ok", unknown, "not found in " + reg.host},
		{"registry wants credentials", hs, "401", d, "unauthorized"},
		{"malformed manifest", hs, "garbage", d, "sent"},
		{"registry never answers", hs, "hang", d, "cannot read from registry " + reg.host},
		{"registry down", down, "ok", d, "cannot read from registry 127.0.0.1:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg.mode.Store(c.mode)
			defer reg.mode.Store("ok")
			before := dump(t, c.server.store)
			start := time.Now()
			status, res, msg := postEvents(t, c.server.URL, "Bearer "+hookToken,
				envelope(event("push", "team-a/api", "latest", c.digest, mtManifest, evT0)))
			if status != http.StatusOK || res.Changed != 0 || len(res.Failed) != 1 || !strings.Contains(res.Failed[0], c.msg) {
				t.Errorf("%d %+v %q; want 200 and a failure with %q", status, res, msg, c.msg)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("the answer took %s", time.Since(start))
			}
			if after := dump(t, c.server.store); after != before {
				t.Errorf("a failed push changed the database:\n%s", diffLines(before, after))
			}
		})
	}
}
