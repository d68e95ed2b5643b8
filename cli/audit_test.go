package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs/openshift"
	"layerwise/jobs/registry/regtest"
	"layerwise/store"
)

// The guard of "every change is audited once", for the command line: each
// command that changes data is run here, in order on one database. A change
// writes exactly one audit event by cli:<os user>; the same command again
// changes nothing — not the audit log either — and says "nothing changed".
// A command missing from both this table and readOnlyCommands fails the test.

// cliWrite is one write command.
type cliWrite struct {
	cmd    string   // the command it covers
	args   []string // {reg} is the test registry, @NS/STREAM:TAG the digest the tag points to
	stdin  string
	action string
	// again: the same command changes nothing the second time; false where
	// a second time is refused instead (the account exists, the tag is gone).
	again     bool
	againArgs []string // the same change, where the command line differs
	// bookkeeping: again rewrites bookkeeping only (an import's condition
	// time, prune's run record), so only the audit log must stay the same.
	bookkeeping bool
}

// readOnlyCommands change no data a user works with, each for its reason.
var readOnlyCommands = map[string]string{
	"serve":    "serves the pages; its changes are the server's (web's TestEveryWriteIsAuditedOnce); --demo loads through the Service (TestLoadDemoOnceWithTheDemoAccount)",
	"get":      "reads",
	"describe": "reads",
	"usage":    "reads",
	"report":   "reads; --send mails the report and records its delivery (bookkeeping, like a job run)",
	"generate": "fills a database with a synthetic registry for benchmarks",
	"db":       "db copy copies a whole database, its audit log included, into an empty one",
	"version":  "reads",
}

