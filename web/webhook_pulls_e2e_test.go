package web

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"layerwise/jobs"
	"layerwise/jobs/registry/regtest"
	"layerwise/store"
)

// TestPullNotificationsEndToEnd runs the real registry with its
// notifications pointed at Layerwise. Layerwise's own reads — each push
// read back, a full sync — are pulls to the registry too, and must not
// count: afterwards no revision has a pull time. A client then pulls one
// old revision by digest: the tag page shows when, and a pulled-within
// rule keeps that revision while its unpulled neighbour goes.
func TestPullNotificationsEndToEnd(t *testing.T) {
	t.Parallel()
	const tok = "e2e-pull-token"
	ln := listenLoopback(t)
	r := regtest.Start(t, regtest.Options{NotifyURL: "http://" + ln.Addr().String() + "/api/v1/registry/events", NotifyToken: tok})
	hs := startHookServer(t, ln, Config{RegistryURL: r.URL, WebhookToken: tok})
	s, ctx := hs.store, context.Background()

	base := []v1.Layer{}
	for range 2 {
		l, err := random.Layer(20000, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		base = append(base, l)
	}
	ref, err := name.ParseReference(r.Host+"/team-a/api:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var pushed []string // oldest first
	for range 3 {
		img := e2eImage(t, base, 1, "amd64")
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		pushed = append(pushed, digestOf(t, img))
	}
	api := store.TagRef{Namespace: "team-a", Stream: "api", Tag: "latest"}
	want := []string{pushed[2], pushed[1], pushed[0]}
	eventually(10*time.Second, func() bool { return slices.Equal(history(t, s, api), want) })
	if got := history(t, s, api); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v\nregistry log:\n%s", got, want, r.Log())
	}
	// A full sync reads every manifest again, as Layerwise.
	if _, err := jobs.SyncJob(s, hs.srv.syncSettings()).Run(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if _, err := s.SetRetentionRules(ctx, "team-a", mustRules(t, "pulled-within 1d\nkeep 1 younger-than 0")); err != nil {
		t.Fatal(err)
	}
	// An hour passes (for the plan and the pages; the registry's pull
	// happens in real time, within that day).
	s.SetClock(func() time.Time { return time.Now().Add(time.Hour) })

	// A client pulls the middle revision by digest, as a deployment would.
	pulled, err := name.ParseReference(r.Host+"/team-a/api@"+pushed[1], name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(pulled)
	if err != nil || desc.Digest.String() != pushed[1] {
		t.Fatalf("pull: %v", err)
	}
	// The registry sends its events in order: once the client's pull is
	// recorded, Layerwise's own reads before it have been delivered too.
	lastPulled := func() map[string]time.Time {
		t.Helper()
		if _, err := hs.srv.Pulls().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		f, err := s.StreamFacts(ctx, store.StreamRef{Namespace: "team-a", Stream: "api"}, store.DefaultPolicy)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.StreamPulls(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, e := range f.Evaluate(p, s.Now())["latest"] {
			if !e.LastPulled.IsZero() {
				out[e.Image] = e.LastPulled
			}
		}
		return out
	}
	eventually(10*time.Second, func() bool { return len(lastPulled()) > 0 })
	got := lastPulled()
	if len(got) != 1 || got[pushed[1]].IsZero() || time.Since(got[pushed[1]]).Abs() > time.Minute {
		t.Fatalf("pull times %v: want only %s, pulled just now (Layerwise's own reads are not pulls)\nlog:\n%s", got, pushed[1][:19], hs.logs)
	}

	// The tag page: when each revision was last pulled, and why it stays.
	resp, err := http.Get(hs.URL + "/ns/team-a/istag/api:latest")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("tag page: %d %v", resp.StatusCode, err)
	}
	rows := d.Find("table.history tbody tr")
	if rows.Length() != 3 {
		t.Fatalf("%d history rows", rows.Length())
	}
	for i, wantWhy := range []string{"current", "rule 1: pulled within 24h (last ", "rule 2: not among the newest 1"} {
		row := rows.Eq(i)
		why := squash(row.Find("td.retention .why").Text())
		pulledCell := squash(row.Find("td").Eq(4).Text())
		if !strings.HasPrefix(why, wantWhy) || (i == 1) == (pulledCell == "never recorded") {
			t.Errorf("row %d: why %q, last pulled %q; want %q", i, why, pulledCell, wantWhy)
		}
	}
	// The stream page: its newest pull.
	resp, err = http.Get(hs.URL + "/ns/team-a/is/api")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	got2 := ""
	sd.Find("dl.describe dt").Each(func(_ int, dt *goquery.Selection) {
		if squash(dt.Text()) == "Last pulled" {
			got2 = squash(dt.Next().Text())
		}
	})
	if got := got2; got == "" || got == "never recorded" {
		t.Errorf("the stream page's last pull: %q", got)
	}
	// The plan keeps the pulled revision and removes the other.
	plan, err := s.PlanPrune(ctx, store.DefaultPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Revisions) != 1 || plan.Revisions[0].Image != pushed[0] {
		t.Errorf("the plan removes %+v, want only the unpulled %s", plan.Revisions, pushed[0][:19])
	}
}
