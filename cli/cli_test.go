package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/storetest"
)

// fixtures holds real `oc` output (see its README.md for where each file
// comes from).
const fixtures = "../testdata/openshift"

func fixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(fixtures, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", p, err)
	}
	return p
}

// fixtureFiles are every OpenShift fixture: the JSON and YAML files of
// testdata/openshift (not its README).
func fixtureFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.json", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(fixtures, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no fixtures in %s", fixtures)
	}
	return files
}

type result struct {
	out, err string
	code     int
}

// lw runs one command line against the database file db.
func lw(t *testing.T, db string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(k string) string {
			if k == "LAYERWISE_DB" {
				return db
			}
			return ""
		}}
	code := c.run(context.Background(), args)
	return result{out.String(), errb.String(), code}
}

// lwAt is lw with the store's clock at the RFC 3339 time at.
func lwAt(t *testing.T, db, at string, args ...string) result {
	t.Helper()
	now, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, now: func() time.Time { return now },
		getenv: func(k string) string {
			if k == "LAYERWISE_DB" {
				return db
			}
			return ""
		}}
	code := c.run(context.Background(), args)
	return result{out.String(), errb.String(), code}
}

// cliActor is who the CLI acts as without --as: cli:<os user>.
func cliActor(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return "cli:" + u.Username
}

func ok(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	return r
}

func newDB(t *testing.T) string {
	return storetest.DSN(t)
}

func dump(t *testing.T, db string) string {
	t.Helper()
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return storetest.Dump(t, s)
}

func TestImportFixturesTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	for _, f := range fixtureFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			db := newDB(t)
			ok(t, lw(t, db, "", "import", "openshift", f))
			before := dump(t, db)
			r := ok(t, lw(t, db, "", "import", "openshift", f))
			if strings.Contains(r.out, "(1") || strings.Contains(r.out, "new or changed), ") && !strings.Contains(r.out, "(0 new or changed)") {
				t.Errorf("second import reports changes: %s", r.out)
			}
			if after := dump(t, db); after != before {
				t.Fatal("importing the same file twice changed the database")
			}
		})
	}
}

func TestImportFromStdinJSONAndYAML(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	js, err := os.ReadFile(fixture(t, "openshift-openshift-restclient-java__src-test-resources-samples-openshift3-v1_image_stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := ok(t, lw(t, db, string(js), "import", "openshift", "-"))
	if !strings.Contains(r.out, "<stdin>: 1 image streams (1 changed), 2 tags") {
		t.Errorf("summary = %q", r.out)
	}
	ok(t, lw(t, db, "", "import", "openshift", fixture(t, "openshift-oc__pkg-helpers-graph-genericgraph-test-prereq-image-present-with-sched.yaml")))
	r = ok(t, lw(t, db, "", "get", "is"))
	for _, want := range []string{"openshift   wildfly", "example     ruby-20-centos7"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("get is lacks %q:\n%s", want, r.out)
		}
	}
}

func TestMalformedFilesWriteNothing(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", fixture(t, "openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml")))
	before := dump(t, db)
	dir := t.TempDir()
	good := `{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"ok","namespace":"team"},"spec":{"tags":[{"name":"a","from":{"kind":"DockerImage","name":"quay.io/x/y:1"}}]}}`
	cases := []struct {
		name, body, want string
	}{
		{"broken.json", `{"kind": "List", "items": [` + good + `,]}`, "broken.json: line 1"},
		{"badtag.json", `{"kind":"List","apiVersion":"v1","items":[` + good + `,{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"api","namespace":"team"},"spec":{"tags":[{"name":"-bad"}]}}]}`,
			`badtag.json: items[1] (ImageStream "team/api")`},
		{"badname.json", `{"kind":"List","apiVersion":"v1","items":[` + good + `,{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{"name":"API","namespace":"team"}}]}`,
			`must be lower-case letters a–z and digits, in groups joined by a single '.', '_' or '-' (e.g. payment-api)`},
		{"baddigest.yaml", "kind: ImageStream\napiVersion: v1\nmetadata: {name: x, namespace: team}\nstatus:\n  tags:\n  - tag: latest\n    items:\n    - image: sha256:nothex\n      created: 2020-01-01T00:00:00Z\n",
			"baddigest.yaml"},
		{"empty.yaml", "", "empty.yaml"},
		{"kind.json", `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p"}}`, "kind.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			r := lw(t, db, "", "import", "openshift", p)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stderr %q", r.code, r.err)
			}
			if !strings.Contains(r.err, tc.want) || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
				t.Errorf("stderr %q: want one line containing %q", r.err, tc.want)
			}
			if after := dump(t, db); after != before {
				t.Errorf("a malformed file wrote to the database")
			}
		})
	}
}

