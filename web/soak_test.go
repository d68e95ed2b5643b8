package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"layerwise/format"
	"layerwise/handlers"
	"layerwise/jobs"
	"layerwise/jobs/openshift"
	"layerwise/store"
)

// soakPush is an image in the soak's registry under a tag.
type soakPush struct {
	repo, tag, digest, mediaType string
}

// soakStats counts what each kind of client got back.
type soakStats struct {
	mu sync.Mutex
	// status counts by "what status", e.g. "PUT tag 200".
	status map[string]int
	// writes counts successful changes by audit actor.
	writes map[string]int
	// webhook sums the webhook's answers.
	webhook handlers.WebhookResult
	errs    []string
}

func (st *soakStats) add(what string, status int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.status[fmt.Sprintf("%s %d", what, status)]++
}

func (st *soakStats) wrote(actor string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.writes[actor]++
}

func (st *soakStats) fail(format string, a ...any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.errs = append(st.errs, fmt.Sprintf(format, a...))
}

// TestSoak runs every kind of writer and reader at once against one real
// server (its background usage refresh included) on the test database:
// two editors tagging the same tag with fresh digests (the crash of
// issue 12), promotions, rollbacks, deletes and pins, webhook envelopes of
// hundreds of pushes and deletes, an import, prune runs and page readers.
// Afterwards the process is alive, nothing answered 5xx, every successful
// write has exactly one audit event, every tag's history positions are
// 0..n-1, the cached usage equals a fresh computation and the database's
// integrity holds. docs/SOAK.md says what this proves.
func TestSoak(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	// The managed registry: go-containerregistry's, in process, on loopback.
	reg := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	var pushed []soakPush
	for r := range 4 {
		for i := range 60 {
			img, err := random.Image(256, 1)
			if err != nil {
				t.Fatal(err)
			}
			repo, tag := fmt.Sprintf("team-soak/app%d", r), fmt.Sprintf("v%d", i)
			ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			mt, _ := img.MediaType()
			pushed = append(pushed, soakPush{repo: repo, tag: tag, digest: d.String(), mediaType: string(mt)})
		}
	}

	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	s.SetPasswordCost(bcrypt.MinCost) // seconds per hash under -race at the default cost
	defer s.Close()
	objs, err := openshift.Decode("demo", bytes.NewReader(openshift.DemoData()), openshift.Options{DefaultNamespace: "default", Now: s.Now(),
		Shift: time.Since(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(ctx, func(tx *store.Store) error { _, err := openshift.Apply(ctx, tx, objs); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "demo", "demo", true); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{store: s}
	if err := s.CreateStream(ctx, store.StreamRef{Namespace: "team-soak", Stream: "imported"}); err != nil {
		t.Fatal(err)
	}
	token := func(user string, bindings ...string) string {
		if _, err := s.CreateUser(ctx, user, "secret-"+user, false); err != nil {
			t.Fatal(err)
		}
		for _, b := range bindings {
			if err := s.AddRoleBinding(ctx, b, user, store.RoleEditor); err != nil {
				t.Fatal(err)
			}
		}
		tok, _, err := s.CreateToken(ctx, user, "soak", 0)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ed1, ed2, ed3 := token("ed1", "payments"), token("ed2", "payments"), token("ed3", "payments", "team-soak")
	admin, _, err := s.CreateToken(ctx, "demo", "soak", 0)
	if err != nil {
		t.Fatal(err)
	}

	const hookToken = "soak-webhook-token"
	ln := listenLoopback(t)
	logs := &syncBuffer{}
	cfg := Config{Addr: ln.Addr().String(), Threshold: 50 << 30, Policy: store.DefaultPolicy, SnapshotSchedule: "@daily", NoJobs: true,
		RegistryURL: reg.URL, WebhookToken: hookToken}
	srv, err := New(cfg, s, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	ts.Server = &httptest.Server{URL: "http://" + ln.Addr().String()}
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	eventually(30*time.Second, func() bool {
		resp, err := http.Get(ts.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})

	st := &soakStats{status: map[string]int{}, writes: map[string]int{}}
	// call makes one API request; status 0 means the request itself failed.
	call := func(method, path, tok, body string) (int, []byte) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(ctx, method, ts.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			st.fail("%s %s: %v", method, path, err)
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			st.fail("%s %s: %d %s", method, path, resp.StatusCode, firstLines(string(b), 3))
		}
		return resp.StatusCode, b
	}
	// write is a change that must succeed and be audited once as actor
	// (not at all when its answer says "changed": false).
	write := func(what, actor, method, path, tok, body string) bool {
		code, b := call(method, path, tok, body)
		st.add(what, code)
		var res struct{ Changed *bool }
		switch {
		case code == http.StatusOK && json.Unmarshal(b, &res) == nil && res.Changed != nil && !*res.Changed:
			return true // it already was so: no change, no audit event
		case code == http.StatusOK || code == http.StatusCreated || code == http.StatusNoContent:
		case code == http.StatusNotFound || code == http.StatusConflict || code == http.StatusBadRequest && bytes.Contains(b, []byte("not in")):
			// Lost a race with another writer: prune removed the
			// revision, or the tag went meanwhile. A clear 4xx, no change.
			return false
		default:
			if code != 0 && code < 500 {
				st.fail("%s: %d %s", what, code, firstLines(string(b), 3))
			}
			return false
		}
		st.wrote(actor)
		return true
	}
	randomDigest := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return "sha256:" + hex.EncodeToString(b)
	}
	_, apiHistory := ts.apiHistory(t, "payments", "api", "latest")
	var apiImages []string
	for _, d := range apiHistory {
		if d != "" && (len(apiImages) == 0 || apiImages[len(apiImages)-1] != d) {
			apiImages = append(apiImages, d)
		}
	}
	if len(apiImages) < 2 {
		t.Fatalf("demo data: payments/api:latest has %d distinct images, want 2 or more", len(apiImages))
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	worker := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
	}
	// Two editors tag one tag with fresh digests, as in the issue.
	for _, ed := range []struct{ tok, actor string }{{ed1, "ed1"}, {ed2, "ed2"}} {
		worker(func() {
			for range 40 {
				write("PUT crash:c1", ed.actor, "PUT", "/api/v1/namespaces/payments/imagestreamtags/crash:c1", ed.tok,
					`{"from":{"kind":"DockerImage","name":"r.example.com/x@`+randomDigest()+`"}}`)
			}
		})
	}
	// A third editor tags, promotes, rolls back, deletes and pins.
	worker(func() {
		for i := range 15 {
			// prev was promoted to soak the round before.
			img, prev := apiImages[i%len(apiImages)], apiImages[(i+len(apiImages)-1)%len(apiImages)]
			tag := fmt.Sprintf("s%d", i)
			if !write("PUT tag", "ed3", "PUT", "/api/v1/namespaces/payments/imagestreamtags/api:"+tag, ed3,
				`{"from":{"kind":"ImageStreamImage","name":"api@`+img+`"}}`) {
				continue
			}
			write("promote", "ed3", "POST", "/api/v1/namespaces/payments/imagestreams/api/promote", ed3,
				`{"from":"`+tag+`","to":"soak"}`)
			if i > 0 {
				write("rollback", "ed3", "POST", "/api/v1/namespaces/payments/imagestreams/api/rollback", ed3,
					`{"tag":"soak","image":"`+prev+`"}`)
			}
			write("DELETE tag", "ed3", "DELETE", "/api/v1/namespaces/payments/imagestreamtags/api:"+tag, ed3, "")
			write("pin", "ed3", "PUT", "/api/v1/namespaces/payments/pins/"+img, ed3, `{"note":"soak"}`)
			write("unpin", "ed3", "DELETE", "/api/v1/namespaces/payments/pins/"+img, ed3, "")
		}
		// An import from the managed registry, through the API.
		p := pushed[0]
		write("import", "ed3", "POST", "/api/v1/namespaces/team-soak/imagestreamimports", ed3,
			`{"tag":"imported:v1","from":"`+host+"/"+p.repo+":"+p.tag+`","insecure":true}`)
	})
	// The registry's notifications: envelopes of hundreds of pushes, then
	// deletes of some of them.
	worker(func() {
		envelope := func(events []map[string]any) {
			body, _ := json.Marshal(map[string]any{"events": events})
			req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/api/v1/registry/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+hookToken)
			req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				st.fail("webhook: %v", err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			st.add("webhook", resp.StatusCode)
			var res handlers.WebhookResult
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil {
				st.fail("webhook: %d %s", resp.StatusCode, firstLines(string(b), 3))
				return
			}
			if len(res.Failed) > 0 {
				st.fail("webhook: failed pushes %v", res.Failed[:min(3, len(res.Failed))])
			}
			st.mu.Lock()
			st.webhook.Changed += res.Changed
			st.webhook.Deletes += res.Deletes
			st.mu.Unlock()
		}
		at := time.Now().Add(-time.Hour)
		for burst := range 3 {
			var events []map[string]any
			for i, p := range pushed[burst*80 : burst*80+80] {
				events = append(events, map[string]any{"id": fmt.Sprintf("p%d-%d", burst, i), "action": "push",
					"timestamp": at.Add(time.Duration(burst*80+i) * time.Second),
					"target":    map[string]any{"mediaType": p.mediaType, "digest": p.digest, "repository": p.repo, "tag": p.tag}})
			}
			for i, p := range pushed[burst*80 : burst*80+80] {
				if i%4 == 0 { // a quarter deleted again
					events = append(events, map[string]any{"id": fmt.Sprintf("d%d-%d", burst, i), "action": "delete",
						"timestamp": at.Add(time.Duration(burst*80+i)*time.Second + time.Millisecond),
						"target":    map[string]any{"digest": p.digest, "repository": p.repo}})
				}
			}
			envelope(events)
		}
	})
	// Prune runs, as the nightly job does; two at once must not overlap.
	for range 2 {
		worker(func() {
			for range 3 {
				_, err := jobs.Prune(ctx, s, jobs.PruneSettings{Policy: store.DefaultPolicy}, "job", nil)
				if err != nil && !errors.Is(err, store.ErrBusy) {
					st.fail("prune: %v", err)
				}
			}
		})
	}
	// Readers: pages and API reads until the writers are done.
	readers := []string{"/", "/ns/payments", "/ns/payments/is/api", "/ns/payments/istag/api:latest", "/ns/team-soak", "/prune", "/jobs", "/audit",
		"/api/v1/usage", "/api/v1/namespaces/payments/imagestreams", "/api/v1/prune/plan"}
	// Pages are read as a logged-in person reads them (a session: pages
	// take no bearer token), the API with the admin's token.
	browser := loginOn(t, ts.URL)
	read := func(path string) (int, []byte) {
		if strings.HasPrefix(path, "/api/") {
			return call("GET", path, admin, "")
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+path, nil)
		resp, err := browser.Do(req)
		if err != nil {
			st.fail("GET %s: %v", path, err)
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			st.fail("GET %s: %d %s", path, resp.StatusCode, firstLines(string(b), 3))
		}
		return resp.StatusCode, b
	}
	var rwg sync.WaitGroup
	for r := range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for i := r; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				path := readers[i%len(readers)]
				code, _ := read(path)
				st.add("GET "+path, code)
			}
		}()
	}
	wg.Wait()
	close(done)
	rwg.Wait()

	// The process is alive and answers.
	if code, _ := call("GET", "/healthz", admin, ""); code != http.StatusOK {
		t.Fatalf("/healthz after the soak: %d", code)
	}
	// The pages the readers kept reading through the churn (cached under
	// the data version) show the figures as they are now, not as they
	// were.
	for _, ns := range []string{"payments", "team-soak"} {
		nu, err := s.ReadNamespaceUsage(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		if _, page := read("/ns/" + ns); !strings.Contains(string(page), format.Size(nu.Bytes)) {
			t.Errorf("after the soak the page of %s does not show its %s", ns, format.Size(nu.Bytes))
		}
	}
	if su, err := s.ReadStreamUsage(ctx, store.StreamRef{Namespace: "payments", Stream: "api"}); err != nil {
		t.Fatal(err)
	} else if _, page := read("/ns/payments/is/api"); !strings.Contains(string(page), format.Size(su.Bytes)) {
		t.Errorf("after the soak the page of payments/api does not show its %s", format.Size(su.Bytes))
	}
	t.Logf("answers: %v; webhook changed %d, deleted %d", st.status, st.webhook.Changed, st.webhook.Deletes)
	for _, e := range st.errs {
		t.Error(e)
	}

	// Every successful write has exactly one audit event.
	var counts []struct {
		Actor, Action string
		N             int
	}
	if err := s.DB().Raw(`SELECT actor, action, COUNT(*) AS n FROM audit_events GROUP BY actor, action`).Scan(&counts).Error; err != nil {
		t.Fatal(err)
	}
	byActor := map[string]int{}
	byAction := map[string]int{}
	for _, c := range counts {
		byActor[c.Actor] += c.N
		byAction[c.Action] += c.N
	}
	for actor, n := range st.writes {
		if byActor[actor] != n {
			t.Errorf("%s: %d successful writes, %d audit events", actor, n, byActor[actor])
		}
	}
	if byAction["registry.push"] != st.webhook.Changed {
		t.Errorf("webhook: %d pushes changed a tag, %d registry.push audit events", st.webhook.Changed, byAction["registry.push"])
	}
	if byAction["registry.delete"] != st.webhook.Deletes {
		t.Errorf("webhook: %d deletes changed history, %d registry.delete audit events", st.webhook.Deletes, byAction["registry.delete"])
	}

	// History positions are 0..n-1 in every tag.
	var gaps []struct {
		TagID, N, Lo, Hi, Uniq int64
	}
	if err := s.DB().Raw(`SELECT tag_id, COUNT(*) AS n, MIN(position) AS lo, MAX(position) AS hi, COUNT(DISTINCT position) AS uniq
		FROM tag_events GROUP BY tag_id HAVING MIN(position) <> 0 OR MAX(position) <> COUNT(*) - 1 OR COUNT(DISTINCT position) <> COUNT(*)`).
		Scan(&gaps).Error; err != nil {
		t.Fatal(err)
	}
	if len(gaps) > 0 {
		t.Errorf("tags whose history positions are not 0..n-1: %+v", gaps)
	}

	// The integrity of the database.
	if s.Dialect() == "sqlite" {
		var check string
		if err := s.DB().Raw(`PRAGMA integrity_check`).Scan(&check).Error; err != nil || check != "ok" {
			t.Errorf("PRAGMA integrity_check: %q, %v", check, err)
		}
		var fk []map[string]any
		if err := s.DB().Raw(`PRAGMA foreign_key_check`).Scan(&fk).Error; err != nil || len(fk) > 0 {
			t.Errorf("PRAGMA foreign_key_check: %v, %v", fk, err)
		}
	}
	// Both databases: no row points at a missing parent.
	for _, q := range []string{
		`SELECT COUNT(*) FROM tag_events e LEFT JOIN tags t ON t.id = e.tag_id WHERE t.id IS NULL`,
		`SELECT COUNT(*) FROM tag_events e LEFT JOIN images i ON i.id = e.image_id WHERE e.image_id IS NOT NULL AND i.id IS NULL`,
		`SELECT COUNT(*) FROM image_blobs l LEFT JOIN blobs b ON b.id = l.blob_id WHERE b.id IS NULL`,
		`SELECT COUNT(*) FROM tags t LEFT JOIN image_streams s ON s.id = t.stream_id WHERE s.id IS NULL`,
	} {
		var n int64
		if err := s.DB().Raw(q).Scan(&n).Error; err != nil || n != 0 {
			t.Errorf("%s: %d, %v", q, n, err)
		}
	}

	// The counted-once figures every write kept, under all of the above,
	// equal a full recomputation (usage --verify).
	if diffs, err := s.VerifyUsage(ctx); err != nil || len(diffs) > 0 {
		t.Errorf("usage --verify after the soak: %d differences, first %v; %v", len(diffs), diffs[:min(len(diffs), 5)], err)
	}

	// The figures the pages show, stored by the writes themselves, equal a
	// fresh computation the moment the writes are done (the reclaimable
	// ones as of a plan computed now, as the plan job would).
	if _, err := s.ComputePlanSummary(ctx, store.DefaultPolicy); err != nil {
		t.Fatal(err)
	}
	stored, err := s.ReadUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := s.ComputeUsage(ctx, store.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored.Registry, fresh.Registry) || !reflect.DeepEqual(stored.Namespaces, fresh.Namespaces) {
		t.Errorf("stored usage %+v differs from a fresh computation %+v", stored.Registry, fresh.Registry)
	}
	if strings.Contains(logs.String(), "panicked") {
		t.Errorf("a background goroutine panicked:\n%s", logs)
	}
}
