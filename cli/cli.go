// Package cli is the command line: each command decodes its flags, calls
// the change service (writes) or the store and jobs (reads), and prints.
// main only hands it the process's arguments and streams.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"layerwise/change"
	"layerwise/format"
	"layerwise/jobs/registry"
	"layerwise/settings"
	"layerwise/store"
)

// Run executes one command line and returns the exit code: 0 success,
// 1 failure, 2 usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return c.run(ctx, args)
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// now, when set, is the stores' clock (tests describe at a fixed time).
	now func() time.Time
}

// usageError is a mistake in the command line itself: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

type command struct {
	name    string
	summary string
	run     func(c *cli, ctx context.Context, args []string) error
}

func (c *cli) commands() []command {
	return []command{
		{"serve", "serve [--addr A] [--demo] [--no-jobs]   the dashboard (and its jobs)", (*cli).cmdServe},
		{"import", "import openshift FILE|- ...   load `oc get is,images -o json|yaml` output", (*cli).cmdImport},
		{"import-image", "import-image NS/STREAM[:TAG] --from REF [--confirm] [--scheduled] [--insecure] [--import-mode Legacy|PreserveOriginal]", (*cli).cmdImportImage},
		{"get", "get is|images|is,images [-n NS | -A] [-o json|yaml]   list image streams and images", (*cli).cmdGet},
		{"describe", "describe is NS/STREAM | describe istag NS/STREAM:TAG", (*cli).cmdDescribe},
		{"tag", "tag SRC DST... [--alias] | tag -d NS/STREAM:TAG...", (*cli).cmdTag},
		{"promote", "promote NS/STREAM:TAG [--to TAG]   copy along the namespace's ladder", (*cli).cmdPromote},
		{"rollback", "rollback NS/STREAM:TAG [DIGEST]    make an earlier image current", (*cli).cmdRollback},
		{"create", "create is NS/STREAM             create an empty image stream", (*cli).cmdCreate},
		{"delete", "delete is NS/STREAM             delete a stream, its tags and history", (*cli).cmdDelete},
		{"usage", "usage [NS] [-o json]            registry usage, shared layers counted once", (*cli).cmdUsage},
		{"prune", "prune [--keep-tag-revisions N] [--keep-younger-than D] [--confirm] [-o json]   dry run unless --confirm", (*cli).cmdPrune},
		{"report", "report [NS] [--send] [--to ADDR] [--html]   the weekly usage e-mails", (*cli).cmdReport},
		{"namespace", "namespace set NS [--contacts a@x,b@y] [--threshold 50GiB] [--ladder latest,test,prod]", (*cli).cmdNamespace},
		{"user", "user add NAME [--admin] [--password-stdin]", (*cli).cmdUser},
		{"token", "token create NAME --user USER [--expires D]   prints the token once", (*cli).cmdToken},
		{"rolebinding", "rolebinding add NS USER viewer|editor|admin", (*cli).cmdRoleBinding},
		{"generate", "generate [--namespaces N] [--seed S]   fill the database with a synthetic registry", (*cli).cmdGenerate},
		{"db", "db copy --from DSN --to DSN      copy a registry between SQLite and PostgreSQL (into an empty database)", (*cli).cmdDB},
		{"version", "version [-o json]               version, commit, its date and Go version of this build (also --version)", (*cli).cmdVersion},
	}
}

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		c.printHelp(c.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" {
		args = append([]string{"version"}, args[1:]...)
	}
	for _, cmd := range c.commands() {
		if cmd.name != args[0] {
			continue
		}
		err := cmd.run(c, ctx, args[1:])
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(c.stderr, "error: %s\n", oneLine(err))
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(c.stderr, "error: unknown command %q; run `layerwise help` for the list\n", args[0])
	return 2
}

func (c *cli) printHelp(w io.Writer) {
	fmt.Fprintln(w, "layerwise: image stream dashboard and registry usage reporter\n\nUsage: layerwise COMMAND [flags]\n\nCommands:")
	for _, cmd := range c.commands() {
		fmt.Fprintf(w, "  %s\n", cmd.summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --db (LAYERWISE_DB, default layerwise.db). -o json prints machine-readable output.")
	fmt.Fprintln(w, "Commands that change data act as cli:<os user>, a platform admin, and are audited as such;")
	fmt.Fprintln(w, "--as NAME acts as that account instead, with exactly its roles.")
}

// oneLine keeps an error on one line, as docs/REFERENCE.md promises.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}

// flags makes a flag set that reports its errors as usage errors and
// carries the settings every command shares.
type flags struct {
	*flag.FlagSet
	c      *cli
	db     *string
	output *string
	ns     *string
	as     *string // --as of a command that changes data; nil elsewhere
	// maxBlob is LAYERWISE_MAX_BLOB_SIZE: the largest blob size a manifest
	// may claim (every command that writes images takes it).
	maxBlob *string
}

func (c *cli) newFlags(name string, withOutput bool) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := &flags{FlagSet: fs, c: c}
	f.db = fs.String("db", c.env("LAYERWISE_DB", "layerwise.db"), "SQLite file path or postgres:// DSN (LAYERWISE_DB)")
	f.maxBlob = fs.String("max-blob-size", c.env("LAYERWISE_MAX_BLOB_SIZE", "1TiB"), "largest size one blob may have; larger ones are refused (LAYERWISE_MAX_BLOB_SIZE)")
	f.ns = fs.String("n", "default", "namespace for names that have none")
	fs.StringVar(f.ns, "namespace", "default", "namespace for names that have none")
	if withOutput {
		f.output = fs.String("o", "", "output format: json")
	}
	return f
}

// parse parses flags anywhere on the line (oc style: `tag a b --alias`).
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.SetOutput(f.c.stdout)
				f.PrintDefaults()
				return nil, err
			}
			return nil, usagef("%s: %v", f.Name(), err)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if f.output != nil && *f.output != "" && *f.output != "json" {
		return nil, usagef("%s: -o %q: the only output format is json", f.Name(), *f.output)
	}
	return pos, nil
}

