package jobs

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"layerwise/jobs/openshift"
	"layerwise/store"
	"layerwise/views"
)

// demoStore is the demo registry, moved so its newest entry is an hour old,
// with ml's demo threshold of 1 GiB.
func demoStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, migratedDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	opt := openshift.Options{DefaultNamespace: "default", Now: s.Now(),
		Shift: time.Since(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)).Truncate(time.Second)}
	objs, err := openshift.Decode("demo", bytes.NewReader(openshift.DemoData()), opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(ctx, func(tx *store.Store) error { _, err := openshift.Apply(ctx, tx, objs); return err }); err != nil {
		t.Fatal(err)
	}
	gib := int64(1 << 30)
	if err := s.SetNamespace(ctx, "ml", store.NamespaceSettings{ThresholdBytes: &gib}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReportPlanOnTheDemo is issue 16's e-mail, fixed: for ml, over its
// 1 GiB threshold by more than any allowed deletions take off, the report
// says plainly that no plan gets there (not a list of 60 MiB deletions that
// read as if they did); for payments, over a lowered threshold, it never
// suggests deleting the stream that holds prod, nor prod itself.
func TestReportPlanOnTheDemo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := demoStore(t)
	_, err := planned(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	set := ReportSettings{Threshold: 1 << 30, BaseURL: "http://127.0.0.1:8080"}
	plain := func(ns string) string {
		r, err := BuildReport(ctx, s, set, s.Now(), ns)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(views.ReportText(r)), " ")
	}

	ml := plain("ml")
	for _, want := range []string{
		"A plan to get under the threshold",
		"No plan gets ml under its threshold of 1.0 GiB: deleting every tag that may go, with tonight's prune, brings it to",
		"Left alone: inference:prod (the last rung of the promotion ladder), trainer:prod (the last rung of the promotion ladder).",
	} {
		if !strings.Contains(ml, want) {
			t.Errorf("ml's report lacks %q:\n%s", want, ml)
		}
	}

	pay := plain("payments")
	for _, bad := range []string{"oc delete imagestream api -n payments", "payments/api:prod", "payments/worker:prod"} {
		if strings.Contains(pay, bad) {
			t.Errorf("payments' report suggests %q:\n%s", bad, pay)
		}
	}
	if !strings.Contains(pay, "Left alone: api:prod (the last rung of the promotion ladder)") {
		t.Errorf("payments' report does not say it leaves api:prod alone:\n%s", pay)
	}
}
