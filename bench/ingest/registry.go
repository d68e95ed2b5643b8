package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// Registry is the registry the pushes "happened" on: the webhook reads each
// pushed manifest (and its config blob) back from LAYERWISE_REGISTRY_URL,
// so the harness serves them itself with go-containerregistry's in-process
// registry on a loopback port. It stores manifests and configs only: the
// server never reads layers, so the layers a manifest names are digests and
// sizes, no bytes.
type Registry struct {
	handler http.Handler
	srv     *http.Server
	ln      net.Listener
	// Host is host:port, as LAYERWISE_REGISTRY_URL=http://HOST names it.
	Host string
}

// startRegistry listens on addr (a loopback host:port; port 0 picks one).
func startRegistry(ctx context.Context, addr string) (*Registry, error) {
	if err := loopbackAddr(ctx, addr, net.DefaultResolver.LookupIPAddr); err != nil {
		return nil, fmt.Errorf("-registry: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-registry: listen on %s: %w", addr, err)
	}
	r := &Registry{handler: ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))), ln: ln, Host: ln.Addr().String()}
	r.srv = &http.Server{Handler: r.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("registry on %s: %v", r.Host, err)
		}
	}()
	return r, nil
}

// Close stops serving.
func (r *Registry) Close() error { return r.srv.Close() }

// put stores a config blob and the manifest naming it under repo:tag, in
// process (no request over the network), as a client's push would.
func (r *Registry) put(repo, tag string, p *push) error {
	if err := r.call(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+p.configDigest, "application/octet-stream", p.config, http.StatusCreated); err != nil {
		return fmt.Errorf("config blob of %s:%s: %w", repo, tag, err)
	}
	if err := r.call(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, mtManifest, p.manifest, http.StatusCreated); err != nil {
		return fmt.Errorf("manifest of %s:%s: %w", repo, tag, err)
	}
	return nil
}

func (r *Registry) call(method, path, contentType string, body []byte, want int) error {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	if rec.Code != want {
		return fmt.Errorf("%s %s: %d %s", method, path, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return nil
}
