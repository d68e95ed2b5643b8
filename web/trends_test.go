package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"layerwise/format"
	"layerwise/jobs"
)

// TestTrendsOnTheDemo: with the demo's twelve weeks of history every
// overview row has a sparkline, and the namespace page charts usage,
// exclusive and reclaimable bytes over time, ending at today's figures,
// with the change since last week's snapshot (issue 16: no charts).
func TestTrendsOnTheDemo(t *testing.T) {
	t.Parallel()
	ts, c := loggedIn(t)
	ctx := context.Background()
	if _, err := jobs.SeedDemoTrend(ctx, ts.store, ts.usage, ts.store.Now()); err != nil {
		t.Fatal(err)
	}
	d := doc(t, ts.get(t, c, "/", http.StatusOK))
	rows := d.Find("table.ranking tbody tr")
	if rows.Length() != len(ts.usage.Namespaces) {
		t.Fatalf("%d rows", rows.Length())
	}
	for i := 0; i < rows.Length(); i++ {
		row := rows.Eq(i)
		spark := row.Find("svg.rowspark polyline")
		if pts := strings.Fields(spark.AttrOr("points", "")); len(pts) != jobs.DemoWeeks+1 {
			t.Errorf("row %q: sparkline of %d points, want %d weeks and today", squash(row.Find("th").Text()), len(pts), jobs.DemoWeeks)
		}
	}

	ml, _ := ts.usage.Namespace("ml")
	snaps, err := ts.store.Trend(ctx, "ml", ts.store.Now().AddDate(0, 0, -100))
	if err != nil || len(snaps) != jobs.DemoWeeks {
		t.Fatalf("ml's snapshots: %d %v", len(snaps), err)
	}
	nd := doc(t, ts.get(t, c, "/ns/ml", http.StatusOK))
	chart := nd.Find("svg.usage-chart")
	if chart.Find("polyline").Length() != 3 || chart.Find("circle").Length() != jobs.DemoWeeks+1 {
		t.Fatalf("ml's chart: %d lines, %d points", chart.Find("polyline").Length(), chart.Find("circle").Length())
	}
	last := squash(nd.Find("table.chart-table tbody tr").Last().Text())
	if want := "today" + format.Size(ml.Bytes) + format.Size(ml.ExclusiveBytes) + format.Size(ml.ReclaimableBytes); strings.ReplaceAll(last, " ", "") != strings.ReplaceAll(want, " ", "") {
		t.Errorf("the chart's last point %q, want today's figures %q", last, want)
	}
	change := ml.Bytes - snaps[len(snaps)-1].Bytes
	week := squash(nd.Find(".week-change").Text())
	if want := "+" + format.Size(change); !strings.Contains(week, want) || !strings.Contains(week, "since the snapshot of") {
		t.Errorf("week-over-week %q, want %s", week, want)
	}
	// The e-mail says the same change.
	if body := squash(doc(t, ts.get(t, c, "/ns/ml/report", http.StatusOK)).Text()); !strings.Contains(body, "Change since last week+"+format.Size(change)) {
		t.Errorf("ml's e-mail does not show last week's change +%s", format.Size(change))
	}
}
