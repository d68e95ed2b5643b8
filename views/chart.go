package views

import (
	"math"
	"strconv"
	"strings"
	"time"

	"layerwise/bytesum"
	"layerwise/format"
)

// UsageChart is a namespace's usage over time: its snapshots, then today's
// figures, with the change since last week's snapshot.
type UsageChart struct {
	Points    []ChartPoint // oldest first; the last may be today's live figures
	Threshold int64        // 0: none drawn
	// WeekChange is today's usage less last week's snapshot (taken at
	// WeekAgo); WeekAgo is zero when there is no such snapshot.
	WeekChange int64
	WeekAgo    time.Time
	WeekBytes  int64 // last week's usage, for the percentage
}

// ChartPoint is one moment of the chart.
type ChartPoint struct {
	At                            time.Time
	Bytes, Exclusive, Reclaimable int64
	Live                          bool // today's figures, not a snapshot
}

// Chart geometry: a fixed viewBox the browser scales to the page's width,
// a margin for the axis labels, about four ticks on each axis.
const (
	chartW, chartH            = 640.0, 220.0
	chartLeft, chartRight     = 70.0, 14.0
	chartTop, chartBottom     = 12.0, 26.0
	chartPlotW                = chartW - chartLeft - chartRight
	chartPlotH                = chartH - chartTop - chartBottom
	chartMinPoints            = 2
	chartXLabels, chartYTicks = 4, 4
)

// chartLayout is a UsageChart placed in the viewBox.
type chartLayout struct {
	Lines     []chartLine
	YTicks    []chartTick
	XTicks    []chartTick
	Threshold *chartTick // nil: not drawn (none, or off the scale)
	Dots      []chartDot
}

type chartLine struct {
	Class, Label, Points string
}

type chartTick struct {
	Pos   string // y (YTicks, Threshold) or x (XTicks)
	Label string
}

type chartDot struct {
	X, Y, Title string
	Live        bool
}

func fmtCoord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceStep is the tick step for a scale up to top: 1, 2, 2.5 or 5 times a
// power of ten, in unit (an IEC unit) so the labels read "1.5 GiB".
func niceStep(top float64, unit float64) float64 {
	raw := top / unit / chartYTicks
	if raw <= 0 {
		return unit
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p * unit
		}
	}
	return 10 * p * unit
}

// chartUnit is the IEC unit the axis counts in.
func chartUnit(top float64) (float64, string) {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	u, i := 1.0, 0
	for i < len(units)-1 && top >= u*1024 {
		u *= 1024
		i++
	}
	return u, units[i]
}

func axisLabel(v, unit float64, name string) string {
	return strconv.FormatFloat(v/unit, 'f', -1, 64) + " " + name
}

