package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"layerwise/format"
	"layerwise/jobs"
	"layerwise/jobs/mail"
	"layerwise/store"
	"layerwise/views"
)

// mailSettings are the SMTP and report settings shared by serve and report.
type mailSettings struct {
	host, port, user, password, tls, from, replyTo *string
	passwordFile                                   *string
	threshold, baseURL, admin                      *string
}

func (c *cli) mailFlags(f *flags) *mailSettings {
	return &mailSettings{
		host:     f.String("smtp-host", c.env("LAYERWISE_SMTP_HOST", ""), "mail server (LAYERWISE_SMTP_HOST)"),
		port:     f.String("smtp-port", c.env("LAYERWISE_SMTP_PORT", "587"), "mail server port (LAYERWISE_SMTP_PORT)"),
		user:     f.String("smtp-user", c.env("LAYERWISE_SMTP_USER", ""), "SMTP user (LAYERWISE_SMTP_USER)"),
		password: f.String("smtp-password", c.env("LAYERWISE_SMTP_PASSWORD", ""), "SMTP password (LAYERWISE_SMTP_PASSWORD; prefer the variable)"),
		passwordFile: f.String("smtp-password-file", c.env("LAYERWISE_SMTP_PASSWORD_FILE", ""),
			"file holding the SMTP password, e.g. a mounted Secret (LAYERWISE_SMTP_PASSWORD_FILE; wins over --smtp-password)"),
		tls:       f.String("smtp-tls", c.env("LAYERWISE_SMTP_TLS", "opportunistic"), "none, opportunistic, mandatory or tls (LAYERWISE_SMTP_TLS)"),
		from:      f.String("mail-from", c.env("LAYERWISE_MAIL_FROM", ""), "sender address (LAYERWISE_MAIL_FROM)"),
		replyTo:   f.String("mail-reply-to", c.env("LAYERWISE_MAIL_REPLY_TO", ""), "Reply-To address (LAYERWISE_MAIL_REPLY_TO)"),
		threshold: f.String("report-threshold", c.env("LAYERWISE_REPORT_THRESHOLD", "50GiB"), "namespaces at or over it get the weekly e-mail (LAYERWISE_REPORT_THRESHOLD)"),
		baseURL:   f.String("base-url", c.env("LAYERWISE_BASE_URL", ""), "absolute links in e-mails (LAYERWISE_BASE_URL; default http://<addr>)"),
		admin:     f.String("admin-email", c.env("LAYERWISE_ADMIN_EMAIL", ""), "where the platform digest goes (LAYERWISE_ADMIN_EMAIL)"),
	}
}

// reportSettings reads the report settings; addr is the default base URL.
func (m *mailSettings) reportSettings(addr string) (jobs.ReportSettings, error) {
	th, err := format.ParseSize(*m.threshold)
	if err != nil {
		return jobs.ReportSettings{}, usagef("--report-threshold: %v", err)
	}
	base := *m.baseURL
	if base == "" {
		base = "http://" + addr
	}
	return jobs.ReportSettings{Threshold: th, BaseURL: base, AdminEmail: *m.admin}, nil
}

// sender returns the SMTP sender, or nil when no mail server is set.
func (m *mailSettings) sender() (*mail.SMTP, error) {
	if *m.host == "" {
		return nil, nil
	}
	port, err := strconv.Atoi(*m.port)
	if err != nil || port <= 0 || port > 65535 {
		return nil, usagef("--smtp-port %q: want a port number", *m.port)
	}
	password := *m.password
	if *m.passwordFile != "" {
		if password, err = readSecretFile("the SMTP password (--smtp-password-file, LAYERWISE_SMTP_PASSWORD_FILE)", *m.passwordFile); err != nil {
			return nil, err
		}
	}
	return mail.NewSMTP(mail.Config{Host: *m.host, Port: port, User: *m.user, Password: password, TLS: *m.tls,
		From: *m.from, ReplyTo: *m.replyTo})
}

// cmdReport prints the weekly e-mails, or sends them with --send.
func (c *cli) cmdReport(ctx context.Context, args []string) error {
	f := c.newFlags("report", false)
	ms := c.mailFlags(f)
	send := f.Bool("send", false, "send now (recorded in the delivery log unless --to is given)")
	to := f.String("to", "", "send to these addresses instead of the contacts (a test send)")
	html := f.Bool("html", false, "print the HTML part instead of the text")
	policy := c.policyFlags(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("report: want at most one namespace")
	}
	set, err := ms.reportSettings(c.env("LAYERWISE_ADDR", "127.0.0.1:8080"))
	if err != nil {
		return err
	}
	p, err := policy()
	if err != nil {
		return err
	}
	set.Policy = &p
	var override []string
	if *to != "" {
		override = store.SplitList(*to)
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	// The stored figures; a plan for the reclaimable ones if none is stored.
	if _, err := c.usageHead(ctx, s, p); err != nil {
		return err
	}
	now := s.Now()
	var reps *jobs.Reports
	if len(pos) == 1 {
		// One namespace: build only its report; no platform digest.
		ns := pos[0]
		if err := store.ValidateNamespace(ns); err != nil {
			return err
		}
		if reps, err = jobs.BuildReportFor(ctx, s, set, now, ns); err != nil {
			return fmt.Errorf("namespace %s not found", ns)
		}
		set.AdminEmail = ""
		if r := reps.Namespaces[0]; r.Bytes < r.ThresholdBytes {
			fmt.Fprintf(c.stderr, "note: %s uses %s, under its threshold of %s: the weekly job sends it nothing\n",
				ns, format.Size(r.Bytes), format.Size(r.ThresholdBytes))
		}
	} else if reps, err = jobs.BuildReports(ctx, s, set, now); err != nil {
		return err
	}
	if !*send {
		if len(reps.Namespaces) == 0 {
			fmt.Fprintln(c.stderr, "No namespace is at or over its threshold: nothing would be sent.")
		}
		for i, r := range reps.Namespaces {
			if i > 0 {
				fmt.Fprintln(c.stdout, strings.Repeat("=", 78))
			}
			recipients := r.Contacts
			if override != nil {
				recipients = override
			}
			fmt.Fprintf(c.stdout, "To: %s\nSubject: %s\n\n", orNone(strings.Join(recipients, ", ")), r.Subject)
			if *html {
				if err := views.ReportHTML(r).Render(ctx, c.stdout); err != nil {
					return err
				}
				fmt.Fprintln(c.stdout)
			} else {
				fmt.Fprint(c.stdout, views.ReportText(r))
			}
		}
		return nil
	}
	sender, err := ms.sender()
	if err != nil {
		return err
	}
	if sender == nil {
		return usagef("report --send: no mail server; set LAYERWISE_SMTP_HOST (and LAYERWISE_MAIL_FROM)")
	}
	sum, err := jobs.SendReports(ctx, s, sender, reps, set, now, jobs.SendOptions{To: override})
	fmt.Fprintln(c.stdout, sum.String())
	return err
}
