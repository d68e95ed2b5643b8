package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"layerwise/format"
	"layerwise/store"
	"layerwise/views"
)

// bChromePath finds the browser: $CHROME when set, else Debian's chromium
// (/usr/bin/chromium, or chromium on $PATH). Without one the browser test is
// skipped, unless LAYERWISE_REQUIRE_BROWSER=1 (set by .ci/run), in which case
// it fails.
func bChromePath(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium", "chromium", "chromium-browser"}
	if c := os.Getenv("CHROME"); c != "" {
		candidates = []string{c}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no chromium binary found (looked for %s; set $CHROME or run apt-get install -y chromium)", strings.Join(candidates, ", "))
	if os.Getenv("LAYERWISE_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + "; LAYERWISE_REQUIRE_BROWSER=1 makes this a failure")
	}
	t.Skip(msg)
	return ""
}

// cdpTab drives one headless chromium tab against a test server.
type cdpTab struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots
	shot int
	// viewportWidth is the width viewport set; 0: none was.
	viewportWidth int64
}

func newCDPTab(t *testing.T, exe, base string) *cdpTab {
	t.Helper()
	// One deadline for the whole browser session: a hang fails the test
	// instead of blocking CI. Generous: it bounds a hang, not speed, and
	// CI runs both suites side by side under -race on two cores (a
	// session of eight pages with screenshots once needed over 60 s).
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(bcancel)
	// Start the browser now so that a missing or broken binary fails here.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return &cdpTab{t: t, ctx: bctx, base: base, dir: t.TempDir()}
}

func (b *cdpTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval runs a JavaScript expression in the page and decodes its value.
func bEval[T any](b *cdpTab, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the visible text of the first element matching a CSS selector,
// with runs of white space folded; "" when there is none.
func (b *cdpTab) text(sel string) string {
	b.t.Helper()
	return bEval[string](b, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? e.innerText.replace(/\s+/g, " ").trim() : "" })()`, strconv.Quote(sel)))
}

// content is the text content (not CSS-transformed) of the first element
// matching a CSS selector, white space folded; "" when there is none.
func (b *cdpTab) content(sel string) string {
	b.t.Helper()
	return bEval[string](b, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? e.textContent.replace(/\s+/g, " ").trim() : "" })()`, strconv.Quote(sel)))
}

