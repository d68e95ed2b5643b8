package web

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"layerwise/change"
	"layerwise/store"
	"layerwise/views"
)

// Browser tests of issue 16 (the dashboard's second pass): layouts at a
// desktop and a phone width, feedback where the user clicked, with and
// without JavaScript, the copy button and the dark theme.

// viewport sets the window's size (mobile: a phone's touch screen). On a
// phone a page wider than the screen widens the layout viewport (the
// browser zooms out), so checks compare with the width set here, not with
// innerWidth.
func (b *cdpTab) viewport(w, h int64, mobile bool) {
	b.t.Helper()
	b.viewportWidth = w
	if mobile {
		b.do(fmt.Sprintf("viewport %dx%d", w, h), chromedp.EmulateViewport(w, h, chromedp.EmulateMobile))
		return
	}
	b.do(fmt.Sprintf("viewport %dx%d", w, h), chromedp.EmulateViewport(w, h))
}

// width is the viewport's width as set (innerWidth when none was).
func (b *cdpTab) width() string {
	if w := b.viewportWidth; w != 0 {
		return strconv.FormatInt(w, 10)
	}
	return "innerWidth"
}

// inView scrolls the page (vertically only: a cell hidden in a sideways
// scroller must stay hidden) so the first element sel selects is in the
// middle, and says what keeps a person from reading it: "" when its box
// lies within the viewport's width, no ancestor that clips clips it, its
// text is not cut off and nothing covers it.
func (b *cdpTab) inView(sel string) string {
	b.t.Helper()
	return bEval[string](b, fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		if (!e) return "missing";
		let r = e.getBoundingClientRect();
		window.scrollTo(0, r.top + window.scrollY - innerHeight / 2);
		return %s(e, %s);
	})()`, strconv.Quote(sel), jsReadable, b.width()))
}

// inViewNow is inView without scrolling: is the element on screen where
// the page is now (after an action, at the control that was used)?
func (b *cdpTab) inViewNow(sel string) string {
	b.t.Helper()
	return bEval[string](b, fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		if (!e) return "missing";
		const r = e.getBoundingClientRect();
		if (r.top < 0 || r.bottom > innerHeight) return "off screen vertically (" + Math.round(r.top) + ".." + Math.round(r.bottom) + " of " + innerHeight + ")";
		return %s(e, %s);
	})()`, strconv.Quote(sel), jsReadable, b.width()))
}

// jsReadable is a JavaScript function: "" when an element on screen can be
// read whole, else why not.
const jsReadable = `((e, vw) => {
	const r = e.getBoundingClientRect();
	if (r.width === 0 || r.height === 0) return "has no size";
	if (r.left < -0.5 || r.right > vw + 0.5) return "spans x " + Math.round(r.left) + ".." + Math.round(r.right) + " of a " + vw + " px viewport";
	for (let p = e.parentElement; p && p !== document.documentElement; p = p.parentElement) {
		const s = getComputedStyle(p);
		if (s.overflowX === "visible" && s.overflowY === "visible") continue;
		const pr = p.getBoundingClientRect();
		if (r.left < pr.left - 0.5 || r.right > pr.right + 0.5) return "clipped sideways by <" + p.tagName.toLowerCase() + " class=" + p.className + ">";
	}
	if (getComputedStyle(e).textOverflow === "ellipsis" && e.scrollWidth > e.clientWidth + 1) return "its text is cut off";
	const hit = document.elementFromPoint(Math.min(r.left + r.width / 2, vw - 1), Math.min(Math.max(r.top + Math.min(r.height / 2, 8), 0), innerHeight - 1));
	if (!hit || !(hit === e || e.contains(hit) || hit.contains(e))) return "covered by " + (hit ? hit.tagName + "." + hit.className : "nothing");
	return "";
})`

// noSidewaysScroll fails when the page is wider than the viewport.
func (b *cdpTab) noSidewaysScroll(what string) {
	b.t.Helper()
	if w, vw := bEval[int](b, `document.documentElement.scrollWidth`), bEval[int](b, b.width()); w > vw+1 {
		// Name the outermost element that sticks out.
		out := bEval[string](b, fmt.Sprintf(`(() => {
			for (const e of document.body.querySelectorAll("*")) {
				if (e.getBoundingClientRect().right > %d + 0.5) return "<" + e.tagName.toLowerCase() + " class=" + e.className + "> " + e.textContent.trim().slice(0, 60);
			}
			return "";
		})()`, vw))
		b.t.Errorf("%s: the page is %d px wide in a %d px viewport: %s", what, w, vw, out)
	}
}

