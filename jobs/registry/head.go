package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Checker asks a registry which digest a reference points at with one
// HEAD request on its manifest. It keeps one authenticated transport per
// registry host (and credentials) across calls: the handshake (the ping of
// /v2/ and, for token registries, the token) happens once per host, so an
// unchanged tag costs exactly one request from then on. It is safe for
// concurrent use.
type Checker struct {
	Client *Client // credentials, timeout and base transport

	mu    sync.Mutex
	hosts map[string]*handshake
}

// handshake is one host's transport, made once even when many workers
// ask for it at the same time.
type handshake struct {
	done chan struct{}
	tr   http.RoundTripper
	err  error
}

// NewChecker returns a Checker over c.
func NewChecker(c *Client) *Checker {
	return &Checker{Client: c, hosts: map[string]*handshake{}}
}

// Host is the registry host of a reference as the scheduled import groups
// tags by it ("docker.io" for Docker Hub); "" when ref does not parse.
func Host(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	h := r.Context().RegistryStr()
	if h == name.DefaultRegistry {
		return "docker.io"
	}
	return h
}

// Head returns the digest ref points at: for a manifest list the list's
// digest. Errors are *Error as Fetch returns them.
func (c *Checker) Head(ctx context.Context, ref string, insecure bool) (string, error) {
	var nameOpts []name.Option
	if insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return "", &Error{Reason: ReasonInvalidReference, kind: ErrInvalidReference, Msg: "invalid image reference " + ref + ": " + err.Error()}
	}
	f := &fetch{ref: ref, r: r, parent: ctx, timeout: c.Client.timeout(), authFile: c.Client.AuthFile, insecure: insecure}
	var cancel context.CancelFunc
	f.ctx, cancel = context.WithTimeout(ctx, f.timeout)
	defer cancel()
	kc, err := loadKeychain(c.Client.AuthFile)
	if err != nil {
		return "", &Error{Reason: ReasonUnauthorized, kind: ErrUnauthorized, Msg: err.Error()}
	}
	auth, _ := kc.Resolve(r.Context())
	f.hasCreds = auth != authn.Anonymous
	tr, err := c.transport(f.ctx, r, auth, insecure)
	if err != nil {
		return "", f.fail(err)
	}
	desc, err := remote.Head(r, remote.WithContext(f.ctx), remote.WithTransport(tr))
	if err != nil {
		err = f.fail(err)
		var e *Error
		if errors.As(err, &e) && e.kind == ErrNotFound {
			// A HEAD answer has no body to quote.
			e.Msg = fmt.Sprintf("%s not found in %s: the registry has no manifest under that name (404)", ref, f.host())
		}
		return "", err
	}
	return desc.Digest.String(), nil
}

// Forget drops the transports of a host (after it failed), so the next
// call starts with a fresh handshake.
func (c *Checker) Forget(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.hosts {
		if h, _, _ := strings.Cut(k, "|"); h == host {
			delete(c.hosts, k)
		}
	}
}

// transport is the host's authenticated transport, made on first use.
func (c *Checker) transport(ctx context.Context, r name.Reference, auth authn.Authenticator, insecure bool) (http.RoundTripper, error) {
	host := Host(r.String())
	if host == "" {
		host = r.Context().RegistryStr()
	}
	key := host + "|" + credKey(auth)
	if insecure {
		key += "|insecure"
	}
	c.mu.Lock()
	if c.hosts == nil {
		c.hosts = map[string]*handshake{}
	}
	hs, ok := c.hosts[key]
	if !ok {
		hs = &handshake{done: make(chan struct{})}
		c.hosts[key] = hs
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-hs.done:
			return hs.tr, hs.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	hs.tr, hs.err = transport.NewWithContext(ctx, r.Context().Registry, auth, c.Client.transport(insecure),
		[]string{r.Context().Scope(transport.PullScope)})
	if hs.err != nil {
		// The next call tries again.
		c.mu.Lock()
		if c.hosts[key] == hs {
			delete(c.hosts, key)
		}
		c.mu.Unlock()
	}
	close(hs.done)
	return hs.tr, hs.err
}

// credKey tells credentials apart without keeping them in a map key.
func credKey(auth authn.Authenticator) string {
	if auth == authn.Anonymous {
		return "anonymous"
	}
	cfg, err := auth.Authorization()
	if err != nil || cfg == nil {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte(cfg.Username + "\x00" + cfg.Password + "\x00" + cfg.Auth + "\x00" + cfg.IdentityToken + "\x00" + cfg.RegistryToken))
	return hex.EncodeToString(sum[:8])
}
