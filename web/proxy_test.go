package web

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestProxiesClientIP: X-Forwarded-For counts only as far as trusted
// proxies vouch for it; a client's own header never moves its address.
func TestProxiesClientIP(t *testing.T) {
	t.Parallel()
	trusted := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		proxies    Proxies
		want       string
	}{
		{"no proxies: the peer", "192.0.2.7:5000", []string{"203.0.113.9"}, nil, "192.0.2.7"},
		{"untrusted peer's header ignored", "192.0.2.7:5000", []string{"203.0.113.9"}, trusted, "192.0.2.7"},
		{"trusted proxy: its hop", "10.1.2.3:443", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"forged hops left of the real one", "10.1.2.3:443", []string{"198.51.100.1, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"two trusted proxies", "10.1.2.3:443", []string{"203.0.113.9, 10.9.9.9"}, trusted, "203.0.113.9"},
		{"headers on two lines", "10.1.2.3:443", []string{"203.0.113.9", "10.9.9.9"}, trusted, "203.0.113.9"},
		{"only proxies", "10.1.2.3:443", []string{"10.9.9.9"}, trusted, "10.9.9.9"},
		{"garbage hop stops the walk", "10.1.2.3:443", []string{"203.0.113.9, garbage"}, trusted, "10.1.2.3"},
		{"no header", "10.1.2.3:443", nil, trusted, "10.1.2.3"},
		{"IPv6 trusted peer", "[::1]:443", []string{"2001:db8::5"}, trusted, "2001:db8::5"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:443", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tc.proxies.ClientIP(r); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestProxiesForwardedHTTPS: X-Forwarded-Proto counts from a trusted peer only.
func TestProxiesForwardedHTTPS(t *testing.T) {
	t.Parallel()
	trusted := Proxies{netip.MustParsePrefix("127.0.0.1/32")}
	for _, tc := range []struct {
		peer, proto string
		want        bool
	}{
		{"127.0.0.1:1", "https", true},
		{"127.0.0.1:1", "HTTPS", true},
		{"127.0.0.1:1", "http", false},
		{"127.0.0.1:1", "", false},
		{"192.0.2.7:1", "https", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		r.Header.Set("X-Forwarded-Proto", tc.proto)
		if got := trusted.ForwardedHTTPS(r); got != tc.want {
			t.Errorf("peer %s proto %q: %v, want %v", tc.peer, tc.proto, got, tc.want)
		}
	}
}