// TestBrowserLayoutsDesktopAndPhone: at 1440×900 and at 390×844 the cells
// a person comes for are on screen whole — a tag's history (when it was
// tagged, the size, "would be pruned", "Make current"), the stream's tags,
// what prune frees, the audit log's filters with their labels and its
// messages — with screenshots of each page at both sizes. Before, the phone
// hid them behind an unmarked sideways scroll.
func TestBrowserLayoutsDesktopAndPhone(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	ts := newTestServer(t, true)
	ctx := context.Background()
	// A pin, so that the audit log has a digest in its target column.
	digest := prunableImage(t, ts, "payments", "api", "prod")
	if _, err := change.New(ts.store, nil).Pin(ctx, &store.Principal{User: "demo", PlatformAdmin: true}, "payments", digest, "used by deployment api"); err != nil {
		t.Fatal(err)
	}
	b := newCDPTab(t, exe, ts.URL)
	b.login("demo", "demo")
	tagPath := views.TagHref("payments", "api", "prod")

	for _, vp := range []struct {
		name   string
		w, h   int64
		mobile bool
	}{{"desktop", 1440, 900, false}, {"phone", 390, 844, true}} {
		t.Run(vp.name, func(t *testing.T) {
			b.t = t
			b.viewport(vp.w, vp.h, vp.mobile)
			check := func(page string, sels ...string) {
				t.Helper()
				for _, sel := range sels {
					if why := b.inView(sel); why != "" {
						t.Errorf("%s at %dpx: %s: %s", page, vp.w, sel, why)
					}
				}
			}

			b.open(tagPath)
			// The columns by their place, as the history table has always had
			// them: state, image, tagged, size, prune marks, roll back.
			check("tag page", `table.history tbody tr:nth-child(2) td:nth-child(3) time`,
				`table.history tbody tr:nth-child(2) td:nth-child(4)`,
				`table.history .badge-warn`,
				`table.history td.row-action button`)
			b.noSidewaysScroll("tag page")
			b.screenshot("tag-" + vp.name)

			b.open(views.StreamHref("payments", "api"))
			check("stream page", `tr#tag-latest [data-label="Current image"] a`, `tr#tag-latest [data-label="Size"]`,
				`tr#tag-latest [data-label="Updated"] time`, `tr#tag-latest [data-label="History"] a`, `tr#tag-latest form.promote button`,
				`tr#tag-prod [data-label="Source"]`)
			b.noSidewaysScroll("stream page")
			b.screenshot("stream-" + vp.name)

			b.open("/prune")
			check("/prune", `table.prune-namespaces tbody tr:first-child td:nth-child(4)`, `table.prune-namespaces tbody tr:first-child th a`)
			b.noSidewaysScroll("/prune")
			b.screenshot("prune-" + vp.name)

			b.open("/audit?actor=nobody")
			check("/audit", `table.audit td.empty`)
			for _, id := range []string{"audit-ns", "audit-actor", "audit-action"} {
				// Each label right above its own input, in the same column.
				got := bEval[string](b, fmt.Sprintf(`(() => {
					const l = document.querySelector("label[for=%[1]s]").getBoundingClientRect();
					const i = document.getElementById(%[1]q).getBoundingClientRect();
					const beside = Math.abs((l.top + l.bottom) / 2 - (i.top + i.bottom) / 2) < 8 && l.right <= i.left + 1 && i.left - l.right < 24;
					const above = l.bottom <= i.top + 2 && i.top - l.bottom < 12 && Math.abs(l.left - i.left) < 2;
					return beside || above ? "" : "label at " + Math.round(l.left) + "," + Math.round(l.top) + ", its input at " + Math.round(i.left) + "," + Math.round(i.top);
				})()`, id))
				if got != "" {
					t.Errorf("/audit at %dpx: the %s filter is not with its label: %s", vp.w, id, got)
				}
			}
			b.noSidewaysScroll("/audit")
			b.screenshot("audit-empty-" + vp.name)

			b.open("/audit?action=image.pin")
			check("/audit", `table.audit tbody tr:first-child td:nth-child(5)`, `table.audit tbody tr:first-child td:nth-child(6)`)
			// The pin's digest stays inside its column.
			if got := bEval[string](b, `(() => {
				const td = document.querySelector("table.audit tbody tr:first-child td:nth-child(5)");
				const cell = td.getBoundingClientRect();
				const range = document.createRange();
				range.selectNodeContents(td);
				for (const r of range.getClientRects()) {
					if (r.right > cell.right + 0.5) return td.textContent.trim() + " ends at " + Math.round(r.right) + ", its cell at " + Math.round(cell.right);
				}
				return "";
			})()`); got != "" {
				t.Errorf("/audit at %dpx: the pin's target overflows its column: %s", vp.w, got)
			}
			b.screenshot("audit-pin-" + vp.name)

			// The settings form: the number input looks like its text neighbours.
			b.open("/ns/payments/settings")
			style := func(id string) string {
				return bEval[string](b, fmt.Sprintf(`(() => { const s = getComputedStyle(document.getElementById(%q));
					return [s.borderTopStyle, s.borderTopColor, s.borderRadius, s.paddingLeft, s.fontSize, s.backgroundColor].join(" "); })()`, id))
			}
			if n, txt := style("set-keep"), style("set-younger"); n != txt {
				t.Errorf("settings at %dpx: the number input is styled %q, the text input %q", vp.w, n, txt)
			}
			check("settings", "#set-keep", "#set-threshold-help")
			b.screenshot("settings-" + vp.name)
		})
	}
}

