// Package mail sends the reports: a small Sender interface with an SMTP
// implementation on wneessen/go-mail. Tests use the real SMTP code against
// an in-process server.
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one e-mail with a plain-text and an HTML part.
type Message struct {
	To        []string
	Subject   string
	Text      string
	HTML      string
	Date      time.Time
	MessageID string // without angle brackets; made up when empty
}

// Sender sends a batch; the result has one error (or nil) per message, so
// one bad address does not fail its neighbours.
type Sender interface {
	Send(ctx context.Context, msgs []Message) ([]error, error)
}

// Config is the SMTP settings (LAYERWISE_SMTP_*, docs/REFERENCE.md).
type Config struct {
	Host     string
	Port     int
	User     string
	Password string
	TLS      string // none, opportunistic, mandatory, tls
	From     string
	ReplyTo  string
	Timeout  time.Duration
}

// SMTP sends through an SMTP server, all messages of a batch over one
// connection.
type SMTP struct {
	cfg Config
}

// NewSMTP checks the settings.
func NewSMTP(cfg Config) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: LAYERWISE_SMTP_HOST is not set")
	}
	if cfg.From == "" {
		return nil, errors.New("mail: LAYERWISE_MAIL_FROM is not set")
	}
	switch cfg.TLS {
	case "", "none", "opportunistic", "mandatory", "tls":
	default:
		return nil, fmt.Errorf("mail: LAYERWISE_SMTP_TLS %q must be none, opportunistic, mandatory or tls", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg}, nil
}

func (s *SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "mandatory":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.cfg.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.User), gomail.WithPassword(s.cfg.Password))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// Build makes the MIME message (used by Send and to print previews).
func (s *SMTP) Build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("mail: sender %q: %w", s.cfg.From, err)
	}
	if len(m.To) == 0 {
		return nil, errors.New("mail: no recipients")
	}
	if err := msg.To(m.To...); err != nil {
		return nil, fmt.Errorf("mail: recipients %s: %w", strings.Join(m.To, ", "), err)
	}
	if s.cfg.ReplyTo != "" {
		if err := msg.ReplyTo(s.cfg.ReplyTo); err != nil {
			return nil, fmt.Errorf("mail: reply-to %q: %w", s.cfg.ReplyTo, err)
		}
	}
	msg.Subject(m.Subject)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date)
	id := m.MessageID
	if id == "" {
		id = NewMessageID(s.cfg.From)
	}
	msg.SetMessageIDWithValue(id)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Send delivers the messages over one connection.
func (s *SMTP) Send(ctx context.Context, msgs []Message) ([]error, error) {
	errs := make([]error, len(msgs))
	built := make([]*gomail.Msg, 0, len(msgs))
	index := make([]int, 0, len(msgs))
	for i, m := range msgs {
		b, err := s.Build(m)
		if err != nil {
			errs[i] = err
			continue
		}
		built = append(built, b)
		index = append(index, i)
	}
	if len(built) == 0 {
		return errs, nil
	}
	c, err := s.client()
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, built...); err != nil {
		anyMsg := false
		for j, b := range built {
			if b.HasSendError() {
				errs[index[j]] = fmt.Errorf("mail to %s: %w", strings.Join(msgs[index[j]].To, ", "), b.SendError())
				anyMsg = true
			}
		}
		if !anyMsg {
			// The server never took a message (down, refused, auth).
			return nil, fmt.Errorf("mail: %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
		}
	}
	return errs, nil
}

// NewMessageID makes a unique Message-ID in the sender's domain.
func NewMessageID(from string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	domain := "layerwise.local"
	if i := strings.LastIndex(from, "@"); i >= 0 {
		domain = strings.TrimRight(from[i+1:], ">")
	}
	return hex.EncodeToString(b) + "@" + domain
}
