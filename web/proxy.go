package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
)

// ParseCIDRs reads LAYERWISE_TRUSTED_PROXIES (see Proxies): comma-separated
// CIDRs or single addresses.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: want a CIDR like 10.0.0.0/8 or an address", part)
			}
			part = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want a CIDR like 10.0.0.0/8", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Proxies are the reverse proxies in front of the server
// (LAYERWISE_TRUSTED_PROXIES). Their X-Forwarded-* headers are believed
// only when the direct peer of a request is one of them; anyone else can
// write those headers.
type Proxies []netip.Prefix

// Contains says whether a is a trusted proxy's address.
func (p Proxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// peer is the direct peer's address (not any forwarded one).
func peer(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// TrustsPeer says whether the direct peer of r is a trusted proxy.
func (p Proxies) TrustsPeer(r *http.Request) bool {
	a, ok := peer(r)
	return ok && p.Contains(a)
}

// ClientIP is the address a request came from: the peer's, or, when the
// peer is a trusted proxy, the last X-Forwarded-For hop that is not one
// (each trusted proxy vouches for the hop before it; the first untrusted
// hop may have written anything to its left). It is the server's
// echo.IPExtractor, so c.RealIP() means this everywhere.
func (p Proxies) ClientIP(r *http.Request) string {
	ip, ok := peer(r)
	if !ok {
		return r.RemoteAddr
	}
	var hops []string
	for _, v := range r.Header.Values(echo.HeaderXForwardedFor) {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && p.Contains(ip); i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = a.Unmap()
	}
	return ip.String()
}

// ForwardedHTTPS says whether a trusted proxy says the browser talks
// HTTPS to it (X-Forwarded-Proto: https).
func (p Proxies) ForwardedHTTPS(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(echo.HeaderXForwardedProto)), "https") && p.TrustsPeer(r)
}

// PlatformAdminGroup in X-Forwarded-Groups makes a platform admin.
const PlatformAdminGroup = "layerwise-platform-admins"

// principalFromProxy believes X-Forwarded-User/-Groups only in proxy mode and
// only from a trusted proxy (as behind OpenShift's oauth-proxy). Groups
// named "<ns>-viewers", "<ns>-editors" or "<ns>-admins" give that role in
// that namespace, on top of the user's role bindings.
func (srv *Server) principalFromProxy(c echo.Context) *store.Principal {
	if srv.cfg.Auth != "proxy" || !srv.cfg.TrustedProxies.TrustsPeer(c.Request()) {
		return nil
	}
	name := strings.TrimSpace(c.Request().Header.Get("X-Forwarded-User"))
	if name == "" {
		return nil
	}
	ctx := c.Request().Context()
	u, err := srv.store.EnsureUser(ctx, name)
	if err != nil {
		srv.log.Warn("proxy user refused", "err", err)
		return nil
	}
	p, err := srv.store.LoadPrincipal(ctx, u)
	if err != nil {
		return nil
	}
	for _, g := range strings.Split(c.Request().Header.Get("X-Forwarded-Groups"), ",") {
		g = strings.TrimSpace(g)
		if g == PlatformAdminGroup {
			p.PlatformAdmin = true
			continue
		}
		for suffix, role := range map[string]store.Role{"-viewers": store.RoleViewer, "-editors": store.RoleEditor, "-admins": store.RoleAdmin} {
			if ns, ok := strings.CutSuffix(g, suffix); ok && store.ValidateNamespace(ns) == nil && role > p.Roles[ns] {
				p.Roles[ns] = role
			}
		}
	}
	return p
}