// prunableImage is an image of a tag's history that the next prune removes.
func prunableImage(t *testing.T, ts *testServer, ns, stream, tag string) string {
	t.Helper()
	plan, err := ts.store.PlanPrune(context.Background(), store.DefaultPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plan.Revisions {
		if r.Namespace == ns && r.Stream == stream && r.Tag == tag && r.Image != "" {
			return r.Image
		}
	}
	t.Fatalf("fixture: no prunable revision of %s/%s:%s", ns, stream, tag)
	return ""
}

// TestBrowserFeedbackWhereYouClick: "Add tag" on the stream page and "Pin"
// on the tag page say what they did at the form, on screen where the user
// clicked, and mark what changed (the new tag, the new pin) — through htmx
// and, with JavaScript off, through the plain form's redirect to the
// section. A rollback asks first, then shows the new history entry.
func TestBrowserFeedbackWhereYouClick(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	for _, js := range []bool{true, false} {
		name := "htmx"
		if !js {
			name = "no JavaScript"
		}
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, true)
			b := newCDPTab(t, exe, ts.URL)
			b.login("demo", "demo")
			b.viewport(1440, 900, false)
			if !js {
				if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
					t.Fatal(err)
				}
			}
			submit := func(sel string) {
				t.Helper()
				if js {
					b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
				} else {
					b.follow(sel)
				}
			}

			// Add a tag, at the bottom of the stream page.
			b.open(views.StreamHref("payments", "api"))
			b.do("fill in Add a tag", chromedp.ScrollIntoView(chromedp.CSS(`section.add-tag`)),
				chromedp.SendKeys(chromedp.CSS(`section.add-tag input[name=source]`), "latest"),
				chromedp.SendKeys(chromedp.CSS(`section.add-tag input[name=tag]`), "candidate"))
			submit(`section.add-tag button.primary`)
			waitFor(t, "the notice at the form", func() bool { return strings.Contains(b.text("section.add-tag .alert-ok"), "Tagged candidate") })
			if why := b.inViewNow("section.add-tag .alert-ok"); why != "" {
				t.Errorf("the notice of Add tag is not where the user clicked: %s", why)
			}
			if got := b.texts("tr.changed th a.tag-name"); len(got) != 1 || got[0] != "candidate" {
				t.Errorf("marked as changed: %q, want the new tag", got)
			}
			b.screenshot("added-" + name)

			// Pin, on the tag page.
			tagPath := views.TagHref("payments", "api", "prod")
			digest := prunableImage(t, ts, "payments", "api", "prod")
			b.open(tagPath)
			b.do("choose the image and write a note", chromedp.ScrollIntoView(chromedp.CSS(`form.pin`)),
				chromedp.SetValue(chromedp.CSS(`form.pin select[name=image]`), digest),
				chromedp.SendKeys(chromedp.CSS(`form.pin input[name=note]`), "used by deployment api in prod"))
			submit(`form.pin button[type=submit]`)
			waitFor(t, "the notice in the pins", func() bool { return strings.Contains(b.text("section#pins .alert-ok"), "Pinned") })
			if why := b.inViewNow("section#pins .alert-ok"); why != "" {
				t.Errorf("the notice of Pin is not where the user clicked: %s", why)
			}
			if got := b.text("section#pins li.changed"); !strings.Contains(got, "used by deployment api in prod") || !strings.Contains(got, views.ShortDigest(digest)) {
				t.Errorf("the new pin is not marked: %q", got)
			}
			b.screenshot("pinned-" + name)

			// A rollback asks first, saying what it does to the next prune,
			// then shows the new entry at the top of the history.
			b.open(tagPath)
			target := bEval[string](b, `document.querySelector("table.history td.row-action form.rollback input[name=digest]").value`)
			b.do("scroll to Make current", chromedp.ScrollIntoView(chromedp.CSS(`table.history td.row-action form.rollback button`)))
			b.follow(`table.history td.row-action form.rollback button`)
			if h := b.text("h1"); !regexp.MustCompile(`^Roll prod back to sha256:[0-9a-f]{12}\?$`).MatchString(h) {
				t.Fatalf("the rollback did not ask first: heading %q", h)
			}
			if s := b.text(".effect-summary"); !strings.Contains(s, "next prune") {
				t.Errorf("the confirmation does not say what happens to the next prune: %q", s)
			}
			b.screenshot("rollback-confirm-" + name)
			b.follow(`form.confirm-form button.primary`)
			if got := b.text("section#history > .alert-ok"); !strings.Contains(got, "Rolled back prod") {
				t.Errorf("after the rollback the history says %q", got)
			}
			if why := b.inViewNow("section#history > .alert-ok"); why != "" {
				t.Errorf("the rollback's notice is not on screen: %s", why)
			}
			if got := bEval[string](b, `(document.querySelector("table.history tr.current.changed a.digest") || {title: ""}).title`); got != target {
				t.Errorf("the new entry marked is %q, want %s", got, target)
			}
			b.screenshot("rolled-back-" + name)
		})
	}
}

