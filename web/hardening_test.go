package web

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
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
