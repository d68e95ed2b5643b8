package openshift

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"layerwise/store"
)

const workloadFixture = "../../testdata/openshift/workloads/seed-workloads.yaml"

func hexDigest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// fixtureWorkloads reads the workload fixture into the fake cluster's
// collections: typed lists, items without kind and apiVersion.
func fixtureWorkloads(t *testing.T, fc *fakeCluster) int {
	t.Helper()
	b, err := os.ReadFile(workloadFixture)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(j, &list); err != nil {
		t.Fatal(err)
	}
	pathOf := map[string]string{}
	for _, coll := range WorkloadReads() {
		pathOf[strings.TrimSuffix(coll.ListKind, "List")] = coll.Path()
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, o := range list.Items {
		p, ok := pathOf[o["kind"].(string)]
		if !ok {
			t.Fatalf("fixture kind %v is no workload collection", o["kind"])
		}
		delete(o, "kind")
		delete(o, "apiVersion")
		fc.workloads[p] = append(fc.workloads[p], o)
	}
	return len(list.Items)
}

// inUseStore holds the streams the fixture's workloads name: payments/api
// with five revisions a month old (the oldest, aaaa…, is in use by digest;
// bbbb… by a pod's status), payments/worker:prod (ImageStreamTag trigger),
// payments/migrate:latest (an init container by tag), ops/shipper:stable,
// ops/builder:v1 (a build's from).
func inUseStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	put := func(ref string, digest string, at time.Time) {
		t.Helper()
		r, err := store.ParseTagRef(ref, "")
		if err != nil {
			t.Fatal(err)
		}
		img := store.ImageSnapshot{Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
			Config: &store.BlobRef{Digest: "sha256:" + strings.Repeat("c", 60) + digest[7:11], Size: 10},
			Layers: []store.BlobRef{{Digest: "sha256:" + strings.Repeat("d", 60) + digest[7:11], Size: 1000}}}
		if _, err := s.MapImage(t.Context(), r.Namespace, r.Stream, r.Tag, img, at); err != nil {
			t.Fatal(err)
		}
	}
	month := now.Add(-30 * 24 * time.Hour)
	for i, c := range []string{"a", "b", "1", "2", "3"} {
		put("payments/api:latest", hexDigest(c), month.Add(time.Duration(i)*time.Hour))
	}
	put("payments/api:canary", hexDigest("4"), month)
	put("payments/worker:prod", hexDigest("e"), month)
	put("payments/migrate:latest", hexDigest("5"), month)
	put("ops/shipper:stable", hexDigest("6"), month)
	put("ops/builder:v1", hexDigest("7"), month)
	// As the stream sync records status.dockerImageRepository and
	// status.publicDockerImageRepository.
	for _, sql := range []string{
		`UPDATE image_streams SET pull_spec = 'image-registry.openshift-image-registry.svc:5000/' || (SELECT name FROM namespaces WHERE id = namespace_id) || '/' || name`,
		`UPDATE image_streams SET public_pull_spec = 'registry.apps.example.com/' || (SELECT name FROM namespaces WHERE id = namespace_id) || '/' || name`,
	} {
		if err := s.DB().Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// inUseRecords lists "digest-char <- workload" pairs, sorted.
func inUseRecords(t *testing.T, s *store.Store) []string {
	t.Helper()
	var rows []struct {
		Digest, Kind, WorkloadNamespace, WorkloadName string
	}
	if err := s.DB().Raw(`SELECT i.digest, u.kind, u.workload_namespace, u.workload_name FROM in_use_images u JOIN images i ON i.id = u.image_id`).
		Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s <- %s %s/%s", r.Digest[7:8], r.Kind, r.WorkloadNamespace, r.WorkloadName))
	}
	sort.Strings(out)
	return out
}

func planned(t *testing.T, s *store.Store) []string {
	t.Helper()
	pl, err := s.PlanPrune(t.Context(), store.DefaultPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range pl.Revisions {
		out = append(out, r.Stream+":"+r.Tag+"@"+r.Image[7:8])
	}
	return out
}

// TestSyncInUse: every workload kind is read page by page; references by
// digest (specs and a pod's status), by a stream's pull spec and tag, and
// by ImageStreamTag (a deployment config's trigger, a build's from and
// output) resolve to the store's images; the deployment's old revision
// leaves the prune plan.
func TestSyncInUse(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(t)
	n := fixtureWorkloads(t, fc)
	s := inUseStore(t)
	if got := planned(t, s); strings.Join(got, " ") != "api:latest@b api:latest@a" {
		t.Fatalf("before the read the plan prunes %v, want api:latest@b api:latest@a", got)
	}
	cl := &Cluster{URL: fc.URL, TokenFile: tokenFile(t, fc.token), PageSize: 2}
	res, err := cl.SyncInUse(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Workloads != n {
		t.Errorf("read %d workloads, the cluster has %d", res.Workloads, n)
	}
	want := []string{
		"3 <- build payments/api-3", // output ImageStreamTag api:latest
		"4 <- pod payments/canary",  // by the public pull spec and tag
		"5 <- deployment payments/api",
		"5 <- replica set payments/api-5d8f9c7b6",
		"6 <- cron job billing/nightly-report",
		"6 <- daemon set ops/log-shipper",
		"7 <- build payments/api-3", // from ImageStreamTag ops/builder:v1
		"a <- deployment payments/api",
		"a <- job payments/backfill",
		"a <- pod payments/api-5d8f9c7b6-x7k2p",
		"a <- replica set payments/api-5d8f9c7b6",
		"b <- pod payments/canary", // status imageID: the tag moved since it started
		"e <- deployment config payments/worker",
		"e <- pod payments/worker-1-abcde",
		"e <- replication controller payments/worker-1",
	}
	if got := inUseRecords(t, s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("in use:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The unresolved: postgres, ubi, and nothing else.
	if res.Unresolved != 2 {
		t.Errorf("%d unresolved references, want 2 (postgres, ubi)", res.Unresolved)
	}
	// Every collection read, every page (2 a page).
	req := fc.take()
	for _, coll := range WorkloadReads() {
		items := len(fc.workloads[coll.Path()])
		if want := max(1, (items+1)/2); req[coll.Path()] != want {
			t.Errorf("%s: %d requests for %d items, want %d", coll.Resource, req[coll.Path()], items, want)
		}
	}
	if got := planned(t, s); len(got) != 0 {
		t.Errorf("the plan prunes %v; a and b are in use", got)
	}
	pl, err := s.PlanPruneWith(t.Context(), store.DefaultPolicy, nil, store.PlanOptions{Kept: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range pl.Kept {
		if r.Image == hexDigest("a") && (r.Retention.Reason != store.ReasonInUse || r.InUseBy != "in use by deployment payments/api and 3 more") {
			t.Errorf("a kept as %s %q", r.Retention.Reason, r.InUseBy)
		}
	}

	// The same cluster again: nothing changes.
	before := dumpOf(t, s)
	if res, err := cl.SyncInUse(t.Context(), s); err != nil || res.Changed {
		t.Errorf("again: %+v %v", res, err)
	}
	if dumpOf(t, s) != before {
		t.Error("an unchanged cluster changed the database")
	}
}

// TestSyncInUseFailure: a 500, a refused token or a timeout on any one
// workload kind fails the read, keeps the records of the last one
// untouched, and holds prune (the plan keeps everything and says why);
// the token is in no message.
func TestSyncInUseFailure(t *testing.T) {
	t.Parallel()
	for _, coll := range WorkloadReads() {
		for _, how := range []string{"500", "401", "timeout"} {
			t.Run(coll.Resource+" "+how, func(t *testing.T) {
				// Each case has its own cluster and database; the
				// timeouts wait, so they wait together.
				t.Parallel()
				fc := newFakeCluster(t)
				fixtureWorkloads(t, fc)
				s := inUseStore(t)
				client := &http.Client{Timeout: time.Second}
				cl := &Cluster{URL: fc.URL, TokenFile: tokenFile(t, fc.token), PageSize: 1, Client: client}
				if err := s.RegisterInUseCluster(t.Context(), cl.Source()); err != nil {
					t.Fatal(err)
				}
				if _, err := cl.SyncInUse(t.Context(), s); err != nil {
					t.Fatal(err)
				}
				had := inUseRecords(t, s)
				fc.mu.Lock()
				switch how {
				case "500":
					fc.failAt[coll.Path()] = 1
					if coll.Resource == "pods" {
						fc.failAt[coll.Path()] = 3 // the last page
					}
				case "401":
					fc.refuse[coll.Path()] = true
				case "timeout":
					fc.hang[coll.Path()] = true
				}
				fc.mu.Unlock()
				_, err := cl.SyncInUse(t.Context(), s)
				if err == nil || !strings.Contains(err.Error(), coll.Path()) || !strings.Contains(err.Error(), "the previous set is kept") {
					t.Fatalf("error %v, want one naming %s", err, coll.Path())
				}
				if strings.Contains(err.Error(), fc.token) {
					t.Error("the error shows the token")
				}
				if got := inUseRecords(t, s); strings.Join(got, "\n") != strings.Join(had, "\n") {
					t.Errorf("records changed:\n%s\nhad:\n%s", got, had)
				}
				pl, err := s.PlanPruneWith(t.Context(), store.DefaultPolicy, nil, store.PlanOptions{Kept: true})
				if err != nil {
					t.Fatal(err)
				}
				if pl.Hold == nil || len(pl.Revisions) != 0 || !strings.Contains(pl.Hold.Text(), coll.Path()) ||
					strings.Contains(pl.Hold.Text(), fc.token) {
					t.Errorf("plan: hold %+v, %d revisions", pl.Hold, len(pl.Revisions))
				}
				// The old revision 1 is kept only because nothing is proven.
				for _, r := range pl.Kept {
					if r.Image == hexDigest("1") && r.Retention.Reason != store.ReasonUnproven {
						t.Errorf("revision 1 kept as %s", r.Retention.Reason)
					}
				}
			})
		}
	}
}

// TestSyncInUseBounds: a listing past the page bound or a page past the
// byte bound fails the read with a named error; a server that sends the
// same continue token again is refused.
func TestSyncInUseBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cl   Cluster
		want error
	}{
		{"too many pages", Cluster{PageSize: 1, MaxPages: 2}, ErrTooManyPages},
		{"a page too large", Cluster{PageSize: 2, MaxPageBytes: 300}, ErrPageTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeCluster(t)
			fixtureWorkloads(t, fc)
			s := inUseStore(t)
			cl := tc.cl
			cl.URL, cl.TokenFile = fc.URL, tokenFile(t, fc.token)
			_, err := cl.SyncInUse(t.Context(), s)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if h, _ := s.PruneHold(t.Context()); h == nil {
				t.Error("no hold after a refused read")
			}
		})
	}
}

// TestWorkloadRefs: what each kind's object names, from the fixture.
func TestWorkloadRefs(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(t)
	fixtureWorkloads(t, fc)
	got := map[string][]string{}
	for _, coll := range WorkloadReads() {
		for _, o := range fc.workloads[coll.Path()] {
			raw, _ := json.Marshal(o)
			refs, err := workloadRefs(coll.Workload, raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range refs {
				s := r.PullSpec
				if r.StreamTag != nil {
					s = "istag " + r.StreamTag.String()
				}
				got[r.Workload.String()] = append(got[r.Workload.String()], strings.Replace(s, strings.Repeat("a", 64), "A", 1))
			}
		}
	}
	for w, want := range map[string]string{
		"deployment payments/api": "image-registry.openshift-image-registry.svc:5000/payments/api@sha256:A " +
			"image-registry.openshift-image-registry.svc:5000/payments/migrate:latest",
		"deployment config payments/worker": "istag payments/worker:prod",
		"build payments/api-3":              "istag ops/builder:v1 istag payments/api:latest",
		"pod payments/canary": "registry.apps.example.com/payments/api:canary registry.access.redhat.com/ubi9/ubi:latest " +
			"registry.apps.example.com/payments/api@sha256:" + strings.Repeat("b", 64),
	} {
		if g := strings.Join(got[w], " "); g != want {
			t.Errorf("%s: %s\nwant %s", w, g, want)
		}
	}
	if _, err := workloadRefs("pod", json.RawMessage(`{"metadata":{"name":"x"}}`)); err == nil {
		t.Error("a pod without a namespace was accepted")
	}
}