func TestGetISJSONRoundTripIsANoOp(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	for _, f := range []string{
		"openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-image-streams-image-streams-centos7.json",
		"openshift-oc__pkg-helpers-graph-genericgraph-test-prereq-image-present-with-sched.yaml",
		"openshift-origin__test-extended-testdata-cmd-test-cmd-testdata-stable-busybox.yaml",
		"openshift-openshift-restclient-java__src-test-resources-samples-openshift3-v1_image_stream.json",
	} {
		ok(t, lw(t, db, "", "import", "openshift", fixture(t, f)))
	}
	// Add our own history: tag, alias, failure, rollback.
	ok(t, lw(t, db, "", "tag", "openshift/wildfly:8.1", "openshift/wildfly:prod"))
	ok(t, lw(t, db, "", "tag", "openshift/wildfly:prod", "openshift/wildfly:stable", "--alias"))
	before := dump(t, db)
	r := ok(t, lw(t, db, "", "get", "is", "-o", "json"))
	var list struct {
		Kind  string
		Items []struct {
			Kind       string
			APIVersion string `json:"apiVersion"`
		}
	}
	if err := json.Unmarshal([]byte(r.out), &list); err != nil {
		t.Fatalf("get is -o json is not JSON: %v", err)
	}
	if list.Kind != "List" || len(list.Items) != 18 || list.Items[0].Kind != "ImageStream" || list.Items[0].APIVersion != "image.openshift.io/v1" {
		t.Fatalf("list = %s with %d items", list.Kind, len(list.Items))
	}
	r = ok(t, lw(t, db, r.out, "import", "openshift", "-"))
	if strings.Contains(r.out, "(1") || !strings.Contains(r.out, "18 image streams (0 changed)") {
		t.Errorf("re-import reports changes: %s", r.out)
	}
	if after := dump(t, db); after != before {
		t.Fatal("import → get is -o json → import changed the database")
	}
}

