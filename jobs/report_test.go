package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"layerwise/format"
	lwmail "layerwise/jobs/mail"
	"layerwise/store"
)

// smtpSink is a real SMTP server in the test process that keeps what it gets.
type smtpSink struct {
	mu   sync.Mutex
	msgs []received
	addr string
	srv  *smtp.Server
}

type received struct {
	from string
	to   []string
	data []byte
}

type sinkSession struct {
	sink *smtpSink
	cur  received
}

func (s *sinkSession) AuthPlain(string, string) error { return nil }
func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, s.cur)
	s.sink.mu.Unlock()
	s.cur = received{}
	return nil
}
func (s *sinkSession) Reset()        { s.cur = received{} }
func (s *sinkSession) Logout() error { return nil }

type sinkBackend struct{ sink *smtpSink }

func (b sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &sinkSession{sink: b.sink}, nil
}

// startSink listens on addr ("" = a free loopback port).
func startSink(t *testing.T, addr string) *smtpSink {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sink := &smtpSink{addr: ln.Addr().String()}
	sink.srv = smtp.NewServer(sinkBackend{sink})
	sink.srv.Domain = "localhost"
	sink.srv.AllowInsecureAuth = true
	go sink.srv.Serve(ln)
	t.Cleanup(func() { sink.srv.Close() })
	return sink
}

