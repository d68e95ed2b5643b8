package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"layerwise/store"
)

const rulesAction = "/ns/payments/settings/rules"

// Retention rules on the settings page: a form of its own, for namespace
// admins, audited; a refused rule is shown next to the rules as typed and
// changes nothing.
func TestRetentionRulesOnTheSettingsPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	nadia := actAs(t, ts, "nadia", "payments=admin")
	ed := actAs(t, ts, "ed", "payments=editor")
	ctx := context.Background()

	d := doc(t, ts.get(t, nadia, "/ns/payments/settings", http.StatusOK))
	f := actForm(t, d, rulesAction)
	if d.Find("#set-rules").Length() != 1 || strings.TrimSpace(d.Find("#set-rules").Text()) != "" {
		t.Fatalf("the rules field: %q", d.Find("#set-rules").Text())
	}
	f.Set("rules", "# releases\n^v\\d+\\.\\d+\\.\\d+$ never\r\n^pr-\\d+$ keep 1 younger-than 24h\npulled-within 30d\n")
	r := actPost(t, ts, nadia, rulesAction, f, false)
	actExpect(t, r, http.StatusSeeOther, "save rules")
	if r.location != "/ns/payments/settings?saved=rules#rules" {
		t.Errorf("saving redirects to %q", r.location)
	}
	want := "^v\\d+\\.\\d+\\.\\d+$ never\n^pr-\\d+$ keep 1 younger-than 24h\npulled-within 30d"
	rules, err := ts.store.RetentionRules(ctx, "payments")
	if err != nil || store.RulesText(rules) != want {
		t.Fatalf("rules after saving: %q, %v", store.RulesText(rules), err)
	}
	d = doc(t, ts.get(t, nadia, "/ns/payments/settings?saved=rules", http.StatusOK))
	if got := d.Find("#rules .alert-ok").Text(); got != "Retention rules saved." || d.Find("#set-rules").Text() != want {
		t.Errorf("after saving: %q, field %q", got, d.Find("#set-rules").Text())
	}
	evs := actAudit(t, ts, "namespace.retention")
	if len(evs) != 1 || evs[0].Actor != "nadia" || evs[0].Before != "none" || !strings.HasPrefix(evs[0].After, "1. ^v\\d+") {
		t.Errorf("audit: %+v", evs)
	}

	// A bad pattern: 400, the rule named, the text kept, nothing changed.
	before := actDump(t, ts)
	f = actForm(t, d, rulesAction)
	f.Set("rules", "^pr-\\d+$ keep 1\n^v(\\d+ never")
	r = actPost(t, ts, nadia, rulesAction, f, false)
	actExpect(t, r, http.StatusBadRequest, "bad rule")
	e := doc(t, r.body)
	field := e.Find("#set-rules")
	if field.Text() != "^pr-\\d+$ keep 1\n^v(\\d+ never" || field.AttrOr("aria-invalid", "") != "true" {
		t.Errorf("refused rules: field %q invalid=%q", field.Text(), field.AttrOr("aria-invalid", ""))
	}
	if got := squash(field.NextAllFiltered(".field-error").First().Text()); !strings.Contains(got, "rule 2") || !strings.Contains(got, "not a valid RE2") {
		t.Errorf("the error next to the rules: %q", got)
	}
	// An editor may not: 403.
	r = actPost(t, ts, ed, rulesAction, f, false)
	actExpect(t, r, http.StatusForbidden, "an editor saves rules")
	if after := actDump(t, ts); after != before {
		t.Errorf("refused rules changed the database:\n%s", actDiff(before, after))
	}
}

// The rules in the API: viewers read them, admins replace them (as a list
// or as text), and bad rules are refused naming the rule.
func TestRetentionRulesAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	admin := ts.apiUser(t, "ada", false, "payments=admin")
	editor := ts.apiUser(t, "ed", false, "payments=editor")
	viewer := ts.apiUser(t, "vic", false, "payments=viewer")
	path := "/api/v1/namespaces/payments/retentionrules"
	type answer struct {
		Namespace string `json:"namespace"`
		Rules     []struct {
			Tags             string `json:"tags"`
			Never            bool   `json:"never"`
			KeepTagRevisions *int   `json:"keepTagRevisions"`
			KeepYoungerThan  string `json:"keepYoungerThan"`
			PulledWithin     string `json:"pulledWithin"`
		} `json:"rules"`
		Text string `json:"text"`
	}
	var got answer
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: path, token: viewer}).decode(t, &got)
	if got.Namespace != "payments" || len(got.Rules) != 0 || got.Text != "" {
		t.Errorf("no rules yet: %+v", got)
	}
	before := ts.apiDump(t)
	for _, c := range []struct {
		token, body string
		status      int
		says        string
	}{
		{viewer, `{"rules": []}`, http.StatusForbidden, "admin role"},
		{editor, `{"rules": []}`, http.StatusForbidden, "admin role"},
		{admin, `{"rules": [{"tags": "^v(\\d+", "never": true}]}`, http.StatusBadRequest, "rule 1"},
		{admin, `{"rules": [{"tags": "^v.*", "never": true, "keepTagRevisions": 2}]}`, http.StatusBadRequest, "write two rules instead"},
		{admin, `{"rules": [{"tags": "^v.*", "pulledWithin": "soon"}]}`, http.StatusBadRequest, "pulledWithin"},
		{admin, `{"text": "never\n^x$ keep"}`, http.StatusBadRequest, "rule 2"},
		{admin, `{"text": "never", "rules": []}`, http.StatusBadRequest, "not both"},
		{admin, `{}`, http.StatusBadRequest, `{"rules": []} removes`},
	} {
		r := ts.apiMust(t, c.status, apiCall{method: "PUT", path: path, token: c.token, body: c.body})
		if msg := r.errorText(t); !strings.Contains(msg, c.says) {
			t.Errorf("%s: %q, want it to say %q", c.body, msg, c.says)
		}
	}
	if ts.apiDump(t) != before {
		t.Error("a refused PUT changed the database")
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: path, token: admin,
		body: `{"rules": [{"tags": "^v\\d+$", "never": true}, {"tags": "^pr-\\d+$", "keepTagRevisions": 1, "keepYoungerThan": "1d"}, {"pulledWithin": "30d"}]}`}).decode(t, &got)
	if len(got.Rules) != 3 || !got.Rules[0].Never || got.Rules[1].KeepYoungerThan != "24h" || got.Rules[2].PulledWithin != "30d" ||
		got.Text != "^v\\d+$ never\n^pr-\\d+$ keep 1 younger-than 24h\npulled-within 30d" {
		t.Errorf("after PUT: %+v", got)
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: path, token: admin, body: `{"text": "latest keep 2"}`}).decode(t, &got)
	if len(got.Rules) != 1 || got.Rules[0].Tags != "latest" || *got.Rules[0].KeepTagRevisions != 2 {
		t.Errorf("after PUT of text: %+v", got)
	}
	if evs := actAudit(t, ts, "namespace.retention"); len(evs) != 2 || evs[0].After != "1. latest keep 2" {
		t.Errorf("audit: %+v", evs)
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "PUT", path: path, token: admin, body: `{"rules": []}`}).decode(t, &got)
	if len(got.Rules) != 0 {
		t.Errorf("after removing: %+v", got)
	}
	ts.apiMust(t, http.StatusNotFound, apiCall{method: "GET", path: "/api/v1/namespaces/ml/retentionrules", token: viewer})
}