func TestTagCommandsFollowOc(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", "../testdata/openshift/seed-imagestreammapping.yaml"))
	seed := "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tag", "test/origin-ruby-sample:latest", "test/origin-ruby-sample:test"}, 0, "Tag origin-ruby-sample:test set to origin-ruby-sample@" + seed + "."},
		{[]string{"tag", "-n", "test", "origin-ruby-sample:latest", "origin-ruby-sample:stable", "--alias"}, 0, "Tag origin-ruby-sample:stable set up to track origin-ruby-sample:latest."},
		{[]string{"tag", "test/origin-ruby-sample:latest", "test/other:x", "--alias"}, 1, "cannot set alias across different Image Streams"},
		{[]string{"tag", "docker.io/python:3.6.0", "test/python:3.6", "--scheduled"}, 0, "Tag python:3.6 set to import docker.io/python:3.6.0 periodically."},
		{[]string{"tag", "test/python:3.6", "test/python:latest"}, 1, `"test/python:3.6" is not currently pointing to an image, cannot use it as the source of a tag`},
		{[]string{"tag", "test/origin-ruby-sample@" + seed, "test/origin-ruby-sample:pinned"}, 0, "set to origin-ruby-sample@" + seed},
		{[]string{"promote", "test/origin-ruby-sample:test"}, 0, "Promoted origin-ruby-sample:test to prod: " + seed},
		{[]string{"promote", "test/origin-ruby-sample:prod"}, 1, "has no next step on the promotion ladder latest → test → prod"},
		{[]string{"rollback", "test/origin-ruby-sample:latest"}, 1, "has no earlier image to roll back to"},
		{[]string{"tag", "-d", "test/origin-ruby-sample:pinned"}, 0, "Deleted tag test/origin-ruby-sample:pinned"},
		{[]string{"tag", "-d", "test/origin-ruby-sample:pinned"}, 1, "image stream tag test/origin-ruby-sample:pinned not found"},
		{[]string{"tag", "test/Bad:latest", "test/x:y"}, 1, "must be lower-case letters a–z and digits, in groups joined by a single '.', '_' or '-' (e.g. payment-api)"},
		{[]string{"tag", "only-one"}, 2, "want SRC and at least one DST"},
		{[]string{"tag", "a:b", "c:d", "--frobnicate"}, 2, "flag provided but not defined: -frobnicate"},
		{[]string{"namespace", "set", "test", "--contacts", "a@example.com,b@example.com", "--threshold", "50GiB"}, 0, "contacts a@example.com, b@example.com; threshold 50.0 GiB; ladder latest → test → prod"},
		{[]string{"namespace", "set", "test", "--contacts", "not-an-address"}, 1, `contact "not-an-address" is not an e-mail address`},
		{[]string{"namespace", "set", "test", "--threshold", "lots"}, 2, "--threshold"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
	}
	for _, tc := range cases {
		r := lw(t, db, "", tc.args...)
		text := r.out + r.err
		if r.code != tc.code || !strings.Contains(text, tc.want) {
			t.Errorf("%v: exit %d, output %q; want exit %d containing %q", tc.args, r.code, text, tc.code, tc.want)
		}
	}
	// The alias followed when latest moved (a rollback is not possible with one image,
	// so push a second image through a mapping).
	hist := ok(t, lw(t, db, "", "describe", "is", "test/origin-ruby-sample")).out
	// In oc's words: latest is a pushed tag with no spec, so oc does not
	// fold the alias under it and says where stable comes from.
	for _, want := range []string{"stable\n  tagged from origin-ruby-sample:latest\n", "prod\n  tagged from origin-ruby-sample@" + seed} {
		if !strings.Contains(hist, want) {
			t.Errorf("describe lacks %q:\n%s", want, hist)
		}
	}
}

func TestReportCommandPrintsTheEmails(t *testing.T) {
	t.Parallel()
	db := demoDB(t)
	ok(t, lw(t, db, "", "namespace", "set", "ml", "--threshold", "1GiB", "--contacts", "ml@example.com"))
	r := ok(t, lw(t, db, "", "report"))
	if !strings.Contains(r.out, "To: ml@example.com\nSubject: Image registry usage for ml: ") || !strings.Contains(r.out, "(threshold 1 GiB)") {
		t.Errorf("report output:\n%s", firstN(r.out, 10))
	}
	if strings.Contains(r.out, "usage for payments") {
		t.Error("payments is under 50 GiB and should get nothing")
	}
	r = ok(t, lw(t, db, "", "report", "payments", "--html", "--to", "me@example.com"))
	if !strings.Contains(r.err, "under its threshold") || !strings.Contains(r.out, "To: me@example.com") || !strings.Contains(r.out, "<html") {
		t.Errorf("report payments --html: %q\n%s", r.err, firstN(r.out, 5))
	}
	r = lw(t, db, "", "report", "--send")
	if r.code != 2 || !strings.Contains(r.err, "LAYERWISE_SMTP_HOST") {
		t.Errorf("--send without a mail server: %d %q", r.code, r.err)
	}
}

