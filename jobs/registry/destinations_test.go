package registry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestParseDestinations(t *testing.T) {
	t.Parallel()
	d, err := ParseDestinations(" 10.0.0.0/8, 192.168.1.5 ,fd00::/8, Registry.Internal, mirror.internal:5000,[::1]:5000,")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.20.30.40", true},
		{"192.168.1.5", true},
		{"192.168.1.6", false},
		{"fd00::1", true},
		{"fc00::1", false},
		{"127.0.0.1", false},
	} {
		if got := d.Permits(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("allow-list: Permits(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		host, port string
		want       bool
	}{
		{"registry.internal", "443", true},
		{"REGISTRY.internal", "5000", true},
		{"mirror.internal", "5000", true},
		{"mirror.internal", "443", false},
		{"::1", "5000", true},
		{"::1", "5001", false},
		{"other.internal", "443", false},
	} {
		if got := d.hostAllowed(tc.host, tc.port); got != tc.want {
			t.Errorf("hostAllowed(%s, %s) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "http://registry.internal", "a b", "user@host"} {
		if _, err := ParseDestinations(bad); err == nil || !strings.Contains(err.Error(), "LAYERWISE_IMPORT_ALLOW") {
			t.Errorf("ParseDestinations(%q): %v", bad, err)
		}
	}
}

// TestDestinationsPermits: without an allow-list only public addresses.
func TestDestinationsPermits(t *testing.T) {
	t.Parallel()
	d, err := ParseDestinations("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"::ffff:169.254.169.254", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"10.0.0.1", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.0.1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"::a9fe:a9fe", false},     // IPv4-compatible 169.254.169.254
		{"100.100.100.200", false}, // carrier-grade NAT (a cloud's metadata)
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"ff02::1", false},
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"2002:a9fe:a9fe::1", false},  // 6to4 of 169.254.169.254
		{"93.184.216.34", true},
		{"172.32.0.1", true},
		{"2606:4700::1111", true},
		{"64:ff9b::5db8:d822", true}, // NAT64 of a public address
	} {
		if got := d.Permits(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Permits(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

// tripwire is a base transport that never connects: it records where it
// was asked to dial and fails.
type tripwire struct {
	mu    sync.Mutex
	dials []string
}

var errTripwire = errors.New("tripwire: this test makes no connection")

func (w *tripwire) transport() *http.Transport {
	return &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.dials = append(w.dials, addr)
		return nil, errTripwire
	}}
}

func (w *tripwire) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.dials)
}

// TestImportRefusedBeforeConnecting: an import from a loopback, link-local
// or private address is refused by the policy, with the same answer for
// a fetch and a HEAD, plain or insecure, and the dialer underneath is
// never asked to connect.
func TestImportRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	d, err := ParseDestinations("")
	if err != nil {
		t.Fatal(err)
	}
	d.TrustHost("127.0.0.1:5000") // as the managed registry: only that port
	w := &tripwire{}
	c := &Client{Transport: w.transport(), Destinations: d}
	check := NewChecker(c)
	for _, host := range []string{"169.254.169.254", "10.1.2.3:5000", "172.16.0.1", "192.168.1.1", "[fe80::1]:5000",
		"[fc00::1]", "[::1]:5000", "127.0.0.1:1", "127.0.0.1:5001", "0.0.0.0", "100.100.100.200", "[64:ff9b::a9fe:a9fe]"} {
		ref := host + "/x/y:latest"
		for _, insecure := range []bool{false, true} {
			_, err := c.Fetch(ctx, ref, FetchOptions{Insecure: insecure})
			wantErr(t, err, ErrForbidden, "imports may not read from registry "+host, "LAYERWISE_IMPORT_ALLOW")
			if Reason(err) != ReasonForbidden {
				t.Errorf("%s: reason %q", ref, Reason(err))
			}
			_, err = check.Head(ctx, ref, insecure)
			wantErr(t, err, ErrForbidden, "LAYERWISE_IMPORT_ALLOW")
		}
	}
	if n := w.count(); n != 0 {
		t.Fatalf("the dialer was asked to connect %d times: %v", n, w.dials)
	}

	// A public address passes the policy: the dialer is asked (and, being
	// a tripwire, connects nowhere) for that very address.
	_, err = c.Fetch(ctx, "93.184.216.34/x/y:latest", FetchOptions{})
	wantErr(t, err, ErrUnreachable, "cannot read from registry 93.184.216.34")
	if w.count() == 0 || w.dials[0] != "93.184.216.34:443" {
		t.Errorf("dials %v, want 93.184.216.34:443", w.dials)
	}
}

// TestDestinationsDialTheCheckedAddress: a name is resolved once, refused
// when any of its addresses is not public, and otherwise dialled by the
// checked address — a second look-up (DNS rebinding) cannot swap it.
func TestDestinationsDialTheCheckedAddress(t *testing.T) {
	t.Parallel()
	d, err := ParseDestinations("")
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string][]netip.Addr{
		"public.example":    {netip.MustParseAddr("93.184.216.34")},
		"rebinding.example": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("169.254.169.254")},
		"internal.example":  {netip.MustParseAddr("10.0.0.7")},
	}
	lookups := 0
	d.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		lookups++
		return answers[host], nil
	}
	w := &tripwire{}
	c := &Client{Transport: w.transport(), Destinations: d}
	for _, host := range []string{"rebinding.example", "internal.example"} {
		_, err := c.Fetch(ctx, host+"/x/y:1", FetchOptions{})
		wantErr(t, err, ErrForbidden, "imports may not read from registry "+host)
	}
	if w.count() != 0 {
		t.Fatalf("dialled %v", w.dials)
	}
	_, err = c.Fetch(ctx, "public.example/x/y:1", FetchOptions{})
	wantErr(t, err, ErrUnreachable)
	for _, addr := range w.dials {
		if addr != "93.184.216.34:443" {
			t.Errorf("dialled %q, want the checked address 93.184.216.34:443", addr)
		}
	}
	if lookups == 0 || w.count() == 0 {
		t.Errorf("%d look-ups, dials %v", lookups, w.dials)
	}

	// Allowed by name: dialled as named, no look-up of ours.
	d.TrustHost("internal.example")
	before := lookups
	w.dials = nil
	_, _ = c.Fetch(ctx, "internal.example/x/y:1", FetchOptions{})
	if lookups != before || w.count() == 0 || w.dials[0] != "internal.example:443" {
		t.Errorf("allowed name: %d look-ups, dials %v", lookups-before, w.dials)
	}
}

// TestImportAllowedDestinations: the allow-list and a trusted host reach a
// loopback registry; other ports of a trusted host stay refused.
func TestImportAllowedDestinations(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	reg.push(t, "payments/api:1.0", testImage(t, "linux/amd64", testLayer(t, 10)))
	byCIDR, err := ParseDestinations("127.0.0.0/8,::1")
	if err != nil {
		t.Fatal(err)
	}
	byHost, _ := ParseDestinations("")
	byHost.TrustHost(reg.host)
	for name, d := range map[string]*Destinations{"allow-list": byCIDR, "trusted host": byHost} {
		c := &Client{Destinations: d}
		if _, err := c.Fetch(ctx, reg.host+"/payments/api:1.0", FetchOptions{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := NewChecker(c).Head(ctx, reg.host+"/payments/api:1.0", false); err != nil {
			t.Errorf("%s, HEAD: %v", name, err)
		}
	}
	_, err = (&Client{Destinations: byHost}).Fetch(ctx, "127.0.0.1:1/payments/api:1.0", FetchOptions{})
	wantErr(t, err, ErrForbidden)
}