// layout places the chart; nil when it has fewer than two points.
func (c UsageChart) layout() *chartLayout {
	if len(c.Points) < chartMinPoints {
		return nil
	}
	t0, t1 := c.Points[0].At, c.Points[len(c.Points)-1].At
	var top int64
	for _, p := range c.Points {
		top = max(top, p.Bytes, p.Exclusive, p.Reclaimable)
	}
	if c.Threshold > 0 && float64(c.Threshold) <= float64(top)*1.5 {
		top = max(top, c.Threshold)
	}
	if top <= 0 {
		top = 1
	}
	unit, unitName := chartUnit(float64(top))
	step := niceStep(float64(top), unit)
	scaleTop := math.Ceil(float64(top)/step) * step
	y := func(v int64) float64 { return chartTop + chartPlotH - float64(v)/scaleTop*chartPlotH }
	span := t1.Sub(t0)
	x := func(i int, t time.Time) float64 {
		if span <= 0 {
			return chartLeft + float64(i)/float64(len(c.Points)-1)*chartPlotW
		}
		return chartLeft + float64(t.Sub(t0))/float64(span)*chartPlotW
	}
	l := &chartLayout{}
	for v := 0.0; v <= scaleTop+step/2; v += step {
		l.YTicks = append(l.YTicks, chartTick{Pos: fmtCoord(y(int64(v))), Label: axisLabel(v, unit, unitName)})
	}
	if c.Threshold > 0 && float64(c.Threshold) <= scaleTop {
		l.Threshold = &chartTick{Pos: fmtCoord(y(c.Threshold)), Label: "threshold " + format.Size(c.Threshold)}
	}
	// Date labels: the first, the last and a few evenly between.
	n := len(c.Points)
	seen := map[int]bool{}
	for k := 0; k < chartXLabels; k++ {
		i := k * (n - 1) / (chartXLabels - 1)
		if seen[i] {
			continue
		}
		seen[i] = true
		p := c.Points[i]
		label := p.At.UTC().Format("Jan 2")
		if p.Live {
			label = "today"
		}
		l.XTicks = append(l.XTicks, chartTick{Pos: fmtCoord(x(i, p.At)), Label: label})
	}
	for _, s := range []struct {
		class, label string
		val          func(ChartPoint) int64
	}{
		{"bytes", "usage, counted once", func(p ChartPoint) int64 { return p.Bytes }},
		{"exclusive", "exclusive", func(p ChartPoint) int64 { return p.Exclusive }},
		{"reclaimable", "reclaimable by prune", func(p ChartPoint) int64 { return p.Reclaimable }},
	} {
		var b strings.Builder
		for i, p := range c.Points {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(fmtCoord(x(i, p.At)) + "," + fmtCoord(y(s.val(p))))
		}
		l.Lines = append(l.Lines, chartLine{Class: "chart-line chart-" + s.class, Label: s.label, Points: b.String()})
	}
	for i, p := range c.Points {
		l.Dots = append(l.Dots, chartDot{X: fmtCoord(x(i, p.At)), Y: fmtCoord(y(p.Bytes)), Title: chartPointTitle(p), Live: p.Live})
	}
	return l
}

// chartPointTitle is a point's tooltip: date and the three figures.
func chartPointTitle(p ChartPoint) string {
	when := day(p.At)
	if p.Live {
		when = "today"
	}
	return when + ": " + format.Size(p.Bytes) + " used, " + format.Size(p.Exclusive) + " exclusive, " + format.Size(p.Reclaimable) + " reclaimable"
}

// chartLabel describes the chart for screen readers.
func chartLabel(c UsageChart) string {
	if len(c.Points) < chartMinPoints {
		return ""
	}
	first, last := c.Points[0], c.Points[len(c.Points)-1]
	return "Usage over time: " + format.Size(first.Bytes) + " on " + day(first.At) + ", " + format.Size(last.Bytes) +
		" " + pointDay(last) + " (" + plural(len(c.Points), "point") + "); " + weekChangeText(c)
}

func pointDay(p ChartPoint) string {
	if p.Live {
		return "today"
	}
	return "on " + day(p.At)
}

// signedSize is "+1.2 GiB" or "−300.0 MiB".
func signedSize(d int64) string {
	if d < 0 {
		return "−" + format.Size(bytesum.Diff(0, d))
	}
	return "+" + format.Size(d)
}

// weekChangeText is "+120.0 MiB (+7.1%) since last week", or why there is none.
func weekChangeText(c UsageChart) string {
	if c.WeekAgo.IsZero() {
		return "no snapshot from last week yet"
	}
	s := signedSize(c.WeekChange)
	if p := weekChangePercent(c); p != "" {
		s += " (" + strings.TrimSpace(p) + ")"
	}
	return s + " since last week"
}

// weekChangePercent is "+7.1% " ("" without last week's usage).
func weekChangePercent(c UsageChart) string {
	if c.WeekAgo.IsZero() || c.WeekBytes <= 0 {
		return ""
	}
	pct := float64(c.WeekChange) / float64(c.WeekBytes) * 100
	sign := "+"
	if pct < 0 {
		sign, pct = "−", -pct
	}
	return sign + strconv.FormatFloat(pct, 'f', 1, 64) + "% "
}

// weekChangeClass colours the change: growth warns, shrinking is good.
func weekChangeClass(c UsageChart) string {
	switch {
	case c.WeekAgo.IsZero():
		return "value muted"
	case c.WeekChange > 0:
		return "value num week-up"
	case c.WeekChange < 0:
		return "value num week-down"
	}
	return "value num"
}

// weekChangeValue is the figure alone: "+120.0 MiB".
func weekChangeValue(c UsageChart) string {
	if c.WeekAgo.IsZero() {
		return "no snapshot yet"
	}
	return signedSize(c.WeekChange)
}
