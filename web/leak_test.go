package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"layerwise/format"
	"layerwise/store"
	"layerwise/views"
)

// No cross-namespace leak: a user learns no name, digest or image metadata
// of a namespace they hold no role in — not by naming a digest as a tag
// source, not through search, not from the overview, the image, blob and
// jobs pages, or GET /api/v1/usage.

// leakFixture is the demo registry with an image only ml holds (it has
// environment, labels and a command that payments must never see) and
// one payments holds.
type leakFixture struct {
	mlOnly   string // an image of ml/pytorch-base, held by no payments tag
	mlLayer  string // a layer of mlOnly that no payments image lists
	payments string // the current image of payments/api:latest
}

// mlSecrets are strings of mlOnly's metadata (environment, label).
var mlSecrets = []string{"TORCH_VERSION", "git.acme.example/ml/pytorch-base"}

func newLeakFixture(t *testing.T, ts *testServer) leakFixture {
	t.Helper()
	ctx := context.Background()
	held := map[string]bool{} // images and blobs payments holds
	pay, err := ts.store.ListStreams(ctx, "payments")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range pay {
		for _, tg := range st.Tags {
			for _, it := range tg.Items {
				if it.Image == "" || held[it.Image] {
					continue
				}
				held[it.Image] = true
				img, err := ts.store.GetImage(ctx, it.Image)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range img.Layers {
					held[l.Digest] = true
				}
			}
		}
	}
	var f leakFixture
	ml, err := ts.store.GetStream(ctx, store.StreamRef{Namespace: "ml", Stream: "pytorch-base"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range ml.Tags {
		for _, it := range tg.Items {
			if f.mlOnly != "" || held[it.Image] {
				continue
			}
			img, err := ts.store.GetImage(ctx, it.Image)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(img.Meta.Env, " "), "TORCH_VERSION") {
				continue
			}
			for _, l := range img.Layers {
				if !held[l.Digest] {
					f.mlOnly, f.mlLayer = it.Image, l.Digest
					break
				}
			}
		}
	}
	api, err := ts.store.GetStream(ctx, store.StreamRef{Namespace: "payments", Stream: "api"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range api.Tags {
		if tg.Name == "latest" && len(tg.Items) > 0 {
			f.payments = tg.Items[0].Image
		}
	}
	if f.mlOnly == "" || f.payments == "" {
		t.Fatalf("fixture: no ml-only image with TORCH_VERSION (%q) or no payments/api:latest (%q)", f.mlOnly, f.payments)
	}
	return f
}

func noSecrets(t *testing.T, what, body string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("%s shows %q", what, s)
		}
	}
}

// TestDockerSourceBorrowsNoImage: an editor of payments names, as an
// external image, a digest only ml holds — through the API, the "Add tag"
// form and the store call `layerwise tag` makes. The tag records the pull
// spec unverified: no Env, labels or layers of ml's image show on the tag
// (API and page), its image page stays "not found", pinning it is refused
// and payments' usage does not grow. A digest payments holds already is
// linked as before.
func TestDockerSourceBorrowsNoImage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	f := newLeakFixture(t, ts)
	ctx := context.Background()
	token := ts.apiUser(t, "eddie", false, "payments=editor")
	web := actAs(t, ts, "edna", "payments=editor")
	before, _ := ts.usage.Namespace("payments")
	evil := "evil.example.com/x@" + f.mlOnly

	// The API.
	r := ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: "/api/v1/namespaces/payments/imagestreamtags/api:borrowed", token: token,
		body: fmt.Sprintf(`{"from": {"kind": "DockerImage", "name": %q}}`, evil)})
	noSecrets(t, "the API's answer to the PUT", string(r.body), mlSecrets...)
	var got struct {
		Image struct {
			Metadata struct{ Name string } `json:"metadata"`
			Layers   []any                 `json:"dockerImageLayers"`
			Ref      string                `json:"dockerImageReference"`
		} `json:"image"`
		SizeBytes *int64 `json:"sizeBytes"`
	}
	r = ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/namespaces/payments/imagestreamtags/api:borrowed", token: token})
	r.decode(t, &got)
	noSecrets(t, "GET imagestreamtags/api:borrowed", string(r.body), mlSecrets...)
	if got.Image.Metadata.Name != "" || len(got.Image.Layers) != 0 || got.SizeBytes != nil || got.Image.Ref != evil {
		t.Errorf("the tag links ml's image: %s", r)
	}

	// The "Add tag" form.
	page := ts.get(t, web, "/ns/payments/is/api", http.StatusOK)
	form := actForm(t, doc(t, page), "/ns/payments/is/api/tags")
	form.Set("source", evil)
	form.Set("tag", "borrowed-too")
	actExpect(t, actPost(t, ts, web, "/ns/payments/is/api/tags", form, false), http.StatusSeeOther, "add tag from a registry digest")

	// The CLI's `tag` calls the store directly.
	if _, err := ts.store.SetTag(ctx, store.Source{Kind: store.KindDockerImage, Ref: evil},
		store.TagRef{Namespace: "payments", Stream: "api", Tag: "borrowed-cli"}, store.TagOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tag := range []string{"borrowed", "borrowed-too", "borrowed-cli"} {
		tg := actTag(t, ts, "payments", "api", tag)
		if tg == nil || len(tg.Items) != 1 || tg.Items[0].Image != "" || tg.Items[0].DockerImageReference != evil {
			t.Errorf("%s: history %+v, want one unverified entry %s with no image", tag, tg, evil)
		}
		body := ts.get(t, web, "/ns/payments/istag/api:"+tag, http.StatusOK)
		noSecrets(t, "the tag page of api:"+tag, body, mlSecrets...)
		if !strings.Contains(squash(doc(t, body).Find("main").Text()), "has not been read from its registry") {
			t.Errorf("the tag page of api:%s does not say its image is unverified", tag)
		}
	}
	ts.get(t, web, views.ImageHref(f.mlOnly), http.StatusNotFound)
	msg := ts.apiMust(t, http.StatusNotFound, apiCall{method: "PUT", path: "/api/v1/namespaces/payments/pins/" + f.mlOnly, token: token,
		body: `{"note": "mine now"}`}).errorText(t)
	if !strings.Contains(msg, "not in namespace payments") {
		t.Errorf("pinning ml's image from payments: %q", msg)
	}
	after, err := ts.store.ReadNamespaceUsage(ctx, "payments")
	if err != nil {
		t.Fatal(err)
	}
	if after.Bytes != before.Bytes {
		t.Errorf("payments grew from %d to %d bytes by naming ml's digest", before.Bytes, after.Bytes)
	}

	// A digest payments holds already: linked, with its metadata.
	r = ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: "/api/v1/namespaces/payments/imagestreamtags/api:mirror", token: token,
		body: fmt.Sprintf(`{"from": {"kind": "DockerImage", "name": "quay.io/acme/api@%s"}}`, f.payments)})
	r.decode(t, &got)
	if got.Image.Metadata.Name != f.payments || len(got.Image.Layers) == 0 || got.SizeBytes == nil {
		t.Errorf("a digest payments holds is not linked: %s", r)
	}
}

