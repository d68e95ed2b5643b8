package jobs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"layerwise/bytesum"
	"layerwise/format"
	"layerwise/jobs/mail"
	"layerwise/store"
	"layerwise/views"
)

// ReportSettings are the weekly report's settings.
type ReportSettings struct {
	Threshold  int64  // LAYERWISE_REPORT_THRESHOLD
	BaseURL    string // LAYERWISE_BASE_URL, for absolute links
	AdminEmail string // LAYERWISE_ADMIN_EMAIL, "" = no digest
	// Policy is the prune policy the plans count tonight's prune with
	// (nil: store.DefaultPolicy); the usage passed in is computed with it.
	Policy *store.Policy
}

func (set ReportSettings) policy() store.Policy {
	if set.Policy != nil {
		return *set.Policy
	}
	return store.DefaultPolicy
}

// Reports is one week's e-mails, built from one usage computation.
type Reports struct {
	Week       string
	Namespaces []views.Report // namespaces at or over their threshold, biggest first
	ids        map[string]int64
	digest     views.Digest
}

// compactSize writes a threshold as people set it: "50 GiB", not "50.0 GiB".
func compactSize(n int64) string { return strings.Replace(format.Size(n), ".0 ", " ", 1) }

// ReportSubject is the subject line of a namespace's report.
func ReportSubject(ns string, bytes, threshold int64) string {
	return fmt.Sprintf("Image registry usage for %s: %s (threshold %s)", ns, format.Size(bytes), compactSize(threshold))
}

type reportInput struct {
	u         *store.Usage
	set       ReportSettings
	now       time.Time
	week      string
	nss       map[string]store.Namespace
	lastWeek  map[int64]store.UsageSnapshot
	weeksOver map[int64]int // consecutive earlier weeks with a delivery row
	plans     map[string]*store.SavingsPlan
	// inUse are the workloads on the cluster using each image shown.
	inUse map[string]store.InUse
}

// inUseFor reads which of the namespace's revisions run on the cluster
// (one query), for the report of nu.
func (in *reportInput) inUseFor(ctx context.Context, s *store.Store, nu store.NamespaceUsage) error {
	var digests []string
	for _, st := range nu.Streams {
		for _, tg := range st.Tags {
			for _, rev := range tg.Revisions {
				if rev.Image != "" {
					digests = append(digests, rev.Image)
				}
			}
		}
	}
	var err error
	in.inUse, err = s.InUseByDigest(ctx, digests)
	return err
}

// planFor plans the savings of the namespaces (one read of the graph).
func (in *reportInput) planFor(ctx context.Context, s *store.Store, names []string) error {
	th := make(map[string]int64, len(names))
	for _, n := range names {
		th[n] = in.threshold(n)
	}
	var err error
	in.plans, err = s.PlanSavings(ctx, in.set.policy(), th)
	return err
}

func loadReportInput(ctx context.Context, s *store.Store, u *store.Usage, set ReportSettings, now time.Time) (*reportInput, error) {
	in := &reportInput{u: u, set: set, now: now, week: store.ISOWeek(now), nss: map[string]store.Namespace{}, weeksOver: map[int64]int{}}
	in.set.BaseURL = strings.TrimRight(set.BaseURL, "/")
	// Settings, last week's snapshots and the delivery log from one view.
	var deliveries []store.ReportDelivery
	err := s.Snapshot(ctx, func(s *store.Store) error {
		nss, err := s.ListNamespaces(ctx)
		if err != nil {
			return err
		}
		for _, n := range nss {
			in.nss[n.Name] = n
		}
		if in.lastWeek, err = s.LastWeekSnapshots(ctx, now); err != nil {
			return err
		}
		deliveries, err = s.Deliveries(ctx, store.ISOWeek(now.AddDate(-1, 0, 0)))
		return err
	})
	if err != nil {
		return nil, err
	}
	had := map[int64]map[string]bool{}
	for _, d := range deliveries {
		if had[d.NamespaceID] == nil {
			had[d.NamespaceID] = map[string]bool{}
		}
		had[d.NamespaceID][d.Week] = true
	}
	for id, weeks := range had {
		n := 0
		for w := now.AddDate(0, 0, -7); weeks[store.ISOWeek(w)]; w = w.AddDate(0, 0, -7) {
			n++
		}
		in.weeksOver[id] = n
	}
	return in, nil
}

func (in *reportInput) threshold(ns string) int64 {
	return in.nss[ns].Threshold(in.set.Threshold)
}

func (in *reportInput) link(path string) string { return in.set.BaseURL + path }

// report builds one namespace's e-mail.
func (in *reportInput) report(nu store.NamespaceUsage) views.Report {
	ns := in.nss[nu.Name]
	th := in.threshold(nu.Name)
	r := views.Report{Namespace: nu.Name, Week: in.week, Now: in.now, BaseURL: in.set.BaseURL,
		Subject: ReportSubject(nu.Name, nu.Bytes, th), Bytes: nu.Bytes, ExclusiveBytes: nu.ExclusiveBytes,
		ThresholdBytes: th, RegistryBytes: in.u.Registry.Bytes, Reclaimable: nu.ReclaimableBytes,
		Contacts: ns.ContactList(), WeeksOver: in.weeksOver[ns.ID], NotPulledBytes: nu.NotPulledBytes}
	if in.u.PullsRecordedSince != nil {
		r.PullsSince = *in.u.PullsRecordedSince
	}
	if nu.Bytes >= th {
		r.WeeksOver++
	}
	if in.u.Registry.Bytes > 0 {
		r.Share = float64(nu.Bytes) / float64(in.u.Registry.Bytes)
	}
	if snap, ok := in.lastWeek[ns.ID]; ok && ns.ID != 0 {
		r.Change, r.HasChange = bytesum.Diff(nu.Bytes, snap.Bytes), true
	}
	for _, st := range nu.Streams {
		rs := views.ReportStream{Name: st.Name, URL: in.link(views.StreamHref(nu.Name, st.Name)), Bytes: st.Bytes, ExclusiveBytes: st.ExclusiveBytes}
		for _, tg := range st.Tags {
			rt := views.ReportTag{Name: tg.Name, URL: in.link(views.TagHref(nu.Name, st.Name, tg.Name)), Bytes: tg.Bytes, ExclusiveBytes: tg.ExclusiveBytes}
			for _, rev := range tg.Revisions {
				// The contacts of this namespace read its workloads' names;
				// other namespaces' are counted.
				rt.Revisions = append(rt.Revisions, views.ReportRevision{Image: rev.Image, Created: rev.Created, Bytes: rev.Bytes,
					Current: rev.Current, Prunable: rev.Prunable,
					InUse: in.inUse[rev.Image].Describe(func(ns string) bool { return ns == nu.Name })})
			}
			rs.Tags = append(rs.Tags, rt)
		}
		r.Streams = append(r.Streams, rs)
	}
	sort.SliceStable(r.Streams, func(i, j int) bool { return r.Streams[i].Bytes > r.Streams[j].Bytes })
	if p := in.plans[nu.Name]; p != nil {
		r.Plan = in.reportPlan(p)
	}
	return r
}

