package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// The harness floods a server with writes: it must only ever reach one on
// this machine. Every address is checked twice — the URL's host (resolved)
// before anything is sent, and the address each connection actually dials.

// lookupFunc resolves a host name (net.DefaultResolver.LookupIPAddr); tests
// pass their own so that they resolve nothing.
type lookupFunc func(ctx context.Context, host string) ([]net.IPAddr, error)

// loopbackURL parses rawURL and refuses it unless its host is a loopback
// address (127.0.0.0/8, ::1) or a name that resolves to loopback addresses
// only. It returns the URL without a trailing slash.
func loopbackURL(ctx context.Context, rawURL string, lookup lookupFunc) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("-url %q must be http(s)://HOST:PORT, e.g. http://127.0.0.1:8080", rawURL)
	}
	if err := loopbackHost(ctx, u.Hostname(), lookup); err != nil {
		return nil, fmt.Errorf("-url %q: %w", rawURL, err)
	}
	u.Path = trimSlash(u.Path)
	return u, nil
}

// loopbackAddr checks a listen address host:port the same way.
func loopbackAddr(ctx context.Context, addr string, lookup lookupFunc) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	return loopbackHost(ctx, host, lookup)
}

func loopbackHost(ctx context.Context, host string, lookup lookupFunc) error {
	if host == "" {
		return fmt.Errorf("no host: name a loopback address (127.0.0.1 or ::1)")
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address: the harness only talks to 127.0.0.0/8 or ::1", host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s resolves to no address", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, which is not a loopback address: the harness only talks to 127.0.0.0/8 or ::1", host, a.IP)
		}
	}
	return nil
}

// dialLoopbackOnly is a net.Dialer Control: it refuses to connect to any
// address that is not loopback, whatever a resolver answered in between.
func dialLoopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to connect to %s (%s): not a loopback address", address, network)
	}
	return nil
}

// loopbackClient is an HTTP client that can only connect to loopback
// addresses, with enough idle connections for an open-loop sender.
func loopbackClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: dialLoopbackOnly}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil, // never through a proxy: it would be the proxy's address we dial
			DialContext:         d.DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}
