package jobs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/storetest"
)

// hookSink is an incoming webhook on loopback, in the manner of Slack's
// and Teams': it takes {"text": "…"} and answers with status.
type hookSink struct {
	mu     sync.Mutex
	texts  []string
	status int
	srv    *httptest.Server
}

func startHook(t *testing.T) *hookSink {
	t.Helper()
	h := &hookSink{status: http.StatusOK}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &body) != nil ||
			len(body) != 1 || r.URL.Path != "/services/T0/B0/XSECRETX" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		text, _ := body["text"].(string)
		if h.status != http.StatusOK {
			http.Error(w, "no_service", h.status)
			return
		}
		h.texts = append(h.texts, text)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.texts...)
}

func (h *hookSink) answer(status int) {
	h.mu.Lock()
	h.status = status
	h.mu.Unlock()
}

func (h *hookSink) url() string { return h.srv.URL + "/services/T0/B0/XSECRETX" }

type alertFixture struct {
	t    *testing.T
	dsn  string
	s    *store.Store
	now  time.Time
	sink *smtpSink
	hook *hookSink
}

func newAlertFixture(t *testing.T) *alertFixture {
	t.Helper()
	f := &alertFixture{t: t, dsn: storetest.DSN(t), now: time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC), sink: startSink(t, ""), hook: startHook(t)}
	f.open()
	ctx := context.Background()
	th := int64(1 << 20)
	for ns, contacts := range map[string][]string{"team-a": {"a@example.com"}, "team-b": nil} {
		if err := f.s.SetNamespace(ctx, ns, store.NamespaceSettings{ThresholdBytes: &th, Contacts: contacts}); err != nil {
			t.Fatal(err)
		}
	}
	f.push("team-a/api:latest", "a1", 600<<10)
	f.push("team-b/big:latest", "b1", 2<<20)
	return f
}

// open (re)opens the database: a restart of the process.
func (f *alertFixture) open() {
	f.t.Helper()
	if f.s != nil {
		f.s.Close()
	}
	s, err := store.Open(context.Background(), f.dsn)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	s.SetClock(func() time.Time { return f.now })
	f.s = s
}

