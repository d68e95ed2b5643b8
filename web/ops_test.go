package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/emersion/go-smtp"

	lwmail "layerwise/jobs/mail"
	"layerwise/store"
)

// mailSink is a real SMTP server in the test process that counts what it gets.
type mailSink struct {
	mu  sync.Mutex
	rcp []string
}

func (m *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSess{m: m}, nil }

type sinkSess struct {
	m  *mailSink
	to []string
}

func (s *sinkSess) AuthPlain(string, string) error            { return nil }
func (s *sinkSess) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *sinkSess) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *sinkSess) Reset()                                    { s.to = nil }
func (s *sinkSess) Logout() error                             { return nil }
func (s *sinkSess) Data(r io.Reader) error {
	if _, err := io.ReadAll(r); err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.rcp = append(s.m.rcp, s.to...)
	s.m.mu.Unlock()
	return nil
}

func (m *mailSink) recipients() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.rcp...)
}

// startMailSink serves SMTP on a loopback port and returns a sender for it.
func startMailSink(t *testing.T) (*mailSink, lwmail.Sender) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &mailSink{}
	srv := smtp.NewServer(sink)
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	snd, err := lwmail.NewSMTP(lwmail.Config{Host: "127.0.0.1", Port: p, TLS: "none", From: "layerwise@example.com", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return sink, snd
}

// opsServer is the demo with the weekly report and the nightly prune
// scheduled (not started: runs happen by hand), ml over its 1 GiB
// threshold with a contact, and demo/demo logged in.
func opsServer(t *testing.T, sender lwmail.Sender) (*testServer, *http.Client) {
	t.Helper()
	ts := newTestServerWith(t, true, func(c *Config) {
		c.ReportSchedule, c.PruneSchedule = "0 7 * * 1", "0 0 * * *"
		c.Reports.BaseURL = "http://127.0.0.1:8080"
		if sender != nil {
			c.Sender = sender
		}
	})
	gib := int64(1 << 30)
	if err := ts.store.SetNamespace(context.Background(), "ml", store.NamespaceSettings{ThresholdBytes: &gib, Contacts: []string{"ml-team@example.com"}}); err != nil {
		t.Fatal(err)
	}
	ts.srv.Versions().Poll(context.Background()) // written around the server: drop its cached pages
	c := ts.client(t)
	ts.login(t, c, "demo", "demo")
	return ts, c
}

// csrfOf is the CSRF token of the forms on a page.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF field on the page")
	}
	return m[1]
}

