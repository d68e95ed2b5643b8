package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// Destinations says where imports started through the server may connect
// (LAYERWISE_IMPORT_ALLOW). Any editor can name a registry, so without it
// an import would be a way to probe the server's own network: loopback,
// link-local (169.254.169.254 is the cloud metadata service), private,
// carrier-grade NAT, unspecified, multicast and reserved addresses are
// refused unless an allowed CIDR holds them or the host is allowed by
// name. The check runs when a connection is dialled, on the addresses the
// name resolved to, and the connection goes to the very address checked:
// a name that resolves to a public address for one look-up and to a
// private one for the next (DNS rebinding) gains nothing.
//
// An HTTP proxy (HTTPS_PROXY) makes the connections itself: the check then
// sees the proxy's address only, so restrict destinations at the proxy.
type Destinations struct {
	allow []netip.Prefix
	hosts map[string]bool // lower-case "host" (any port) or "host:port"
	// lookup resolves a name; nil is the system resolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)

	mu      sync.Mutex
	guarded map[*http.Transport]*http.Transport
}

// ParseDestinations reads LAYERWISE_IMPORT_ALLOW: comma-separated CIDRs
// (10.0.0.0/8), addresses (192.168.1.5, ::1), host names
// (registry.internal: any address it resolves to, any port) or host:port
// (registry.internal:5000). "" allows public addresses only.
func ParseDestinations(allow string) (*Destinations, error) {
	d := &Destinations{hosts: map[string]bool{}, guarded: map[*http.Transport]*http.Transport{}}
	for _, part := range strings.Split(allow, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			d.allow = append(d.allow, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(part); err == nil {
			d.allow = append(d.allow, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if err := d.TrustHost(part); err != nil {
			return nil, fmt.Errorf("LAYERWISE_IMPORT_ALLOW %q: want CIDRs (10.0.0.0/8), addresses, host names or host:port, comma-separated", part)
		}
	}
	return d, nil
}

// TrustHost allows a host by name ("registry.internal", any port) or
// host:port ("127.0.0.1:5000"), whatever addresses it has: the managed
// registry, entries of LAYERWISE_IMPORT_ALLOW.
func (d *Destinations) TrustHost(hostport string) error {
	h := strings.ToLower(strings.TrimSpace(hostport))
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = strings.Trim(h, "[]"), ""
	}
	if n, err := strconv.Atoi(port); host == "" || strings.ContainsAny(h, "/ @?#") || port != "" && (err != nil || n < 1 || n > 65535) {
		return fmt.Errorf("%q is not a host or host:port", hostport)
	}
	if port == "" {
		d.hosts[host] = true
	} else {
		d.hosts[net.JoinHostPort(host, port)] = true
	}
	return nil
}

func (d *Destinations) hostAllowed(host, port string) bool {
	host = strings.ToLower(host)
	return d.hosts[host] || d.hosts[net.JoinHostPort(host, port)]
}

// Permits says whether imports may connect to a.
func (d *Destinations) Permits(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, p := range d.allow {
		if p.Contains(a) {
			return true
		}
	}
	return public(a)
}

// notPublic are the ranges that netip's predicates do not cover.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (some clouds' metadata)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("100::/64"),       // discard
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
}

// nat64 and sixToFour carry an IPv4 address the network may route to.
var nat64, sixToFour = netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("2002::/16")

// public says whether a is an ordinary Internet address.
func public(a netip.Addr) bool {
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return false
		}
	}
	// NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address
	// that the network may route to: judge that one.
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return public(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return public(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}

// refusedError is a connection the policy did not let happen.
type refusedError struct{ host string }

func (e *refusedError) Error() string {
	return "imports may not connect to " + e.host + ": not a public address; see LAYERWISE_IMPORT_ALLOW"
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dial is the policy around a dial function: resolve, refuse a name with
// any address that is not permitted, then dial the checked addresses.
func (d *Destinations) dial(next dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if d.hostAllowed(host, port) {
			return next(ctx, network, addr)
		}
		var ips []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{a}
		} else if ips, err = d.resolve(ctx, host); err != nil {
			return nil, err
		}
		for _, a := range ips {
			if !d.Permits(a) {
				return nil, &refusedError{host: host}
			}
		}
		var first error
		for _, a := range ips {
			conn, err := next(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return conn, nil
			}
			if first == nil {
				first = err
			}
		}
		if first == nil {
			first = fmt.Errorf("%s has no address", host)
		}
		return nil, first
	}
}

func (d *Destinations) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if d.lookup != nil {
		return d.lookup(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// errUnguarded fails every request of a transport the policy cannot wrap.
var errUnguarded = errors.New("LAYERWISE_IMPORT_ALLOW cannot be enforced on this HTTP transport")

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errUnguarded }

// guard is base with every dial under the policy; transports are made
// once per base, so connections are pooled as before.
func (d *Destinations) guard(base http.RoundTripper) http.RoundTripper {
	t, ok := base.(*http.Transport)
	if !ok {
		return failingTransport{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if g, ok := d.guarded[t]; ok {
		return g
	}
	g := t.Clone()
	next := g.DialContext
	if next == nil {
		next = (&net.Dialer{}).DialContext
	}
	if g.DialTLSContext != nil {
		// It would dial the checked address and lose the name TLS
		// verifies: refuse rather than connect unchecked.
		return failingTransport{}
	}
	g.DialContext = d.dial(next)
	d.guarded[t] = g
	return g
}