// TestManagedRegistrySources: with a managed registry, a source by digest
// there is read from it — the registry is the source of truth — when it
// names a repository of the destination namespace; one naming another
// namespace's repository needs the editor role there (it would read, and
// write through, that namespace's image with Layerwise's credentials), for
// a tag and for an import alike.
func TestManagedRegistrySources(t *testing.T) {
	t.Parallel()
	reg := newImportRegistry(t, "", "")
	ts := newTestServerWith(t, true, func(c *Config) { c.RegistryURL = "http://" + reg.host })
	editor := ts.apiUser(t, "eddie", false, "payments=editor")
	secret := reg.push(t, "ml/secret:v1")
	own := reg.push(t, "payments/shop:v1") // in the registry, not yet in Layerwise

	before := ts.apiDump(t)
	put := func(tag, from string) apiCall {
		return apiCall{method: "PUT", path: "/api/v1/namespaces/payments/imagestreamtags/shop:" + tag, token: editor,
			body: fmt.Sprintf(`{"from": {"kind": "DockerImage", "name": %q}}`, from)}
	}
	msg := ts.apiMust(t, http.StatusForbidden, put("copy", reg.host+"/ml/secret@"+secret)).errorText(t)
	if !strings.Contains(msg, "editor role in namespace ml") {
		t.Errorf("tagging ml's repository into payments: %q", msg)
	}
	msg = ts.apiMust(t, http.StatusForbidden, importCall(editor, "shop:imported", reg.host+"/ml/secret:v1")).errorText(t)
	if !strings.Contains(msg, "editor role in namespace ml") {
		t.Errorf("importing ml's repository into payments: %q", msg)
	}
	if after := ts.apiDump(t); after != before {
		t.Errorf("a refused source changed the database:\n%s", diffLines(before, after))
	}
	if got := pulled(t, reg.host, "payments/shop:copy"); got != "" {
		t.Errorf("ml's image was written through to payments/shop:copy (%s)", got)
	}

	// payments' own repository: read from the registry and linked.
	var got struct {
		Image struct {
			Metadata struct{ Name string } `json:"metadata"`
			Layers   []any                 `json:"dockerImageLayers"`
		} `json:"image"`
		SizeBytes *int64 `json:"sizeBytes"`
	}
	ts.apiMust(t, http.StatusOK, put("verified", reg.host+"/payments/shop@"+own)).decode(t, &got)
	if got.Image.Metadata.Name != own || len(got.Image.Layers) != 3 || got.SizeBytes == nil {
		t.Errorf("a digest of payments' repository is not read from the registry: %+v", got)
	}
	if p := pulled(t, reg.host, "payments/shop:verified"); p != own {
		t.Errorf("payments/shop:verified in the registry = %q, want %s", p, own)
	}
	// A digest the registry does not hold there: refused, nothing written.
	before = ts.apiDump(t)
	missing := "sha256:" + strings.Repeat("e", 64)
	msg = ts.apiMust(t, http.StatusBadRequest, put("ghost", reg.host+"/payments/shop@"+missing)).errorText(t)
	if !strings.Contains(msg, "not in the managed registry") {
		t.Errorf("a digest the managed registry lacks: %q", msg)
	}
	if after := ts.apiDump(t); after != before {
		t.Errorf("a refused source changed the database:\n%s", diffLines(before, after))
	}
}