// post sends a form and returns the status and the Location.
func (ts *testServer) post(t *testing.T, c *http.Client, path string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(ts.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func auditCount(t *testing.T, s *store.Store, action string) int {
	t.Helper()
	evs, err := s.AuditLog(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// TestReportPreviewIsLinked: the e-mail preview is reached from the
// namespace page, the namespace's row on the overview and /jobs (issue 16:
// nothing linked it), and each link leads to the e-mail with its plan.
func TestReportPreviewIsLinked(t *testing.T) {
	t.Parallel()
	ts, c := opsServer(t, nil)
	for _, page := range []string{"/ns/ml", "/", "/jobs"} {
		d := doc(t, ts.get(t, c, page, http.StatusOK))
		link := d.Find(`a[href="/ns/ml/report"]`)
		if link.Length() == 0 {
			t.Errorf("%s does not link ml's e-mail preview", page)
			continue
		}
		if page == "/" && link.Closest("tr").Find(`th a[href="/ns/ml"]`).Length() != 1 {
			t.Errorf("the overview's link to ml's e-mail is not in ml's row")
		}
	}
	body := squash(doc(t, ts.get(t, c, "/ns/ml/report", http.StatusOK)).Text())
	if !strings.Contains(body, "A plan to get under the threshold") || !strings.Contains(body, "No plan gets ml under its threshold of 1.0 GiB") {
		t.Errorf("ml's preview has no plan: %s", body)
	}
}

// TestJobsPageWarnsAndSaysSchedules: without a mail server /jobs says that
// weekly-report cannot send (issue 16: only the log said so), with one it
// does not; schedules read in words, the spec beside them.
func TestJobsPageWarnsAndSaysSchedules(t *testing.T) {
	t.Parallel()
	ts, c := opsServer(t, nil)
	d := doc(t, ts.get(t, c, "/jobs", http.StatusOK))
	if w := squash(d.Find(".smtp-warning").Text()); !strings.Contains(w, "No mail server is configured: weekly-report cannot send") ||
		!strings.Contains(w, "LAYERWISE_SMTP_HOST") {
		t.Errorf("no SMTP warning on /jobs: %q", w)
	}
	schedules := map[string]string{}
	d.Find("table.jobs tbody tr").Each(func(_ int, tr *goquery.Selection) {
		td := tr.Find("td").First()
		schedules[squash(tr.Find("th").Text())] = squash(td.Find(".schedule-words").Text()) + " | " + squash(td.Find("code").Text())
	})
	for job, want := range map[string]string{
		"weekly-report":  "Mondays at 07:00 UTC | 0 7 * * 1",
		"prune":          "daily at 00:00 UTC | 0 0 * * *",
		"usage-snapshot": "daily at 00:00 UTC | @daily",
	} {
		if got := schedules[job]; got != strings.Replace(want, " UTC", " "+zoneNow(), 1) {
			t.Errorf("%s schedule %q, want %q", job, got, want)
		}
	}

	_, snd := startMailSink(t)
	ts2, c2 := opsServer(t, snd)
	if w := doc(t, ts2.get(t, c2, "/jobs", http.StatusOK)).Find(".smtp-warning"); w.Length() != 0 {
		t.Errorf("SMTP warning with a mail server: %q", squash(w.Text()))
	}
}

// zoneNow is the scheduler's zone as the words name it (the process's).
func zoneNow() string {
	if z, _ := time.Now().Zone(); z != "" {
		return z
	}
	return "UTC"
}

// TestRunJobsFromTheBrowser: a platform admin runs a job now and sends
// this week's reports with a button, audited as job.run and recorded on
// /jobs; a viewer cannot, and a form without the CSRF token is refused.
func TestRunJobsFromTheBrowser(t *testing.T) {
	t.Parallel()
	sink, snd := startMailSink(t)
	ts, c := opsServer(t, snd)
	ctx := context.Background()
	body := ts.get(t, c, "/jobs", http.StatusOK)
	d := doc(t, body)
	if d.Find(`form[action="/jobs/weekly-report/run"] button`).Text() != "Send this week's reports" {
		t.Fatalf("no send button on /jobs")
	}
	token := csrfOf(t, body)

	status, loc, _ := ts.post(t, c, "/jobs/weekly-report/run", url.Values{"_csrf": {token}})
	if status != http.StatusSeeOther || loc != "/jobs?outcome=done&ran=weekly-report#sched-heading" {
		t.Fatalf("send: %d to %q", status, loc)
	}
	if got := sink.recipients(); len(got) != 1 || got[0] != "ml-team@example.com" {
		t.Fatalf("mail went to %v, want ml's contact", got)
	}
	flash := squash(doc(t, ts.get(t, c, loc, http.StatusOK)).Find(".run-flash").Text())
	if !strings.Contains(flash, "weekly-report ran.") || !strings.Contains(flash, "sent 1") {
		t.Errorf("flash after sending: %q", flash)
	}
	evs, _ := ts.store.AuditLog(ctx, store.AuditFilter{Action: "job.run"})
	if len(evs) != 1 || evs[0].Actor != "demo" || evs[0].Target != "weekly-report" {
		t.Fatalf("audit of the send: %+v", evs)
	}

	// Once a week: pressing again sends nothing new.
	ts.post(t, c, "/jobs/weekly-report/run", url.Values{"_csrf": {token}})
	if got := sink.recipients(); len(got) != 1 {
		t.Errorf("a second press sent again: %v", got)
	}

	// A snapshot now.
	before, _ := ts.store.Trend(ctx, "", time.Now().Add(-time.Hour))
	if status, _, _ := ts.post(t, c, "/jobs/usage-snapshot/run", url.Values{"_csrf": {token}}); status != http.StatusSeeOther {
		t.Fatalf("snapshot: %d", status)
	}
	if after, _ := ts.store.Trend(ctx, "", time.Now().Add(-time.Hour)); len(after) != len(before)+1 {
		t.Errorf("snapshots %d → %d", len(before), len(after))
	}

	// Refused: no CSRF token; an unknown job; a viewer.
	if status, _, _ := ts.post(t, c, "/jobs/usage-snapshot/run", url.Values{}); status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", status)
	}
	if status, _, body := ts.post(t, c, "/jobs/sync/run", url.Values{"_csrf": {token}}); status != http.StatusNotFound || !strings.Contains(body, "no job") {
		t.Errorf("a job not scheduled here: %d", status)
	}
	if _, err := ts.store.CreateUser(ctx, "vic", "vic-pass", false); err != nil {
		t.Fatal(err)
	}
	if err := ts.store.AddRoleBinding(ctx, "ml", "vic", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	v := ts.client(t)
	ts.login(t, v, "vic", "vic-pass")
	vbody := ts.get(t, v, "/jobs", http.StatusOK)
	if doc(t, vbody).Find("form.run-form").Length() != 0 {
		t.Error("a viewer sees run buttons")
	}
	if status, _, _ := ts.post(t, v, "/jobs/usage-snapshot/run", url.Values{"_csrf": {csrfOf(t, vbody)}}); status != http.StatusForbidden {
		t.Errorf("a viewer ran a job: %d", status)
	}
	if n := auditCount(t, ts.store, "job.run"); n != 3 {
		t.Errorf("%d job.run events, want 3 (two sends, one snapshot)", n)
	}
}

// TestPruneNowShowsThePlanFirst: "Prune now…" leads to the plan, and only a
// confirmation of the plan shown runs it: a plan that changed meanwhile is
// shown again instead.
func TestPruneNowShowsThePlanFirst(t *testing.T) {
	t.Parallel()
	ts, c := opsServer(t, nil)
	ctx := context.Background()
	d := doc(t, ts.get(t, c, "/prune", http.StatusOK))
	if href, _ := d.Find(`a[data-job="prune"]`).Attr("href"); href != "/prune/confirm" {
		t.Fatalf("no Prune now link on /prune (%q)", href)
	}
	plan, err := ts.store.PlanPrune(ctx, store.DefaultPolicy, nil)
	if err != nil || len(plan.Revisions) == 0 {
		t.Fatalf("the demo should have something to prune: %v", err)
	}
	body := ts.get(t, c, "/prune/confirm", http.StatusOK)
	summary := squash(doc(t, body).Find(".prune-summary").Text())
	if want := "This removes " + strconv.Itoa(len(plan.Revisions)) + " revisions"; !strings.Contains(summary, want) {
		t.Fatalf("confirmation %q lacks %q", summary, want)
	}
	fp, _ := doc(t, body).Find(`input[name="plan"]`).Attr("value")
	token := csrfOf(t, body)

	// A stale confirmation runs nothing and shows the plan again.
	status, _, stale := ts.post(t, c, "/prune/run", url.Values{"_csrf": {token}, "plan": {"0123456789abcdef"}})
	if status != http.StatusConflict || !strings.Contains(stale, "The plan changed since you looked") {
		t.Fatalf("stale confirmation: %d", status)
	}
	if again, _ := ts.store.PlanPrune(ctx, store.DefaultPolicy, nil); len(again.Revisions) != len(plan.Revisions) {
		t.Fatal("a stale confirmation pruned")
	}

	status, loc, _ := ts.post(t, c, "/prune/run", url.Values{"_csrf": {token}, "plan": {fp}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/prune?outcome=done&ran=prune") {
		t.Fatalf("confirmed prune: %d to %q", status, loc)
	}
	if after, _ := ts.store.PlanPrune(ctx, store.DefaultPolicy, nil); len(after.Revisions) != 0 {
		t.Errorf("%d revisions left to prune after the run", len(after.Revisions))
	}
	flash := squash(doc(t, ts.get(t, c, loc, http.StatusOK)).Find(".run-flash").Text())
	if !strings.Contains(flash, "prune ran.") || !strings.Contains(flash, "deleted "+strconv.Itoa(len(plan.Revisions))+" image stream revisions") {
		t.Errorf("flash after prune: %q", flash)
	}
	evs, _ := ts.store.AuditLog(ctx, store.AuditFilter{})
	if len(evs) == 0 || evs[0].Action != "prune.apply" || evs[0].Actor != "demo" || auditCount(t, ts.store, "job.run") != 0 {
		t.Errorf("prune now is not audited once, as prune.apply by demo: %+v", evs[0])
	}
}
