package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"layerwise/store/storetest"
)

// usageJSON is `usage -o json` without the time of the computation.
func usageJSON(t *testing.T, db string) string {
	t.Helper()
	var u map[string]any
	if err := json.Unmarshal([]byte(ok(t, lw(t, db, "", "usage", "-o", "json")).out), &u); err != nil {
		t.Fatal(err)
	}
	delete(u, "computedAt")
	b, _ := json.MarshalIndent(u, "", " ")
	return string(b)
}

// A registry moves SQLite → PostgreSQL → SQLite with the same usage at
// every step and, back on SQLite, the same rows. The source is a SQLite
// file by nature of the test; the PostgreSQL legs skip without
// LAYERWISE_TEST_POSTGRES, the SQLite → SQLite copy always runs.
func TestDBCopyRoundTrip(t *testing.T) {
	t.Parallel()
	src := storetest.SQLitePath(t)
	for _, f := range fixtureFiles(t) {
		ok(t, lw(t, src, "", "import", "openshift", f))
	}
	ok(t, lw(t, src, "a long passphrase\n", "user", "add", "ann", "--password-stdin"))
	ok(t, lw(t, src, "", "token", "create", "ci", "--user", "ann"))
	ok(t, lw(t, src, "", "namespace", "set", "payments", "--contacts", "pay@example.com", "--threshold", "1GiB"))
	ok(t, lw(t, src, "", "rolebinding", "add", "payments", "ann", "editor"))
	want := usageJSON(t, src)
	if !strings.Contains(want, `"bytes"`) {
		t.Fatalf("no usage in the fixture data: %s", want)
	}
	wantRows := rowsOf(t, src)

	lite := storetest.SQLitePath(t)
	r := ok(t, lw(t, "", "", "db", "copy", "--from", src, "--to", lite))
	if !strings.Contains(r.out, "row counts checked") {
		t.Errorf("copy output: %q", r.out)
	}
	if got := usageJSON(t, lite); got != want {
		t.Fatalf("usage after SQLite → SQLite differs:\n%s\nwant\n%s", got, want)
	}
	if got := rowsOf(t, lite); got != wantRows {
		t.Fatalf("rows differ after SQLite → SQLite:\n%s\nwant\n%s", firstDiff(got, wantRows), firstDiff(wantRows, got))
	}
	// A destination with data is refused and left alone.
	r = lw(t, "", "", "db", "copy", "--from", src, "--to", lite)
	if r.code != 1 || !strings.Contains(r.err, "not empty") {
		t.Fatalf("copy into a full database: exit %d, %q", r.code, r.err)
	}
	if r := lw(t, "", "", "db", "copy", "--from", src); r.code != 2 {
		t.Fatalf("copy without --to: exit %d", r.code)
	}

	storetest.SkipUnlessPostgres(t)
	pg := storetest.DSN(t)
	ok(t, lw(t, "", "", "db", "copy", "--from", src, "--to", pg))
	if got := usageJSON(t, pg); got != want {
		t.Fatalf("usage after SQLite → PostgreSQL differs:\n%s\nwant\n%s", got, want)
	}
	// The sequences were moved past the copied ids: new rows go in.
	ok(t, lw(t, pg, "", "create", "is", "payments/after-copy"))
	ok(t, lw(t, pg, "", "delete", "is", "payments/after-copy"))
	back := storetest.SQLitePath(t)
	ok(t, lw(t, "", "", "db", "copy", "--from", pg, "--to", back))
	if got := usageJSON(t, back); got != want {
		t.Fatalf("usage after PostgreSQL → SQLite differs:\n%s\nwant\n%s", got, want)
	}
	// The same rows, and the two audit events of the stream made and
	// deleted on PostgreSQL (their ids past the copied ones too).
	var got, extra []string
	for _, l := range strings.Split(rowsOf(t, back), "\n") {
		if strings.Contains(l, "payments/after-copy") {
			extra = append(extra, l)
		} else {
			got = append(got, l)
		}
	}
	if g := strings.Join(got, "\n"); g != wantRows {
		t.Errorf("rows differ after SQLite → PostgreSQL → SQLite:\n%s\nwant\n%s", firstDiff(g, wantRows), firstDiff(wantRows, g))
	}
	if len(extra) != 2 || !strings.Contains(extra[0], "stream.create") || !strings.Contains(extra[1], "stream.delete") {
		t.Errorf("audit of the stream made after the copy: %q", extra)
	}
}

// firstDiff is the first line of a that b lacks.
func firstDiff(a, b string) string {
	have := map[string]bool{}
	for _, l := range strings.Split(b, "\n") {
		have[l] = true
	}
	for _, l := range strings.Split(a, "\n") {
		if !have[l] {
			return l
		}
	}
	return ""
}

// rowsOf is dump without schema_migrations, whose times are each
// database's own.
func rowsOf(t *testing.T, db string) string {
	var out []string
	skip := false
	for _, line := range strings.Split(dump(t, db), "\n") {
		if strings.HasPrefix(line, "== ") {
			// usage_state holds when the destination built its accounting
			// (the accounting tables themselves must come out the same).
			skip = strings.HasPrefix(line, "== schema_migrations") || strings.HasPrefix(line, "== usage_state")
		}
		if !skip {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
