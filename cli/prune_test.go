package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"layerwise/store"
	"layerwise/store/storetest"
)

func word(w string) string {
	sum := sha256.Sum256([]byte(w))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pruneDB makes a database where team-a/api:latest has 5 revisions a month
// old (2 prunable) and team-b/web:prod 3 (none prunable).
func pruneDB(t *testing.T) string {
	t.Helper()
	db := storetest.DSN(t)
	ctx := context.Background()
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	push := func(ns, stream, tag, name string, i int) {
		img := store.ImageSnapshot{Digest: word("image:" + name), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Config: &store.BlobRef{Digest: word("config:" + name), Size: 100},
			Layers: []store.BlobRef{{Digest: word("layer:base"), Size: 1 << 20}, {Digest: word("layer:" + name), Size: 1000}}}
		if _, err := s.MapImage(ctx, ns, stream, tag, img, at.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []string{"a1", "a2", "a3", "a4", "a5"} {
		push("team-a", "api", "latest", n, i)
	}
	for i, n := range []string{"b1", "b2", "b3"} {
		push("team-b", "web", "prod", n, i)
	}
	return db
}

func TestPruneCLIDryRunText(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	before := dump(t, db)
	r := ok(t, lw(t, db, "", "prune"))
	for _, want := range []string{
		"Dry run enabled - no modifications will be made. Add --confirm to remove images",
		"Deleting references from image streams to images ...",
		"team-a/api  latest  " + word("image:a2"),
		"team-a/api  latest  " + word("image:a1"),
		"Deleting images ...",
		"Summary: would delete 2 image stream revisions in 1 streams, 2 images, 4 blobs, freeing 2.1 KiB",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "team-b") {
		t.Errorf("team-b has nothing to prune but is listed:\n%s", r.out)
	}
	if dump(t, db) != before {
		t.Error("a dry run changed the database")
	}
}

func TestPruneCLIJSONContract(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	before := dump(t, db)
	r := ok(t, lw(t, db, "", "prune", "-o", "json"))
	var got struct {
		DryRun bool `json:"dryRun"`
		Policy struct {
			KeepTagRevisions *int    `json:"keepTagRevisions"`
			KeepYoungerThan  *string `json:"keepYoungerThan"`
		} `json:"policy"`
		Revisions []map[string]any `json:"revisions"`
		Images    []string         `json:"images"`
		Blobs     *int             `json:"blobs"`
		Bytes     *int64           `json:"bytesFreed"`
	}
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, r.out)
	}
	if !got.DryRun || got.Policy.KeepTagRevisions == nil || *got.Policy.KeepTagRevisions != 3 ||
		got.Policy.KeepYoungerThan == nil || *got.Policy.KeepYoungerThan != "96h0m0s" {
		t.Errorf("dryRun/policy = %v %+v", got.DryRun, got.Policy)
	}
	if len(got.Revisions) != 2 || len(got.Images) != 2 || got.Blobs == nil || *got.Blobs != 4 || got.Bytes == nil || *got.Bytes != 2200 {
		t.Fatalf("plan = %d revisions, %d images, blobs %v, bytes %v", len(got.Revisions), len(got.Images), got.Blobs, got.Bytes)
	}
	rev := got.Revisions[0]
	for _, k := range []string{"namespace", "stream", "tag", "image", "created"} {
		if _, ok := rev[k].(string); !ok {
			t.Errorf("revision lacks string field %q: %v", k, rev)
		}
	}
	if _, err := time.Parse(time.RFC3339, rev["created"].(string)); err != nil || rev["namespace"] != "team-a" || rev["stream"] != "api" || rev["tag"] != "latest" {
		t.Errorf("revision = %v", rev)
	}
	if dump(t, db) != before {
		t.Error("prune -o json changed the database")
	}
	// The policy flags and their environment variables.
	r = ok(t, lw(t, db, "", "prune", "-o", "json", "--keep-tag-revisions", "1", "--keep-younger-than", "1h"))
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || len(got.Revisions) != 6 || *got.Policy.KeepYoungerThan != "1h0m0s" {
		t.Errorf("--keep-tag-revisions 1: %d revisions, %v", len(got.Revisions), err)
	}
}

func TestPruneCLIUsageErrors(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	for _, args := range [][]string{
		{"prune", "--keep-tag-revisions", "x"},
		{"prune", "--keep-younger-than", "4 days"},
		{"prune", "-o", "yaml"},
		{"prune", "team-a"},
		{"prune", "--confirm", "--registry-url", "ftp://x"},
	} {
		if r := lw(t, db, "", args...); r.code != 2 || !strings.HasPrefix(r.err, "error: ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one error line", args, r.code, r.err)
		}
	}
}