// texts is the visible text of every element matching a CSS selector.
func (b *cdpTab) texts(sel string) []string {
	b.t.Helper()
	return bEval[[]string](b, fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.innerText.replace(/\s+/g, " ").trim())`, strconv.Quote(sel)))
}

// path is the page's path and query.
func (b *cdpTab) path() string {
	b.t.Helper()
	return bEval[string](b, `location.pathname + location.search`)
}

// open navigates to a path and waits for the load event.
func (b *cdpTab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// follow clicks what sel selects and waits for the page it leads to.
func (b *cdpTab) follow(sel string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel))))
	if err != nil {
		b.t.Fatalf("click %s on %s: %v", sel, b.path(), err)
	}
}

// expectPath checks where the browser is.
func (b *cdpTab) expectPath(want string) {
	b.t.Helper()
	if got := b.path(); got != want {
		b.t.Fatalf("browser is at %s, want %s", got, want)
	}
}

// screenshot saves a full-page PNG of the current page and logs its path.
func (b *cdpTab) screenshot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(buf) == 0 || !bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Fatalf("screenshot %s: not a PNG (%d bytes)", name, len(buf))
	}
	b.shot++
	file := fmt.Sprintf("%02d-%s.png", b.shot, name)
	p := filepath.Join(b.dir, file)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
		b.t.Fatalf("screenshot %s is empty or missing: %v", p, err)
	}
	// LAYERWISE_SCREENSHOT_DIR keeps a copy, e.g. as a CI artifact.
	if keep := os.Getenv("LAYERWISE_SCREENSHOT_DIR"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(keep, file), buf, 0o644)
		}
	}
	b.t.Logf("screenshot %s (%d bytes) of %s", p, len(buf), b.path())
}

// TestBrowserClickThrough drives Debian's chromium through the dashboard:
// login, overview, namespace, stream, tag, a layer's blob page, the htmx
// filter, a phone-sized viewport and logout, checking the figures shown
// against the usage computation and saving a screenshot of each page.
func TestBrowserClickThrough(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	ts := newTestServer(t, true)
	b := newCDPTab(t, exe, ts.URL)
	u := ts.usage

	// 1. Anonymous visitors land on the login page.
	b.open("/")
	b.expectPath("/login?next=%2F")
	if h := b.text("h1"); h != "Log in" {
		t.Fatalf("login page heading %q", h)
	}
	b.screenshot("login")
	b.do("fill in the login form",
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.SendKeys(chromedp.ID("login-name"), "demo"),
		chromedp.SendKeys(chromedp.ID("login-password"), "demo"),
	)
	b.follow(`form.stack-form button[type=submit]`)

	// 2. Overview: the registry total counted once, namespaces by usage.
	b.expectPath("/")
	if got, want := b.text(".figure.big .value"), format.Size(u.Registry.Bytes); got != want {
		t.Errorf("overview: registry total %q, want %q", got, want)
	}
	if got := b.text(".account .user"); got != "demo" {
		t.Errorf("overview: logged-in user shown as %q, want demo", got)
	}
	ranked := slices.Clone(u.Namespaces)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].Bytes > ranked[j].Bytes })
	var wantNames, wantSizes []string
	for _, n := range ranked {
		wantNames = append(wantNames, n.Name)
		wantSizes = append(wantSizes, format.Size(n.Bytes))
	}
	if got := b.texts("table.ranking tbody th a"); !slices.Equal(got, wantNames) {
		t.Errorf("overview: namespaces %q, want %q (biggest first)", got, wantNames)
	}
	if got := b.texts("table.ranking tbody td.barcol .num"); !slices.Equal(got, wantSizes) {
		t.Errorf("overview: namespace sizes %q, want %q", got, wantSizes)
	}
	b.screenshot("overview")
	biggest := ranked[0]
	b.follow(fmt.Sprintf(`table.ranking tbody th a[href=%q]`, views.NamespaceHref(biggest.Name)))

	// 3. Namespace page: heading, usage and a row per stream.
	b.expectPath(views.NamespaceHref(biggest.Name))
	if got, want := b.content("h1"), "Namespace "+biggest.Name; got != want {
		t.Errorf("namespace: heading %q, want %q", got, want)
	}
	if got, want := b.text(".figure.big .value"), format.Size(biggest.Bytes); got != want {
		t.Errorf("namespace %s: usage %q, want %q", biggest.Name, got, want)
	}
	streams := slices.Clone(biggest.Streams)
	sort.SliceStable(streams, func(i, j int) bool { return streams[i].Bytes > streams[j].Bytes })
	rowNames, rowSizes := b.texts("table#streams tbody th a"), b.texts("table#streams tbody td.barcol .num")
	if len(rowNames) != len(streams) || len(rowSizes) != len(streams) {
		t.Fatalf("namespace %s: %d stream rows (%d sizes), want %d", biggest.Name, len(rowNames), len(rowSizes), len(streams))
	}
	for i, st := range streams {
		if rowNames[i] != st.Name || rowSizes[i] != format.Size(st.Bytes) {
			t.Errorf("namespace %s: row %d shows %s %s, want %s %s", biggest.Name, i+1, rowNames[i], rowSizes[i], st.Name, format.Size(st.Bytes))
		}
	}
	b.screenshot("namespace")
	stream := streams[0]
	b.follow(fmt.Sprintf(`table#streams tbody th a[href=%q]`, views.StreamHref(biggest.Name, stream.Name)))

	// 4. Stream page: size, tags, and the current revision of each tag.
	b.expectPath(views.StreamHref(biggest.Name, stream.Name))
	if got, want := b.content("h1"), "Image stream "+biggest.Name+"/"+stream.Name; got != want {
		t.Errorf("stream: heading %q, want %q", got, want)
	}
	var tagNames []string
	var latest *store.TagUsage
	for i, tg := range stream.Tags {
		tagNames = append(tagNames, tg.Name)
		if tg.Name == "latest" {
			latest = &stream.Tags[i]
		}
	}
	if latest == nil {
		t.Fatalf("stream %s/%s has no latest tag in the usage: %q", biggest.Name, stream.Name, tagNames)
	}
	shownTags := b.texts("table.tags tbody th a.tag-name")
	if !bSameSet(shownTags, tagNames) {
		t.Errorf("stream: tags %q, want %q", shownTags, tagNames)
	}
	if got := b.text("dl.describe dd:has(> span.num)"); !strings.HasPrefix(got, format.Size(stream.Bytes)+" ") {
		t.Errorf("stream: size %q, want %s", got, format.Size(stream.Bytes))
	}
	for _, tg := range stream.Tags {
		var cur *store.RevisionUsage
		for i := range tg.Revisions {
			if tg.Revisions[i].Current {
				cur = &tg.Revisions[i]
			}
		}
		// One row a tag: its current image and that image's size.
		sel := fmt.Sprintf(`table.tags tr[id=%q]`, "tag-"+tg.Name)
		shown := bEval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {title: ""}).title`, sel+` [data-label="Current image"] a.digest`))
		if cur == nil || cur.Image == "" {
			if shown != "" {
				t.Errorf("stream: tag %s has no current image but the page shows %q", tg.Name, shown)
			}
			continue
		}
		if shown != cur.Image {
			t.Errorf("stream: tag %s: current image %q, want %s", tg.Name, shown, cur.Image)
		}
		if got, want := b.text(sel+` [data-label="Size"]`), format.Size(cur.Bytes); got != want {
			t.Errorf("stream: tag %s: current revision size %q, want %q", tg.Name, got, want)
		}
	}
	b.screenshot("stream")
	b.follow(`tr#tag-latest th a.tag-name`)

	// 5. Tag page: "N layers, X" and the layers table.
	b.expectPath(views.TagHref(biggest.Name, stream.Name, "latest"))
	var cur store.RevisionUsage
	for _, r := range latest.Revisions {
		if r.Current {
			cur = r
		}
	}
	headline := b.text("p.headline")
	m := regexp.MustCompile(`^(\d+) layers?, (.+)$`).FindStringSubmatch(headline)
	if m == nil {
		t.Fatalf("tag: headline %q, want \"N layers, size\"", headline)
	}
	layerRows := b.texts("table.layers tbody tr td:first-child")
	nLayers := 0
	for _, r := range layerRows {
		if r != "config" {
			nLayers++
		}
	}
	if n, _ := strconv.Atoi(m[1]); n != nLayers || n == 0 {
		t.Errorf("tag: headline says %s layers, the table lists %d", m[1], nLayers)
	}
	if want := format.Size(cur.Bytes); m[2] != want {
		t.Errorf("tag: headline size %q, want %q (the current revision counted once)", m[2], want)
	}
	if got := b.text("a.digest.full"); got != cur.Image {
		t.Errorf("tag: image digest %q, want %q", got, cur.Image)
	}
	firstShares := b.text("table.layers tbody tr:first-child td.shares")
	b.screenshot("tag")
	blobHref := bEval[string](b, `document.querySelector("table.layers tbody tr:first-child td a.digest").getAttribute("href")`)
	digest, err := url.PathUnescape(strings.TrimPrefix(strings.SplitN(blobHref, "?", 2)[0], "/blobs/"))
	if err != nil || !strings.HasPrefix(blobHref, "/blobs/") {
		t.Fatalf("tag: first layer links to %q", blobHref)
	}
	b.follow(`table.layers tbody tr:first-child td a.digest`)

	// 6. Blob page: the digest and how widely the layer is shared.
	b.expectPath(blobHref)
	if got := b.text("code.digest.full"); got != digest {
		t.Errorf("blob: digest %q, want %q", got, digest)
	}
	shares, err := u.Shares(context.Background(), ts.store, []string{digest})
	if err != nil {
		t.Fatal(err)
	}
	sh := shares[digest]
	want := fmt.Sprintf("Shared by %s in %s of %s.", bPlural(sh.Images, "image"), bPlural(sh.Streams, "stream"), bPlural(sh.Namespaces, "namespace"))
	if got := b.text("p.headline"); got != want {
		t.Errorf("blob: %q, want %q", got, want)
	}
	wantLine := fmt.Sprintf("shared by %s · %s · %s", bPlural(sh.Images, "image"), bPlural(sh.Streams, "stream"), bPlural(sh.Namespaces, "namespace"))
	if !strings.HasPrefix(firstShares, wantLine) {
		t.Errorf("tag: first layer %q, want %q", firstShares, wantLine)
	}
	if n := len(b.texts("#blob-ns + ul li a")); n != sh.Namespaces {
		t.Errorf("blob: %d namespaces listed, share count says %d", n, sh.Namespaces)
	}
	if n := len(b.texts("#blob-streams + ul li")); n != sh.Streams {
		t.Errorf("blob: %d streams listed, share count says %d", n, sh.Streams)
	}
	b.screenshot("blob")

	// The htmx filter: typing narrows the streams table in place and the
	// address bar follows.
	var filterNS store.NamespaceUsage
	var filter string
	var matching []string
	for _, n := range ranked {
		for _, f := range []string{"er", "a", "e", "i", "o"} {
			var names []string
			for _, st := range n.Streams {
				if strings.Contains(st.Name, f) {
					names = append(names, st.Name)
				}
			}
			if len(names) > 0 && len(names) < len(n.Streams) {
				filterNS, filter, matching = n, f, names
				break
			}
		}
		if filter != "" {
			break
		}
	}
	if filter == "" {
		t.Fatal("the demo data has no namespace whose streams a filter can narrow")
	}
	b.open(views.NamespaceHref(filterNS.Name))
	if n := len(b.texts("table#streams tbody th a")); n != len(filterNS.Streams) {
		t.Fatalf("filter: %d rows before filtering, want %d", n, len(filterNS.Streams))
	}
	b.do("type into the filter", chromedp.SendKeys(chromedp.ID("stream-filter"), filter))
	wantRows, _ := bJSArray(matching)
	_, err = chromedp.Run(b.ctx, chromedp.Poll[bool](fmt.Sprintf(`(() => {
		const names = [...document.querySelectorAll("table#streams tbody th a")].map(a => a.textContent.trim()).sort();
		const want = %s.sort();
		return JSON.stringify(names) === JSON.stringify(want) && new URLSearchParams(location.search).get("q") === %q;
	})()`, wantRows, filter), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("filter %q on %s: rows %q at %s, want %q with q=%s: %v", filter, filterNS.Name,
			b.texts("table#streams tbody th a"), b.path(), matching, filter, err)
	}
	if got := b.text("table#streams caption"); !strings.HasPrefix(got, fmt.Sprintf("%s matching “%s”", bPlural(len(matching), "stream"), filter)) {
		t.Errorf("filter: caption %q", got)
	}
	if n := bEval[int](b, `document.querySelectorAll("table#streams").length`); n != 1 {
		t.Errorf("filter: %d streams tables after the swap, want 1", n)
	}
	b.screenshot("namespace-filtered")

	// A phone: the overview fits 375 px without scrolling sideways (wide
	// tables scroll inside their own box).
	b.do("phone viewport", chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile))
	b.open("/")
	if w := bEval[int](b, `document.documentElement.scrollWidth`); w > 375+1 {
		t.Errorf("overview at 375 px: page is %d px wide, overflows sideways", w)
	}
	b.screenshot("overview-phone")
	b.do("desktop viewport", chromedp.ResetViewport())

	// Log out with the header's button: back to the login page, and pages
	// need a login again.
	b.open("/")
	b.follow(`form.logout button[type=submit]`)
	b.expectPath("/login")
	if h := b.text("h1"); h != "Log in" {
		t.Errorf("after logout: heading %q, want Log in", h)
	}
	b.screenshot("logged-out")
	b.open(views.NamespaceHref(biggest.Name))
	if got, want := b.path(), "/login?next="+url.QueryEscape(views.NamespaceHref(biggest.Name)); got != want {
		t.Errorf("after logout a page redirects to %s, want %s", got, want)
	}
}

func bPlural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func bSameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// jsonStrings is a JavaScript array literal of strings.
func bJSArray(ss []string) (string, error) {
	q := make([]string, len(ss))
	for i, s := range ss {
		if strings.ContainsAny(s, "\"\\\n") {
			return "", errors.New("unexpected character in " + s)
		}
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]", nil
}
