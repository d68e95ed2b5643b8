package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/storetest"
)

// The JSON API of docs/REFERENCE.md, through the real server with the demo data.

// apiCall is one request to the API.
type apiCall struct {
	method, path string
	token        string // "Bearer TOKEN" is sent when set
	auth         string // a raw Authorization header, when set
	body         string
	contentType  string // defaults to application/json when there is a body
	csrf         string // X-CSRF-Token
	header       map[string]string
	client       *http.Client
}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResponse) String() string {
	return fmt.Sprintf("%d %s", r.status, firstLines(string(r.body), 10))
}

// errorText is the "error" of a JSON error body; it fails the test when
// the body is not {"error": "..."} in JSON.
func (r apiResponse) errorText(t testing.TB) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error response is %q, not JSON: %s", ct, r)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("error response is not {\"error\": \"...\"}: %s", r)
	}
	return e.Error
}

func (r apiResponse) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response is not the JSON expected: %v\n%s", err, r)
	}
}

func (ts *testServer) apiDo(t testing.TB, a apiCall) apiResponse {
	t.Helper()
	var body io.Reader
	if a.body != "" {
		body = strings.NewReader(a.body)
	}
	req, err := http.NewRequest(a.method, ts.URL+a.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if a.auth != "" {
		req.Header.Set("Authorization", a.auth)
	}
	if a.contentType != "" {
		req.Header.Set("Content-Type", a.contentType)
	} else if a.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.csrf != "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	for k, v := range a.header {
		req.Header.Set(k, v)
	}
	c := a.client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// apiMust makes a call and checks its status.
func (ts *testServer) apiMust(t testing.TB, status int, a apiCall) apiResponse {
	t.Helper()
	r := ts.apiDo(t, a)
	if r.status != status {
		t.Fatalf("%s %s: %s, want %d", a.method, a.path, r, status)
	}
	return r
}

// apiDump is every table but sessions (a login writes one; nothing else may
// change on a refused call — not even the audit log).
func (ts *testServer) apiDump(t testing.TB) string {
	t.Helper()
	d := storetest.Dump(t, ts.store)
	var b strings.Builder
	skip := false
	for _, line := range strings.SplitAfter(d, "\n") {
		if strings.HasPrefix(line, "== ") {
			skip = strings.HasPrefix(line, "== sessions ")
		}
		if !skip {
			b.WriteString(line)
		}
	}
	return b.String()
}

func (ts *testServer) apiAudit(t testing.TB) []store.AuditEvent {
	t.Helper()
	evs, err := ts.store.AuditLog(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// apiUser creates a user with a password ("secret-NAME"), role bindings
// ("payments=viewer") and an API token, and returns the token.
func (ts *testServer) apiUser(t testing.TB, name string, platformAdmin bool, bindings ...string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.store.CreateUser(ctx, name, "secret-"+name, platformAdmin); err != nil {
		t.Fatal(err)
	}
	for _, b := range bindings {
		ns, r, _ := strings.Cut(b, "=")
		role, err := store.ParseRole(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := ts.store.AddRoleBinding(ctx, ns, name, role); err != nil {
			t.Fatal(err)
		}
	}
	token, _, err := ts.store.CreateToken(ctx, name, "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// apiHistory is a tag's current image, read from the store.
func (ts *testServer) apiHistory(t testing.TB, ns, stream, tag string) (string, []string) {
	t.Helper()
	st, err := ts.store.GetStream(context.Background(), store.StreamRef{Namespace: ns, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range st.Tags {
		if tg.Name == tag {
			var hist []string
			for _, it := range tg.Items {
				hist = append(hist, it.Image)
			}
			if len(hist) == 0 {
				return "", nil
			}
			return hist[0], hist
		}
	}
	t.Fatalf("%s/%s has no tag %s", ns, stream, tag)
	return "", nil
}

// apiMatrixAction is one column of the authorization matrix, run against a
// stream of the namespace (payments/api or ml/trainer).
type apiMatrixAction struct {
	name   string
	method string
	path   string // {ns} and {stream} are replaced
	body   string
	// audit is the action an allowed change records; "" for reads.
	audit string
	// setup runs before the "nothing changed" snapshot.
	setup func(t *testing.T, ts *testServer, ns, stream string)
}

var apiMatrixActions = []apiMatrixAction{
	{name: "GET usage", method: "GET", path: "/api/v1/namespaces/{ns}/usage"},
	{name: "GET imagestreams", method: "GET", path: "/api/v1/namespaces/{ns}/imagestreams"},
	{name: "GET istag", method: "GET", path: "/api/v1/namespaces/{ns}/imagestreamtags/{stream}:latest"},
	{name: "PUT istag", method: "PUT", path: "/api/v1/namespaces/{ns}/imagestreamtags/{stream}:matrix{n}",
		body: `{"from": {"kind": "ImageStreamTag", "name": "{stream}:latest"}}`, audit: "tag.set"},
	{name: "DELETE istag", method: "DELETE", path: "/api/v1/namespaces/{ns}/imagestreamtags/{stream}:doomed", audit: "tag.delete",
		setup: func(t *testing.T, ts *testServer, ns, stream string) {
			src := store.Source{Kind: store.KindImageStreamTag, Namespace: ns, Stream: stream, Tag: "latest"}
			if _, err := ts.store.SetTag(context.Background(), src, store.TagRef{Namespace: ns, Stream: stream, Tag: "doomed"}, store.TagOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
	{name: "promote", method: "POST", path: "/api/v1/namespaces/{ns}/imagestreams/{stream}/promote",
		body: `{"from": "latest", "to": "test"}`, audit: "tag.promote"},
	{name: "rollback", method: "POST", path: "/api/v1/namespaces/{ns}/imagestreams/{stream}/rollback",
		body: `{"tag": "test"}`, audit: "tag.rollback"},
	{name: "imports", method: "POST", path: "/api/v1/namespaces/{ns}/imagestreamimports",
		body: `{"tag": "{stream}:imported", "from": "127.0.0.1:1/acme/imported:1.0"}`}, // a registry that is down
}

// TestAPIAuthorizationMatrix: every role × every action × own namespace
// (payments) and another (ml), with bearer tokens; where refused, nothing
// changed — no row anywhere, not even in the audit log; where a change was
// allowed, exactly one audit event names the caller, and none where the
// answer says nothing changed ("changed": false: a promotion repeated).
func TestAPIAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	tokens := map[string]string{
		"anonymous":      "",
		"viewer":         ts.apiUser(t, "viola", false, "payments=viewer"),
		"editor":         ts.apiUser(t, "eddie", false, "payments=editor"),
		"admin":          ts.apiUser(t, "ada", false, "payments=admin"),
		"editor of ml":   ts.apiUser(t, "mel", false, "ml=editor"),
		"platform admin": ts.apiUser(t, "root", true),
	}
	users := map[string]string{"viewer": "viola", "editor": "eddie", "admin": "ada", "editor of ml": "mel", "platform admin": "root"}

	// The status codes of the matrix, by what they mean.
	const (
		ok     = http.StatusOK
		denied = http.StatusForbidden    // sees the namespace, lacks the role
		hidden = http.StatusNotFound     // holds no role there: the namespace "does not exist"
		anon   = http.StatusUnauthorized // no credentials while accounts exist
		down   = http.StatusBadGateway   // the import's registry is down: nothing is written
	)
	type row = [8]int // in the order of apiMatrixActions
	var (
		reader  = row{ok, ok, ok, denied, denied, denied, denied, denied}
		changer = row{ok, ok, ok, ok, ok, ok, ok, down}
		nothing = row{hidden, hidden, hidden, hidden, hidden, hidden, hidden, hidden}
		nobody  = row{anon, anon, anon, anon, anon, anon, anon, anon}
	)
	matrix := []struct {
		role       string
		own, other row // payments, ml
	}{
		{"anonymous", nobody, nobody},
		{"viewer", reader, nothing},
		{"editor", changer, nothing},
		{"admin", changer, nothing},
		{"editor of ml", nothing, changer},
		{"platform admin", changer, changer},
	}
	targets := []struct{ label, ns, stream string }{{"own", "payments", "api"}, {"other", "ml", "trainer"}}
	calls := 0 // numbers the tags PUT creates, so that each PUT is a change

	for _, m := range matrix {
		for ti, target := range targets {
			want := m.own
			if ti == 1 {
				want = m.other
			}
			for i, a := range apiMatrixActions {
				name := fmt.Sprintf("%s/%s/%s", m.role, a.name, target.label)
				if a.setup != nil {
					a.setup(t, ts, target.ns, target.stream)
				}
				before, audits := ts.apiDump(t), len(ts.apiAudit(t))
				fill := strings.NewReplacer("{ns}", target.ns, "{stream}", target.stream, "{n}", fmt.Sprint(calls)).Replace
				calls++
				call := apiCall{method: a.method, path: fill(a.path), body: fill(a.body), token: tokens[m.role]}
				r := ts.apiDo(t, call)
				if r.status != want[i] {
					t.Errorf("%s: %s, want %d", name, r, want[i])
					continue
				}
				if r.status >= 400 {
					r.errorText(t)
					if r.status == anon && r.header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s: 401 without WWW-Authenticate", name)
					}
				}
				changed := r.status == ok && a.audit != ""
				var res struct{ Changed *bool }
				if changed && json.Unmarshal(r.body, &res) == nil && res.Changed != nil {
					changed = *res.Changed
				}
				if !changed {
					if after := ts.apiDump(t); after != before {
						t.Errorf("%s: answered %d but the database changed:\n%s", name, r.status, diffLines(before, after))
					}
					continue
				}
				evs := ts.apiAudit(t)
				if len(evs) != audits+1 {
					t.Errorf("%s: %d audit events written, want 1", name, len(evs)-audits)
					continue
				}
				ev := evs[0]
				if ev.Actor != users[m.role] || ev.Namespace != target.ns || ev.Action != a.audit ||
					!strings.HasPrefix(ev.Target, target.ns+"/"+target.stream+":") || ev.Before == "" || ev.After == "" {
					t.Errorf("%s: audit event %+v", name, ev)
				}
			}
		}
	}
}

// diffLines lists the lines only in a or only in b.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !inb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ina[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAPIRejectsBadTokens: expired, revoked, unknown and malformed
// credentials are 401 with a JSON error and a Bearer challenge, for reads
// and for changes (where no CSRF check gets in first), and change nothing.
func TestAPIRejectsBadTokens(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ctx := context.Background()
	good := ts.apiUser(t, "eddie", false, "payments=editor")

	expired, tok, err := ts.store.CreateToken(ctx, "eddie", "expired", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.store.DB().Model(&store.APIToken{}).Where("id = ?", tok.ID).
		Update("expires_at", time.Now().Add(-time.Minute)).Error; err != nil {
		t.Fatal(err)
	}
	revoked, tok, err := ts.store.CreateToken(ctx, "eddie", "revoked", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.store.RevokeToken(ctx, "eddie", tok.ID); err != nil {
		t.Fatal(err)
	}
	unknown := store.TokenPrefix + strings.Repeat("ab", 32)

	read := apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreams"}
	change := apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreams/api/promote", body: `{"from": "latest"}`}
	ts.apiMust(t, http.StatusOK, apiCall{method: read.method, path: read.path, token: good})

	before := ts.apiDump(t)
	for _, c := range []struct{ name, auth string }{
		{"expired", "Bearer " + expired},
		{"revoked", "Bearer " + revoked},
		{"unknown", "Bearer " + unknown},
		{"not ours", "Bearer " + strings.Repeat("x", 40)},
		{"empty bearer", "Bearer"},
		{"empty bearer with space", "Bearer "},
		{"basic", "Basic ZWRkaWU6c2VjcmV0LWVkZGll"},
		{"no scheme", good},
		{"other scheme", "Token " + good},
	} {
		for _, a := range []apiCall{read, change} {
			a.auth = c.auth
			r := ts.apiDo(t, a)
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s token, %s %s: %s, want 401", c.name, a.method, a.path, r)
				continue
			}
			msg := r.errorText(t)
			if !strings.Contains(msg, "token") {
				t.Errorf("%s token: error %q does not say what to fix", c.name, msg)
			}
			if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
				t.Errorf("%s token: WWW-Authenticate %q", c.name, ch)
			}
			if strings.Contains(string(r.body), strings.TrimPrefix(c.auth, "Bearer ")) && len(c.auth) > 10 {
				t.Errorf("%s token: the answer repeats the credential", c.name)
			}
		}
	}
	// The scheme is case-insensitive.
	ts.apiMust(t, http.StatusOK, apiCall{method: read.method, path: read.path, auth: "bearer " + good})
	if after := ts.apiDump(t); after != before {
		t.Fatalf("bad tokens changed the database:\n%s", diffLines(before, after))
	}
	// No credentials at all, once accounts exist.
	r := ts.apiMust(t, http.StatusUnauthorized, apiCall{method: "GET", path: "/api/v1/usage"})
	if msg := r.errorText(t); !strings.Contains(msg, "Bearer") {
		t.Errorf("anonymous: %q", msg)
	}
	// Refused before routing, still with the security headers.
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("401 headers: %v", r.header)
	}
}

// TestAPICookieNeedsCSRF: a session cookie authenticates API calls, but a
// change without the page's CSRF token in X-CSRF-Token is refused (403,
// JSON); with it the change is made.
func TestAPICookieNeedsCSRF(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ts.apiUser(t, "eddie", false, "payments=editor")
	c := ts.client(t)
	if resp := ts.login(t, c, "eddie", "secret-eddie"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	page := ts.get(t, c, "/ns/payments", http.StatusOK)
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no _csrf input on the page after login")
	}
	ts.apiMust(t, http.StatusOK, apiCall{client: c, method: "GET", path: "/api/v1/namespaces/payments/imagestreams/api"})

	promote := apiCall{client: c, method: "POST", path: "/api/v1/namespaces/payments/imagestreams/api/promote", body: `{"from": "latest"}`}
	before := ts.apiDump(t)
	for _, token := range []string{"", "forged-" + m[1]} {
		a := promote
		a.csrf = token
		r := ts.apiMust(t, http.StatusForbidden, a)
		if msg := r.errorText(t); !strings.Contains(msg, "CSRF") {
			t.Errorf("CSRF refusal says %q", msg)
		}
	}
	if after := ts.apiDump(t); after != before {
		t.Fatalf("a refused cookie call changed the database:\n%s", diffLines(before, after))
	}
	a := promote
	a.csrf = m[1]
	var res struct {
		Tag, Image string
		Changed    bool
	}
	ts.apiMust(t, http.StatusOK, a).decode(t, &res)
	latest, _ := ts.apiHistory(t, "payments", "api", "latest")
	if res.Tag != "payments/api:test" || res.Image != latest {
		t.Fatalf("promote answered %+v; latest is %s", res, latest)
	}
	if evs := ts.apiAudit(t); len(evs) != 1 || evs[0].Actor != "eddie" || evs[0].Action != "tag.promote" {
		t.Fatalf("audit log: %+v", evs)
	}
	// A bearer call needs no CSRF token.
	ts.apiMust(t, http.StatusOK, apiCall{method: "POST", path: promote.path, body: promote.body, token: ts.apiUser(t, "ci", false, "payments=editor")})
}

// TestAPIBadRequests: malformed bodies, names and sources are 400 with a
// message that says what to fix, and change nothing.
func TestAPIBadRequests(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	token := ts.apiUser(t, "eddie", false, "payments=editor")
	put := "/api/v1/namespaces/payments/imagestreamtags/api:ci"
	promote := "/api/v1/namespaces/payments/imagestreams/api/promote"
	rollback := "/api/v1/namespaces/payments/imagestreams/api/rollback"
	good := `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}}`
	cases := []struct {
		name, method, path, body, contentType string
		status                                int
		says                                  string
	}{
		{"broken JSON", "PUT", put, `{"from": {"kind": "ImageStreamTag",`, "", 400, "not valid JSON"},
		{"not JSON at all", "PUT", put, `from=api:latest`, "", 400, "not valid JSON"},
		{"empty body", "PUT", put, ``, "application/json", 400, "empty"},
		{"two objects", "PUT", put, good + good, "", 400, "nothing after"},
		{"unknown field", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}, "force": true}`, "", 400, `unknown field "force"`},
		{"unknown nested field", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "api:latest", "tag": "x"}}`, "", 400, `unknown field "tag"`},
		{"wrong type", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}, "alias": "yes"}`, "", 400, `"alias" must be a JSON boolean`},
		{"array body", "PUT", put, `[]`, "", 400, "JSON object"},
		{"form content type", "PUT", put, good, "application/x-www-form-urlencoded", 400, "Content-Type: application/json"},
		{"text content type", "PUT", put, good, "text/plain", 400, "Content-Type: application/json"},
		{"no from", "PUT", put, `{"alias": false}`, "", 400, `"from" is required`},
		{"unknown kind", "PUT", put, `{"from": {"kind": "Image", "name": "api:latest"}}`, "", 400, "must be ImageStreamTag, ImageStreamImage or DockerImage"},
		{"istag without tag", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "api"}}`, "", 400, "stream:tag"},
		{"isimage with bad digest", "PUT", put, `{"from": {"kind": "ImageStreamImage", "name": "api@sha256:abc"}}`, "", 400, "digest"},
		{"bad pull spec", "PUT", put, `{"from": {"kind": "DockerImage", "name": "quay.io/acme/x:bad tag"}}`, "", 400, "image reference"},
		{"unknown source tag", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "api:nosuch"}}`, "", 400, "payments/api:nosuch not found"},
		{"unknown source stream", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "nosuch:latest"}}`, "", 400, "not found"},
		{"unknown source image", "PUT", put, `{"from": {"kind": "ImageStreamImage", "name": "api@sha256:` + strings.Repeat("0", 64) + `"}}`, "", 400, "is not in image stream"},
		{"alias across streams", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "ledger:latest"}, "alias": true}`, "", 400, "alias"},
		{"scheduled stream source", "PUT", put, `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}, "scheduled": true}`, "", 400, "DockerImage"},
		{"bad tag name", "PUT", "/api/v1/namespaces/payments/imagestreamtags/api:-bad", good, "", 400, "tag name"},
		{"bad stream name", "PUT", "/api/v1/namespaces/payments/imagestreamtags/API:ci", good, "", 400, "image stream name"},
		{"no tag in the name", "PUT", "/api/v1/namespaces/payments/imagestreamtags/api", good, "", 400, "stream:tag"},
		{"tag to itself", "PUT", "/api/v1/namespaces/payments/imagestreamtags/api:latest", `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}}`, "", 400, "itself"},
		{"promote without from", "POST", promote, `{"to": "test"}`, "", 400, `"from" is required`},
		{"promote unknown field", "POST", promote, `{"from": "latest", "force": true}`, "", 400, `unknown field "force"`},
		{"promote bad tag", "POST", promote, `{"from": "latest", "to": "a b"}`, "", 400, "tag name"},
		{"promote off the ladder", "POST", promote, `{"from": "prod"}`, "", 400, "ladder"},
		{"promote unknown tag", "POST", promote, `{"from": "nosuch", "to": "test"}`, "", 400, "not found"},
		{"promote in unknown stream", "POST", "/api/v1/namespaces/payments/imagestreams/nosuch/promote", `{"from": "latest"}`, "", 404, "not found"},
		{"rollback without tag", "POST", rollback, `{}`, "", 400, `"tag" is required`},
		{"rollback bad digest", "POST", rollback, `{"tag": "prod", "image": "sha256:xyz"}`, "", 400, "digest"},
		{"rollback to an image never held", "POST", rollback, `{"tag": "prod", "image": "sha256:` + strings.Repeat("1", 64) + `"}`, "", 400, "not in the history"},
		{"rollback unknown tag", "POST", rollback, `{"tag": "nosuch"}`, "", 400, "not found"},
		{"import without from", "POST", "/api/v1/namespaces/payments/imagestreamimports", `{"tag": "api:x"}`, "", 400, "required"},
		{"import bad tag", "POST", "/api/v1/namespaces/payments/imagestreamimports", `{"tag": "api:-x", "from": "quay.io/a/b:1"}`, "", 400, "tag name"},
		{"import other namespace", "POST", "/api/v1/namespaces/payments/imagestreamimports", `{"tag": "ml/api:x", "from": "quay.io/a/b:1"}`, "", 400, "namespace"},
		{"audit bad limit", "GET", "/api/v1/audit?limit=0", "", "", 400, "limit"},
	}
	before := ts.apiDump(t)
	for _, c := range cases {
		r := ts.apiDo(t, apiCall{method: c.method, path: c.path, body: c.body, contentType: c.contentType, token: token})
		if r.status != c.status {
			t.Errorf("%s: %s, want %d", c.name, r, c.status)
			continue
		}
		if msg := r.errorText(t); !strings.Contains(msg, c.says) {
			t.Errorf("%s: error %q does not say %q", c.name, msg, c.says)
		}
	}
	if after := ts.apiDump(t); after != before {
		t.Fatalf("bad requests changed the database:\n%s", diffLines(before, after))
	}
	// Over the body limit: 413, still JSON.
	big := `{"from": {"kind": "DockerImage", "name": "` + strings.Repeat("a", 2<<20) + `"}}`
	r := ts.apiMust(t, http.StatusRequestEntityTooLarge, apiCall{method: "PUT", path: put, body: big, token: token})
	r.errorText(t)
}

// TestAPIConcurrentPromotions: promotions to the same tag at the same time
// queue up; every one lands in the history and in the audit log, and the
// audit records chain (each one's "before" is the previous one's "after").
func TestAPIConcurrentPromotions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ctx := context.Background()
	token := ts.apiUser(t, "eddie", false, "payments=editor")

	// Sources holding distinct images, none of them test's current one.
	testNow, oldHistory := ts.apiHistory(t, "payments", "api", "test")
	_, latestHistory := ts.apiHistory(t, "payments", "api", "latest")
	seen := map[string]bool{testNow: true}
	var sources []string
	for _, img := range latestHistory {
		if img == "" || seen[img] {
			continue
		}
		seen[img] = true
		tag := fmt.Sprintf("src%d", len(sources))
		src := store.Source{Kind: store.KindImageStreamImage, Namespace: "payments", Stream: "api", Digest: img}
		if _, err := ts.store.SetTag(ctx, src, store.TagRef{Namespace: "payments", Stream: "api", Tag: tag}, store.TagOptions{}); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, tag)
		if len(sources) == 6 {
			break
		}
	}
	if len(sources) < 2 {
		t.Fatalf("demo data: want at least 2 distinct images in payments/api:latest, have %d", len(sources))
	}

	results := make([]apiResponse, len(sources))
	var start, done sync.WaitGroup
	start.Add(1)
	for i, src := range sources {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			results[i] = ts.apiDo(t, apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreams/api/promote",
				body: `{"from": "` + src + `", "to": "test"}`, token: token})
		}()
	}
	start.Done()
	done.Wait()

	want := map[string]bool{}
	for i, r := range results {
		var res struct {
			Tag, Image string
			Changed    bool
		}
		if r.status != http.StatusOK {
			t.Fatalf("promotion %d: %s", i, r)
		}
		r.decode(t, &res)
		if !res.Changed || res.Tag != "payments/api:test" {
			t.Errorf("promotion %d: %+v", i, res)
		}
		want[res.Image] = true
	}
	if len(want) != len(sources) {
		t.Fatalf("%d promotions answered %d distinct images", len(sources), len(want))
	}
	_, history := ts.apiHistory(t, "payments", "api", "test")
	if len(history) != len(oldHistory)+len(sources) {
		t.Fatalf("test history has %d entries, want %d + %d", len(history), len(oldHistory), len(sources))
	}
	for _, img := range history[:len(sources)] {
		if !want[img] {
			t.Errorf("history top %v holds %s, not one of the promoted images", history[:len(sources)], img)
		}
		delete(want, img)
	}
	if strings.Join(history[len(sources):], ",") != strings.Join(oldHistory, ",") {
		t.Errorf("the older history changed")
	}

	evs := ts.apiAudit(t)
	if len(evs) != len(sources) {
		t.Fatalf("%d audit events for %d promotions", len(evs), len(sources))
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].ID < evs[j].ID })
	prev := testNow
	for i, ev := range evs {
		img, _, _ := strings.Cut(ev.After, " ")
		if ev.Action != "tag.promote" || ev.Target != "payments/api:test" || ev.Before != prev || img != history[len(sources)-1-i] {
			t.Errorf("audit event %d: %+v (before should be %s, after %s)", i, ev, prev, history[len(sources)-1-i])
		}
		prev = img
	}
}

// TestAPITagRoundTrip: PUT then GET, the object's shape, DELETE then 404,
// and exactly one audit event per change, with before → after.
func TestAPITagRoundTrip(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	token := ts.apiUser(t, "eddie", false, "payments=editor", "ml=viewer")
	path := "/api/v1/namespaces/payments/imagestreamtags/api:candidate"
	v19, _ := ts.apiHistory(t, "payments", "api", "v1.19.0")

	type tagObject struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Metadata   struct {
			Name, Namespace, CreationTimestamp string
		} `json:"metadata"`
		Tag *struct {
			Name string `json:"name"`
			From struct {
				Kind, Name, Namespace string
			} `json:"from"`
			Generation *int64 `json:"generation"`
		} `json:"tag"`
		Generation int64 `json:"generation"`
		Image      struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			DockerImageReference string `json:"dockerImageReference"`
			DockerImageLayers    []struct {
				Name string `json:"name"`
				Size int64  `json:"size"`
			} `json:"dockerImageLayers"`
			DockerImageMetadata map[string]any `json:"dockerImageMetadata"`
		} `json:"image"`
		SizeBytes *int64 `json:"sizeBytes"`
		History   []struct {
			Image string `json:"image"`
		} `json:"history"`
	}

	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: path, token: token}).errorText(t)

	// PUT from a stream tag of this namespace.
	var put tagObject
	ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: path, token: token,
		body: `{"from": {"kind": "ImageStreamTag", "name": "api:v1.19.0"}}`}).decode(t, &put)
	var got tagObject
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: path, token: token}).decode(t, &got)
	pb, _ := json.Marshal(put)
	gb, _ := json.Marshal(got)
	if string(pb) != string(gb) {
		t.Errorf("PUT answered\n%s\nGET answers\n%s", pb, gb)
	}
	if got.Kind != "ImageStreamTag" || got.APIVersion != "image.openshift.io/v1" || got.Metadata.Name != "api:candidate" ||
		got.Metadata.Namespace != "payments" || got.Metadata.CreationTimestamp == "" {
		t.Errorf("object header: %s", gb)
	}
	if got.Tag == nil || got.Tag.Name != "candidate" || got.Tag.From.Kind != "ImageStreamImage" || got.Tag.From.Name != "api@"+v19 ||
		got.Tag.Generation == nil || *got.Tag.Generation != got.Generation {
		t.Errorf("spec tag: %s", gb)
	}
	if got.Image.Metadata.Name != v19 || len(got.Image.DockerImageLayers) == 0 || got.Image.DockerImageMetadata == nil ||
		len(got.History) != 1 || got.History[0].Image != v19 {
		t.Errorf("image: %s", gb)
	}
	var layers int64
	for _, l := range got.Image.DockerImageLayers {
		if l.Size <= 0 {
			t.Errorf("layer %s without a size", l.Name)
		}
		layers += l.Size
	}
	if got.SizeBytes == nil || *got.SizeBytes < layers/2 || *got.SizeBytes <= 0 {
		t.Errorf("sizeBytes %v, layers add up to %d", got.SizeBytes, layers)
	}

	evs := ts.apiAudit(t)
	if len(evs) != 1 {
		t.Fatalf("audit events after PUT: %+v", evs)
	}
	if ev := evs[0]; ev.Actor != "eddie" || ev.Namespace != "payments" || ev.Action != "tag.set" || ev.Target != "payments/api:candidate" ||
		ev.Before != "none" || ev.After != v19+" from payments/api:v1.19.0" || ev.At.IsZero() {
		t.Errorf("PUT audit event: %+v", ev)
	}

	// PUT again from an external image: the same tag, a new history entry
	// that records the pull spec, unverified (never read from quay.io),
	// with no image.
	digest := "sha256:" + strings.Repeat("c", 64)
	pullSpec := "quay.io/acme/api@" + digest
	got = tagObject{}
	ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: path, token: token,
		body: `{"from": {"kind": "DockerImage", "name": "` + pullSpec + `"}}`}).decode(t, &got)
	if got.Tag.From.Kind != "DockerImage" || got.Image.Metadata.Name != "" || got.Image.DockerImageReference != pullSpec ||
		got.SizeBytes != nil || len(got.History) != 2 || got.History[0].Image != "" {
		t.Errorf("after the second PUT: %+v", got)
	}
	if evs := ts.apiAudit(t); len(evs) != 2 || evs[0].Before != v19 || !strings.HasPrefix(evs[0].After, pullSpec) {
		t.Errorf("second PUT audit: %+v", evs[0])
	}

	// A source in a namespace where eddie is only a viewer: refused.
	before := ts.apiDump(t)
	r := ts.apiMust(t, http.StatusForbidden, apiCall{method: "PUT", path: path, token: token,
		body: `{"from": {"kind": "ImageStreamTag", "name": "trainer:latest", "namespace": "ml"}}`})
	if msg := r.errorText(t); !strings.Contains(msg, "editor role in namespace ml") {
		t.Errorf("cross-namespace refusal: %q", msg)
	}
	if after := ts.apiDump(t); after != before {
		t.Fatalf("a refused PUT changed the database:\n%s", diffLines(before, after))
	}

	// DELETE, then it is gone.
	var del map[string]string
	ts.apiMust(t, http.StatusOK, apiCall{method: "DELETE", path: path, token: token}).decode(t, &del)
	if del["deleted"] != "payments/api:candidate" {
		t.Errorf("DELETE answered %v", del)
	}
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: path, token: token}).errorText(t)
	before = ts.apiDump(t)
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "DELETE", path: path, token: token}).errorText(t)
	if after := ts.apiDump(t); after != before {
		t.Fatalf("a second DELETE changed the database:\n%s", diffLines(before, after))
	}
	evs = ts.apiAudit(t)
	if len(evs) != 3 {
		t.Fatalf("audit events: %+v", evs)
	}
	if ev := evs[0]; ev.Action != "tag.delete" || ev.Target != "payments/api:candidate" || ev.Before != pullSpec || ev.After != "none" {
		t.Errorf("DELETE audit event: %+v", ev)
	}

	// Rollback with an explicit image, through the audit API.
	_, prodHistory := ts.apiHistory(t, "payments", "api", "prod")
	var res struct {
		Tag, Image string
		Changed    bool
	}
	old := prodHistory[len(prodHistory)-1]
	ts.apiMust(t, http.StatusOK, apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreams/api/rollback", token: token,
		body: `{"tag": "prod", "image": "` + old + `"}`}).decode(t, &res)
	if res.Tag != "payments/api:prod" || res.Image != old || res.Changed != (old != prodHistory[0]) {
		t.Errorf("rollback answered %+v", res)
	}
	var audit struct {
		Events []struct {
			ID                                              int64
			At                                              time.Time
			Actor, Namespace, Action, Target, Before, After string
		}
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/audit?namespace=payments&action=tag.rollback", token: token}).decode(t, &audit)
	if len(audit.Events) != 1 || audit.Events[0].Before != prodHistory[0] || audit.Events[0].After != old || audit.Events[0].Actor != "eddie" {
		t.Errorf("audit API: %+v", audit.Events)
	}
}

// TestAPIReads: the list and object shapes, usage filtered to what the
// caller can see with the registry totals kept, the audit log by role,
// and JSON for unknown endpoints and methods.
func TestAPIReads(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	viewer := ts.apiUser(t, "viola", false, "payments=viewer")
	ml := ts.apiUser(t, "mel", false, "ml=editor")
	root := ts.apiUser(t, "root", true)

	var list struct {
		Kind, APIVersion string
		Items            []struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreams", token: viewer}).decode(t, &list)
	if list.Kind != "ImageStreamList" || list.APIVersion != "image.openshift.io/v1" || len(list.Items) == 0 {
		t.Fatalf("list: %+v", list)
	}
	for _, it := range list.Items {
		if it.Kind != "ImageStream" || it.Metadata.Namespace != "payments" {
			t.Errorf("item %+v", it)
		}
	}
	var one struct {
		Kind     string
		Metadata struct{ Name, Namespace string }
		Spec     struct{ Tags []struct{ Name string } }
		Status   struct{ Tags []struct{ Tag string } }
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreams/api", token: viewer}).decode(t, &one)
	if one.Kind != "ImageStream" || one.Metadata.Name != "api" || len(one.Status.Tags) == 0 {
		t.Errorf("stream: %+v", one)
	}
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreams/nosuch", token: viewer}).errorText(t)
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/namespaces/nosuch/imagestreams", token: root}).errorText(t)
	before := ts.apiDump(t)
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "PUT", path: "/api/v1/namespaces/nosuch/imagestreamtags/api:latest", token: root,
		body: `{"from": {"kind": "DockerImage", "name": "quay.io/acme/api:1"}}`}).errorText(t)
	if after := ts.apiDump(t); after != before {
		t.Fatalf("a PUT into a missing namespace changed the database:\n%s", diffLines(before, after))
	}

	// Hidden and missing namespaces read alike.
	a := ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/namespaces/ml/usage", token: viewer}).errorText(t)
	b := ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/namespaces/nosuch/usage", token: viewer}).errorText(t)
	if strings.Replace(a, "ml", "X", 1) != strings.Replace(b, "nosuch", "X", 1) {
		t.Errorf("hidden %q and missing %q namespaces answer differently", a, b)
	}

	var all, mine store.Usage
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/usage", token: root}).decode(t, &all)
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/usage", token: viewer}).decode(t, &mine)
	if len(all.Namespaces) != len(ts.usage.Namespaces) || all.Registry != ts.usage.Registry {
		t.Errorf("platform admin's usage: %d namespaces, %+v", len(all.Namespaces), all.Registry)
	}
	// Not the registry's totals (they count namespaces viola holds no role
	// in): her namespaces' figures, summed.
	pay, _ := ts.usage.Namespace("payments")
	if len(mine.Namespaces) != 1 || mine.Namespaces[0].Name != "payments" ||
		mine.Registry != (store.RegistryUsage{Bytes: pay.Bytes, ReclaimableBytes: pay.ReclaimableBytes}) {
		t.Errorf("viewer's usage: %+v", mine)
	}
	var nu store.NamespaceUsage
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/usage", token: viewer}).decode(t, &nu)
	if want, _ := ts.usage.Namespace("payments"); nu.Name != "payments" || nu.Bytes != want.Bytes || len(nu.Streams) != len(want.Streams) {
		t.Errorf("namespace usage %s %d, want %d", nu.Name, nu.Bytes, want.Bytes)
	}

	// The audit log: mel's change in ml is seen by mel and root, not viola;
	// events outside any namespace (tokens) by their actor and root.
	ts.apiMust(t, http.StatusOK, apiCall{method: "POST", path: "/api/v1/namespaces/ml/imagestreams/trainer/promote", token: ml, body: `{"from": "test"}`})
	for _, who := range []string{"viola", "root"} {
		if err := ts.store.Audit(context.Background(), store.AuditEvent{Actor: who, Action: "token.create", Target: "ci"}); err != nil {
			t.Fatal(err)
		}
	}
	type auditList struct {
		Events []struct{ Actor, Namespace, Action, Target string }
		Limit  int
	}
	for _, c := range []struct {
		who, token, query string
		want              int
	}{
		{"root", root, "?action=tag.promote", 1}, {"mel", ml, "", 1}, {"viola", viewer, "?action=tag.promote", 0},
		{"viola's own", viewer, "?actor=viola", 1}, {"root's own", root, "?actor=root", 1}, {"viola all", viewer, "", 1}, {"root all", root, "", 3},
		{"root by action", root, "?action=tag.promote&actor=mel", 1}, {"root other action", root, "?action=tag.delete", 0},
	} {
		var l auditList
		ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/audit" + c.query, token: c.token}).decode(t, &l)
		if len(l.Events) != c.want || l.Limit != 200 {
			t.Errorf("%s sees %d audit events (limit %d), want %d: %+v", c.who, len(l.Events), l.Limit, c.want, l.Events)
		}
		if len(l.Events) == 1 && l.Events[0].Action == "tag.promote" && (l.Events[0].Target != "ml/trainer:prod" || l.Events[0].Actor != "mel") {
			t.Errorf("%s: %+v", c.who, l.Events[0])
		}
	}
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/audit?namespace=ml", token: viewer}).errorText(t)

	r := ts.apiMust(t, http.StatusBadGateway, apiCall{method: "POST", path: "/api/v1/namespaces/ml/imagestreamimports", token: ml,
		body: `{"tag": "trainer:nightly", "from": "127.0.0.1:1/acme/trainer:nightly", "scheduled": true}`})
	if msg := r.errorText(t); !strings.Contains(msg, "cannot read from registry 127.0.0.1:1") {
		t.Errorf("imports: %q", msg)
	}

	// Unknown endpoints and methods answer JSON, not the pages' HTML.
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/nosuch", token: root}).errorText(t)
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1", token: root}).errorText(t)
	r = ts.apiMust(t, http.StatusNotFound, apiCall{method: "PATCH", path: "/api/v1/namespaces/payments/imagestreamtags/api:latest", token: root})
	if msg := r.errorText(t); !strings.Contains(msg, "PATCH") {
		t.Errorf("PATCH: %q", msg)
	}
}

// TestAPIWithoutAccounts: a fresh install reads freely and refuses every
// change, saying how to create an account.
func TestAPIWithoutAccounts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, false)
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/usage"})
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/ml/imagestreamtags/trainer:latest"})
	before := ts.apiDump(t)
	for _, a := range []apiCall{
		{method: "PUT", path: "/api/v1/namespaces/payments/imagestreamtags/api:x", body: `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}}`},
		{method: "DELETE", path: "/api/v1/namespaces/payments/imagestreamtags/api:latest"},
		{method: "POST", path: "/api/v1/namespaces/payments/imagestreams/api/promote", body: `{"from": "latest"}`},
	} {
		r := ts.apiMust(t, http.StatusForbidden, a)
		if msg := r.errorText(t); msg != "no accounts exist: create one with layerwise user add" {
			t.Errorf("%s %s: %q", a.method, a.path, msg)
		}
	}
	if after := ts.apiDump(t); after != before {
		t.Fatalf("refused changes changed the database:\n%s", diffLines(before, after))
	}
}

// TestAPIProxyMode: behind a trusted proxy X-Forwarded-User/-Groups
// authenticate API calls as they do pages; such an identity is ambient (the
// proxy's cookie), so changes still need the CSRF token, and an invalid
// bearer token is refused whatever the proxy says.
func TestAPIProxyMode(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, true, func(c *Config) {
		c.Auth = "proxy"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	pat := map[string]string{"X-Forwarded-User": "pat", "X-Forwarded-Groups": "payments-editors"}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreams/api", header: pat})
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/namespaces/ml/imagestreams/trainer", header: pat}).errorText(t)
	before := ts.apiDump(t)
	promote := apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreams/api/promote", body: `{"from": "latest"}`, header: pat}
	if msg := ts.apiMust(t, http.StatusForbidden, promote).errorText(t); !strings.Contains(msg, "CSRF") {
		t.Errorf("proxy change without CSRF: %q", msg)
	}
	promote.auth = "Bearer " + store.TokenPrefix + strings.Repeat("0", 64)
	ts.apiMust(t, http.StatusUnauthorized, promote).errorText(t)
	if after := ts.apiDump(t); after != before {
		t.Fatalf("refused proxy calls changed the database:\n%s", diffLines(before, after))
	}
	ts.apiMust(t, http.StatusUnauthorized, apiCall{method: "GET", path: "/api/v1/usage"}).errorText(t)
}