// searchMain is the <main> of a search answer with the query replaced, to
// compare the shape of two answers.
func searchMain(t *testing.T, body, q string) string {
	t.Helper()
	h, err := doc(t, body).Find("main").Html()
	if err != nil {
		t.Fatal(err)
	}
	h = strings.ReplaceAll(h, url.QueryEscape(q), "QUERY")
	return strings.ReplaceAll(h, q, "QUERY")
}

// TestSearchSeesOnlyOwnNamespaces: a user with a role in payments only
// gets one answer for a name or digest of ml and for one that does not
// exist (same status, same page); a digest prefix lists nothing of ml,
// and neither do the suggestions of a "not found" page.
func TestSearchSeesOnlyOwnNamespaces(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	f := newLeakFixture(t, ts)
	c := actAs(t, ts, "ann", "payments=viewer")
	get := func(q string) (int, string) {
		resp, err := c.Get(ts.URL + "/search?q=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	missingDigest := f.mlOnly[:len(f.mlOnly)-8] + strings.Repeat("0", 8)
	if missingDigest == f.mlOnly {
		missingDigest = f.mlOnly[:len(f.mlOnly)-8] + strings.Repeat("1", 8)
	}
	for _, pair := range [][2]string{
		{f.mlOnly, missingDigest},
		{f.mlLayer, "sha256:" + strings.Repeat("0", 64)},
		{"ml/pytorch-base", "ml/no-such-stream"},
	} {
		invisible, missing := pair[0], pair[1]
		s1, b1 := get(invisible)
		s2, b2 := get(missing)
		if s1 != s2 {
			t.Errorf("search %s answers %d, search %s (missing) %d", invisible, s1, missing, s2)
			continue
		}
		if m1, m2 := searchMain(t, b1, invisible), searchMain(t, b2, missing); m1 != m2 {
			t.Errorf("search %s and %s (missing) answer different pages:\n%s\n---\n%s", invisible, missing, firstLines(m1, 20), firstLines(m2, 20))
		}
	}
	// A prefix of ml's digest lists nothing of ml.
	prefix := f.mlOnly[:len("sha256:")+10]
	if s, body := get(prefix); s != http.StatusOK || strings.Contains(body, f.mlOnly) {
		t.Errorf("search %s: %d, lists ml's image: %v", prefix, s, strings.Contains(body, f.mlOnly))
	}
	if s, body := get("sha256:"); s != http.StatusOK || strings.Contains(body, f.mlOnly) || strings.Contains(body, f.mlLayer) {
		t.Errorf("search sha256: lists ml's digests (%d)", s)
	}
	// The suggestions of a "not found" page are searched the same way.
	body := ts.get(t, c, "/images/"+prefix, http.StatusNotFound)
	noSecrets(t, "the suggestions for "+prefix, body, f.mlOnly)
	// An image and a blob of ml are "not found" exactly as missing ones.
	for _, pair := range [][2]string{{f.mlOnly, missingDigest}, {f.mlLayer, f.mlLayer[:len(f.mlLayer)-8] + "00000000"}} {
		for _, page := range []func(string) string{views.ImageHref, views.BlobHref} {
			b1 := ts.get(t, c, page(pair[0]), http.StatusNotFound)
			b2 := ts.get(t, c, page(pair[1]), http.StatusNotFound)
			if m1, m2 := searchMain(t, b1, pair[0]), searchMain(t, b2, pair[1]); m1 != m2 {
				t.Errorf("%s and %s (missing) answer different pages:\n%s\n---\n%s", page(pair[0]), page(pair[1]), firstLines(m1, 20), firstLines(m2, 20))
			}
		}
	}
}

// TestOverviewShowsOwnNamespaces: a user who is no platform admin sees
// their namespaces' figures summed, labelled as theirs — on the overview
// and in GET /api/v1/usage — never the registry's totals.
func TestOverviewShowsOwnNamespaces(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	c := actAs(t, ts, "olga", "payments=viewer", "ml=viewer")
	token := ts.apiUser(t, "otto", false, "payments=viewer", "ml=viewer")
	var bytes, reclaimable int64
	for _, ns := range []string{"payments", "ml"} {
		n, _ := ts.usage.Namespace(ns)
		bytes, reclaimable = bytes+n.Bytes, reclaimable+n.ReclaimableBytes
	}
	if bytes == ts.usage.Registry.Bytes || reclaimable == ts.usage.Registry.ReclaimableBytes {
		t.Fatal("fixture: payments and ml are the whole registry")
	}
	d := doc(t, ts.get(t, c, "/", http.StatusOK))
	figures := d.Find("section.figures .figure")
	big := squash(figures.Eq(0).Text())
	if !strings.Contains(big, "Your 2 namespaces") || !strings.Contains(big, format.Size(bytes)) {
		t.Errorf("olga's total: %q, want her 2 namespaces' %s", big, format.Size(bytes))
	}
	if rec := squash(figures.Eq(1).Text()); !strings.Contains(rec, format.Size(reclaimable)) || !strings.Contains(rec, "your 2 namespaces") {
		t.Errorf("olga's reclaimable: %q, want %s", rec, format.Size(reclaimable))
	}
	text := squash(d.Find("section.figures").Text())
	for _, reg := range []string{format.Size(ts.usage.Registry.Bytes), format.Size(ts.usage.Registry.ReclaimableBytes), "Registry total"} {
		if strings.Contains(text, reg) {
			t.Errorf("olga's overview shows the registry's %q: %s", reg, text)
		}
	}

	var u struct {
		Registry struct {
			Bytes            int64 `json:"bytes"`
			ReclaimableBytes int64 `json:"reclaimableBytes"`
		} `json:"registry"`
		Namespaces []struct{ Name string } `json:"namespaces"`
		Scope      string                  `json:"scope"`
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/usage", token: token}).decode(t, &u)
	if u.Registry.Bytes != bytes || u.Registry.ReclaimableBytes != reclaimable || u.Scope != "namespaces" || len(u.Namespaces) != 2 {
		t.Errorf("GET /api/v1/usage for otto: %+v, want bytes %d, reclaimable %d of payments and ml", u, bytes, reclaimable)
	}
	// A platform admin still gets the registry's.
	admin := ts.apiUser(t, "root", true)
	u.Scope = ""
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/usage", token: admin}).decode(t, &u)
	if u.Registry.Bytes != ts.usage.Registry.Bytes || u.Scope != "" {
		t.Errorf("GET /api/v1/usage for a platform admin: %+v", u.Registry)
	}
}

// TestImageAndJobPagesNameNoOtherNamespace: an image payments holds, also
// held by ml and in a manifest list only ml holds, shows neither ml's
// list nor the pull spec ml recorded for it; a child of a list payments
// holds is visible through the list; job messages (a sync's first
// failure names a repository) are for platform admins.
func TestImageAndJobPagesNameNoOtherNamespace(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ctx := context.Background()
	dg := func(s string) string {
		return "sha256:" + fmt.Sprintf("%064x", []byte(s))[:64]
	}
	layer := store.BlobRef{Digest: dg("shared-layer"), Size: 1000, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}
	cfg := store.BlobRef{Digest: dg("shared-config"), Size: 100, MediaType: "application/vnd.oci.image.config.v1+json"}
	child := store.ImageSnapshot{Digest: dg("child"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config: &cfg, Layers: []store.BlobRef{layer}}
	list := store.ImageSnapshot{Digest: dg("ml-list"), MediaType: "application/vnd.oci.image.index.v1+json",
		Manifests: []store.ManifestRef{{Digest: child.Digest, OS: "linux", Architecture: "amd64"}}}
	cfg2 := store.BlobRef{Digest: dg("config-2"), Size: 100}
	child2 := store.ImageSnapshot{Digest: dg("child-2"), Config: &cfg2, Layers: []store.BlobRef{layer}}
	list2 := store.ImageSnapshot{Digest: dg("payments-list"), MediaType: "application/vnd.oci.image.index.v1+json",
		Manifests: []store.ManifestRef{{Digest: child2.Digest, OS: "linux", Architecture: "arm64"}}}
	at := time.Now().Add(-time.Hour)
	for _, m := range []struct {
		ns, stream, tag string
		img             store.ImageSnapshot
		ref             string
	}{
		{"payments", "api", "shared", child, "quay.io/acme/api@" + child.Digest},
		{"ml", "secret-project", "list", list, "registry.internal/ml/secret-project@" + list.Digest},
		{"ml", "secret-project", "child", child, "registry.internal/ml/secret-project@" + child.Digest},
		{"payments", "api", "multi", list2, "quay.io/acme/api@" + list2.Digest},
	} {
		img := m.img
		img.DockerImageReference = m.ref
		if m.img.Digest == list2.Digest {
			if _, err := ts.store.PutImage(ctx, child2); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ts.store.MapImage(ctx, m.ns, m.stream, m.tag, img, at); err != nil {
			t.Fatal(err)
		}
	}
	ts.srv.Versions().Poll(ctx) // written around the server: drop its cached pages

	ann := actAs(t, ts, "ann", "payments=viewer")
	body := ts.get(t, ann, views.ImageHref(child.Digest), http.StatusOK)
	noSecrets(t, "payments' view of the shared image", body, list.Digest, "secret-project", "/ml/")
	if !strings.Contains(body, "/ns/payments/istag/api:shared") {
		t.Error("the image page does not list payments/api:shared")
	}
	body = ts.get(t, ann, views.BlobHref(layer.Digest), http.StatusOK)
	noSecrets(t, "payments' view of the shared layer", body, "secret-project", "/ns/ml")
	ts.get(t, ann, views.ImageHref(list.Digest), http.StatusNotFound)
	// A platform of a list payments holds is payments' too.
	if body := ts.get(t, ann, views.ImageHref(child2.Digest), http.StatusOK); !strings.Contains(body, list2.Digest) {
		t.Error("the child's page does not name the list payments holds")
	}
	admin := ts.client(t)
	ts.login(t, admin, "demo", "demo")
	if body := ts.get(t, admin, views.ImageHref(child.Digest), http.StatusOK); !strings.Contains(body, list.Digest) {
		t.Error("a platform admin does not see every list of the image")
	}
}

// TestJobMessagesAreForPlatformAdmins: a run's message is about the whole
// registry (a sync's first failure names a repository): a user who is no
// platform admin sees the runs' status on /jobs, / and /prune, not it.
func TestJobMessagesAreForPlatformAdmins(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ctx := context.Background()
	for _, job := range []string{"sync", "prune"} {
		run, err := ts.store.StartJobRun(ctx, job, "test")
		if err != nil {
			t.Fatal(err)
		}
		run.Status, run.Message = "failed", job+" failed; first failure: ml/secret-project:v9: unauthorized"
		if err := ts.store.FinishJobRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	ann := actAs(t, ts, "ann", "payments=viewer")
	for _, path := range []string{"/jobs", "/", "/prune"} {
		body := ts.get(t, ann, path, http.StatusOK)
		noSecrets(t, "ann's "+path, body, "secret-project")
		if !strings.Contains(body, "failed") {
			t.Errorf("ann's %s does not say the run failed", path)
		}
	}
	admin := ts.client(t)
	ts.login(t, admin, "demo", "demo")
	if body := ts.get(t, admin, "/jobs", http.StatusOK); !strings.Contains(body, "first failure: ml/secret-project:v9") {
		t.Error("a platform admin does not see the job's message")
	}
}