func firstN(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func TestAccountCommands(t *testing.T) {
	t.Parallel()
	db := demoDB(t)
	cases := []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"s3cret-pass\n", []string{"user", "add", "ann", "--password-stdin"}, 0, "user ann created"},
		{"s3cret-pass\n", []string{"user", "add", "root", "--admin", "--password-stdin"}, 0, "platform admin root created"},
		{"other\n", []string{"user", "add", "ann", "--password-stdin"}, 1, "user ann already exists"},
		{"", []string{"user", "add", "bob", "hunter2"}, 2, "want `user add NAME"},
		{"", []string{"user", "add", "bob"}, 2, "--password-stdin"},
		{"", []string{"rolebinding", "add", "payments", "ann", "editor"}, 0, "ann is editor in payments"},
		{"", []string{"rolebinding", "add", "payments", "ann", "owner"}, 2, `role "owner" must be viewer, editor or admin`},
		{"", []string{"rolebinding", "add", "nope", "ann", "viewer"}, 1, "namespace nope not found"},
		{"", []string{"token", "create", "ci", "--user", "nobody"}, 1, "user nobody not found"},
		{"", []string{"token", "create", "ci", "--user", "ann", "--expires", "soon"}, 2, "--expires"},
	}
	for _, c := range cases {
		r := lw(t, db, c.stdin, c.args...)
		if r.code != c.code || !strings.Contains(r.out+r.err, c.want) {
			t.Errorf("%v: exit %d %q; want %d with %q", c.args, r.code, r.out+r.err, c.code, c.want)
		}
	}
	r := ok(t, lw(t, db, "", "token", "create", "ci", "--user", "ann", "--expires", "720h"))
	token := strings.TrimSpace(r.out)
	if !strings.HasPrefix(token, "lw_") || len(token) != 67 || !strings.Contains(r.err, "shown once") {
		t.Fatalf("token output %q / %q", r.out, r.err)
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.TokenUser(context.Background(), token); err != nil || u.Name != "ann" {
		t.Fatalf("the printed token does not work: %v", err)
	}
	if strings.Contains(dump(t, db), token) {
		t.Fatal("the token is stored in clear")
	}
}

// TestTagByDigestBorrowsNothing: `tag host/repo@DIGEST` into a namespace
// that does not hold that image records the pull spec unverified — the
// image another namespace has with that digest (its environment, layers)
// does not reach it — and links it where the namespace holds it.
func TestTagByDigestBorrowsNothing(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	ok(t, lw(t, db, "", "import", "openshift", "../testdata/openshift/seed-imagestreammapping.yaml"))
	seed := "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"
	r := ok(t, lw(t, db, "", "tag", "evil.example.com/x@"+seed, "other/app:borrowed"))
	if !strings.Contains(r.out, "unverified") {
		t.Errorf("tag into another namespace: %q", r.out)
	}
	r = ok(t, lw(t, db, "", "describe", "istag", "other/app:borrowed"))
	for _, secret := range []string{"RACK_ENV", "ruby-hello-world", "Image Size"} {
		if strings.Contains(r.out, secret) {
			t.Errorf("describe istag other/app:borrowed shows %q:\n%s", secret, r.out)
		}
	}
	r = ok(t, lw(t, db, "", "tag", "quay.io/acme/ruby@"+seed, "test/origin-ruby-sample:mirror"))
	if strings.Contains(r.out, "unverified") {
		t.Errorf("tag into the namespace that holds it: %q", r.out)
	}
	if r = ok(t, lw(t, db, "", "describe", "istag", "test/origin-ruby-sample:mirror")); !strings.Contains(r.out, "RACK_ENV") {
		t.Errorf("describe istag test/origin-ruby-sample:mirror lacks the image's environment:\n%s", r.out)
	}
}