func TestPruneCLIConfirm(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	ctx := context.Background()
	// While another run holds the lease, --confirm fails and changes nothing.
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AcquireLease(ctx, "prune", "job", time.Now().Add(store.LeaseTTL)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	r := lw(t, db, "", "prune", "--confirm")
	if r.code != 1 || !strings.Contains(r.err, "another prune run (job, started") {
		t.Errorf("overlapping run: exit %d, %q", r.code, r.err)
	}
	if err := s.ReleaseLease(ctx, "prune", "job"); err != nil {
		t.Fatal(err)
	}

	r = ok(t, lw(t, db, "", "prune", "--confirm"))
	if strings.Contains(r.out, "Dry run") || !strings.Contains(r.out, "Summary: deleted 2 image stream revisions, 2 images, 4 blobs, freed 2.1 KiB") {
		t.Errorf("output:\n%s", r.out)
	}
	st, err := s.GetStream(ctx, store.StreamRef{Namespace: "team-a", Stream: "api"})
	if err != nil || len(st.Tags) != 1 || len(st.Tags[0].Items) != 3 || st.Tags[0].Items[0].Image != word("image:a5") {
		t.Errorf("team-a/api after prune: %+v %v", st.Tags, err)
	}
	runs, _ := s.RecentJobRuns(ctx, 10)
	var okRun, failed bool
	for _, run := range runs {
		if run.Job == "prune" && run.Status == "ok" && run.Count == 2 && run.BytesFreed == 2200 {
			okRun = true
		}
		if run.Job == "prune" && run.Status == "failed" && strings.Contains(run.Message, "another prune run") {
			failed = true
		}
	}
	if !okRun || !failed {
		t.Errorf("job runs = %+v", runs)
	}
	ev, _ := s.AuditLog(ctx, store.AuditFilter{Action: "prune.apply"})
	if len(ev) != 1 || ev[0].Actor != cliActor(t) || !strings.Contains(ev[0].After, "deleted 2 image stream revisions") {
		t.Errorf("audit = %+v", ev)
	}
	// Nothing left: a second run deletes nothing, and writes no audit event.
	r = ok(t, lw(t, db, "", "prune", "--confirm"))
	if !strings.Contains(r.out, "Summary: deleted 0 image stream revisions, 0 images, 0 blobs") || !strings.Contains(r.out, "prune: nothing changed") {
		t.Errorf("second run:\n%s", r.out)
	}
	if ev, _ := s.AuditLog(ctx, store.AuditFilter{Action: "prune.apply"}); len(ev) != 1 {
		t.Errorf("%d prune audit events after a run that removed nothing, want 1", len(ev))
	}
	s.Close()
}

func TestNamespacePrunePolicyFromTheCLI(t *testing.T) {
	t.Parallel()
	db := pruneDB(t)
	r := ok(t, lw(t, db, "", "namespace", "set", "team-b", "--keep-tag-revisions", "1"))
	if !strings.Contains(r.out, "namespace team-b: prune keeps 1 revisions per tag, younger than default") {
		t.Errorf("output: %s", r.out)
	}
	r = ok(t, lw(t, db, "", "prune"))
	if !strings.Contains(r.out, "namespace team-b: keep 1 revisions, younger than 96h0m0s") ||
		!strings.Contains(r.out, "would delete 4 image stream revisions in 2 streams") {
		t.Errorf("plan with team-b's override:\n%s", r.out)
	}
	if r := lw(t, db, "", "namespace", "set", "team-b", "--keep-younger-than", "soon"); r.code != 2 {
		t.Errorf("bad duration: exit %d", r.code)
	}
	ok(t, lw(t, db, "", "namespace", "set", "team-b", "--keep-tag-revisions", "default"))
	if r := ok(t, lw(t, db, "", "prune")); !strings.Contains(r.out, "would delete 2 image stream revisions in 1 streams") {
		t.Errorf("after clearing the override:\n%s", r.out)
	}
}
