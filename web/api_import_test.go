package web

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"layerwise/handlers"
	"layerwise/store"
)

// importRegistry is an in-process registry; with user set it demands basic
// auth. push writes a random image and returns its digest.
type importRegistry struct {
	host       string
	user, pass string
	srv        *httptest.Server
}

func newImportRegistry(t *testing.T, user, pass string) *importRegistry {
	t.Helper()
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); user != "" && (!ok || u != user || p != pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &importRegistry{host: strings.TrimPrefix(srv.URL, "http://"), user: user, pass: pass, srv: srv}
}

func (r *importRegistry) push(t *testing.T, repoTag string) string {
	t.Helper()
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	var opts []remote.Option
	if r.user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass}))
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func importCall(token, tag, from string) apiCall {
	return apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreamimports", token: token,
		body: fmt.Sprintf(`{"tag": %q, "from": %q}`, tag, from)}
}

// TestAPIImport: an editor imports from a registry into payments; a viewer
// is refused and nothing changes; registry failures are told apart.
func TestAPIImport(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	editor := ts.apiUser(t, "eddie", false, "payments=editor")
	viewer := ts.apiUser(t, "viola", false, "payments=viewer")
	reg := newImportRegistry(t, "", "")
	d1 := reg.push(t, "payments/app:v1")
	from := reg.host + "/payments/app:v1"

	var res handlers.APIImportResult
	ts.apiMust(t, http.StatusOK, importCall(editor, "app:v1", from)).decode(t, &res)
	pull := reg.host + "/payments/app@" + d1
	if res.Tag != "payments/app:v1" || res.From != from || res.Image != d1 || res.DockerImageReference != pull || !res.Changed {
		t.Errorf("import: %+v", res)
	}
	cur, hist := ts.apiHistory(t, "payments", "app", "v1")
	if cur != d1 || len(hist) != 1 {
		t.Errorf("history %v", hist)
	}
	evs := ts.apiAudit(t)
	if ev := evs[0]; ev.Action != "tag.import" || ev.Actor != "eddie" || ev.Namespace != "payments" || ev.Target != "payments/app:v1" ||
		ev.Before != "none" || ev.After != d1+" from "+from {
		t.Errorf("audit %+v", ev)
	}
	// The tag reads back as GET shows it: image, size, spec.
	var tag handlers.APITag
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreamtags/app:v1", token: viewer}).decode(t, &tag)
	if !strings.Contains(string(tag.Tag), from) || !strings.Contains(string(tag.Image), d1) || tag.SizeBytes == nil || *tag.SizeBytes <= 3*2048 {
		t.Errorf("istag %s %s %v", tag.Tag, tag.Image, tag.SizeBytes)
	}

	// Again: nothing new in the history, and no audit event for it.
	ts.apiMust(t, http.StatusOK, importCall(editor, "app:v1", from)).decode(t, &res)
	if res.Changed {
		t.Errorf("re-import changed: %+v", res)
	}
	if n := len(ts.apiAudit(t)); n != len(evs) {
		t.Errorf("a re-import that changed nothing wrote %d audit events", n-len(evs))
	}
	if _, hist := ts.apiHistory(t, "payments", "app", "v1"); len(hist) != 1 {
		t.Errorf("history %v", hist)
	}

	// A viewer may not import; nothing changes.
	before := ts.apiDump(t)
	msg := ts.apiMust(t, http.StatusForbidden, importCall(viewer, "app:v1", from)).errorText(t)
	if !strings.Contains(msg, "viola needs the editor role in namespace payments") {
		t.Errorf("viewer: %q", msg)
	}
	// Nor can an editor of payments import into ml (which it cannot see).
	r := ts.apiMust(t, http.StatusNotFound, apiCall{method: "POST", path: "/api/v1/namespaces/ml/imagestreamimports", token: editor,
		body: fmt.Sprintf(`{"tag": "app:v1", "from": %q}`, from)})
	if msg := r.errorText(t); msg != "namespace ml not found" {
		t.Errorf("other namespace: %q", msg)
	}
	if after := ts.apiDump(t); after != before {
		t.Errorf("a refused import changed the database:\n%s", diffLines(before, after))
	}

	// Unknown image: 404, and the existing tag says why, keeping its image.
	msg = ts.apiMust(t, http.StatusNotFound, importCall(editor, "app:v1", reg.host+"/payments/app:nope")).errorText(t)
	if !strings.Contains(msg, "not found in "+reg.host) {
		t.Errorf("unknown image: %q", msg)
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreamtags/app:v1", token: viewer}).decode(t, &tag)
	if len(tag.Conditions) != 1 || !strings.Contains(string(tag.Conditions[0]), `"status":"False"`) ||
		!strings.Contains(string(tag.Conditions[0]), "NotFound") || !strings.Contains(string(tag.Image), d1) {
		t.Errorf("after a failed import: conditions %s, image %s", tag.Conditions, tag.Image)
	}

	// A registry that wants credentials: 502 saying so.
	locked := newImportRegistry(t, "robot", "s3cret")
	locked.push(t, "payments/private:1")
	msg = ts.apiMust(t, http.StatusBadGateway, importCall(editor, "private:1", locked.host+"/payments/private:1")).errorText(t)
	if !strings.Contains(msg, "unauthorized") || !strings.Contains(msg, "LAYERWISE_REGISTRY_AUTH_FILE") {
		t.Errorf("unauthorized: %q", msg)
	}
	if _, err := ts.store.GetStream(t.Context(), store.StreamRef{Namespace: "payments", Stream: "private"}); err == nil {
		t.Error("a failed import created the stream")
	}

	// A registry that is down: 502.
	msg = ts.apiMust(t, http.StatusBadGateway, importCall(editor, "down:1", "127.0.0.1:1/payments/down:1")).errorText(t)
	if !strings.Contains(msg, "cannot read from registry 127.0.0.1:1") {
		t.Errorf("down: %q", msg)
	}
}

// TestAPIImportAuthFile: serve's --registry-auth-file gives the importer
// its credentials.
func TestAPIImportAuthFile(t *testing.T) {
	t.Parallel()
	locked := newImportRegistry(t, "robot", "s3cret")
	d := locked.push(t, "payments/private:1")
	doc, _ := json.Marshal(map[string]any{"auths": map[string]any{locked.host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))}}})
	file := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := newTestServerWith(t, true, func(c *Config) { c.RegistryAuthFile = file })
	editor := ts.apiUser(t, "eddie", false, "payments=editor")
	var res handlers.APIImportResult
	ts.apiMust(t, http.StatusOK, importCall(editor, "private:1", locked.host+"/payments/private:1")).decode(t, &res)
	if res.Image != d {
		t.Errorf("import: %+v", res)
	}
}
