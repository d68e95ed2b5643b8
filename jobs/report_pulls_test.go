package jobs

import (
	"context"
	"strings"
	"testing"

	"layerwise/format"
	"layerwise/store"
)

// The weekly e-mail says how much only unpulled revisions hold, and only
// once pulls are recorded: "not pulled in 90 days", or since when pulls
// are known while that is less than 90 days.
func TestWeeklyReportSaysWhatWasNotPulled(t *testing.T) {
	t.Parallel()
	s, now := reportStore(t)
	ctx := context.Background()
	report := func() (string, string, store.NamespaceUsage) {
		t.Helper()
		_, err := s.ComputePlanSummary(ctx, store.DefaultPolicy) // the plan the reclaimable figures come from
		if err != nil {
			t.Fatal(err)
		}
		r, err := BuildReport(ctx, s, settings, now, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := Message(r, []string{"a@example.com"}, now)
		if err != nil {
			t.Fatal(err)
		}
		nu, err := s.ReadNamespaceUsage(ctx, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		return msg.Text, msg.HTML, nu
	}
	if text, html, _ := report(); strings.Contains(text, "pulled") || strings.Contains(html, "pulled") {
		t.Errorf("before any pull was recorded the e-mail speaks of pulls:\n%s", text)
	}
	api := store.StreamRef{Namespace: "team-a", Stream: "api"}
	if _, err := s.RecordPulls(ctx, []store.Pull{{Stream: api, Digest: dg("img:api4"), At: now.AddDate(0, 0, -10)}}); err != nil {
		t.Fatal(err)
	}
	text, html, nu := report()
	want := "Not pulled since 2026-11-13:  " + format.Size(nu.NotPulledBytes) + " (exclusive)"
	if nu.NotPulledBytes <= 0 || nu.NotPulledBytes >= nu.ExclusiveBytes || !strings.Contains(text, want) {
		t.Errorf("with pulls recorded for 10 days: %d of %d exclusive bytes; text lacks %q:\n%s", nu.NotPulledBytes, nu.ExclusiveBytes, want, text)
	}
	if _, err := s.RecordPulls(ctx, []store.Pull{{Stream: api, Digest: dg("img:api0"), At: now.AddDate(0, 0, -100)}}); err != nil {
		t.Fatal(err)
	}
	text, html, nu = report()
	want = "Not pulled in 90 days:   " + format.Size(nu.NotPulledBytes) + " (exclusive)"
	if !strings.Contains(text, want) || !strings.Contains(html, "Not pulled in 90 days") || !strings.Contains(html, format.Size(nu.NotPulledBytes)+" (exclusive)") {
		t.Errorf("with pulls recorded for 100 days the e-mail lacks %q:\n%s", want, text)
	}
}
