package web

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"layerwise/store"
	"layerwise/views"
)

// postLogin posts the login form from a fresh browser, with extra headers.
func postLogin(t *testing.T, ts *testServer, name, password, next string, hdr http.Header) *http.Response {
	t.Helper()
	c := ts.client(t)
	m := csrfRe.FindStringSubmatch(ts.get(t, c, "/login", http.StatusOK))
	if m == nil {
		t.Fatal("no CSRF field in the login form")
	}
	form := url.Values{"name": {name}, "password": {password}, "_csrf": {m[1]}, "next": {next}}
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLoginNextStaysOnSite: /login?next=%2F%09%2Fevil.com (a tab browsers
// drop, leaving //evil.com) neither reaches the form nor the redirect.
func TestLoginNextStaysOnSite(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	page := ts.get(t, ts.client(t), "/login?next=%2F%09%2Fevil.com", http.StatusOK)
	if strings.Contains(page, "evil.com") {
		t.Error("the login form carries the foreign next")
	}
	for _, next := range []string{"/\t/evil.com", "/\\evil.com", "//evil.com", "https://evil.com/"} {
		resp := postLogin(t, ts, "demo", "demo", next, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Errorf("next %q: %d to %q, want 303 to /", next, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp := postLogin(t, ts, "demo", "demo", "/ns/payments", nil); resp.Header.Get("Location") != "/ns/payments" {
		t.Errorf("a clean next: to %q", resp.Header.Get("Location"))
	}
}

// TestLoginLimiterKeysOnThePeer: a client cannot dodge the failed-login
// limit by writing a new X-Forwarded-For each time; behind a trusted proxy
// the forwarded address is the client's.
func TestLoginLimiterKeysOnThePeer(t *testing.T) {
	t.Parallel()
	xff := func(a string) http.Header { return http.Header{"X-Forwarded-For": {a}} }
	ts := newTestServer(t, true)
	// Five names (the user key never repeats), five invented addresses.
	for i, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
		if resp := postLogin(t, ts, name, "wrong", "/", xff("203.0.113."+string(rune('1'+i)))); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
	}
	if resp := postLogin(t, ts, "u6", "wrong", "/", xff("198.51.100.1")); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the sixth failure from one peer: %d, want 429", resp.StatusCode)
	}

	// Behind a trusted proxy (the test's peer is 127.0.0.1) clients differ
	// by their forwarded address.
	px := newTestServerWith(t, true, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	for i, name := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		if resp := postLogin(t, px, name, "wrong", "/", xff("203.0.113."+string(rune('1'+i)))); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("client %d behind the proxy: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for i, name := range []string{"v1", "v2", "v3", "v4", "v5"} {
		if resp := postLogin(t, px, name, "wrong", "/", xff("198.51.100.1")); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d of one forwarded client: %d", i+1, resp.StatusCode)
		}
	}
	if resp := postLogin(t, px, "v6", "wrong", "/", xff("198.51.100.1")); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the sixth failure of one forwarded client: %d, want 429", resp.StatusCode)
	}
}

// getWith fetches url with headers and returns the status and body.
func getWith(t *testing.T, method, u string, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsNeedTheToken: /metrics names every namespace with its bytes;
// on the main address only the bearer of LAYERWISE_METRICS_TOKEN reads it,
// and without a token (or with a metrics address) nobody does there.
func TestMetricsNeedTheToken(t *testing.T) {
	t.Parallel()
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	ts := newTestServer(t, true)
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"anonymous", nil},
		{"wrong token", bearer("guess")},
		{"token as basic auth", http.Header{"Authorization": {"Basic " + testMetricsToken}}},
		{"a longer token", bearer(testMetricsToken + "x")},
	} {
		code, body := getWith(t, http.MethodGet, ts.URL+"/metrics", tc.hdr)
		if code != http.StatusUnauthorized || strings.Contains(body, "payments") {
			t.Errorf("%s: %d\n%s", tc.name, code, firstLines(body, 5))
		}
	}
	if body := ts.scrape(t); !strings.Contains(body, `layerwise_namespace_bytes{namespace="payments"}`) {
		t.Error("the token's bearer does not get the namespace figures")
	}

	for name, configure := range map[string]func(*Config){
		"neither token nor address": func(c *Config) { c.MetricsToken = "" },
		"a metrics address":         func(c *Config) { c.MetricsAddr = "127.0.0.1:0" },
	} {
		off := newTestServerWith(t, true, configure)
		for _, hdr := range []http.Header{nil, bearer(testMetricsToken)} {
			code, body := getWith(t, http.MethodGet, off.URL+"/metrics", hdr)
			if code != http.StatusNotFound || strings.Contains(body, "layerwise_namespace_bytes") {
				t.Errorf("%s: /metrics on the main address: %d\n%s", name, code, firstLines(body, 5))
			}
		}
	}
}

// TestMetricsAddrServesOnlyMetrics: LAYERWISE_METRICS_ADDR serves /metrics
// (to the token's bearer when a token is set) and nothing else.
func TestMetricsAddrServesOnlyMetrics(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"", testMetricsToken} {
		ts := newTestServerWith(t, true, func(c *Config) { c.MetricsToken, c.MetricsAddr = token, "127.0.0.1:0" })
		ln, mln := listenLoopback(t), listenLoopback(t)
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ts.srv.serve(ctx, ln, mln) }()
		main, metrics := "http://"+ln.Addr().String(), "http://"+mln.Addr().String()
		hdr := http.Header{}
		if token != "" {
			if code, _ := getWith(t, http.MethodGet, metrics+"/metrics", nil); code != http.StatusUnauthorized {
				t.Errorf("token %q: anonymous scrape on the metrics address: %d", token, code)
			}
			hdr.Set("Authorization", "Bearer "+token)
		}
		if code, body := getWith(t, http.MethodGet, metrics+"/metrics", hdr); code != http.StatusOK || !strings.Contains(body, "layerwise_namespace_bytes") {
			t.Errorf("token %q: metrics address: %d", token, code)
		}
		for _, p := range []string{"/", "/ns/payments", "/api/v1/usage", "/healthz"} {
			if code, _ := getWith(t, http.MethodGet, metrics+p, hdr); code != http.StatusNotFound {
				t.Errorf("token %q: the metrics address serves %s: %d", token, p, code)
			}
		}
		if code, _ := getWith(t, http.MethodGet, main+"/metrics", hdr); code != http.StatusNotFound {
			t.Errorf("token %q: the main address serves /metrics: %d", token, code)
		}
		if code, _ := getWith(t, http.MethodGet, main+"/healthz", nil); code != http.StatusOK {
			t.Errorf("token %q: the main address: /healthz %d", token, code)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestMetricsMethodLabelIsBounded: invented HTTP methods count as "other",
// so a client cannot add time series at will.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	for _, m := range []string{"FOOBAR", "PROPFIND", "X1", "GET"} {
		getWith(t, m, ts.URL+"/", nil)
	}
	fams, err := ts.srv.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		if f.GetName() != "layerwise_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	for m := range seen {
		switch m {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other":
		default:
			t.Errorf("method label %q", m)
		}
	}
	if !seen["other"] || !seen["GET"] {
		t.Errorf("method labels %v, want GET and other", seen)
	}
}

