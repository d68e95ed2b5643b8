package web

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/jobs/registry/regtest"
)

// pushTo writes a random image as host/repoTag and returns its digest.
func pushTo(t *testing.T, host, repoTag string) string {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push %s/%s: %v", host, repoTag, err)
	}
	d, _ := img.Digest()
	return d.String()
}

// pulled is what `docker pull host/repoTag` gets: the manifest's digest,
// after reading the config and every layer blob ("" when there is no such
// tag).
func pulled(t *testing.T, host, repoTag string) string {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		if strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return ""
		}
		t.Fatalf("pull %s/%s: %v", host, repoTag, err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatalf("pull %s/%s: config: %v", host, repoTag, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("pull %s/%s: layer: %v", host, repoTag, err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("pull %s/%s: layer: %v", host, repoTag, err)
		}
		rc.Close()
	}
	d, _ := img.Digest()
	return d.String()
}

// TestWriteThrough: with the real CNCF registry as the managed registry,
// tag, promote and rollback put the manifest under the destination tag
// there (aliases that follow too, and across repositories with the blobs),
// so that a pull gets what the dashboard shows. Deleting a tag leaves the
// registry alone.
func TestWriteThrough(t *testing.T) {
	t.Parallel()
	r := regtest.Start(t, regtest.Options{})
	ts := newTestServerWith(t, true, func(c *Config) { c.RegistryURL = r.URL })
	editor := ts.apiUser(t, "eddie", false, "payments=editor")
	d1 := pushTo(t, r.Host, "payments/shop:v1")
	d2 := pushTo(t, r.Host, "payments/shop:v2")
	// The stream's history holds images of the managed registry.
	ts.apiMust(t, http.StatusOK, importCall(editor, "shop:latest", r.Host+"/payments/shop:v1"))
	ts.apiMust(t, http.StatusOK, importCall(editor, "shop:latest", r.Host+"/payments/shop:v2"))
	if cur, hist := ts.apiHistory(t, "payments", "shop", "latest"); cur != d2 || len(hist) != 2 {
		t.Fatalf("setup: latest %s %v", cur, hist)
	}
	api := func(method, path, body string) {
		t.Helper()
		ts.apiMust(t, http.StatusOK, apiCall{method: method, path: "/api/v1/namespaces/payments/" + path, token: editor, body: body})
	}
	shows := func(stream, tag string) string {
		t.Helper()
		cur, _ := ts.apiHistory(t, "payments", stream, tag)
		return cur
	}
	steps := []struct {
		what   string
		method string
		path   string
		body   string
		want   map[string]string // repository:tag in the registry → digest ("" none)
	}{
		{"roll latest back", "POST", "imagestreams/shop/rollback", fmt.Sprintf(`{"tag": "latest", "image": %q}`, d1),
			map[string]string{"shop:latest": d1}},
		{"promote latest → test", "POST", "imagestreams/shop/promote", `{"from": "latest", "to": "test"}`,
			map[string]string{"shop:test": d1}},
		{"an alias of test", "PUT", "imagestreamtags/shop:stable", `{"from": {"kind": "ImageStreamTag", "name": "shop:test"}, "alias": true}`,
			map[string]string{"shop:stable": d1}},
		{"make d2 current in latest again", "POST", "imagestreams/shop/rollback", fmt.Sprintf(`{"tag": "latest", "image": %q}`, d2),
			map[string]string{"shop:latest": d2}},
		{"promote again: the alias follows", "POST", "imagestreams/shop/promote", `{"from": "latest", "to": "test"}`,
			map[string]string{"shop:test": d2, "shop:stable": d2}},
		{"roll test back: the alias follows", "POST", "imagestreams/shop/rollback", fmt.Sprintf(`{"tag": "test", "image": %q}`, d1),
			map[string]string{"shop:test": d1, "shop:stable": d1}},
		{"tag a stream image", "PUT", "imagestreamtags/shop:pinned", fmt.Sprintf(`{"from": {"kind": "ImageStreamImage", "name": "shop@%s"}}`, d2),
			map[string]string{"shop:pinned": d2}},
		{"copy into another stream (another repository: blobs mounted)", "PUT", "imagestreamtags/web:copy", `{"from": {"kind": "ImageStreamTag", "name": "shop:pinned"}}`,
			map[string]string{"web:copy": d2}},
	}
	for _, st := range steps {
		api(st.method, st.path, st.body)
		for repoTag, want := range st.want {
			stream, tag, _ := strings.Cut(repoTag, ":")
			if got := shows(stream, tag); got != want {
				t.Errorf("%s: the dashboard shows %s at %s, want %s", st.what, got, repoTag, want)
			}
			if got := pulled(t, r.Host, "payments/"+repoTag); got != want {
				t.Errorf("%s: pulling payments/%s gets %q, the dashboard shows %s", st.what, repoTag, got, want)
			}
		}
	}
	if links := r.LayerLinks("payments/web"); len(links) < 3 {
		t.Errorf("the copy into payments/web links %d blobs, want its config and layers", len(links))
	}

	// Deleting a tag is not written through (see change.Service.DeleteTag).
	ts.apiMust(t, http.StatusOK, apiCall{method: "DELETE", path: "/api/v1/namespaces/payments/imagestreamtags/shop:pinned", token: editor})
	if got := pulled(t, r.Host, "payments/shop:pinned"); got != d2 {
		t.Errorf("after deleting the tag the registry's tag is %q, want it left at %s", got, d2)
	}
}

