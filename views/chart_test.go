package views

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// TestUsageChartSVG: three lines through every point, axis labels in one
// IEC unit, the threshold dashed when it is on the scale, today's point
// marked, every figure in the table below, and the week's change in words.
func TestUsageChartSVG(t *testing.T) {
	day := 24 * time.Hour
	c := UsageChart{Threshold: 1 << 30, WeekChange: 100 << 20, WeekAgo: now.Add(-7 * day), WeekBytes: 1000 << 20}
	for k := 3; k >= 1; k-- {
		c.Points = append(c.Points, ChartPoint{At: now.Add(-time.Duration(k) * 7 * day), Bytes: int64(900+50*(3-k)) << 20,
			Exclusive: 600 << 20, Reclaimable: 20 << 20})
	}
	c.Points = append(c.Points, ChartPoint{At: now, Bytes: 1100 << 20, Exclusive: 700 << 20, Reclaimable: 10 << 20, Live: true})
	doc, _ := render(t, UsageChartSVG(c))
	svg := doc.Find("svg.usage-chart")
	if svg.Length() != 1 || !strings.Contains(svg.AttrOr("aria-label", ""), "+100.0 MiB (+10.0%) since last week") {
		t.Fatalf("chart label %q", svg.AttrOr("aria-label", ""))
	}
	lines := svg.Find("polyline")
	if lines.Length() != 3 {
		t.Fatalf("%d lines, want usage, exclusive and reclaimable", lines.Length())
	}
	for i := 0; i < 3; i++ {
		if pts := strings.Fields(lines.Eq(i).AttrOr("points", "")); len(pts) != 4 {
			t.Errorf("line %d has %d points, want 4", i, len(pts))
		}
	}
	var labels []string
	svg.Find("text").Each(func(_ int, s *goquery.Selection) { labels = append(labels, s.Text()) })
	for _, want := range []string{"0 GiB", "0.5 GiB", "1 GiB", "today"} {
		if !contains(labels, want) {
			t.Errorf("axis labels %q lack %q", labels, want)
		}
	}
	if svg.Find("line.chart-threshold").Length() != 1 {
		t.Error("no threshold line at 1 GiB")
	}
	if svg.Find("circle.chart-live").Length() != 1 || !strings.HasPrefix(text(svg.Find("circle.chart-live title")), "today: 1.1 GiB used") {
		t.Error("today's point not marked")
	}
	if rows := doc.Find("table.chart-table tbody tr"); rows.Length() != 4 || !strings.Contains(text(rows.Last()), "today1.1 GiB700.0 MiB10.0 MiB") {
		t.Errorf("figures table: %d rows, last %q", rows.Length(), text(rows.Last()))
	}

	// A threshold far above the usage is not drawn (it would flatten the lines).
	far := c
	far.Threshold = 50 << 30
	doc, _ = render(t, UsageChartSVG(far))
	if doc.Find("line.chart-threshold").Length() != 0 {
		t.Error("a threshold 45 times the usage is drawn")
	}
	// Shrinking reads as such.
	down := c
	down.WeekChange = -(300 << 20)
	if got := weekChangeText(down); got != "−300.0 MiB (−30.0%) since last week" {
		t.Errorf("shrinking: %q", got)
	}
	if got := weekChangeText(UsageChart{}); got != "no snapshot from last week yet" {
		t.Errorf("no snapshot: %q", got)
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}