// reportPlan is a savings plan as the e-mail shows it, with its commands.
func (in *reportInput) reportPlan(p *store.SavingsPlan) views.ReportPlan {
	out := views.ReportPlan{Over: p.Over(), PruneBytes: bytesum.Diff(p.Bytes, p.AfterPrune), AfterPrune: p.AfterPrune,
		After: p.After, Freed: p.Freed, Reaches: p.Reaches}
	for _, st := range p.Steps {
		s := views.Saving{Kind: "stream", Name: st.String(), Bytes: st.Bytes, URL: in.link(views.StreamHref(p.Namespace, st.Stream)),
			Command: fmt.Sprintf("oc delete imagestream %s -n %s", st.Stream, p.Namespace)}
		switch len(st.Tags) {
		case 0:
		case 1:
			s.Kind, s.URL = "tag", in.link(views.TagHref(p.Namespace, st.Stream, st.Tags[0]))
		default:
			s.Kind = "tags"
		}
		if len(st.Tags) > 0 {
			// oc tag -d takes several tags at once.
			refs := make([]string, len(st.Tags))
			for i, t := range st.Tags {
				refs[i] = p.Namespace + "/" + st.Stream + ":" + t
			}
			s.Command = "oc tag -d " + strings.Join(refs, " ")
		}
		out.Steps = append(out.Steps, s)
	}
	for _, l := range p.LeftAlone {
		out.LeftAlone = append(out.LeftAlone, l.String()+" ("+l.Reason+")")
	}
	return out
}

// BuildReport builds the e-mail of one namespace, over its threshold or not
// (the preview page and `report NS` show it either way).
func BuildReport(ctx context.Context, s *store.Store, set ReportSettings, now time.Time, ns string) (views.Report, error) {
	nu, err := s.ReadNamespaceUsageFull(ctx, ns)
	if err != nil {
		return views.Report{}, err
	}
	head, err := s.ReadUsageHead(ctx)
	if err != nil {
		return views.Report{}, err
	}
	u := &store.Usage{Registry: head.Registry, PullsRecordedSince: head.PullsRecordedSince, PlanComputedAt: head.PlanComputedAt}
	in, err := loadReportInput(ctx, s, u, set, now)
	if err != nil {
		return views.Report{}, err
	}
	if err := in.planFor(ctx, s, []string{ns}); err != nil {
		return views.Report{}, err
	}
	if err := in.inUseFor(ctx, s, nu); err != nil {
		return views.Report{}, err
	}
	return in.report(nu), nil
}