func (s *smtpSink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func sender(t *testing.T, addr string) *lwmail.SMTP {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	s, err := lwmail.NewSMTP(lwmail.Config{Host: host, Port: p, TLS: "none", From: "layerwise@registry.example.com",
		ReplyTo: "platform@example.com", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dg(word string) string {
	sum := sha256.Sum256([]byte(word))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func img(name string, layers map[string]int64, order ...string) store.ImageSnapshot {
	im := store.ImageSnapshot{Digest: dg("img:" + name), Config: &store.BlobRef{Digest: dg("cfg:" + name), Size: 1000}}
	for _, l := range order {
		im.Layers = append(im.Layers, store.BlobRef{Digest: dg("layer:" + l), Size: layers[l]})
	}
	return im
}

// reportStore: team-a (over its 100 MiB threshold, two contacts), team-b
// (under), team-c (over, no contacts); base layer shared by all.
func reportStore(t *testing.T) (*store.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	sizes := map[string]int64{"base": 80 << 20, "a1": 30 << 20, "a2": 25 << 20, "b": 5 << 20, "c": 300 << 20}
	push := func(ref string, im store.ImageSnapshot, at time.Time) {
		r, _ := store.ParseTagRef(ref, "")
		if _, err := s.MapImage(ctx, r.Namespace, r.Stream, r.Tag, im, at); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		layer := "a1"
		if i%2 == 1 {
			layer = "a2"
		}
		sizes[layer+string(rune('0'+i))] = int64(i+1) << 20
		push("team-a/api:latest", img("api"+string(rune('0'+i)), sizes, "base", layer, layer+string(rune('0'+i))), now.AddDate(0, 0, -30+i))
	}
	push("team-a/web:latest", img("web", sizes, "base", "a1"), now.AddDate(0, 0, -2))
	push("team-b/tool:latest", img("tool", sizes, "base", "b"), now.AddDate(0, 0, -2))
	push("team-c/big:latest", img("big", sizes, "base", "c"), now.AddDate(0, 0, -2))
	hundred := int64(100 << 20)
	if err := s.SetNamespace(ctx, "team-a", store.NamespaceSettings{ThresholdBytes: &hundred, Contacts: []string{"a@example.com", "lead@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNamespace(ctx, "team-c", store.NamespaceSettings{ThresholdBytes: &hundred}); err != nil {
		t.Fatal(err)
	}
	return s, now
}

var settings = ReportSettings{Threshold: 1 << 30, BaseURL: "https://layerwise.example.com/", AdminEmail: "platform@example.com"}

// parsed is one received e-mail, decoded.
type parsed struct {
	to, subject, messageID, date, replyTo string
	text, html                            string
}

func parse(t *testing.T, r received) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	p := parsed{to: m.Header.Get("To"), subject: subject, messageID: m.Header.Get("Message-Id"), date: m.Header.Get("Date"), replyTo: m.Header.Get("Reply-To")}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = part
		if part.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			body = quotedprintable.NewReader(part)
		}
		b, _ := io.ReadAll(body)
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	return p
}

func TestWeeklyReportGoesToNamespacesOverThreshold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, now := reportStore(t)
	sink := startSink(t, "")
	u, err := planned(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := BuildReports(ctx, s, settings, now)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := SendReports(ctx, s, sender(t, sink.addr), reps, settings, now, SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 1 || sum.NoContacts != 1 {
		t.Fatalf("summary %s, want 1 sent (team-a) and 1 without contacts (team-c)", sum)
	}
	got := sink.received()
	if len(got) != 2 {
		t.Fatalf("%d e-mails received, want team-a's and the digest", len(got))
	}
	a := parse(t, got[0])
	if strings.Join(got[0].to, ",") != "a@example.com,lead@example.com" || !strings.Contains(a.to, "a@example.com") {
		t.Errorf("recipients %v / To %q", got[0].to, a.to)
	}
	nu, _ := u.Namespace("team-a")
	if want := "Image registry usage for team-a: " + format.Size(nu.Bytes) + " (threshold 100 MiB)"; a.subject != want {
		t.Errorf("subject %q, want %q", a.subject, want)
	}
	if a.messageID == "" || a.date == "" || a.replyTo != "<platform@example.com>" {
		t.Errorf("headers: Message-Id %q Date %q Reply-To %q", a.messageID, a.date, a.replyTo)
	}
	// Every figure in both parts equals the usage computation.
	figures := []string{format.Size(nu.Bytes), format.Size(nu.ExclusiveBytes), format.Size(nu.ReclaimableBytes)}
	for _, st := range nu.Streams {
		figures = append(figures, st.Name, format.Size(st.Bytes), format.Size(st.ExclusiveBytes))
		for _, tg := range st.Tags {
			figures = append(figures, format.Size(tg.Bytes), format.Size(tg.ExclusiveBytes))
			for _, r := range tg.Revisions {
				figures = append(figures, r.Image[:19], format.Size(r.Bytes))
			}
		}
	}
	// The plan: api, its one tag gone, deleted as a stream.
	figures = append(figures, "oc delete imagestream api -n team-a", "https://layerwise.example.com/ns/team-a/is/api")
	for _, want := range figures {
		if !strings.Contains(a.text, want) {
			t.Errorf("text part lacks %q", want)
		}
		if !strings.Contains(a.html, strings.ReplaceAll(want, "&", "&amp;")) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	if nu.ReclaimableBytes == 0 {
		t.Error("the fixture should have prunable revisions in team-a")
	}
	// team-b is under its threshold: nothing went to it.
	for _, r := range got {
		for _, to := range r.to {
			if strings.Contains(to, "team-b") {
				t.Errorf("team-b got mail")
			}
		}
	}
	d := parse(t, got[1])
	if got[1].to[0] != "platform@example.com" || !strings.Contains(d.text, "team-c") || !strings.Contains(d.text, format.Size(u.Registry.Bytes)) {
		t.Errorf("digest to %v:\n%s", got[1].to, d.text)
	}
	// A second run in the same week sends nothing.
	sum, err = SendReports(ctx, s, sender(t, sink.addr), reps, settings, now.Add(time.Hour), SendOptions{})
	if err != nil || sum.Sent != 0 || sum.Skipped != 1 {
		t.Fatalf("second run: %s, %v", sum, err)
	}
	if n := len(sink.received()); n != 2 {
		t.Fatalf("%d e-mails after the second run, want still 2", n)
	}
}

func TestSMTPDownIsRecordedAndRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, now := reportStore(t)
	// A port with nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	planned(ctx, s) // the plan the reports read
	reps, err := BuildReports(ctx, s, settings, now)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := SendReports(ctx, s, sender(t, addr), reps, settings, now, SendOptions{})
	if err == nil || sum.Sent != 0 || sum.Failed != 1 {
		t.Fatalf("with SMTP down: %s, %v", sum, err)
	}
	rows, _ := s.Deliveries(ctx, store.ISOWeek(now))
	var teamA store.ReportDelivery
	nsA, _ := s.GetNamespace(ctx, "team-a")
	for _, r := range rows {
		if r.NamespaceID == nsA.ID {
			teamA = r
		}
	}
	if teamA.Status != store.DeliveryFailed || teamA.SentAt != nil || teamA.Attempts != 1 || !strings.Contains(teamA.Error, addr) {
		t.Fatalf("delivery after failure: %+v", teamA)
	}
	// The server comes back: the next run sends it.
	sink := startSink(t, addr)
	sum, err = SendReports(ctx, s, sender(t, sink.addr), reps, settings, now.Add(time.Hour), SendOptions{})
	if err != nil || sum.Sent != 1 {
		t.Fatalf("retry: %s, %v", sum, err)
	}
	rows, _ = s.Deliveries(ctx, store.ISOWeek(now))
	for _, r := range rows {
		if r.NamespaceID == nsA.ID && (r.Status != store.DeliverySent || r.Attempts != 2 || r.Error != "") {
			t.Fatalf("delivery after retry: %+v", r)
		}
	}
	// The digest (sent on the retry) lists nothing failed any more, and says
	// team-c has nobody to tell.
	var digest parsed
	for _, r := range sink.received() {
		if r.to[0] == "platform@example.com" {
			digest = parse(t, r)
		}
	}
	if !strings.Contains(digest.text, "team-c") {
		t.Errorf("digest lacks the namespace without contacts:\n%s", digest.text)
	}
}

// crashingSender sends through the real server, then dies (panics) on the
// given message, as a process killed half way would.
type crashingSender struct {
	real  lwmail.Sender
	after int
	n     int
}

func (c *crashingSender) Send(ctx context.Context, msgs []lwmail.Message) ([]error, error) {
	if c.n >= c.after {
		panic("killed")
	}
	c.n += len(msgs)
	return c.real.Send(ctx, msgs)
}

func TestARunThatDiesHalfWayResendsOnlyTheRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, now := reportStore(t)
	// team-c gets contacts so two namespaces are due.
	if err := s.SetNamespace(ctx, "team-c", store.NamespaceSettings{Contacts: []string{"c@example.com"}}); err != nil {
		t.Fatal(err)
	}
	sink := startSink(t, "")
	planned(ctx, s) // the plan the reports read
	set := settings
	set.AdminEmail = ""
	reps, err := BuildReports(ctx, s, set, now)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		SendReports(ctx, s, &crashingSender{real: sender(t, sink.addr), after: 1}, reps, set, now, SendOptions{Batch: 1})
	}()
	first := sink.received()
	if len(first) != 1 {
		t.Fatalf("%d e-mails before the crash, want 1", len(first))
	}
	sum, err := SendReports(ctx, s, sender(t, sink.addr), reps, set, now.Add(time.Minute), SendOptions{Batch: 1})
	if err != nil || sum.Sent != 1 || sum.Skipped != 1 {
		t.Fatalf("after the crash: %s, %v", sum, err)
	}
	all := sink.received()
	if len(all) != 2 || strings.Join(all[0].to, ",") == strings.Join(all[1].to, ",") {
		t.Fatalf("want each namespace once: %v / %v", all[0].to, all[len(all)-1].to)
	}
}

func TestTestSendLeavesTheLogAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, now := reportStore(t)
	sink := startSink(t, "")
	planned(ctx, s) // the plan the reports read
	reps, _ := BuildReports(ctx, s, settings, now)
	sum, err := SendReports(ctx, s, sender(t, sink.addr), reps, settings, now, SendOptions{To: []string{"me@example.com"}})
	if err != nil || sum.Sent != 2 {
		t.Fatalf("test send: %s %v (team-a and team-c to me)", sum, err)
	}
	for _, r := range sink.received() {
		if strings.Join(r.to, ",") != "me@example.com" {
			t.Errorf("test send went to %v", r.to)
		}
	}
	if rows, _ := s.Deliveries(ctx, store.ISOWeek(now)); len(rows) != 0 {
		t.Errorf("a test send wrote %d delivery rows", len(rows))
	}
}

func TestWeeksOverAndChangeSinceLastWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, now := reportStore(t)
	nsA, _ := s.GetNamespace(ctx, "team-a")
	// Over the two weeks before this one (a delivery row each), not three weeks ago.
	for _, weeks := range []int{1, 2} {
		d, err := s.Delivery(ctx, nsA.ID, store.ISOWeek(now.AddDate(0, 0, -7*weeks)))
		if err != nil {
			t.Fatal(err)
		}
		d.Status = store.DeliverySent
		if err := s.SaveDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delivery(ctx, nsA.ID, store.ISOWeek(now.AddDate(0, 0, -28))); err != nil {
		t.Fatal(err)
	}
	// Last week's snapshot said 50 MiB less.
	u, _ := planned(ctx, s)
	nu, _ := u.Namespace("team-a")
	old := *u
	old.Namespaces = []store.NamespaceUsage{nu}
	old.Namespaces[0].Bytes -= 50 << 20
	if _, err := s.WriteSnapshots(ctx, &old, now.AddDate(0, 0, -7)); err != nil {
		t.Fatal(err)
	}
	r, err := BuildReport(ctx, s, settings, now, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	if r.WeeksOver != 3 {
		t.Errorf("weeks over = %d, want 3 (this week and the two before)", r.WeeksOver)
	}
	if !r.HasChange || r.Change != 50<<20 {
		t.Errorf("change = %d (has %v), want +50 MiB", r.Change, r.HasChange)
	}
	if r.Share <= 0 || r.Share > 1 || r.RegistryBytes != u.Registry.Bytes {
		t.Errorf("share %v of %d", r.Share, r.RegistryBytes)
	}
	// The plan's steps add up to what it says is left.
	left := r.Plan.AfterPrune
	for _, st := range r.Plan.Steps {
		left -= st.Bytes
	}
	if !r.Plan.Over || left != r.Plan.After || r.Plan.AfterPrune != r.Bytes-r.Plan.PruneBytes {
		t.Errorf("plan does not add up: %+v", r.Plan)
	}
}

func TestReportJobRunsThroughTheScheduler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := reportStore(t)
	sink := startSink(t, "")
	noMail := ReportJob(s, nil, settings, "0 7 * * 1")
	noMail.Name = "no-mail"
	sc, err := NewScheduler(s, slogDiscard(), []Job{ReportJob(s, sender(t, sink.addr), settings, "0 7 * * 1"), noMail})
	if err != nil {
		t.Fatal(err)
	}
	sc.RunNow(ctx, "weekly-report")
	sc.RunNow(ctx, "no-mail")
	last, _ := s.LastJobRuns(ctx)
	if r := last["weekly-report"]; r.Status != "ok" || r.Count != 1 || !strings.Contains(r.Message, "sent 1") {
		t.Errorf("weekly-report run %+v", r)
	}
	if r := last["no-mail"]; r.Status != "failed" || !strings.Contains(r.Message, "LAYERWISE_SMTP_HOST") {
		t.Errorf("run without a mail server %+v", r)
	}
	if len(sink.received()) != 2 {
		t.Errorf("%d e-mails, want team-a's and the digest", len(sink.received()))
	}
}

func TestOneNamespaceReportSendsOnlyThatOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, now := reportStore(t)
	if err := s.SetNamespace(ctx, "team-b", store.NamespaceSettings{Contacts: []string{"b@example.com"}}); err != nil {
		t.Fatal(err)
	}
	sink := startSink(t, "")
	planned(ctx, s) // the plan the reports read
	// team-b is under its threshold: `report team-b --send` still sends it.
	reps, err := BuildReportFor(ctx, s, settings, now, "team-b")
	if err != nil {
		t.Fatal(err)
	}
	set := settings
	set.AdminEmail = ""
	sum, err := SendReports(ctx, s, sender(t, sink.addr), reps, set, now, SendOptions{})
	if err != nil || sum.Sent != 1 {
		t.Fatalf("%s, %v", sum, err)
	}
	got := sink.received()
	if len(got) != 1 || got[0].to[0] != "b@example.com" {
		t.Fatalf("received %d e-mails: %+v", len(got), got)
	}
	if _, err := BuildReportFor(ctx, s, settings, now, "nope"); err == nil {
		t.Error("an unknown namespace built a report")
	}
}

// planned stores the prune plan the reports' reclaimable figures come from
// (the server's plan job does that) and returns the full pass's figures,
// what the reports must show.
func planned(ctx context.Context, s *store.Store) (*store.Usage, error) {
	if _, err := s.ComputePlanSummary(ctx, store.DefaultPolicy); err != nil {
		return nil, err
	}
	return s.ComputeUsage(ctx, store.DefaultPolicy)
}
