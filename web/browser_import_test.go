package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"layerwise/store"
	"layerwise/views"
)

// TestBrowserImportNow: an editor clicks "Import now" on a tag page; htmx
// swaps the tag's body in place with what the import did.
func TestBrowserImportNow(t *testing.T) {
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
	reg := newImportRegistry(t, "", "")
	reg.push(t, "payments/tool:1")
	tok := ts.apiUser(t, "bot", false, "payments=editor")
	ts.apiMust(t, 200, apiCall{method: "POST", path: "/api/v1/namespaces/payments/imagestreamimports", token: tok,
		body: `{"tag": "api:tool", "from": "` + reg.host + `/payments/tool:1"}`})
	d2 := reg.push(t, "payments/tool:1")

	b := newCDPTab(t, exe, ts.URL)
	b.login("eddie", "eddie-pass")
	b.open(views.TagHref("payments", "api", "tool"))
	b.do("click Import now", chromedp.Click(chromedp.CSS("form.import button")))
	waitFor(t, "the page to say what the import did", func() bool {
		return strings.Contains(b.text("#tag-body"), "Imported tool: the registry had a new image")
	})
	if got := b.text("#tag-body tr.current"); !strings.Contains(got, views.ShortDigest(d2)) {
		t.Errorf("the current history row reads %q, want %s", got, views.ShortDigest(d2))
	}
	b.expectPath(views.TagHref("payments", "api", "tool"))
	b.screenshot("after-import-now")
}