// Every revision says why it is kept (or not) in the plan's API with
// ?kept=true, on /prune and on the tag page, and they agree.
func TestRetentionReasonsEverywhere(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	root := ts.apiUser(t, "root", true)
	if _, err := ts.store.SetRetentionRules(context.Background(), "payments", mustRules(t, "^latest$ keep 1 younger-than 0")); err != nil {
		t.Fatal(err)
	}
	type rev struct {
		Namespace, Stream, Tag, Image string
		Position                      int
		Retention                     struct {
			Reason, Detail, PrunableOn string
			Rule                       int
		}
	}
	var plan struct {
		Revisions []rev `json:"revisions"`
		Kept      []rev `json:"kept"`
	}
	ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/prune/plan?kept=true", token: root}).decode(t, &plan)
	if len(plan.Kept) == 0 || len(plan.Revisions) == 0 {
		t.Fatalf("plan: %d revisions, %d kept", len(plan.Revisions), len(plan.Kept))
	}
	ts.apiMust(t, http.StatusBadRequest, apiCall{method: "GET", path: "/api/v1/prune/plan?kept=maybe", token: root})
	var latest []rev
	for _, list := range [][]rev{plan.Revisions, plan.Kept} {
		for _, r := range list {
			if r.Retention.Reason == "" || r.Retention.Detail == "" {
				t.Errorf("%s/%s:%s@%d has no reason", r.Namespace, r.Stream, r.Tag, r.Position)
			}
			if r.Namespace == "payments" && r.Tag == "latest" && r.Stream == "api" {
				latest = append(latest, r)
			}
		}
	}
	var stream string
	for _, r := range latest {
		stream = r.Stream
		want := "prunable"
		if r.Position == 0 {
			want = "current"
		}
		if r.Retention.Reason != want || (r.Position > 0 && (r.Retention.Rule != 1 || !strings.HasPrefix(r.Retention.Detail, "rule 1: not among the newest 1"))) {
			t.Errorf("payments/%s:latest@%d: %+v", r.Stream, r.Position, r.Retention)
		}
	}
	if stream == "" {
		t.Fatal("payments/api has no latest tag in the demo data")
	}

	c := ts.client(t)
	ts.login(t, c, "demo", "demo")
	d := doc(t, ts.get(t, c, "/ns/payments/istag/"+stream+":latest", http.StatusOK))
	rows := d.Find("table.history tbody tr")
	if rows.Length() != len(latest) {
		t.Fatalf("tag page: %d history rows, the plan %d revisions", rows.Length(), len(latest))
	}
	rows.Each(func(i int, row *goquery.Selection) {
		why := squash(row.Find("td.retention .why").Text())
		if (i == 0 && why != "current") || (i > 0 && !strings.HasPrefix(why, "rule 1: not among the newest 1")) {
			t.Errorf("tag page row %d says %q", i, why)
		}
		if got := squash(row.Find("td").Eq(4).Text()); got != "never recorded" {
			t.Errorf("tag page row %d, last pulled %q", i, got)
		}
	})
	p := doc(t, ts.get(t, c, "/prune?ns=payments", http.StatusOK))
	if got := squash(p.Find("#prune-detail ol.rules").Text()); got != "^latest$ keep 1 younger-than 0s" {
		t.Errorf("/prune lists the rules as %q", got)
	}
	if p.Find("#prune-kept tbody tr").Length() == 0 || !strings.Contains(p.Find("#prune-kept").Text(), "current") ||
		!strings.Contains(p.Find("table.prune").First().Text(), "rule 1: not among the newest 1") {
		t.Errorf("/prune detail: %q", squash(p.Find("#prune-detail").Text()))
	}
}

func mustRules(t *testing.T, text string) []store.RetentionRule {
	t.Helper()
	r, err := store.ParseRetentionRules(text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