// cookieOf is the value of a cookie in c's jar.
func cookieOf(t *testing.T, ts *testServer, c *http.Client, name string) string {
	t.Helper()
	for _, ck := range c.Jar.Cookies(mustURL(t, ts.URL)) {
		if ck.Name == name {
			return ck.Value
		}
	}
	t.Fatalf("no %s cookie", name)
	return ""
}

// TestCSRFTokenIsTheSessions: a CSRF token is good only with the session
// it was issued to: Mallory's cookie and token, planted next to Bob's
// session, do not let a forged form act for Bob.
func TestCSRFTokenIsTheSessions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	mallory, bob := actAs(t, ts, "mallory"), actAs(t, ts, "bob")
	m := csrfRe.FindStringSubmatch(ts.get(t, mallory, "/tokens", http.StatusOK))
	if m == nil {
		t.Fatal("no CSRF field on Mallory's tokens page")
	}
	mToken, mCookie := m[1], cookieOf(t, ts, mallory, "layerwise_csrf")
	bobSession, bobCookie := cookieOf(t, ts, bob, "layerwise_session"), cookieOf(t, ts, bob, "layerwise_csrf")
	for name, cookies := range map[string]string{
		"Mallory's CSRF cookie": "layerwise_session=" + bobSession + "; layerwise_csrf=" + mCookie,
		"Bob's own CSRF cookie": "layerwise_session=" + bobSession + "; layerwise_csrf=" + bobCookie,
	} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/logout", strings.NewReader(url.Values{"_csrf": {mToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", cookies)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("Mallory's token with Bob's session and %s: %d, want 403", name, resp.StatusCode)
		}
	}
	ts.get(t, bob, "/tokens", http.StatusOK) // still logged in

	// Bob's own page token works, and is not Mallory's.
	b := csrfRe.FindStringSubmatch(ts.get(t, bob, "/tokens", http.StatusOK))
	if b == nil || b[1] == mToken {
		t.Fatalf("Bob's token %v, Mallory's %s", b, mToken)
	}
	resp, err := bob.PostForm(ts.URL+"/logout", url.Values{"_csrf": {b[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("Bob's own logout: %d", resp.StatusCode)
	}
}

// setCookies maps the cookies a response sets to their raw header lines.
func setCookies(resp *http.Response) map[string]string {
	out := map[string]string{}
	for _, v := range resp.Header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(v, "=")
		out[name] = v
	}
	return out
}

// TestCookiesSecureOverHTTPS: when the browser talks HTTPS (an https base
// URL, or a trusted proxy's X-Forwarded-Proto) the session and CSRF
// cookies are Secure and __Host- prefixed (Path=/, no Domain); a client's
// own X-Forwarded-Proto changes nothing.
func TestCookiesSecureOverHTTPS(t *testing.T) {
	t.Parallel()
	proto := http.Header{"X-Forwarded-Proto": {"https"}}
	for _, tc := range []struct {
		name      string
		configure func(*Config)
		hdr       http.Header
		https     bool
	}{
		{"http base URL", nil, nil, false},
		{"https base URL", func(c *Config) { c.Reports.BaseURL = "https://layerwise.example.com" }, nil, true},
		{"trusted proxy says https", func(c *Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}, proto, true},
		{"untrusted client says https", nil, proto, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServerWith(t, true, tc.configure)
			prefix := ""
			if tc.https {
				prefix = "__Host-"
			}
			// The login form sets the CSRF cookie; the login the session's.
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/login", nil)
			for k, v := range tc.hdr {
				req.Header[k] = v
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			csrf := setCookies(resp)[prefix+"layerwise_csrf"]
			m := csrfRe.FindStringSubmatch(string(body))
			if csrf == "" || m == nil {
				t.Fatalf("no %slayerwise_csrf cookie or form token: %v", prefix, resp.Header.Values("Set-Cookie"))
			}
			form := url.Values{"name": {"demo"}, "password": {"demo"}, "_csrf": {m[1]}, "next": {"/"}}
			req, _ = http.NewRequest(http.MethodPost, ts.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Cookie", strings.SplitN(csrf, ";", 2)[0])
			for k, v := range tc.hdr {
				req.Header[k] = v
			}
			resp, err = http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			session := setCookies(resp)[prefix+"layerwise_session"]
			if resp.StatusCode != http.StatusSeeOther || session == "" {
				t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Header.Values("Set-Cookie"))
			}
			for name, raw := range map[string]string{"csrf": csrf, "session": session} {
				if strings.Contains(raw, "; Secure") != tc.https {
					t.Errorf("%s cookie %q: Secure should be %v", name, raw, tc.https)
				}
				if !strings.Contains(raw, "Path=/") || strings.Contains(raw, "Domain=") || !strings.Contains(raw, "HttpOnly") {
					t.Errorf("%s cookie %q: want Path=/, HttpOnly, no Domain", name, raw)
				}
			}
		})
	}
}

// TestImportsRefuseInternalAddresses: an editor cannot make the server
// read from loopback, link-local (cloud metadata) or private addresses —
// not through the API, not with "Add and import now" or "Import now",
// not through the scheduled import — and the refusal comes before any
// connection: the dialer under the server's registry client (a tripwire
// that connects nowhere) is never asked.
func TestImportsRefuseInternalAddresses(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, true, func(c *Config) { c.ImportSchedule = "@every 1h" })
	var mu sync.Mutex
	var dials []string
	ts.srv.fetcher.Transport = &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		dials = append(dials, addr)
		return nil, errors.New("tripwire: this test connects nowhere")
	}}
	ctx := context.Background()
	editor := ts.apiUser(t, "eddie", false, "payments=editor")
	for _, from := range []string{"169.254.169.254/latest/meta-data:1", "10.0.0.1:5000/payments/app:1", "[fd00::1]/payments/app:1",
		"192.168.1.1/payments/app:1", "100.100.100.200/payments/app:1", "[fe80::1]:5000/payments/app:1"} {
		msg := ts.apiMust(t, http.StatusForbidden, importCall(editor, "app:v1", from)).errorText(t)
		if !strings.Contains(msg, "LAYERWISE_IMPORT_ALLOW") {
			t.Errorf("API import from %s: %q", from, msg)
		}
	}

	ed := actAs(t, ts, "ed", "payments=editor")
	addHref := views.AddTagHref("payments", "api")
	f := actForm(t, doc(t, ts.get(t, ed, views.StreamHref("payments", "api"), http.StatusOK)), addHref)
	f.Set("source", "169.254.169.254/latest/meta-data:1")
	f.Set("tag", "meta")
	f.Set("import", "now")
	r := actPost(t, ts, ed, addHref, f, false)
	actExpect(t, r, http.StatusForbidden, "add and import now from the metadata address")
	if !strings.Contains(r.body, "LAYERWISE_IMPORT_ALLOW") {
		t.Errorf("add and import now: %s", r)
	}

	// A tag with such a source (as `tag --scheduled` makes one): "Import
	// now" and the scheduled import are refused alike.
	meta := store.TagRef{Namespace: "payments", Stream: "api", Tag: "meta"}
	if _, err := ts.store.SetTag(ctx, store.Source{Kind: store.KindDockerImage, Ref: "169.254.169.254/latest/meta-data:1"}, meta,
		store.TagOptions{Scheduled: true}); err != nil {
		t.Fatal(err)
	}
	ts.srv.change.Notify()
	href := views.TagHref("payments", "api", "meta")
	importHref := views.TagActionHref(href, "import")
	r = actPost(t, ts, ed, importHref, actForm(t, doc(t, ts.get(t, ed, href, http.StatusOK)), importHref), false)
	actExpect(t, r, http.StatusForbidden, "import now from the metadata address")
	if !ts.srv.sched.RunNow(ctx, "import") {
		t.Fatal("the import job did not run")
	}
	st, err := ts.store.GetStream(ctx, store.StreamRef{Namespace: "payments", Stream: "api"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tag := range st.Tags {
		if tag.Name != "meta" {
			continue
		}
		found = true
		if c := tag.Condition; c == nil || c.Reason != "Forbidden" || !strings.Contains(c.Message, "LAYERWISE_IMPORT_ALLOW") {
			t.Errorf("after the scheduled import: condition %+v", c)
		}
	}
	if !found {
		t.Error("the tag payments/api:meta is gone")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(dials) != 0 {
		t.Errorf("the server was about to connect to %v", dials)
	}
}
