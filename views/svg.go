package views

import (
	"math"
	"strconv"
	"strings"
	"time"

	"layerwise/bytesum"
	"layerwise/format"
)

// segment is one laid-out slice of a stacked bar, in percent of its width.
type segment struct {
	X, W  string // "12.500%"
	Class string
	Title string
	Label string
	Size  string
	Href  string
}

// partClass picks a segment's colour from its kind: tags and layers take
// the palette in turn, shared bytes are grey.
func partClass(kind string, i int) string {
	switch kind {
	case "shared-stream":
		return "seg seg-shared-stream"
	case "shared-registry":
		return "seg seg-shared-registry"
	case "config":
		return "seg seg-config"
	}
	return "seg c" + strconv.Itoa(i%8)
}

// partsTotal is what the stacked bar spans.
func partsTotal(parts []Part) int64 {
	var total int64
	for _, p := range parts {
		if p.Bytes > 0 {
			total = bytesum.Add(total, p.Bytes)
		}
	}
	return total
}

// layoutParts places each part with a positive size; edges are rounded once
// so that the widths add up to exactly 100%.
func layoutParts(parts []Part) []segment {
	total := partsTotal(parts)
	if total <= 0 {
		return nil
	}
	var segs []segment
	var cum int64
	prev := 0.0
	n := 0
	for _, p := range parts {
		if p.Bytes <= 0 {
			continue
		}
		cum = bytesum.Add(cum, p.Bytes)
		edge := math.Round(float64(cum)/float64(total)*100*1000) / 1000
		share := float64(p.Bytes) / float64(total)
		segs = append(segs, segment{
			X:     strconv.FormatFloat(prev, 'f', 3, 64) + "%",
			W:     strconv.FormatFloat(edge-prev, 'f', 3, 64) + "%",
			Class: partClass(p.Kind, n),
			Title: p.Label + ": " + format.Size(p.Bytes) + " (" + percentText(share) + ")",
			Label: p.Label,
			Size:  format.Size(p.Bytes),
			Href:  p.Href,
		})
		prev = edge
		n++
	}
	return segs
}

// stackLabel describes a stacked bar for screen readers.
func stackLabel(parts []Part) string {
	segs := layoutParts(parts)
	if len(segs) == 0 {
		return "nothing to show"
	}
	var b strings.Builder
	b.WriteString(format.Size(partsTotal(parts)))
	b.WriteString(" in total: ")
	for i, s := range segs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.Title)
	}
	return b.String()
}

// Sparkline geometry: a fixed viewBox the browser scales.
const (
	sparkW   = 200.0
	sparkH   = 40.0
	sparkPad = 3.0
)

// sparkPoints is the polyline of a trend scaled into the viewBox: time on
// x (index when every point has the same time), bytes on y.
func sparkPoints(points []Point) string {
	if len(points) < 2 {
		return ""
	}
	t0, t1 := points[0].At, points[0].At
	lo, hi := points[0].Bytes, points[0].Bytes
	for _, p := range points {
		if p.At.Before(t0) {
			t0 = p.At
		}
		if p.At.After(t1) {
			t1 = p.At
		}
		lo = min(lo, p.Bytes)
		hi = max(hi, p.Bytes)
	}
	span := t1.Sub(t0)
	var b strings.Builder
	for i, p := range points {
		var fx float64
		if span > 0 {
			fx = float64(p.At.Sub(t0)) / float64(span)
		} else {
			fx = float64(i) / float64(len(points)-1)
		}
		fy := 0.5
		if hi > lo {
			fy = float64(p.Bytes-lo) / float64(hi-lo)
		}
		x := sparkPad + fx*(sparkW-2*sparkPad)
		y := sparkH - sparkPad - fy*(sparkH-2*sparkPad)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', 2, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(y, 'f', 2, 64))
	}
	return b.String()
}

// sparkLabel says what a trend shows: first and last value and dates.
func sparkLabel(points []Point) string {
	if len(points) < 2 {
		return ""
	}
	first, last := points[0], points[len(points)-1]
	return "Usage trend: " + format.Size(first.Bytes) + " on " + day(first.At) +
		", " + format.Size(last.Bytes) + " on " + day(last.At) +
		" (" + plural(len(points), "snapshot") + ")"
}

// trendChange is "+1.2 GiB since 2026-11-01", the difference from the first
// snapshot to the last.
func trendChange(points []Point) string {
	if len(points) < 2 {
		return ""
	}
	first, last := points[0], points[len(points)-1]
	d := bytesum.Diff(last.Bytes, first.Bytes)
	sign := "+"
	if d < 0 {
		sign = "−"
		d = -d
	}
	return sign + format.Size(d) + " since " + day(first.At)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }
