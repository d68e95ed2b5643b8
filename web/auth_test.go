package web

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"layerwise/store"
)

// testIssuer is a minimal OpenID provider: discovery, JWKS, an authorize
// endpoint that approves at once, and a token endpoint that signs ID tokens.
type testIssuer struct {
	*httptest.Server
	key      *rsa.PrivateKey
	user     string
	audience string // "" = the client ID

	mu     sync.Mutex
	nonces map[string]string // code → nonce
}

func newTestIssuer(t *testing.T, user string) *testIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{key: key, user: user, nonces: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "authorization_endpoint": is.URL + "/authorize",
			"token_endpoint": is.URL + "/token", "jwks_uri": is.URL + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "PKCE required", http.StatusBadRequest)
			return
		}
		code := "code-" + q.Get("state")[:8]
		is.mu.Lock()
		is.nonces[code] = q.Get("nonce")
		is.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		is.mu.Lock()
		nonce, ok := is.nonces[r.Form.Get("code")]
		is.mu.Unlock()
		if !ok || r.Form.Get("code_verifier") == "" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		aud := is.audience
		if aud == "" {
			aud, _, _ = r.BasicAuth()
			if aud == "" {
				aud = r.Form.Get("client_id")
			}
		}
		claims, _ := json.Marshal(map[string]any{"iss": is.URL, "sub": "s-" + is.user, "aud": aud, "exp": time.Now().Add(time.Hour).Unix(),
			"iat": time.Now().Unix(), "nonce": nonce, "preferred_username": is.user})
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		sig, _ := signer.Sign(claims)
		idt, _ := sig.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idt})
	})
	is.Server = httptest.NewServer(mux)
	t.Cleanup(is.Close)
	return is
}

func oidcServer(t *testing.T, is *testIssuer) *testServer {
	ts := newTestServerWith(t, true, func(c *Config) {
		c.Auth = "oidc"
		c.OIDC = OIDCConfig{Issuer: is.URL, ClientID: "layerwise", ClientSecret: "s3cret"}
	})
	ts.srv.oidc.cfg.RedirectURL = ts.URL + "/auth/oidc/callback"
	return ts
}

func TestOIDCLogin(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t, "ann.sso")
	ts := oidcServer(t, is)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	login := ts.get(t, c, "/login", http.StatusOK)
	if !strings.Contains(login, "/auth/oidc/start") {
		t.Fatal("the login page offers no single sign-on")
	}
	resp, err := c.Get(ts.URL + "/auth/oidc/start?next=" + url.QueryEscape("/jobs"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/jobs" {
		t.Fatalf("after SSO: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	page := ts.get(t, c, "/", http.StatusOK)
	if !strings.Contains(page, "ann.sso") {
		t.Error("the page does not show the SSO user")
	}
	if _, err := ts.store.GetUser(t.Context(), "ann.sso"); err != nil {
		t.Fatalf("no account for the SSO user: %v", err)
	}
	// ann.sso holds no role: she sees no namespace.
	ts.get(t, c, "/ns/payments", http.StatusNotFound)
}

func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t, "mallory")
	ts := oidcServer(t, is)
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// A callback with no login started (no state cookie).
	resp, _ := plain.Get(ts.URL + "/auth/oidc/callback?code=x&state=y")
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("callback without a started login: %d", resp.StatusCode)
	}
	// An ID token for another client is refused.
	is.audience = "someone-else"
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(ts.URL + "/auth/oidc/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token for another audience: %d", resp.StatusCode)
	}
	if _, err := ts.store.GetUser(t.Context(), "mallory"); err == nil {
		t.Error("a refused login created an account")
	}
}

func TestProxyMode(t *testing.T) {
	t.Parallel()
	ts := newTestServerWith(t, true, func(c *Config) {
		c.Auth = "proxy"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	get := func(path string, h map[string]string) int {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := ts.client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		name string
		path string
		h    map[string]string
		want int
	}{
		{"group role", "/ns/payments", map[string]string{"X-Forwarded-User": "pat", "X-Forwarded-Groups": "payments-viewers"}, 200},
		{"other namespace", "/ns/ml", map[string]string{"X-Forwarded-User": "pat", "X-Forwarded-Groups": "payments-viewers"}, 404},
		{"platform admin group", "/ns/ml", map[string]string{"X-Forwarded-User": "root", "X-Forwarded-Groups": "layerwise-platform-admins"}, 200},
		{"no header", "/ns/payments", nil, http.StatusSeeOther},
	}
	for _, c := range cases {
		if got := get(c.path, c.h); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// From an untrusted address the headers mean nothing.
	untrusted := newTestServerWith(t, true, func(c *Config) {
		c.Auth = "proxy"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	req, _ := http.NewRequest("GET", untrusted.URL+"/ns/payments", nil)
	req.Header.Set("X-Forwarded-User", "root")
	req.Header.Set("X-Forwarded-Groups", "layerwise-platform-admins")
	resp, err := untrusted.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("forged headers from an untrusted peer: %d, want a redirect to login", resp.StatusCode)
	}
	if _, err := ParseCIDRs("10.0.0.0/8, 192.0.2.7"); err != nil {
		t.Error(err)
	}
	if _, err := ParseCIDRs("ten-dot-zero"); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}

func TestProxyModeNeedsTrustedProxies(t *testing.T) {
	t.Parallel()
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := New(Config{Auth: "proxy", SnapshotSchedule: "@daily"}, s, nil); err == nil || !strings.Contains(err.Error(), "LAYERWISE_TRUSTED_PROXIES") {
		t.Errorf("proxy mode without trusted proxies: %v", err)
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	c := ts.client(t)
	for i := 0; i < 5; i++ {
		if resp := ts.login(t, c, "demo", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
	}
	// Now even the right password waits.
	resp := ts.login(t, c, "demo", "demo")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d (Retry-After %q)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another user from the same address is limited too (the address key).
	if resp := ts.login(t, ts.client(t), "someone", "x"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("other user, same address: %d", resp.StatusCode)
	}
}