func TestEveryCLIWriteIsAuditedOnce(t *testing.T) {
	t.Parallel()
	reg := regtest.Start(t, regtest.Options{})
	base, err := random.Layer(2000, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	pushRandom(t, reg.Host, "payments/app:1", base)
	demo := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(demo, openshift.DemoData(), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []cliWrite{
		{cmd: "import", args: []string{"import", "openshift", demo}, action: "dump.import", again: true},
		{cmd: "user", args: []string{"user", "add", "ann", "--password-stdin"}, stdin: "s3cret-pass\n", action: "user.add"},
		{cmd: "rolebinding", args: []string{"rolebinding", "add", "payments", "ann", "editor"}, action: "rolebinding.add", again: true},
		{cmd: "token", args: []string{"token", "create", "ci", "--user", "ann"}, action: "token.create"},
		{cmd: "namespace", args: []string{"namespace", "set", "payments", "--threshold", "7GiB"}, action: "namespace.settings", again: true},
		{cmd: "namespace", args: []string{"namespace", "set", "payments", "--rules", `^v\d+$ never; ^pr-\d+$ keep 1`}, action: "namespace.retention", again: true},
		{cmd: "create", args: []string{"create", "is", "payments/guard"}, action: "stream.create"},
		{cmd: "tag", args: []string{"tag", "payments/api:latest", "payments/api:guard"}, action: "tag.set", again: true},
		{cmd: "promote", args: []string{"promote", "payments/api:latest"}, action: "tag.promote", again: true},
		{cmd: "rollback", args: []string{"rollback", "payments/api:test"}, action: "tag.rollback", again: true,
			againArgs: []string{"rollback", "payments/api:test", "@payments/api:test"}}, // to the image it is at
		{cmd: "tag", args: []string{"tag", "-d", "payments/api:guard"}, action: "tag.delete"},
		{cmd: "delete", args: []string{"delete", "is", "payments/guard"}, action: "stream.delete"},
		{cmd: "import-image", args: []string{"import-image", "payments/app:v1", "--from", "{reg}/payments/app:1", "--confirm"},
			action: "tag.import", again: true, bookkeeping: true},
		{cmd: "prune", args: []string{"prune", "--confirm"}, action: "prune.apply", again: true, bookkeeping: true},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.cmd] = true
	}
	for _, cmd := range (&cli{}).commands() {
		if !covered[cmd.name] && readOnlyCommands[cmd.name] == "" {
			t.Errorf("command %s is neither in TestEveryCLIWriteIsAuditedOnce nor in readOnlyCommands: if it changes data, add a case (through change.Service, audited once)", cmd.name)
		}
	}

	db := newDB(t)
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	audit := func() []store.AuditEvent {
		evs, err := s.AuditLog(context.Background(), store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	fill := func(args []string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			a = strings.ReplaceAll(a, "{reg}", reg.Host)
			if ref, ok := strings.CutPrefix(a, "@"); ok {
				a = cliCurrent(t, s, ref)
			}
			out[i] = a
		}
		return out
	}
	for _, c := range cases {
		what := strings.Join(c.args, " ")
		// Every write command takes --as, and refuses a missing account
		// before it changes anything.
		before := dump(t, db)
		r := lw(t, db, c.stdin, append(fill(c.args), "--as", "nobody")...)
		if r.code != 1 || !strings.Contains(r.err, "there is no account named nobody") {
			t.Errorf("%s --as nobody: exit %d %q", what, r.code, r.err)
		}
		if dump(t, db) != before {
			t.Errorf("%s --as nobody changed the database", what)
		}

		evs := audit()
		ok(t, lw(t, db, c.stdin, fill(c.args)...))
		after := audit()
		if len(after) != len(evs)+1 {
			t.Fatalf("%s: %d audit events for one change, want 1", what, len(after)-len(evs))
		}
		if ev := after[0]; ev.Action != c.action || ev.Actor != cliActor(t) {
			t.Errorf("%s: audit event %+v, want %s by %s", what, ev, c.action, cliActor(t))
		}
		if !c.again {
			continue
		}
		before = dump(t, db)
		args := c.args
		if c.againArgs != nil {
			args = c.againArgs
		}
		r = ok(t, lw(t, db, c.stdin, fill(args)...))
		if n := len(audit()) - len(after); n != 0 {
			t.Errorf("%s again: %d audit events, want none", what, n)
		}
		if !c.bookkeeping && dump(t, db) != before {
			t.Errorf("%s again changed the database", what)
		}
		if !strings.Contains(r.out, "nothing changed") {
			t.Errorf("%s again says %q, want \"nothing changed\"", what, r.out)
		}
	}
}

// cliCurrent is the digest a tag points to.
func cliCurrent(t *testing.T, s *store.Store, ref string) string {
	t.Helper()
	tr, err := store.ParseTagRef(ref, "")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.CurrentImage(context.Background(), tr)
	if err != nil || cur == "" || cur == "none" {
		t.Fatalf("%s points to %q: %v", ref, cur, err)
	}
	return cur
}

// TestCLIAsAnAccount: --as acts with exactly that account's roles, and is
// audited as that account.
func TestCLIAsAnAccount(t *testing.T) {
	t.Parallel()
	db := demoDB(t)
	ok(t, lw(t, db, "pw-ann-1\n", "user", "add", "ann", "--password-stdin"))
	ok(t, lw(t, db, "pw-bob-1\n", "user", "add", "bob", "--password-stdin"))
	ok(t, lw(t, db, "", "rolebinding", "add", "payments", "ann", "editor"))
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	r := ok(t, lw(t, db, "", "tag", "payments/api:latest", "payments/api:ann", "--as", "ann"))
	if !strings.Contains(r.out, "Tag api:ann set to") {
		t.Errorf("tag as ann: %q", r.out)
	}
	evs, _ := s.AuditLog(context.Background(), store.AuditFilter{Action: "tag.set"})
	if len(evs) != 1 || evs[0].Actor != "ann" || evs[0].Target != "payments/api:ann" {
		t.Errorf("audit of ann's tag: %+v", evs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tag", "ml/trainer:latest", "ml/trainer:ann", "--as", "ann"}, "ann needs the editor role in namespace ml"},
		{[]string{"namespace", "set", "payments", "--threshold", "1GiB", "--as", "ann"}, "ann needs the admin role in namespace payments"},
		{[]string{"rolebinding", "add", "payments", "bob", "viewer", "--as", "ann"}, "ann needs the admin role in namespace payments"},
		{[]string{"token", "create", "ci", "--user", "bob", "--as", "ann"}, "ann may not create API tokens for bob"},
		{[]string{"prune", "--confirm", "--as", "ann"}, "ann needs a platform admin to prune"},
		{[]string{"import", "openshift", "../testdata/openshift/seed-imagestreammapping.yaml", "--as", "ann"}, "ann needs a platform admin to import whole dumps"},
		{[]string{"tag", "payments/api:latest", "payments/api:bob", "--as", "bob"}, "bob needs the editor role in namespace payments"},
	} {
		before := dump(t, db)
		r := lw(t, db, "", c.args...)
		if r.code != 1 || !strings.Contains(r.err, c.want) {
			t.Errorf("%v: exit %d %q, want %q", c.args, r.code, r.err, c.want)
		}
		if dump(t, db) != before {
			t.Errorf("%v was refused but changed the database", c.args)
		}
	}
	// Their own token, though, ann may make.
	ok(t, lw(t, db, "", "token", "create", "mine", "--user", "ann", "--as", "ann"))
	if evs, _ := s.AuditLog(context.Background(), store.AuditFilter{Action: "token.create", Actor: "ann"}); len(evs) != 1 {
		t.Errorf("ann's own token: %d audit events", len(evs))
	}
}
