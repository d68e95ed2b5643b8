package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/labstack/echo/v4"

	"layerwise/jobs/registry/regtest"
)

// The guard of "every change is audited once": every route of the server
// that is not a read is driven here, through the JSON API, the forms and
// the registry webhook. A change writes exactly one audit event naming who
// made it; the same change again changes nothing — not even the audit log —
// and says so. A route added without a case here fails the test, so a
// write cannot slip past the audit log unnoticed.

// guardWrite is one write route and how to drive it.
type guardWrite struct {
	route  string // "METHOD /path" as the router has it
	action string // the audit action of the change
	actor  string
	change func(t *testing.T) string // makes the change; returns the answer
	// again makes the same change once more, which must change nothing;
	// nil where a second time is refused instead (a deleted tag is gone).
	again func(t *testing.T) string
	says  string // what again's answer says; "" where it has no such field
	// bookkeeping: again rewrites bookkeeping (an import's condition time
	// and last digest check), so only the audit log must stay the same.
	bookkeeping bool
}

// notWrites are the routes that are not GET but change no data: a login
// or logout only starts or ends a session.
var notWrites = map[string]string{
	"POST /login":  "starts a session",
	"POST /logout": "ends a session",
}

func guardPush(t *testing.T, host, repoTag string) string {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func TestEveryWriteIsAuditedOnce(t *testing.T) {
	t.Parallel()
	reg := regtest.Start(t, regtest.Options{})
	ts := newTestServerWith(t, true, func(cfg *Config) {
		cfg.RegistryURL, cfg.WebhookToken, cfg.PruneSchedule = reg.URL, hookToken, "0 0 * * *"
	})
	ctx := context.Background()
	root := ts.apiUser(t, "root", true)
	ann := actAs(t, ts, "ann", "payments=admin")
	if _, err := ts.store.CreateUser(ctx, "bob", "pw-bob", false); err != nil {
		t.Fatal(err)
	}
	csrf := actCSRF(t, ts.get(t, ann, "/ns/payments", http.StatusOK))
	appV1 := guardPush(t, reg.Host, "payments/app:1")
	hooked := guardPush(t, reg.Host, "payments/hooked:v1")
	var appV2 string

	api := func(t *testing.T, method, path, body string) string {
		t.Helper()
		return string(ts.apiMust(t, http.StatusOK, apiCall{method: method, path: path, body: body, token: root}).body)
	}
	// form posts as the browser's htmx does (the answer is the fragment
	// with what happened); redirect: a plain form, whose next page says it.
	form := func(t *testing.T, path string, kv ...string) string {
		t.Helper()
		v := url.Values{"_csrf": {csrf}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		r := actPost(t, ts, ann, path, v, true)
		actExpect(t, r, http.StatusOK, path)
		return mainText(r.body)
	}
	redirect := func(t *testing.T, path string, v url.Values) string {
		t.Helper()
		r := actPost(t, ts, ann, path, v, false)
		actExpect(t, r, http.StatusSeeOther, path)
		return mainText(ts.get(t, ann, r.location, http.StatusOK))
	}
	// A platform admin's browser, for the operations and accounts forms.
	rootWeb := ts.client(t)
	ts.login(t, rootWeb, "root", "secret-root")
	rootCSRF := actCSRF(t, ts.get(t, rootWeb, "/accounts", http.StatusOK))
	rootPost := func(t *testing.T, path string, kv ...string) string {
		t.Helper()
		v := url.Values{"_csrf": {rootCSRF}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		r := actPost(t, ts, rootWeb, path, v, false)
		actExpect(t, r, http.StatusSeeOther, path)
		return mainText(ts.get(t, rootWeb, r.location, http.StatusOK))
	}
	hook := func(t *testing.T, events ...map[string]any) string {
		t.Helper()
		status, res, msg := postEvents(t, ts.URL, "Bearer "+hookToken, envelope(events...))
		if status != http.StatusOK {
			t.Fatalf("webhook: %d %s", status, msg)
		}
		return fmt.Sprintf("%+v", res)
	}
	current := func(ns, stream, tag string) string {
		h := actHistory(t, ts, ns, stream, tag)
		if len(h) == 0 {
			t.Fatalf("%s/%s:%s has no image", ns, stream, tag)
		}
		return h[0]
	}
	istag := "/api/v1/namespaces/payments/imagestreamtags/api:guard"
	pins := func() string { return "/api/v1/namespaces/payments/pins/" + current("payments", "api", "latest") }
	tagForm := func(tag, action string) string { return "/ns/payments/istag/api:" + tag + "/" + action }
	settings := func(t *testing.T) url.Values {
		v := actForm(t, doc(t, ts.get(t, ann, "/ns/payments/settings", http.StatusOK)), "/ns/payments/settings")
		v.Set("threshold", "7GiB")
		return v
	}

	cases := []guardWrite{
		// The JSON API, as root (a platform admin's token).
		{route: "PUT /api/v1/namespaces/:ns/imagestreamtags/:nametag", action: "tag.set", actor: "root",
			change: func(t *testing.T) string {
				return api(t, "PUT", istag, `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}}`)
			},
			again: func(t *testing.T) string {
				return api(t, "PUT", istag, `{"from": {"kind": "ImageStreamTag", "name": "api:latest"}}`)
			}},
		{route: "POST /api/v1/namespaces/:ns/imagestreams/:name/promote", action: "tag.promote", actor: "root",
			change: func(t *testing.T) string {
				return api(t, "POST", "/api/v1/namespaces/payments/imagestreams/api/promote", `{"from": "latest"}`)
			},
			again: func(t *testing.T) string {
				return api(t, "POST", "/api/v1/namespaces/payments/imagestreams/api/promote", `{"from": "latest"}`)
			}, says: `"changed":false`},
		{route: "POST /api/v1/namespaces/:ns/imagestreams/:name/rollback", action: "tag.rollback", actor: "root",
			change: func(t *testing.T) string {
				return api(t, "POST", "/api/v1/namespaces/payments/imagestreams/api/rollback", `{"tag": "test"}`)
			},
			again: func(t *testing.T) string {
				return api(t, "POST", "/api/v1/namespaces/payments/imagestreams/api/rollback",
					fmt.Sprintf(`{"tag": "test", "image": %q}`, current("payments", "api", "test")))
			}, says: `"changed":false`},
		{route: "POST /api/v1/namespaces/:ns/imagestreamimports", action: "tag.import", actor: "root",
			change: func(t *testing.T) string {
				return api(t, "POST", "/api/v1/namespaces/payments/imagestreamimports",
					fmt.Sprintf(`{"tag": "app:v1", "from": %q}`, reg.Host+"/payments/app:1"))
			},
			again: func(t *testing.T) string {
				return api(t, "POST", "/api/v1/namespaces/payments/imagestreamimports",
					fmt.Sprintf(`{"tag": "app:v1", "from": %q}`, reg.Host+"/payments/app:1"))
			}, says: `"changed":false`, bookkeeping: true},
		{route: "PUT /api/v1/namespaces/:ns/pins/:digest", action: "image.pin", actor: "root",
			change: func(t *testing.T) string { return api(t, "PUT", pins(), `{"note": "guard"}`) },
			again:  func(t *testing.T) string { return api(t, "PUT", pins(), `{"note": " guard "}`) }},
		{route: "DELETE /api/v1/namespaces/:ns/pins/:digest", action: "image.unpin", actor: "root",
			change: func(t *testing.T) string {
				ts.apiMust(t, http.StatusNoContent, apiCall{method: "DELETE", path: pins(), token: root})
				return ""
			}},
		{route: "PUT /api/v1/namespaces/:ns/retentionrules", action: "namespace.retention", actor: "root",
			change: func(t *testing.T) string {
				return api(t, "PUT", "/api/v1/namespaces/payments/retentionrules", `{"text": "^v\\d+$ never"}`)
			},
			again: func(t *testing.T) string {
				return api(t, "PUT", "/api/v1/namespaces/payments/retentionrules", `{"rules": [{"tags": "^v\\d+$", "never": true}]}`)
			}, says: `"changed":false`},
		{route: "DELETE /api/v1/namespaces/:ns/imagestreamtags/:nametag", action: "tag.delete", actor: "root",
			change: func(t *testing.T) string { return api(t, "DELETE", istag, "") }},

		// The registry's notifications, as system:registry.
		{route: "POST /api/v1/registry/events", action: "registry.push", actor: "system:registry",
			change: func(t *testing.T) string {
				return hook(t, event("push", "payments/hooked", "v1", hooked, mtManifest, evT0))
			},
			again: func(t *testing.T) string { // the registry delivers again
				return hook(t, event("push", "payments/hooked", "v1", hooked, mtManifest, evT0))
			}, says: "Changed:0 Unchanged:1"},
		{route: "POST /api/v1/registry/events", action: "registry.delete", actor: "system:registry",
			change: func(t *testing.T) string {
				return hook(t, event("delete", "payments/hooked", "", hooked, mtManifest, evT0))
			},
			again: func(t *testing.T) string {
				return hook(t, event("delete", "payments/hooked", "", hooked, mtManifest, evT0))
			},
			says: "Deletes:0"},

		// The forms, as ann (admin of payments).
		{route: "POST /ns/:ns/is/:name/tags", action: "tag.set", actor: "ann",
			change: func(t *testing.T) string {
				return form(t, "/ns/payments/is/api/tags", "source", "latest", "tag", "formguard")
			},
			again: func(t *testing.T) string {
				return form(t, "/ns/payments/is/api/tags", "source", "latest", "tag", "formguard")
			},
			says: "nothing changed"},
		{route: "POST /ns/:ns/istag/:nametag/promote", action: "tag.promote", actor: "ann",
			change: func(t *testing.T) string { return form(t, tagForm("latest", "promote"), "to", "test") },
			again:  func(t *testing.T) string { return form(t, tagForm("latest", "promote"), "to", "test") },
			says:   "nothing changed"},
		{route: "POST /ns/:ns/istag/:nametag/rollback", action: "tag.rollback", actor: "ann",
			change: func(t *testing.T) string {
				// Confirmed (the form's first answer asks and changes nothing).
				return form(t, tagForm("test", "rollback"), "digest", actHistory(t, ts, "payments", "api", "test")[1], "confirm", "yes")
			},
			again: func(t *testing.T) string {
				return form(t, tagForm("test", "rollback"), "digest", current("payments", "api", "test"))
			}, says: "nothing changed"},
		{route: "POST /ns/:ns/istag/:nametag/scheduled", action: "tag.scheduled", actor: "ann",
			change: func(t *testing.T) string { return form(t, "/ns/payments/istag/app:v1/scheduled", "scheduled", "on") },
			again:  func(t *testing.T) string { return form(t, "/ns/payments/istag/app:v1/scheduled", "scheduled", "on") },
			says:   "nothing changed"},
		{route: "POST /ns/:ns/istag/:nametag/import", action: "tag.import", actor: "ann",
			change: func(t *testing.T) string {
				appV2 = guardPush(t, reg.Host, "payments/app:1") // the registry has a new image
				return form(t, "/ns/payments/istag/app:v1/import")
			},
			again: func(t *testing.T) string { return form(t, "/ns/payments/istag/app:v1/import") },
			says:  "nothing changed", bookkeeping: true},
		{route: "POST /ns/:ns/istag/:nametag/pin", action: "image.pin", actor: "ann",
			change: func(t *testing.T) string {
				return form(t, tagForm("latest", "pin"), "image", current("payments", "api", "latest"), "note", "form")
			},
			again: func(t *testing.T) string {
				return form(t, tagForm("latest", "pin"), "image", current("payments", "api", "latest"), "note", "form")
			}, says: "nothing changed"},
		{route: "POST /ns/:ns/istag/:nametag/unpin", action: "image.unpin", actor: "ann",
			change: func(t *testing.T) string {
				return form(t, tagForm("latest", "unpin"), "image", current("payments", "api", "latest"))
			}},
		{route: "POST /ns/:ns/istag/:nametag/delete", action: "tag.delete", actor: "ann",
			change: func(t *testing.T) string { return form(t, tagForm("formguard", "delete"), "confirm", "formguard") }},
		{route: "POST /ns/:ns/settings", action: "namespace.settings", actor: "ann",
			change: func(t *testing.T) string { return redirect(t, "/ns/payments/settings", settings(t)) },
			again:  func(t *testing.T) string { return redirect(t, "/ns/payments/settings", settings(t)) },
			says:   "nothing changed"},
		{route: "POST /ns/:ns/settings/rules", action: "namespace.retention", actor: "ann",
			change: func(t *testing.T) string {
				return redirect(t, "/ns/payments/settings/rules", url.Values{"_csrf": {csrf}, "rules": {"^pr-\\d+$ keep 1"}})
			},
			again: func(t *testing.T) string {
				return redirect(t, "/ns/payments/settings/rules", url.Values{"_csrf": {csrf}, "rules": {"^pr-\\d+$   keep 1  # the same"}})
			}, says: "nothing changed"},
		{route: "POST /ns/:ns/members", action: "rolebinding.add", actor: "ann",
			change: func(t *testing.T) string {
				return redirect(t, "/ns/payments/members", url.Values{"_csrf": {csrf}, "user": {"bob"}, "role": {"editor"}})
			},
			again: func(t *testing.T) string {
				return redirect(t, "/ns/payments/members", url.Values{"_csrf": {csrf}, "user": {"bob"}, "role": {"editor"}})
			}, says: "nothing changed"},
		{route: "POST /ns/:ns/members/remove", action: "rolebinding.remove", actor: "ann",
			change: func(t *testing.T) string {
				return redirect(t, "/ns/payments/members/remove", url.Values{"_csrf": {csrf}, "user": {"bob"}})
			}},
		{route: "POST /tokens", action: "token.create", actor: "ann",
			change: func(t *testing.T) string {
				r := actPost(t, ts, ann, "/tokens", url.Values{"_csrf": {csrf}, "name": {"guard"}}, false)
				actExpect(t, r, http.StatusOK, "create a token")
				return mainText(r.body)
			}},
		{route: "POST /tokens/:id/revoke", action: "token.revoke", actor: "ann",
			change: func(t *testing.T) string {
				list, err := ts.store.Tokens(ctx, "ann")
				if err != nil || len(list) == 0 {
					t.Fatalf("ann's tokens: %v %v", list, err)
				}
				return redirect(t, fmt.Sprintf("/tokens/%d/revoke", list[0].ID), url.Values{"_csrf": {csrf}})
			}},

		// A platform admin's forms: accounts and operations, as root.
		{route: "POST /accounts", action: "user.add", actor: "root",
			change: func(t *testing.T) string { return rootPost(t, "/accounts", "name", "carol", "password", "pw-carol") }},
		{route: "POST /accounts/:name/password", action: "user.password", actor: "root",
			change: func(t *testing.T) string { return rootPost(t, "/accounts/carol/password", "password", "pw-carol-2") }},
		{route: "POST /accounts/:name/disable", action: "user.disable", actor: "root",
			change: func(t *testing.T) string { return rootPost(t, "/accounts/carol/disable") },
			again:  func(t *testing.T) string { return rootPost(t, "/accounts/carol/disable") },
			says:   "Nothing changed"},
		{route: "POST /accounts/:name/enable", action: "user.enable", actor: "root",
			change: func(t *testing.T) string { return rootPost(t, "/accounts/carol/enable") },
			again:  func(t *testing.T) string { return rootPost(t, "/accounts/carol/enable") },
			says:   "Nothing changed"},
		{route: "POST /jobs/:job/run", action: "job.run", actor: "root",
			change: func(t *testing.T) string { return rootPost(t, "/jobs/usage-snapshot/run") }},
		// Prune audits itself (prune.apply), as whoever confirmed it.
		{route: "POST /prune/run", action: "prune.apply", actor: "root",
			change: func(t *testing.T) string {
				d := doc(t, ts.get(t, rootWeb, "/prune/confirm", http.StatusOK))
				return rootPost(t, "/prune/run", "plan", d.Find(`input[name="plan"]`).AttrOr("value", ""))
			}},
	}

	// Every route that is not a read has a case (or is no write at all).
	driven := map[string]bool{}
	for _, c := range cases {
		driven[c.route] = true
	}
	for _, r := range ts.srv.echo.Routes() {
		key := r.Method + " " + r.Path
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == echo.RouteNotFound:
		case driven[key], notWrites[key] != "":
			delete(driven, key)
		default:
			t.Errorf("%s is not a read, but no case of TestEveryWriteIsAuditedOnce drives it: add one (its change goes through change.Service, audited once)", key)
		}
	}
	for key := range driven {
		t.Errorf("the case for %s names no route of the server", key)
	}

	for _, c := range cases {
		what := c.route + " (" + c.action + ")"
		before := ts.apiAudit(t)
		c.change(t)
		evs := ts.apiAudit(t)
		if len(evs) != len(before)+1 {
			t.Fatalf("%s: %d audit events for one change, want 1: %+v", what, len(evs)-len(before), evs[:len(evs)-len(before)])
		}
		if ev := evs[0]; ev.Action != c.action || ev.Actor != c.actor {
			t.Errorf("%s: audit event %+v, want %s by %s", what, ev, c.action, c.actor)
		}
		if c.again == nil {
			continue
		}
		dumped := ts.apiDump(t)
		said := c.again(t)
		if n := len(ts.apiAudit(t)) - len(evs); n != 0 {
			t.Errorf("%s: the same change again wrote %d audit events, want none", what, n)
		}
		if !c.bookkeeping {
			if after := ts.apiDump(t); after != dumped {
				t.Errorf("%s: the same change again changed the database:\n%s", what, diffLines(dumped, after))
			}
		}
		if !strings.Contains(squash(said), c.says) {
			t.Errorf("%s: the same change again answered %q, want it to say %q", what, firstN(squash(said), 300), c.says)
		}
	}
	if got := current("payments", "app", "v1"); got != appV2 || appV1 == appV2 {
		t.Errorf("payments/app:v1 is at %s, want the re-imported %s", got, appV2)
	}
	if h := actHistory(t, ts, "payments", "hooked", "v1"); len(h) != 0 {
		t.Errorf("payments/hooked:v1 history %v after the registry deleted its manifest", h)
	}
}