func (f *alertFixture) push(ref, name string, size int64) {
	f.t.Helper()
	r, _ := store.ParseTagRef(ref, "")
	if _, err := f.s.MapImage(context.Background(), r.Namespace, r.Stream, r.Tag, img(name, map[string]int64{name: size}, name), f.now.Add(-time.Hour)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *alertFixture) alerter() *Alerter {
	return NewAlerter(f.s, sender(f.t, f.sink.addr), AlertSettings{Threshold: 1 << 30, BaseURL: "https://layerwise.example.com/", WebhookURL: f.hook.url()},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (f *alertFixture) check(a *Alerter, retry bool) AlertSummary {
	f.t.Helper()
	sum, err := f.checkErr(a, retry)
	if err != nil {
		f.t.Fatalf("check: %v", err)
	}
	return sum
}

// checkErr is a check that may fail to deliver.
func (f *alertFixture) checkErr(a *Alerter, retry bool) (AlertSummary, error) {
	f.t.Helper()
	// The plan's reclaimable figures as the server's plan job keeps them.
	if _, err := f.s.ComputePlanSummary(context.Background(), store.DefaultPolicy); err != nil {
		f.t.Fatal(err)
	}
	return a.Check(context.Background(), retry)
}

// One e-mail and one webhook post when a namespace goes over its
// threshold, one of each when it falls back below; checking again, after
// a restart too, sends nothing more.
func TestThresholdAlertOncePerCrossingAcrossRestarts(t *testing.T) {
	t.Parallel()
	f := newAlertFixture(t)
	a := f.alerter()
	// team-b is over from the start (no contacts: the webhook alone);
	// team-a is under.
	if sum := f.check(a, false); sum.Crossings != 1 || sum.Sent != 1 || sum.NoContacts != 1 {
		t.Fatalf("first check: %s", sum)
	}
	if len(f.sink.received()) != 0 || len(f.hook.got()) != 1 || !strings.Contains(f.hook.got()[0], "team-b is over its threshold (2.0 MiB, threshold 1 MiB)") {
		t.Fatalf("first check sent %d e-mails, webhook %q", len(f.sink.received()), f.hook.got())
	}

	f.push("team-a/api:latest", "a2", 600<<10) // 1.2 MiB: over
	if sum := f.check(a, false); sum.Crossings != 1 || sum.Sent != 2 {
		t.Fatalf("after the push: %s", sum)
	}
	msgs := f.sink.received()
	if len(msgs) != 1 {
		t.Fatalf("%d e-mails, want 1", len(msgs))
	}
	m := parse(t, msgs[0])
	if m.to != "<a@example.com>" || m.subject != "Registry usage alert: team-a is over its threshold (1.2 MiB, threshold 1 MiB)" ||
		!strings.Contains(m.text, "Usage, counted once:   1.2 MiB") || !strings.Contains(m.text, "https://layerwise.example.com/ns/team-a") ||
		!strings.Contains(m.html, "team-a is over its registry usage threshold") {
		t.Errorf("the alert: to %s, subject %q\n%s", m.to, m.subject, m.text)
	}
	if hook := f.hook.got(); len(hook) != 2 || hook[1] != m.subject+" https://layerwise.example.com/ns/team-a" {
		t.Errorf("webhook: %q", hook)
	}

	// The same figures again, then after a restart: nothing more.
	f.check(a, true)
	f.open()
	a = f.alerter()
	if sum := f.check(a, true); sum != (AlertSummary{}) || len(f.sink.received()) != 1 || len(f.hook.got()) != 2 {
		t.Fatalf("after a restart: %s, %d e-mails, %d posts", sum, len(f.sink.received()), len(f.hook.got()))
	}

	// Back below: one of each, once.
	if err := f.s.DeleteTag(context.Background(), store.TagRef{Namespace: "team-a", Stream: "api", Tag: "latest"}); err != nil {
		t.Fatal(err)
	}
	f.push("team-a/api:latest", "a3", 100<<10)
	f.check(a, false)
	f.check(a, true)
	msgs = f.sink.received()
	if len(msgs) != 2 || parse(t, msgs[1]).subject != "Registry usage: team-a is back below its threshold (101.0 KiB, threshold 1 MiB)" {
		t.Fatalf("%d e-mails; the last: %q", len(msgs), parse(t, msgs[len(msgs)-1]).subject)
	}
	if hook := f.hook.got(); len(hook) != 3 || !strings.Contains(hook[2], "team-a is back below") {
		t.Errorf("webhook: %q", hook)
	}
	// Every alert is in the delivery log, sent.
	ns, err := f.s.GetNamespace(context.Background(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	log, err := f.s.Alerts(context.Background(), ns.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range log {
		got = append(got, d.Kind+" "+d.Week+" "+d.Status+" "+d.Recipients)
	}
	want := []string{"alert-webhook alert-000002-down-webhook sent webhook", "alert alert-000002-down sent a@example.com",
		"alert-webhook alert-000001-up-webhook sent webhook", "alert alert-000001-up sent a@example.com"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("delivery log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A webhook that fails is recorded with an error that does not give its
// secret away, and the daily check sends it once when it answers again; an
// alert a crash left unsent is sent by the daily check, once.
func TestThresholdAlertRetries(t *testing.T) {
	t.Parallel()
	f := newAlertFixture(t)
	a := f.alerter()
	f.hook.answer(http.StatusServiceUnavailable)
	if sum, err := f.checkErr(a, false); sum.Failed != 1 || err == nil || strings.Contains(err.Error(), "XSECRETX") {
		t.Fatalf("with the webhook down: %s, %v", sum, err)
	}
	ns, _ := f.s.GetNamespace(context.Background(), "team-b")
	log, _ := f.s.Alerts(context.Background(), ns.ID)
	if len(log) != 2 || log[0].Kind != store.DeliveryAlertWebhook || log[0].Status != store.DeliveryFailed ||
		!strings.Contains(log[0].Error, "503") || strings.Contains(log[0].Error, "XSECRETX") || log[1].Status != store.DeliveryNoContacts {
		t.Fatalf("delivery log: %+v", log)
	}
	f.hook.answer(http.StatusOK)
	f.check(a, false) // a check after a change does not retry
	if len(f.hook.got()) != 0 {
		t.Fatal("a check without retry sent a failed alert again")
	}
	f.check(a, true)
	f.check(a, true)
	if len(f.hook.got()) != 1 {
		t.Errorf("the daily check posted %d times, want once", len(f.hook.got()))
	}

	// A crossing recorded by a process that died before sending.
	th := int64(1 << 20)
	crossings, err := f.s.RecordCrossings(context.Background(), []store.ThresholdCheck{{NamespaceID: ns.ID, Namespace: "team-b", Bytes: 0, ThresholdBytes: th}},
		[]string{store.DeliveryAlertWebhook})
	if err != nil || len(crossings) != 1 || crossings[0].Up {
		t.Fatalf("crossings: %+v, %v", crossings, err)
	}
	f.now = f.now.Add(time.Hour) // past the settling time
	a = f.alerter()
	sum := f.check(a, true) // team-b is still over: a new crossing up, and the unsent one is superseded
	if sum.Superseded != 1 || sum.Crossings != 1 {
		t.Errorf("after the crash: %s", sum)
	}
	if hook := f.hook.got(); len(hook) != 2 || !strings.Contains(hook[1], "team-b is over") {
		t.Errorf("webhook after the crash: %q", hook)
	}
	// A crash after recording the latest crossing: the daily check sends
	// it once it has settled, and only once.
	if err := f.s.DeleteTag(context.Background(), store.TagRef{Namespace: "team-b", Stream: "big", Tag: "latest"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RecordCrossings(context.Background(), []store.ThresholdCheck{{NamespaceID: ns.ID, Namespace: "team-b", Bytes: 0, ThresholdBytes: th}},
		[]string{store.DeliveryAlertWebhook}); err != nil {
		t.Fatal(err)
	}
	if sum := f.check(a, true); sum.Sent != 0 || len(f.hook.got()) != 2 {
		t.Errorf("an alert younger than the settling time was sent again: %s", sum)
	}
	f.now = f.now.Add(time.Hour)
	f.check(a, true)
	f.check(a, true)
	if hook := f.hook.got(); len(hook) != 3 || !strings.Contains(hook[2], "team-b is back below") {
		t.Errorf("webhook after the second crash: %q", hook)
	}
}

func TestParseWebhookURL(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{"": true, "https://hooks.slack.com/services/T/B/X": true, "http://127.0.0.1:9/x": true,
		"ftp://x/y": false, "hooks.slack.com/x": false, "https://user:pw@host/x": false, "https:///x": false} {
		_, err := ParseWebhookURL(in)
		if (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
		if err != nil && strings.Contains(err.Error(), in) {
			t.Errorf("%q: the error repeats the URL: %v", in, err)
		}
	}
}

// After a change, the server calls Notify: Run checks the stored figures
// at once (the change that crosses the threshold alerts without waiting
// for the daily check).
func TestThresholdAlertAfterAChange(t *testing.T) {
	t.Parallel()
	f := newAlertFixture(t)
	a := f.alerter()
	f.check(a, false) // team-b was over already
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	f.push("team-a/api:latest", "a2", 600<<10) // team-a goes over
	a.Notify()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.sink.received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if msgs := f.sink.received(); len(msgs) != 1 || !strings.Contains(parse(t, msgs[0]).subject, "team-a is over its threshold") {
		t.Fatalf("after Notify: %d e-mails", len(msgs))
	}
}
