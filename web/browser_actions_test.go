package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"layerwise/store"
	"layerwise/views"
)

// waitFor polls cond until it holds or 15 s pass (htmx answers arrive
// without a page load).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (b *cdpTab) login(name, password string) {
	b.t.Helper()
	b.open("/login")
	b.do("fill in the login form",
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.SendKeys(chromedp.ID("login-name"), name),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
	)
	b.follow(`form.stack-form button[type=submit]`)
}

// TestBrowserPromoteRollBackAndViewer: an editor promotes latest → test and
// rolls back by clicking, sees the history change in place (htmx), logs
// out; a viewer sees no action buttons and a forged POST is refused.
func TestBrowserPromoteRollBackAndViewer(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	ts := newTestServer(t, true)
	ctx := context.Background()
	for name, role := range map[string]store.Role{"eddie": store.RoleEditor, "vic": store.RoleViewer} {
		if _, err := ts.store.CreateUser(ctx, name, name+"-pass", false); err != nil {
			t.Fatal(err)
		}
		if err := ts.store.AddRoleBinding(ctx, "payments", name, role); err != nil {
			t.Fatal(err)
		}
	}
	hist := func(tag string) []string {
		st, err := ts.store.GetStream(ctx, store.StreamRef{Namespace: "payments", Stream: "api"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range st.Tags {
			if tg.Name == tag {
				var out []string
				for _, it := range tg.Items {
					out = append(out, it.Image)
				}
				return out
			}
		}
		return nil
	}
	latest, testBefore := hist("latest"), hist("test")
	if len(testBefore) > 0 && testBefore[0] == latest[0] {
		t.Fatal("fixture: test already holds latest's image")
	}

	b := newCDPTab(t, exe, ts.URL)
	b.login("eddie", "eddie-pass")
	b.open(views.TagHref("payments", "api", "latest"))
	if got := b.text("form.promote button"); got != "Promote to test" {
		t.Fatalf("promote button reads %q", got)
	}
	b.screenshot("editor-tag-page")
	b.do("click Promote to test", chromedp.Click(chromedp.CSS("form.promote button")))
	waitFor(t, "test to hold latest's image", func() bool { h := hist("test"); return len(h) > 0 && h[0] == latest[0] })
	if got := hist("test"); len(got) != len(testBefore)+1 {
		t.Errorf("test history %d entries, want %d (one added, none lost)", len(got), len(testBefore)+1)
	}
	waitFor(t, "the page to say it promoted", func() bool { return strings.Contains(strings.ToLower(b.text("#tag-body")), "promoted") })

	// Roll latest back: "Make current" on the previous image, in place.
	b.open(views.TagHref("payments", "api", "latest"))
	target := latest[1]
	b.follow(fmt.Sprintf(`button[aria-label=%q]`, "Make "+views.ShortDigest(target)+" current"))
	// It asks first; confirmed, it happens.
	if got, want := b.text("h1"), "Roll latest back to "+views.ShortDigest(target)+"?"; got != want {
		t.Fatalf("the rollback asks %q, want %q", got, want)
	}
	if h := hist("latest"); h[0] != latest[0] {
		t.Fatal("the rollback happened before it was confirmed")
	}
	b.follow(`form.confirm-form button.primary`)
	waitFor(t, "latest to be rolled back", func() bool { h := hist("latest"); return len(h) == len(latest)+1 && h[0] == target })
	waitFor(t, "the history on the page to show the rollback", func() bool {
		return strings.Contains(b.text("#tag-body tr.current"), views.ShortDigest(target))
	})
	b.screenshot("after-rollback")
	b.follow(`form.logout button[type=submit]`)
	b.expectPath("/login")

	// A viewer: no action buttons, and a forged POST is refused.
	b.login("vic", "vic-pass")
	b.open(views.TagHref("payments", "api", "latest"))
	if n := bEval[int](b, `document.querySelectorAll("form.action").length`); n != 0 {
		t.Errorf("a viewer sees %d action forms", n)
	}
	b.screenshot("viewer-tag-page")
	before := hist("test")
	status, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`(async () => {
		const token = document.querySelector("form.logout input[name=_csrf]").value;
		const r = await fetch(%q, {method: "POST", body: new URLSearchParams({_csrf: token, to: "test"})});
		return r.status;
	})()`, views.TagActionHref(views.TagHref("payments", "api", "latest"), "promote")), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != 403 {
		t.Errorf("forged promote by a viewer: %d, want 403", status)
	}
	if got := hist("test"); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Error("a viewer's forged POST changed the history")
	}
}

// TestBrowserPinAndUnpin: an editor pins an image of a tag's history with
// a note by clicking (htmx, in place), the plan on /prune stops removing
// it, and Unpin takes the pin away.
func TestBrowserPinAndUnpin(t *testing.T) {
	t.Parallel()
	exe := bChromePath(t)
	ts := newTestServer(t, true)
	ctx := context.Background()
	if _, err := ts.store.CreateUser(ctx, "eddie", "eddie-pass", false); err != nil {
		t.Fatal(err)
	}
	if err := ts.store.AddRoleBinding(ctx, "payments", "eddie", store.RoleEditor); err != nil {
		t.Fatal(err)
	}
	plan, err := ts.store.PlanPrune(ctx, store.DefaultPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	var digest string
	for _, r := range plan.Revisions {
		if r.Namespace == "payments" && r.Stream == "api" && r.Tag == "prod" {
			digest = r.Image
		}
	}
	if digest == "" {
		t.Fatal("fixture: no prunable revision of payments/api:prod")
	}
	pins := func() []store.PinInfo {
		p, err := ts.store.Pins(ctx, "payments", "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	inPlan := func() int {
		b := newCDPTab(t, exe, ts.URL)
		b.login("eddie", "eddie-pass")
		b.open(views.PruneHref("payments"))
		return bEval[int](b, fmt.Sprintf(`document.querySelectorAll('section[aria-labelledby=plan-heading] a[href=%q]').length`, views.ImageHref(digest)))
	}
	if inPlan() == 0 {
		t.Fatal("/prune does not list the image before it is pinned")
	}
	b := newCDPTab(t, exe, ts.URL)
	b.login("eddie", "eddie-pass")
	b.open(views.TagHref("payments", "api", "prod"))
	b.do("choose the image and write a note",
		chromedp.SetValue(chromedp.CSS(`form.pin select[name=image]`), digest),
		chromedp.SendKeys(chromedp.CSS(`form.pin input[name=note]`), "used by deployment api in prod"),
		chromedp.Click(chromedp.CSS(`form.pin button[type=submit]`)))
	waitFor(t, "the pin to be stored", func() bool { p := pins(); return len(p) == 1 && p[0].Image == digest })
	waitFor(t, "the page to show the pin", func() bool {
		return strings.Contains(b.text("section.pins"), "used by deployment api in prod")
	})
	b.screenshot("pinned")
	if n := inPlan(); n != 0 {
		t.Errorf("/prune still lists the pinned image %d times", n)
	}
	b.open(views.TagHref("payments", "api", "prod"))
	b.do("click Unpin", chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label=%q]`, "Unpin "+views.ShortDigest(digest)))))
	waitFor(t, "the pin to be gone", func() bool { return len(pins()) == 0 })
	waitFor(t, "the page to say so", func() bool { return strings.Contains(b.text("#tag-body"), "Unpinned") })
}
