package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// The harness must never send its flood anywhere but this machine: a URL
// is refused on its parsed (and, for a name, resolved) address before any
// connection is made. The resolver here is a table; nothing is resolved
// or dialled.
func TestLoopbackURL(t *testing.T) {
	names := map[string][]string{
		"localhost":     {"127.0.0.1", "::1"},
		"lw.test":       {"127.0.0.53"},
		"mixed.test":    {"127.0.0.1", "203.0.113.7"},
		"public.test":   {"203.0.113.7"},
		"private.test":  {"10.1.2.3"},
		"nothing.test":  {},
		"rebind6.test":  {"::1", "2001:db8::1"},
		"mapped4.test":  {"::ffff:10.0.0.1"},
		"loopback.test": {"::ffff:127.0.0.1"},
	}
	for _, tc := range []struct {
		url  string
		want string // "" allowed, else part of the error
	}{
		{"http://127.0.0.1:8080", ""},
		{"http://127.9.8.7:1/", ""},
		{"https://[::1]:8443", ""},
		{"http://localhost:8080", ""},
		{"http://lw.test", ""},
		{"http://loopback.test:80", ""},
		{"http://10.0.0.1:8080", "not a loopback address"},
		{"http://192.168.1.5", "not a loopback address"},
		{"http://0.0.0.0:8080", "not a loopback address"},
		{"http://[::]:8080", "not a loopback address"},
		{"http://[::ffff:10.0.0.1]:8080", "not a loopback address"},
		{"http://[2001:db8::1]", "not a loopback address"},
		{"http://mixed.test:8080", "resolves to 203.0.113.7"},
		{"http://public.test", "resolves to 203.0.113.7"},
		{"http://private.test", "resolves to 10.1.2.3"},
		{"http://rebind6.test", "resolves to 2001:db8::1"},
		{"http://mapped4.test", "not a loopback address"},
		{"http://nothing.test", "resolves to no address"},
		{"http://unknown.test", "no such host"},
		{"ftp://127.0.0.1", "must be http(s)"},
		{"127.0.0.1:8080", "must be http(s)"},
		{"http://", "must be http(s)"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
				if net.ParseIP(host) != nil {
					t.Fatalf("an address literal %s was looked up", host)
				}
				ips, ok := names[host]
				if !ok {
					return nil, errors.New("no such host")
				}
				var out []net.IPAddr
				for _, ip := range ips {
					out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
				}
				return out, nil
			}
			_, err := loopbackURL(context.Background(), tc.url, lookup)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("allowed; want an error saying %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// Whatever a resolver says between the check and the connection, the
// dialer refuses a non-loopback address (its Control runs before connect).
func TestDialLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "127.255.0.1:1": true, "[::1]:443": true,
		"10.0.0.1:80": false, "0.0.0.0:80": false, "[::]:80": false, "[2001:db8::1]:80": false, "[::ffff:192.0.2.1]:80": false,
	} {
		if err := dialLoopbackOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("dial %s: err %v, want allowed=%v", addr, err, ok)
		}
	}
}

// The registry the server reads back from listens on loopback only.
func TestRegistryListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "10.0.0.1:5000"} {
		if _, err := startRegistry(context.Background(), addr); err == nil {
			t.Errorf("startRegistry(%q) listened; want refused", addr)
		}
	}
}
