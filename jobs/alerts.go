package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"layerwise/format"
	"layerwise/jobs/mail"
	"layerwise/panics"
	"layerwise/store"
	"layerwise/views"
)

// AlertSettings are the threshold alerts' settings.
type AlertSettings struct {
	Threshold int64  // LAYERWISE_REPORT_THRESHOLD: a namespace's default
	BaseURL   string // LAYERWISE_BASE_URL, for absolute links
	// WebhookURL (LAYERWISE_ALERT_WEBHOOK_URL) also gets each alert as
	// {"text": "…"}, which Slack's and Teams' incoming webhooks accept;
	// "": none. It holds a secret (the webhook's token): never logged.
	WebhookURL string
	// HTTP posts to the webhook; nil: a client with a 10 s timeout.
	HTTP *http.Client
}

// ParseWebhookURL checks LAYERWISE_ALERT_WEBHOOK_URL; the error never
// repeats the URL (it holds the webhook's secret).
func ParseWebhookURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", errors.New("LAYERWISE_ALERT_WEBHOOK_URL must be an http(s) URL with a host and no user:password, e.g. https://hooks.slack.com/services/…")
	}
	return s, nil
}

// Alerter sends an alert when a namespace crosses its usage threshold, up
// or back down: an e-mail to its contacts and, when set, a webhook post.
// Crossings are found by comparing usage with the side stored for each
// namespace (store.RecordCrossings), so each crossing alerts once, across
// restarts and replicas; each alert is logged in the delivery log.
type Alerter struct {
	store  *store.Store
	sender mail.Sender // nil: no mail server, the webhook alone
	set    AlertSettings
	log    *slog.Logger

	// Settle is how old a crossing's unsent alert must be before a retry
	// sends it (a younger one may be on its way out of another process).
	Settle time.Duration

	mu   sync.Mutex // one check at a time in this process
	kick chan struct{}
}