// TestWriteThroughRefused: when the managed registry refuses the write,
// the change is refused (502 with the registry's reason) and neither the
// database nor the registry changes.
func TestWriteThroughRefused(t *testing.T) {
	t.Parallel()
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	readOnly := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if readOnly && req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"the registry is read-only for maintenance"}]}`)
			return
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ts := newTestServerWith(t, true, func(c *Config) { c.RegistryURL = srv.URL })
	editor := ts.apiUser(t, "eddie", false, "payments=editor")
	d1 := pushTo(t, host, "payments/shop:v1")
	ts.apiMust(t, http.StatusOK, importCall(editor, "shop:latest", host+"/payments/shop:v1"))

	readOnly = true
	before := ts.apiDump(t)
	for _, c := range []apiCall{
		{method: "POST", path: "/api/v1/namespaces/payments/imagestreams/shop/promote", body: `{"from": "latest", "to": "test"}`},
		{method: "PUT", path: "/api/v1/namespaces/payments/imagestreamtags/shop:prod", body: `{"from": {"kind": "ImageStreamTag", "name": "shop:latest"}}`},
	} {
		c.token = editor
		msg := ts.apiMust(t, http.StatusBadGateway, c).errorText(t)
		if !strings.Contains(msg, "the managed registry refused the change") || !strings.Contains(msg, "nothing was changed") ||
			!strings.Contains(msg, "read-only for maintenance") {
			t.Errorf("%s %s: %q", c.method, c.path, msg)
		}
	}
	if after := ts.apiDump(t); after != before {
		t.Errorf("a refused write-through changed the database:\n%s", diffLines(before, after))
	}
	readOnly = false
	for _, tag := range []string{"test", "prod"} {
		if got := pulled(t, host, "payments/shop:"+tag); got != "" {
			t.Errorf("the registry has payments/shop:%s = %s after a refused change", tag, got)
		}
	}
	// Once it accepts writes again, the same promote goes through.
	ts.apiMust(t, http.StatusOK, apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreams/shop/promote", token: editor,
		body: `{"from": "latest", "to": "test"}`})
	if got := pulled(t, host, "payments/shop:test"); got != d1 {
		t.Errorf("after the registry recovered: test = %q, want %s", got, d1)
	}
}
