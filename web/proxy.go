package web

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/store"
)

// ParseCIDRs reads LAYERWISE_TRUSTED_PROXIES: comma-separated CIDRs or
// single addresses.
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

// trusted says whether the direct peer (not any forwarded address) is a
// trusted proxy.
func (srv *Server) trusted(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range srv.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PlatformAdminGroup in X-Forwarded-Groups makes a platform admin.
const PlatformAdminGroup = "layerwise-platform-admins"

// principalFromProxy believes X-Forwarded-User/-Groups only in proxy mode and
// only from a trusted proxy (as behind OpenShift's oauth-proxy). Groups
// named "<ns>-viewers", "<ns>-editors" or "<ns>-admins" give that role in
// that namespace, on top of the user's role bindings.
func (srv *Server) principalFromProxy(c echo.Context) *store.Principal {
	if srv.cfg.Auth != "proxy" || !srv.trusted(c) {
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