// NewAlerter makes an alerter; sender may be nil.
func NewAlerter(s *store.Store, sender mail.Sender, set AlertSettings, log *slog.Logger) *Alerter {
	set.BaseURL = strings.TrimRight(set.BaseURL, "/")
	if set.HTTP == nil {
		set.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return &Alerter{store: s, sender: sender, set: set, log: log, Settle: 10 * time.Minute, kick: make(chan struct{}, 1)}
}

// AlertSummary says what a check did.
type AlertSummary struct {
	Crossings, Sent, Failed, NoContacts, Superseded int
}

func (s AlertSummary) String() string {
	return fmt.Sprintf("%d crossings; alerts sent %d, failed %d, no contacts %d, superseded %d", s.Crossings, s.Sent, s.Failed, s.NoContacts, s.Superseded)
}

// kinds are the channels an alert goes to.
func (a *Alerter) kinds() []string {
	var k []string
	if a.sender != nil {
		k = append(k, store.DeliveryAlertMail)
	}
	if a.set.WebhookURL != "" {
		k = append(k, store.DeliveryAlertWebhook)
	}
	return k
}

// Check compares the stored usage with every namespace's threshold,
// records the crossings and sends their alerts. With retry it also sends
// the alerts a crash or a failure left unsent (the daily check does).
func (a *Alerter) Check(ctx context.Context, retry bool) (AlertSummary, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var sum AlertSummary
	u, _, err := a.store.ReadUsageSummary(ctx, a.set.Threshold)
	if err != nil {
		return sum, err
	}
	nss, err := a.store.ListNamespaces(ctx)
	if err != nil {
		return sum, err
	}
	checks := make([]store.ThresholdCheck, 0, len(nss))
	for _, n := range nss {
		c := store.ThresholdCheck{NamespaceID: n.ID, Namespace: n.Name, ThresholdBytes: n.Threshold(a.set.Threshold)}
		if nu, ok := u.Namespace(n.Name); ok {
			c.Bytes = nu.Bytes
		}
		checks = append(checks, c)
	}
	crossings, err := a.store.RecordCrossings(ctx, checks, a.kinds())
	if err != nil {
		return sum, err
	}
	sum.Crossings = len(crossings)
	contacts := map[int64][]string{}
	for _, n := range nss {
		contacts[n.ID] = n.ContactList()
	}
	var firstErr error
	send := func(c store.Crossing, d store.ReportDelivery) error {
		err := a.deliver(ctx, u, c, d, contacts[c.NamespaceID], &sum)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return nil
	}
	for _, c := range crossings {
		for _, kind := range a.kinds() {
			d, err := a.store.AlertDelivery(ctx, c, kind)
			if err != nil {
				return sum, err
			}
			_ = send(c, d)
		}
	}
	if retry {
		pending, err := a.store.PendingAlerts(ctx, a.Settle)
		if err != nil {
			return sum, err
		}
		for _, p := range pending {
			if !p.Latest {
				p.Delivery.Status, p.Delivery.Error = store.DeliverySuperseded, "the namespace crossed its threshold again since"
				if err := a.store.SaveDelivery(ctx, p.Delivery); err != nil {
					return sum, err
				}
				sum.Superseded++
				continue
			}
			_ = send(p.Crossing, p.Delivery)
		}
	}
	if firstErr != nil {
		return sum, fmt.Errorf("%s; first error: %w", sum, firstErr)
	}
	return sum, nil
}

// alert is the message of a crossing.
func (a *Alerter) alert(u *store.Usage, c store.Crossing, to []string) views.Alert {
	al := views.Alert{Namespace: c.Namespace, Up: c.Up, Bytes: c.Bytes, ThresholdBytes: c.ThresholdBytes, At: c.At,
		Now: a.store.Now(), BaseURL: a.set.BaseURL, Contacts: to, Subject: AlertSubject(c)}
	if nu, ok := u.Namespace(c.Namespace); ok {
		al.Reclaimable = nu.ReclaimableBytes
	}
	return al
}

// AlertSubject is the subject line of a crossing's alert.
func AlertSubject(c store.Crossing) string {
	if c.Up {
		return fmt.Sprintf("Registry usage alert: %s is over its threshold (%s, threshold %s)", c.Namespace, format.Size(c.Bytes), compactSize(c.ThresholdBytes))
	}
	return fmt.Sprintf("Registry usage: %s is back below its threshold (%s, threshold %s)", c.Namespace, format.Size(c.Bytes), compactSize(c.ThresholdBytes))
}

// deliver sends one alert on its channel and records how it went.
func (a *Alerter) deliver(ctx context.Context, u *store.Usage, c store.Crossing, d store.ReportDelivery, to []string, sum *AlertSummary) error {
	al := a.alert(u, c, to)
	var err error
	switch d.Kind {
	case store.DeliveryAlertMail:
		if len(to) == 0 {
			d.Status, d.Error = store.DeliveryNoContacts, "the namespace has no contacts: layerwise namespace set "+c.Namespace+" --contacts …"
			sum.NoContacts++
			return a.store.SaveDelivery(context.WithoutCancel(ctx), d)
		}
		d.Recipients = strings.Join(to, ",")
		err = a.sendMail(ctx, al, to)
	case store.DeliveryAlertWebhook:
		d.Recipients = "webhook"
		err = a.post(ctx, al)
	default:
		return nil
	}
	d.Attempts++
	if err != nil {
		d.Status, d.Error = store.DeliveryFailed, err.Error()
		sum.Failed++
		a.log.Warn("threshold alert not delivered", "namespace", c.Namespace, "channel", d.Kind, "err", err)
	} else {
		t := a.store.Now()
		d.Status, d.Error, d.SentAt = store.DeliverySent, "", &t
		sum.Sent++
	}
	// Recorded even when the check is being cancelled: the alert went out.
	if serr := a.store.SaveDelivery(context.WithoutCancel(ctx), d); serr != nil {
		return serr
	}
	return err
}

func (a *Alerter) sendMail(ctx context.Context, al views.Alert, to []string) error {
	if a.sender == nil {
		return errors.New("no mail server: set LAYERWISE_SMTP_HOST and LAYERWISE_MAIL_FROM")
	}
	var html strings.Builder
	if err := views.AlertHTML(al).Render(ctx, &html); err != nil {
		return fmt.Errorf("render the alert of %s: %w", al.Namespace, err)
	}
	msg := mail.Message{To: to, Subject: al.Subject, Text: views.AlertText(al), HTML: html.String(), Date: al.Now}
	errs, err := a.sender.Send(ctx, []mail.Message{msg})
	if err == nil && len(errs) == 1 {
		err = errs[0]
	}
	return err
}

// webhookBody is what Slack's and Teams' incoming webhooks both take.
type webhookBody struct {
	Text string `json:"text"`
}

// post sends the alert to the webhook. Errors name the host only: the
// URL's path and query are the webhook's secret.
func (a *Alerter) post(ctx context.Context, al views.Alert) error {
	body, err := json.Marshal(webhookBody{Text: views.AlertSummary(al)})
	if err != nil {
		return err
	}
	host := "the alert webhook"
	if u, err := url.Parse(a.set.WebhookURL); err == nil {
		host = "the alert webhook at " + u.Host
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.set.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: the URL cannot be used", host)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "layerwise")
	resp, err := a.set.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("%s: %v", host, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s: %s", host, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Notify asks for a check of the stored figures (after data changed); it
// never waits, and several notices before a check make one. Run does the
// checks.
func (a *Alerter) Notify() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Run checks after each Notify until ctx ends.
func (a *Alerter) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
			if sum, err := a.safeCheck(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("threshold check failed", "err", err)
			} else if sum.Crossings > 0 {
				a.log.Info("threshold crossings", "summary", sum.String())
			}
		}
	}
}

// safeCheck is Check in the background loop: a panic fails this check
// (logged with the error; the daily job checks again) instead of ending
// the process.
func (a *Alerter) safeCheck(ctx context.Context) (sum AlertSummary, err error) {
	defer panics.Recover(&err)
	return a.Check(ctx, false)
}

// AlertJob is the daily threshold check of the stored figures, retrying
// the alerts left unsent.
func AlertJob(a *Alerter, schedule string) Job {
	return Job{Name: "threshold-alerts", Schedule: schedule, Run: func(ctx context.Context) (Result, error) {
		sum, err := a.Check(ctx, true)
		return Result{Count: int64(sum.Sent), Message: sum.String()}, err
	}}
}
