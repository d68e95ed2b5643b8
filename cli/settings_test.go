package cli

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"layerwise/settings"
)

// Every variable the commands read is in settings.All, and every listed
// setting is read by some command: the list the manifests are checked
// against (deploy/) is the one the program obeys. Each command is run
// with --help, which defines all its flags (and so reads their
// variables) and then stops.
func TestEverySettingIsRead(t *testing.T) {
	t.Parallel()
	read := map[string][]string{}
	c := &cli{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	for _, cmd := range c.commands() {
		c.getenv = func(name string) string {
			read[name] = append(read[name], cmd.name)
			return ""
		}
		for _, args := range helpArgs(cmd.name) {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s: %v", strings.Join(args, " "), r)
					}
				}()
				if code := c.run(context.Background(), args); code != 0 {
					t.Errorf("%s: exit %d", strings.Join(args, " "), code)
				}
			}()
		}
	}
	var unread []string
	for _, s := range settings.All() {
		if _, ok := read[s.Name]; !ok {
			unread = append(unread, s.Name)
		}
	}
	if len(unread) > 0 {
		t.Errorf("settings.All lists variables no command reads: %v", unread)
	}
	if _, ok := read["LAYERWISE_ADDR"]; !ok {
		t.Fatalf("serve --help read no LAYERWISE_ADDR: the recording does not work (read %v)", read)
	}
}

// helpArgs are the --help lines that define all of a command's flags.
func helpArgs(name string) [][]string {
	switch name {
	case "import":
		return [][]string{{name, "openshift", "--help"}}
	case "get", "describe", "create", "delete":
		return [][]string{{name, "is", "--help"}}
	case "user":
		return [][]string{{name, "add", "--help"}}
	case "token":
		return [][]string{{name, "create", "--help"}}
	case "rolebinding":
		return [][]string{{name, "add", "--help"}}
	case "namespace":
		return [][]string{{name, "set", "--help"}}
	case "db":
		return [][]string{{name, "copy", "--help"}}
	}
	return [][]string{{name, "--help"}}
}

// The panic in cli.env is what catches a read of an unlisted variable;
// TestEverySettingIsRead relies on it.
func TestUnlistedSettingPanics(t *testing.T) {
	t.Parallel()
	c := &cli{getenv: func(string) string { return "" }}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "LAYERWISE_NO_SUCH_SETTING") {
			t.Errorf("reading an unlisted variable: recover() = %v, want a panic naming it", r)
		}
	}()
	c.env("LAYERWISE_NO_SUCH_SETTING", "")
}

// Credentials come from files (mounted Secrets) through the *_FILE
// settings: the SMTP password in LAYERWISE_SMTP_PASSWORD_FILE is what the
// mail server is given (trimmed, and winning over LAYERWISE_SMTP_PASSWORD),
// and a file that cannot be read stops the command with its setting named.
func TestSMTPPasswordFile(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", "../testdata/openshift/seed-imagestreammapping.yaml"))
	ok(t, lw(t, db, "", "namespace", "set", "seed", "--contacts", "team@example.com"))
	srv := startAuthSMTP(t, "layerwise", "pw-from-the-secret")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(pwFile, []byte("pw-from-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LAYERWISE_DB": db, "LAYERWISE_SMTP_HOST": "127.0.0.1", "LAYERWISE_SMTP_PORT": srv.port,
		"LAYERWISE_SMTP_TLS": "none", "LAYERWISE_SMTP_USER": "layerwise", "LAYERWISE_MAIL_FROM": "layerwise@example.com",
		"LAYERWISE_SMTP_PASSWORD": "pw-from-the-variable", "LAYERWISE_SMTP_PASSWORD_FILE": pwFile}
	run := func() result {
		var out, errb bytes.Buffer
		c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
		code := c.run(context.Background(), []string{"report", "seed", "--send", "--to", "me@example.com"})
		return result{out.String(), errb.String(), code}
	}
	ok(t, run())
	if got := srv.loggedIn(); len(got) != 1 || got[0] != "layerwise" {
		t.Errorf("logins at the mail server: %q, want one with the password file's content", got)
	}

	env["LAYERWISE_SMTP_PASSWORD_FILE"] = filepath.Join(dir, "missing")
	r := run()
	if r.code != 1 || !strings.Contains(r.err, "LAYERWISE_SMTP_PASSWORD_FILE") || !strings.Contains(r.err, "missing") {
		t.Errorf("a missing password file: exit %d, %q; want 1 and an error naming the setting and the file", r.code, r.err)
	}
}

// authSMTP is an in-process mail server that wants CRAM-MD5 (go-mail
// offers no plain-text mechanism without TLS) with one user and password,
// and notes who logged in.
type authSMTP struct {
	port, user, password string
	mu                   sync.Mutex
	logins               []string
}

func (a *authSMTP) loggedIn() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.logins...)
}

type authSession struct{ srv *authSMTP }

func (s authSession) AuthMechanisms() []string           { return []string{"CRAM-MD5"} }
func (s authSession) Auth(string) (sasl.Server, error)   { return &cramMD5{srv: s.srv}, nil }
func (authSession) Mail(string, *smtp.MailOptions) error { return nil }
func (authSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (authSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func (authSession) Reset()                               {}
func (authSession) Logout() error                        { return nil }

// cramMD5 is the server side of RFC 2195: a challenge, then "user digest"
// where digest is HMAC-MD5 of the challenge keyed with the password.
type cramMD5 struct {
	srv       *authSMTP
	challenge []byte
}

func (c *cramMD5) Next(resp []byte) ([]byte, bool, error) {
	if c.challenge == nil {
		c.challenge = []byte("<1896.697170952@layerwise.test>")
		return c.challenge, false, nil
	}
	user, digest, _ := strings.Cut(string(resp), " ")
	mac := hmac.New(md5.New, []byte(c.srv.password))
	mac.Write(c.challenge)
	if user != c.srv.user || !hmac.Equal([]byte(digest), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		return nil, true, errors.New("wrong user or password")
	}
	c.srv.mu.Lock()
	c.srv.logins = append(c.srv.logins, user)
	c.srv.mu.Unlock()
	return nil, true, nil
}

type authBackend struct{ srv *authSMTP }

func (b authBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return authSession{b.srv}, nil }

func startAuthSMTP(t *testing.T, user, password string) *authSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &authSMTP{user: user, password: password}
	_, a.port, _ = net.SplitHostPort(ln.Addr().String())
	s := smtp.NewServer(authBackend{a})
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return a
}

// The webhook token and the OIDC client secret come from files named by
// their *_FILE variables (as the manifests in deploy/ mount them); serve
// refuses to start when such a file cannot be read.
func TestServeSecretFileVariables(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, name := range []string{"LAYERWISE_WEBHOOK_TOKEN_FILE", "LAYERWISE_OIDC_CLIENT_SECRET_FILE"} {
		env := map[string]string{"LAYERWISE_DB": db, "LAYERWISE_ADDR": "127.0.0.1:0", name: "/nonexistent/secret"}
		var out, errb bytes.Buffer
		c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
		code := c.run(context.Background(), []string{"serve", "--no-jobs"})
		if code != 1 || !strings.Contains(errb.String(), name) || !strings.Contains(errb.String(), "/nonexistent/secret") {
			t.Errorf("%s=/nonexistent/secret: exit %d, %q; want 1 naming the variable and the file", name, code, errb.String())
		}
	}
}