// TestBrowserCopyPullSpec: on a phone the tag page's pull command is whole
// on screen, and its Copy button puts exactly `podman pull REF` on the
// clipboard.
func TestBrowserCopyPullSpec(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	ts := newTestServer(t, true)
	b := newCDPTab(t, exe, ts.URL)
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(b.ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm, AllowWithoutSanitization: true}, Setting: browser.PermissionSettingGranted}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	b.login("demo", "demo")
	b.viewport(390, 844, true)
	b.open(views.TagHref("payments", "api", "prod"))
	cmd := b.text(`button.copy-button[aria-label="Copy the podman pull command"]`)
	if cmd != "Copy" {
		t.Fatalf("no Copy button for the pull command (%q)", cmd)
	}
	want := bEval[string](b, `document.querySelector('button.copy-button[aria-label="Copy the podman pull command"]').previousElementSibling.textContent`)
	if !regexp.MustCompile(`^podman pull \S+@sha256:[0-9a-f]{64}$`).MatchString(want) {
		t.Fatalf("the pull command reads %q", want)
	}
	if why := b.inView(`button.copy-button[aria-label="Copy the podman pull command"]`); why != "" {
		t.Errorf("the Copy button: %s", why)
	}
	// The command is whole: it wraps inside the viewport, nothing scrolls or is cut.
	if got := bEval[string](b, `(() => {
		const c = document.querySelector('button.copy-button[aria-label="Copy the podman pull command"]').previousElementSibling;
		const r = c.getBoundingClientRect();
		if (r.right > 390.5) return "ends at " + Math.round(r.right);
		if (c.scrollWidth > c.clientWidth + 1) return "scrolls: " + c.scrollWidth + " of " + c.clientWidth;
		return "";
	})()`); got != "" {
		t.Errorf("the pull command is cut off on a phone: %s", got)
	}
	b.screenshot("copy-phone")
	b.do("click Copy", chromedp.Click(chromedp.CSS(`button.copy-button[aria-label="Copy the podman pull command"]`)))
	waitFor(t, "the button to say Copied", func() bool {
		return b.text(`button.copy-button[aria-label="Copy the podman pull command"]`) == "Copied"
	})
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the clipboard: %v", err)
	}
	if got != want {
		t.Errorf("the clipboard holds %q, want %q", got, want)
	}
}

// TestBrowserDarkTheme: with the system set to dark the pages are dark
// (light text on a dark background, tables and alerts included); set to
// light, light.
func TestBrowserDarkTheme(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	ts := newTestServer(t, true)
	b := newCDPTab(t, exe, ts.URL)
	b.login("demo", "demo")
	// luminance is the relative luminance of an element's computed colour
	// property, 0 (black) to 1 (white).
	luminance := func(sel, prop string) float64 {
		return bEval[float64](b, fmt.Sprintf(`(() => {
			const m = getComputedStyle(document.querySelector(%s))[%q].match(/[\d.]+/g).map(Number);
			const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
			return 0.2126 * lin(m[0]) + 0.7152 * lin(m[1]) + 0.0722 * lin(m[2]);
		})()`, strconv.Quote(sel), prop))
	}
	for _, scheme := range []string{"dark", "light"} {
		if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		b.open(views.TagHref("payments", "api", "prod"))
		bg, fg := luminance("body", "backgroundColor"), luminance("body", "color")
		cell, th := luminance("dl.meta", "backgroundColor"), luminance("table.history thead th", "backgroundColor")
		dark := bg < 0.05 && fg > 0.6 && cell < 0.05 && th < 0.05
		light := bg > 0.8 && fg < 0.1 && cell > 0.8 && th > 0.8
		if scheme == "dark" && !dark || scheme == "light" && !light {
			t.Errorf("%s scheme: body background %.2f, text %.2f, boxes %.2f, table headers %.2f", scheme, bg, fg, cell, th)
		}
		b.screenshot("tag-" + scheme)
	}
}