func (f *flags) json() bool { return f.output != nil && *f.output == "json" }

// newWriteFlags is newFlags for a command that changes data: it takes
// --as, and changes through openChange.
func (c *cli) newWriteFlags(name string, withOutput bool) *flags {
	f := c.newFlags(name, withOutput)
	f.as = f.String("as", "", "act as this account, with exactly its roles (default: cli:<os user>, a platform admin)")
	return f
}

// openChange opens the database and the Service every change goes through
// (m: the managed registry to write tags through to, nil for none), and
// finds who acts: the account --as names, or cli:<os user>, a platform
// admin — whoever holds the database holds everything anyway.
func (f *flags) openChange(ctx context.Context, m *registry.Mirror) (*store.Store, *change.Service, *store.Principal, error) {
	s, err := f.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := f.principal(ctx, s)
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return s, change.New(s, m), p, nil
}

func (f *flags) principal(ctx context.Context, s *store.Store) (*store.Principal, error) {
	if f.as == nil || *f.as == "" {
		return &store.Principal{User: "cli:" + f.c.osUser(), PlatformAdmin: true}, nil
	}
	u, err := s.GetUser(ctx, *f.as)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("--as %s: there is no account named %s (create it with `layerwise user add %s`, or leave out --as to act as cli:%s)",
			*f.as, *f.as, *f.as, f.c.osUser())
	}
	if err != nil {
		return nil, fmt.Errorf("--as %s: %w", *f.as, err)
	}
	return s.LoadPrincipal(ctx, u)
}

// osUser names who runs the command: the operating system's user, else
// $USER.
func (c *cli) osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if v := c.getenv("USER"); v != "" {
		return v
	}
	return "unknown"
}

// nothingChanged is the line every command prints for a change that
// changed nothing (and wrote no audit event).
func (c *cli) nothingChanged(format string, a ...any) {
	fmt.Fprintf(c.stdout, format+": nothing changed\n", a...)
}

func (f *flags) open(ctx context.Context) (*store.Store, error) {
	maxBlob, err := format.ParseSize(*f.maxBlob)
	if err != nil || maxBlob <= 0 {
		return nil, usagef("%s: --max-blob-size %q: want a size above zero such as 1TiB (LAYERWISE_MAX_BLOB_SIZE)", f.Name(), *f.maxBlob)
	}
	s, err := store.Open(ctx, *f.db)
	if err != nil {
		return nil, err
	}
	s.SetMaxBlobSize(maxBlob)
	if f.c.now != nil {
		s.SetClock(f.c.now)
	}
	return s, nil
}

// env reads a setting; def is the value when it is unset. Reading a
// variable that settings.All does not list is a programming error (the
// manifests in deploy/ are checked against that list): it panics, and
// TestEverySettingIsRead finds it.
func (c *cli) env(name, def string) string {
	if _, ok := settings.Lookup(name); !ok {
		panic(fmt.Sprintf("layerwise reads %s, which settings.All does not list", name))
	}
	if v := c.getenv(name); v != "" {
		return v
	}
	return def
}

// policyFlags adds the prune policy settings (used for reclaimable bytes).
func (c *cli) policyFlags(f *flags) func() (store.Policy, error) {
	def := store.DefaultPolicy
	keep := f.String("keep-tag-revisions", c.env("LAYERWISE_KEEP_TAG_REVISIONS", strconv.Itoa(def.KeepTagRevisions)), "prune policy: revisions kept per tag")
	younger := f.String("keep-younger-than", c.env("LAYERWISE_KEEP_YOUNGER_THAN", def.KeepYoungerThan.String()), "prune policy: keep revisions younger than this")
	return func() (store.Policy, error) {
		p, err := store.ParsePolicy(*keep, *younger)
		if err != nil {
			return store.Policy{}, usagef("%v", err)
		}
		return p, nil
	}
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readSecretFile reads a credential from a file (a mounted Secret), for
// the setting named in errors; surrounding white space is dropped, and an
// empty file is an unset credential.
func readSecretFile(setting, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", setting, err)
	}
	return strings.TrimSpace(string(b)), nil
}

type flagT = flag.Flag

// size is the one way the CLI prints bytes.
func size(n int64) string { return format.Size(n) }