// BuildReports builds the week's e-mails: every namespace at or over its
// threshold, and the platform digest. It reads every namespace's stored
// figures, and the streams and histories of those over their threshold only.
func BuildReports(ctx context.Context, s *store.Store, set ReportSettings, now time.Time) (*Reports, error) {
	u, _, err := s.ReadUsageSummary(ctx, set.Threshold)
	if err != nil {
		return nil, err
	}
	in, err := loadReportInput(ctx, s, u, set, now)
	if err != nil {
		return nil, err
	}
	var due []string
	for _, nu := range u.Namespaces {
		if th := in.threshold(nu.Name); th > 0 && nu.Bytes >= th {
			due = append(due, nu.Name)
		}
	}
	if err := in.planFor(ctx, s, due); err != nil {
		return nil, err
	}
	out := &Reports{Week: in.week, ids: map[string]int64{}}
	d := views.Digest{Week: in.week, Now: now, BaseURL: in.set.BaseURL, RegistryBytes: u.Registry.Bytes, Reclaimable: u.Registry.ReclaimableBytes}
	for _, nu := range u.Namespaces {
		ns := in.nss[nu.Name]
		out.ids[nu.Name] = ns.ID
		th := in.threshold(nu.Name)
		dn := views.DigestNamespace{Name: nu.Name, URL: in.link(views.NamespaceHref(nu.Name)), Bytes: nu.Bytes, ThresholdBytes: th}
		if snap, ok := in.lastWeek[ns.ID]; ok {
			dn.Change, dn.HasChange = bytesum.Diff(nu.Bytes, snap.Bytes), true
			d.Movers = append(d.Movers, dn)
		}
		if th <= 0 || nu.Bytes < th {
			continue
		}
		full, err := s.ReadNamespaceUsageFull(ctx, nu.Name)
		if err != nil {
			return nil, err
		}
		if err := in.inUseFor(ctx, s, full); err != nil {
			return nil, err
		}
		out.Namespaces = append(out.Namespaces, in.report(full))
		d.Over = append(d.Over, dn)
		if len(ns.ContactList()) == 0 {
			d.NoContacts = append(d.NoContacts, nu.Name)
		}
	}
	sort.SliceStable(out.Namespaces, func(i, j int) bool { return out.Namespaces[i].Bytes > out.Namespaces[j].Bytes })
	sort.SliceStable(d.Over, func(i, j int) bool { return d.Over[i].Bytes > d.Over[j].Bytes })
	sort.SliceStable(d.Movers, func(i, j int) bool { return abs(d.Movers[i].Change) > abs(d.Movers[j].Change) })
	if len(d.Movers) > 10 {
		d.Movers = d.Movers[:10]
	}
	d.Subject = fmt.Sprintf("Registry usage %s: %s, %d namespaces over threshold", in.week, format.Size(u.Registry.Bytes), len(d.Over))
	out.digest = d
	return out, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Message renders a report as an e-mail.
func Message(r views.Report, to []string, now time.Time) (mail.Message, error) {
	var html strings.Builder
	if err := views.ReportHTML(r).Render(context.Background(), &html); err != nil {
		return mail.Message{}, fmt.Errorf("render the report of %s: %w", r.Namespace, err)
	}
	return mail.Message{To: to, Subject: r.Subject, Text: views.ReportText(r), HTML: html.String(), Date: now}, nil
}

// SendOptions steer SendReports.
type SendOptions struct {
	// To replaces the recipients: a test send that leaves the delivery log alone.
	To []string
	// Batch is how many messages go over one SMTP connection.
	Batch int
}

// SendSummary says what a send did.
type SendSummary struct {
	Sent, Failed, Skipped, NoContacts int
}

func (s SendSummary) String() string {
	return fmt.Sprintf("sent %d, failed %d, already sent this week %d, no contacts %d", s.Sent, s.Failed, s.Skipped, s.NoContacts)
}

// SendReports sends the week's e-mails once per namespace per ISO week. A
// delivery is marked sent only after the server took it; a failure is
// recorded with its error and retried by the next run. A run that dies
// half way leaves the rest pending, so the next run sends only those.
func SendReports(ctx context.Context, s *store.Store, sender mail.Sender, reps *Reports, set ReportSettings, now time.Time, opt SendOptions) (SendSummary, error) {
	var sum SendSummary
	if opt.Batch <= 0 {
		opt.Batch = 50
	}
	type job struct {
		msg mail.Message
		d   *store.ReportDelivery
	}
	var queue []job
	for _, r := range reps.Namespaces {
		to := r.Contacts
		var d *store.ReportDelivery
		if len(opt.To) > 0 {
			to = opt.To
		} else {
			row, err := s.Delivery(ctx, reps.ids[r.Namespace], reps.Week)
			if err != nil {
				return sum, err
			}
			if row.Status == store.DeliverySent {
				sum.Skipped++
				continue
			}
			if len(to) == 0 {
				row.Status, row.Error = store.DeliveryNoContacts, "the namespace has no contacts: layerwise namespace set "+r.Namespace+" --contacts …"
				if err := s.SaveDelivery(ctx, row); err != nil {
					return sum, err
				}
				sum.NoContacts++
				continue
			}
			d = &row
		}
		msg, err := Message(r, to, now)
		if err != nil {
			return sum, err
		}
		queue = append(queue, job{msg, d})
	}
	var firstErr error
	flush := func(batch []job) error {
		msgs := make([]mail.Message, len(batch))
		for i, j := range batch {
			msgs[i] = j.msg
		}
		errs, err := sender.Send(ctx, msgs)
		for i, j := range batch {
			e := err
			if e == nil && errs != nil {
				e = errs[i]
			}
			if e != nil {
				sum.Failed++
				if firstErr == nil {
					firstErr = e
				}
			} else {
				sum.Sent++
			}
			if j.d == nil {
				continue
			}
			j.d.Attempts++
			j.d.Recipients = strings.Join(j.msg.To, ",")
			if e != nil {
				j.d.Status, j.d.Error = store.DeliveryFailed, e.Error()
			} else {
				t := now
				j.d.Status, j.d.Error, j.d.SentAt = store.DeliverySent, "", &t
			}
			// Record even when the run is being cancelled: the mail went out.
			if err := s.SaveDelivery(context.WithoutCancel(ctx), *j.d); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i < len(queue); i += opt.Batch {
		if err := flush(queue[i:min(i+opt.Batch, len(queue))]); err != nil {
			return sum, err
		}
	}
	if len(opt.To) == 0 && set.AdminEmail != "" {
		if err := sendDigest(ctx, s, sender, reps, set, now); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return sum, fmt.Errorf("%s; first error: %w", sum, firstErr)
	}
	return sum, nil
}

// sendDigest sends the platform digest once a week, listing this week's
// failed deliveries.
func sendDigest(ctx context.Context, s *store.Store, sender mail.Sender, reps *Reports, set ReportSettings, now time.Time) error {
	row, err := s.Delivery(ctx, store.DigestNamespaceID, reps.Week)
	if err != nil || row.Status == store.DeliverySent {
		return err
	}
	d := reps.digest
	rows, err := s.Deliveries(ctx, reps.Week)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for name, id := range reps.ids {
		names[id] = name
	}
	for _, r := range rows {
		if r.Week == reps.Week && r.Status == store.DeliveryFailed && r.NamespaceID != store.DigestNamespaceID {
			d.Failed = append(d.Failed, views.DigestFailure{Namespace: names[r.NamespaceID], Error: r.Error, Attempts: r.Attempts})
		}
	}
	var html strings.Builder
	if err := views.DigestHTML(d).Render(ctx, &html); err != nil {
		return err
	}
	msg := mail.Message{To: []string{set.AdminEmail}, Subject: d.Subject, Text: views.DigestText(d), HTML: html.String(), Date: now}
	errs, err := sender.Send(ctx, []mail.Message{msg})
	if err == nil && len(errs) == 1 {
		err = errs[0]
	}
	row.Attempts++
	row.Recipients = set.AdminEmail
	if err != nil {
		row.Status, row.Error = store.DeliveryFailed, err.Error()
	} else {
		t := now
		row.Status, row.Error, row.SentAt = store.DeliverySent, "", &t
	}
	if serr := s.SaveDelivery(context.WithoutCancel(ctx), row); serr != nil {
		return serr
	}
	if err != nil {
		return fmt.Errorf("platform digest: %w", err)
	}
	return nil
}

// ReportJob is the weekly report (LAYERWISE_REPORT_SCHEDULE).
func ReportJob(s *store.Store, sender mail.Sender, set ReportSettings, schedule string) Job {
	return Job{Name: "weekly-report", Schedule: schedule, Run: func(ctx context.Context) (Result, error) {
		if sender == nil {
			return Result{}, errors.New("no mail server: set LAYERWISE_SMTP_HOST and LAYERWISE_MAIL_FROM")
		}
		now := s.Now()
		reps, err := BuildReports(ctx, s, set, now)
		if err != nil {
			return Result{}, err
		}
		sum, err := SendReports(ctx, s, sender, reps, set, now, SendOptions{})
		return Result{Count: int64(sum.Sent), Message: sum.String()}, err
	}}
}

// BuildReportFor is the reports of a single namespace, over its threshold
// or not (`report NS`); it carries no platform digest.
func BuildReportFor(ctx context.Context, s *store.Store, set ReportSettings, now time.Time, ns string) (*Reports, error) {
	r, err := BuildReport(ctx, s, set, now, ns)
	if err != nil {
		return nil, err
	}
	n, err := s.GetNamespace(ctx, ns)
	if err != nil {
		return nil, err
	}
	return &Reports{Week: r.Week, Namespaces: []views.Report{r}, ids: map[string]int64{ns: n.ID}}, nil
}
