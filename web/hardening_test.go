package web

import (
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
