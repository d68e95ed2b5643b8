package views

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

func TestShortDigest(t *testing.T) {
	cases := []struct{ in, want string }{
		{dA, "sha256:aaaaaaaaaaaa"},
		{"sha256:abc", "sha256:abc"},
		{"sha512:0123456789abcdef0123", "sha512:0123456789ab"},
		{"0123456789abcdef", "0123456789ab"},
		{"", ""},
	}
	for _, c := range cases {
		if got := ShortDigest(c.in); got != c.want {
			t.Errorf("ShortDigest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHrefs(t *testing.T) {
	cases := []struct{ name, got, want string }{
		{"namespace", NamespaceHref("payments"), "/ns/payments"},
		{"stream", StreamHref("payments", "api"), "/ns/payments/is/api"},
		{"tag", TagHref("payments", "api", "v1.2"), "/ns/payments/istag/api:v1.2"},
		{"image", ImageHref(dA), "/images/" + dA},
		{"blob", BlobHref(dL1), "/blobs/" + dL1},
		{"slash escaped", StreamHref("a/b", "c/d"), "/ns/a%2Fb/is/c%2Fd"},
		{"hostile stream", StreamHref("ns", hostileStream), "/ns/ns/is/%22%3E%3Cimg%20src=x%20onerror=alert%281%29%3E"},
		{"query chars", TagHref("ns", "a?b", "c#d"), "/ns/ns/istag/a%3Fb:c%23d"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestTimeAgo(t *testing.T) {
	cases := []struct {
		name       string
		at         time.Time
		text, hint string
	}{
		{"past", now.Add(-125 * 24 * time.Hour), "4 months ago", "2026-07-21 12:00:00 UTC"},
		{"minutes", now.Add(-5 * time.Minute), "5 minutes ago", "2026-11-23 11:55:00 UTC"},
		{"future", now.Add(3 * time.Hour), "in 3 hours", "2026-11-23 15:00:00 UTC"},
		{"about a minute ahead", now.Add(90 * time.Second), "in about a minute", "2026-11-23 12:01:30 UTC"},
		{"other zone", time.Date(2026, 11, 23, 13, 0, 0, 0, time.FixedZone("CET", 3600)).Add(-2 * time.Hour), "2 hours ago", "2026-11-23 10:00:00 UTC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, _ := render(t, TimeAgo(c.at, now))
			tm := doc.Find("time")
			if tm.Length() != 1 {
				t.Fatalf("want one <time>, got %d", tm.Length())
			}
			if got := text(tm); got != c.text {
				t.Errorf("text = %q, want %q", got, c.text)
			}
			if got := tm.AttrOr("title", ""); got != c.hint {
				t.Errorf("title = %q, want %q", got, c.hint)
			}
			if got, want := tm.AttrOr("datetime", ""), c.at.UTC().Format(time.RFC3339); got != want {
				t.Errorf("datetime = %q, want %q", got, want)
			}
		})
	}
	doc, _ := render(t, TimeAgo(time.Time{}, now))
	if doc.Find("time").Length() != 0 || !strings.Contains(text(doc.Selection), "unknown") {
		t.Errorf("zero time: want 'unknown' and no <time>, got %q", text(doc.Selection))
	}
}

// widths reads the width="…%" of each selected rect.
func widths(t *testing.T, s *goquery.Selection) []float64 {
	t.Helper()
	var out []float64
	s.Each(func(_ int, r *goquery.Selection) {
		w := strings.TrimSuffix(r.AttrOr("width", ""), "%")
		f, err := strconv.ParseFloat(w, 64)
		if err != nil {
			t.Fatalf("rect width %q: %v", r.AttrOr("width", ""), err)
		}
		out = append(out, f)
	})
	return out
}

func TestStackedBarSVG(t *testing.T) {
	cases := []struct {
		name  string
		parts []Part
		segs  int
	}{
		{"thirds", []Part{{Label: "a", Bytes: 1}, {Label: "b", Bytes: 1}, {Label: "c", Bytes: 1}}, 3},
		{"uneven", []Part{{Label: "a", Bytes: 7 << 20}, {Label: "b", Bytes: 3}, {Label: "s", Bytes: 12345, Kind: "shared-stream"}, {Label: "r", Bytes: 1 << 30, Kind: "shared-registry"}}, 4},
		{"zeros skipped", []Part{{Label: "a", Bytes: 0}, {Label: "b", Bytes: 5}, {Label: "c", Bytes: -1}}, 1},
		{"many", manyParts(37), 37},
		{"layers", LayerParts(*imageFixture()), 3},
		// Figures near 2^63−1 (a database from before sizes were bounded):
		// the total must not wrap negative and drop the bar.
		{"huge", []Part{{Label: "a", Bytes: math.MaxInt64}, {Label: "b", Bytes: math.MaxInt64}, {Label: "c", Bytes: 1}}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, _ := render(t, StackedBarSVG(c.parts))
			svg := doc.Find("svg.stack")
			if svg.AttrOr("role", "") != "img" || svg.AttrOr("aria-label", "") == "" {
				t.Errorf("stacked bar needs role=img and an aria-label")
			}
			rects := svg.Find("rect.seg")
			if rects.Length() != c.segs {
				t.Fatalf("segments = %d, want %d", rects.Length(), c.segs)
			}
			sum := 0.0
			for _, w := range widths(t, rects) {
				sum += w
			}
			if math.Abs(sum-100) > 0.1 {
				t.Errorf("widths add up to %.3f%%, want 100%%", sum)
			}
			rects.Each(func(i int, r *goquery.Selection) {
				if r.Find("title").Length() != 1 || text(r.Find("title")) == "" {
					t.Errorf("segment %d has no <title> for hover", i)
				}
			})
		})
	}
	doc, html := render(t, StackedBarSVG(nil))
	if doc.Find("svg").Length() != 0 {
		t.Errorf("no parts: want no SVG, got %s", html)
	}
}

func manyParts(n int) []Part {
	parts := make([]Part, n)
	for i := range parts {
		parts[i] = Part{Label: "p" + strconv.Itoa(i), Bytes: int64(i*i*997 + 13), Kind: "tag"}
	}
	return parts
}

func TestLayerPartsSkipDuplicates(t *testing.T) {
	img := *imageFixture()
	parts := LayerParts(img)
	var total int64
	for _, p := range parts {
		total += p.Bytes
	}
	if total != img.Bytes {
		t.Errorf("layer parts add up to %d bytes, want the image's %d (each layer once, plus config)", total, img.Bytes)
	}
	doc, _ := render(t, StackedBarSVG(parts))
	titles := doc.Find("rect.seg title")
	if !strings.Contains(text(titles.Eq(0)), "2.0 MiB") || !strings.Contains(text(titles.Last()), "config") {
		t.Errorf("segment titles = %q", text(titles))
	}
}

func TestSparklineSVG(t *testing.T) {
	p := func(h int, b int64) Point { return Point{At: now.Add(-time.Duration(h) * time.Hour), Bytes: b} }
	cases := []struct {
		name   string
		points []Point
		want   int // polyline vertices; 0: no svg
	}{
		{"none", nil, 0},
		{"one", []Point{p(1, 5)}, 0},
		{"two", []Point{p(2, 5), p(1, 9)}, 2},
		{"flat", []Point{p(3, 5), p(2, 5), p(1, 5)}, 3},
		{"same time", []Point{p(1, 5), p(1, 6), p(1, 7)}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, _ := render(t, SparklineSVG(c.points))
			svg := doc.Find("svg.spark")
			if c.want == 0 {
				if svg.Length() != 0 {
					t.Fatalf("sparkline with %d points: want nothing", len(c.points))
				}
				return
			}
			if svg.Length() != 1 {
				t.Fatalf("want a sparkline")
			}
			pts := strings.Fields(svg.Find("polyline").AttrOr("points", ""))
			if len(pts) != c.want {
				t.Fatalf("points = %v, want %d", pts, c.want)
			}
			for _, xy := range pts {
				x, y, _ := strings.Cut(xy, ",")
				fx, err1 := strconv.ParseFloat(x, 64)
				fy, err2 := strconv.ParseFloat(y, 64)
				if err1 != nil || err2 != nil || fx < 0 || fx > 200 || fy < 0 || fy > 40 {
					t.Errorf("point %q outside the 200×40 viewBox", xy)
				}
			}
			if svg.AttrOr("aria-label", "") == "" {
				t.Error("sparkline needs an aria-label")
			}
		})
	}
}

// TestTrendChangeNeverWraps: a change between two snapshots keeps its sign
// even when an old snapshot holds a figure that had wrapped negative.
func TestTrendChangeNeverWraps(t *testing.T) {
	p := func(h int, b int64) Point { return Point{At: now.Add(-time.Duration(h) * time.Hour), Bytes: b} }
	cases := []struct {
		first, last int64
		want        string
	}{
		{5 << 20, 6 << 20, "+1.0 MiB"},
		{6 << 20, 5 << 20, "\u2212" + "1.0 MiB"},
		{-math.MaxInt64, math.MaxInt64, "+8.0 EiB"},
		{math.MaxInt64, math.MinInt64, "\u2212" + "8.0 EiB"},
	}
	for _, c := range cases {
		got := trendChange([]Point{p(48, c.first), p(1, c.last)})
		if !strings.HasPrefix(got, c.want+" since ") {
			t.Errorf("trendChange(%d → %d) = %q, want %q since …", c.first, c.last, got, c.want)
		}
	}
}

func TestBarSVG(t *testing.T) {
	cases := []struct {
		fraction float64
		over     bool
		width    string
	}{
		{0.425, false, "42.500%"}, {1, true, "100.000%"}, {0, false, "0.000%"}, {1.7, false, "100.000%"}, {-1, false, "0.000%"}, {math.NaN(), false, "0.000%"},
	}
	for _, c := range cases {
		doc, _ := render(t, BarSVG(c.fraction, c.over))
		fill := doc.Find("rect.bar-fill")
		if got := fill.AttrOr("width", ""); got != c.width {
			t.Errorf("BarSVG(%v): width %q, want %q", c.fraction, got, c.width)
		}
		if fill.HasClass("bar-over") != c.over {
			t.Errorf("BarSVG(%v, %v): over class %v", c.fraction, c.over, fill.HasClass("bar-over"))
		}
	}
}

func TestPlural(t *testing.T) {
	cases := []struct {
		n          int
		word, want string
	}{
		{1, "match", "1 match"},
		{19, "match", "19 matches"},
		{0, "image", "0 images"},
		{2, "box", "2 boxes"},
		{3, "class", "3 classes"},
		{2, "more stream", "2 more streams"},
	}
	for _, c := range cases {
		if got := plural(c.n, c.word); got != c.want {
			t.Errorf("plural(%d, %q) = %q, want %q", c.n, c.word, got, c.want)
		}
	}
}
