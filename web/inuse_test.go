package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"layerwise/store"
)

// TestInUseOnThePages: an old revision a deployment runs leaves the plan
// (the API keeps it as in-use, naming the workload), its tag page's
// history row and the stream's row say "in use by …", and /prune says
// which cluster's images stay — or, after a failed read, that prune keeps
// everything, why and since when.
func TestInUseOnThePages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	ctx := context.Background()
	root := ts.apiUser(t, "root", true)
	type rev struct {
		Namespace, Stream, Tag, Image string
		Position                      int
		InUseBy                       string
		Retention                     struct{ Reason string }
	}
	var plan struct {
		Revisions []rev `json:"revisions"`
		Kept      []rev `json:"kept"`
		Hold      *struct{ Cluster, Error string }
	}
	getPlan := func() {
		plan.Revisions, plan.Kept, plan.Hold = nil, nil, nil
		ts.apiMust(t, http.StatusOK, apiCall{method: "GET", path: "/api/v1/prune/plan?kept=true", token: root}).decode(t, &plan)
	}
	getPlan()
	var old *rev
	for i, r := range plan.Revisions {
		if r.Image != "" && r.Namespace == "payments" {
			old = &plan.Revisions[i]
			break
		}
	}
	if old == nil {
		t.Fatal("the demo data has no prunable revision in payments")
	}
	var current string
	for _, r := range plan.Kept {
		if r.Namespace == old.Namespace && r.Stream == old.Stream && r.Tag == old.Tag && r.Position == 0 {
			current = r.Image
		}
	}

	c := ts.client(t)
	ts.login(t, c, "demo", "demo")
	p := doc(t, ts.get(t, c, "/prune", http.StatusOK))
	if got := squash(p.Find("#prune-in-use").Text()); !strings.Contains(got, "pin the images that run somewhere") {
		t.Errorf("/prune without a cluster says %q", got)
	}

	const cluster = "openshift:https://api.cluster.example.com:6443"
	if _, err := ts.store.ReplaceInUse(ctx, cluster, []store.InUseRef{
		{Workload: store.Workload{Kind: "deployment", Namespace: "payments", Name: "api"}, PullSpec: "r.example/x/y@" + old.Image},
		{Workload: store.Workload{Kind: "pod", Namespace: "payments", Name: "api-1"}, PullSpec: "r.example/x/y@" + old.Image},
		{Workload: store.Workload{Kind: "job", Namespace: "payments", Name: "migrate"}, PullSpec: "r.example/x/y@" + current},
	}); err != nil {
		t.Fatal(err)
	}
	ts.srv.change.Notify() // as the sync job does after a run
	const want = "in use by deployment payments/api and 1 more"
	getPlan()
	for _, r := range plan.Revisions {
		if r.Image == old.Image {
			t.Fatalf("the plan still prunes %s:%s@%d, which a deployment runs", r.Stream, r.Tag, r.Position)
		}
	}
	found := false
	for _, r := range plan.Kept {
		if r.Image == old.Image && r.Position == old.Position && r.Tag == old.Tag {
			found = r.Retention.Reason == "in-use" && r.InUseBy == want
		}
	}
	if !found {
		t.Errorf("the plan does not keep %s as in-use %q", old.Image, want)
	}

	tag := doc(t, ts.get(t, c, "/ns/payments/istag/"+old.Stream+":"+old.Tag, http.StatusOK))
	var row *goquery.Selection
	tag.Find("table.history tbody tr").Each(func(_ int, r *goquery.Selection) {
		if v, _ := r.Find("td.ref a.digest").Attr("title"); v == old.Image {
			row = r
		}
	})
	if row == nil {
		t.Fatalf("no history row of %s on the tag page", old.Image)
	}
	if got := squash(row.Find("td.retention").Text()); !strings.Contains(got, want) || strings.Contains(got, "would be pruned") {
		t.Errorf("the tag page's row says %q, want %q", got, want)
	}
	st := doc(t, ts.get(t, c, "/ns/payments/is/"+old.Stream, http.StatusOK))
	if got := squash(st.Find("tr#tag-" + old.Tag + " .in-use").Text()); got != "in use by job payments/migrate" {
		t.Errorf("the stream's row says %q", got)
	}
	p = doc(t, ts.get(t, c, "/prune", http.StatusOK))
	if got := squash(p.Find("#prune-in-use").Text()); !strings.Contains(got, "2 images in use on https://api.cluster.example.com:6443 always stay") {
		t.Errorf("/prune says %q", got)
	}

	// A failed read: prune keeps everything, and says why.
	if err := ts.store.RecordInUseFailure(ctx, cluster, errors.New("list https://api.cluster.example.com:6443/apis/apps/v1/deployments (page 2): 500 Internal Server Error")); err != nil {
		t.Fatal(err)
	}
	ts.srv.change.Notify()
	getPlan()
	if plan.Hold == nil || plan.Hold.Cluster != cluster || len(plan.Revisions) != 0 {
		t.Errorf("after a failed read: hold %+v, %d revisions", plan.Hold, len(plan.Revisions))
	}
	p = doc(t, ts.get(t, c, "/prune", http.StatusOK))
	got := squash(p.Find("#prune-hold").Text())
	for _, w := range []string{"Prune keeps everything", "apis/apps/v1/deployments (page 2): 500", "failed at " + ts.store.Now().UTC().Format("2006-01-02 15:04 UTC")} {
		if !strings.Contains(got, w) {
			t.Errorf("/prune's hold %q lacks %q", got, w)
		}
	}
	if n := p.Find("table.prune-namespaces tbody tr").Length(); n != 0 {
		t.Errorf("/prune lists %d namespaces to prune while held", n)
	}
}
