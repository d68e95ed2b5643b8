package registry

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestFetchInsecure: a registry with a certificate that does not verify is
// refused with a hint (and the reason in the log), and read with Insecure.
func TestFetchInsecure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	img := testImage(t, "linux/amd64", testLayer(t, 100))
	ref, err := name.ParseReference(host + "/secure/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}

	// On a loopback address go-containerregistry falls back to plain HTTP.
	_, err = NewFetcher("").Fetch(ctx, host+"/secure/app:1", FetchOptions{})
	wantErr(t, err, ErrUnreachable, "cannot read from registry "+host, "import as insecure")
	res, err := NewFetcher("").Fetch(ctx, host+"/secure/app:1", FetchOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, res.Image, img, host+"/secure/app")

	// A registry by name is HTTPS only.
	dial := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	c := &Client{Transport: dial}
	_, err = c.Fetch(ctx, "registry.test/secure/app:1", FetchOptions{})
	wantErr(t, err, ErrUnreachable, "cannot read from registry registry.test", "import as insecure")
	if d := err.(*Error).Detail(); !strings.Contains(d, "certificate") {
		t.Errorf("detail %q", d)
	}
	res, err = c.Fetch(ctx, "registry.test/secure/app:1", FetchOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, res.Image, img, "registry.test/secure/app")
}
