package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of the chart: time in nanoseconds at store sizes.
type series struct {
	Name   string
	Color  string
	Dashed bool
	Points []point
}

type point struct {
	Size int
	NS   float64
}

// chartSVG draws the series on log-log axes: store size across, time per
// revocation up. It is plain SVG with no scripts or external references, so
// that any viewer and rsvg-convert render it alike.
func chartSVG(title, subtitle string, all []series) string {
	const (
		width, height                    = 960, 600
		left, right, top, bottom         = 110, 250, 80, 70
		plotW, plotH                     = width - left - right, height - top - bottom
		minSizeExp, maxSizeExp   float64 = 3, 6
	)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range all {
		for _, p := range s.Points {
			lo, hi = math.Min(lo, p.NS), math.Max(hi, p.NS)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	minExp, maxExp := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if maxExp == minExp {
		maxExp++
	}
	x := func(size int) float64 {
		return left + (math.Log10(float64(size))-minSizeExp)/(maxSizeExp-minSizeExp)*plotW
	}
	y := func(ns float64) float64 {
		return top + plotH - (math.Log10(ns)-minExp)/(maxExp-minExp)*plotH
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="34" font-size="20" font-weight="bold" fill="#222">%s</text>`+"\n", left, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="58" font-size="13" fill="#555">%s</text>`+"\n", left, html.EscapeString(subtitle))

	// Grid and axes: a line per decade on both axes.
	for e := minExp; e <= maxExp; e++ {
		yy := y(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e3e3"/>`+"\n", left, yy, left+plotW, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="13" text-anchor="end" fill="#333">%s</text>`+"\n", left-10, yy+4, fmtDecade(e))
	}
	for e := minSizeExp; e <= maxSizeExp; e++ {
		xx := x(int(math.Pow(10, e)))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e3e3e3"/>`+"\n", xx, top, xx, top+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="13" text-anchor="middle" fill="#333">%s</text>`+"\n", xx, top+plotH+22, fmtCount(int(math.Pow(10, e))))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, top, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" text-anchor="middle" fill="#222">sessions in the store (log scale)</text>`+"\n", left+plotW/2, height-18)
	fmt.Fprintf(&b, `<text transform="translate(26 %d) rotate(-90)" font-size="14" text-anchor="middle" fill="#222">time to revoke one user's 5 sessions (log scale)</text>`+"\n", top+plotH/2)

	// The lines, their points and values, and the legend.
	for i, s := range all {
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Size), y(p.NS)))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="7 5"`
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`+"\n", strings.Join(pts, " "), s.Color, dash)
		}
		for _, p := range s.Points {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4.5" fill="%s"/>`+"\n", x(p.Size), y(p.NS), s.Color)
			// A white outline keeps the value legible where it crosses a
			// line; at the right edge the value goes left of its point,
			// clear of the legend.
			lx, anchor := x(p.Size)+7, "start"
			if x(p.Size) > left+plotW-60 {
				lx, anchor = x(p.Size)-7, "end"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="%s" fill="%s" stroke="#ffffff" stroke-width="3" paint-order="stroke">%s</text>`+"\n", lx, y(p.NS)-8, anchor, s.Color, fmtDuration(p.NS))
		}
		ly := top + 20 + i*26
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`+"\n", left+plotW+20, ly, left+plotW+48, ly, s.Color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" fill="#222">%s</text>`+"\n", left+plotW+56, ly+4, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// fmtDuration writes nanoseconds the way a person reads them: 412 ns,
// 1.3 µs, 27 µs, 1.2 ms, 3.1 s.
func fmtDuration(ns float64) string {
	unit, div := "ns", 1.0
	switch {
	case ns >= 1e9:
		unit, div = "s", 1e9
	case ns >= 1e6:
		unit, div = "ms", 1e6
	case ns >= 1e3:
		unit, div = "µs", 1e3
	}
	v := ns / div
	switch {
	case v >= 100 || unit == "ns":
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

// fmtDecade writes 10^e nanoseconds as an axis label: 100 ns, 1 µs, 10 ms.
func fmtDecade(e float64) string {
	units := []string{"ns", "µs", "ms", "s"}
	i := min(max(int(e)/3, 0), len(units)-1)
	return fmt.Sprintf("%g %s", math.Pow(10, e-float64(3*i)), units[i])
}

// fmtCount writes 1000 as 1k and 1000000 as 1M.
func fmtCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
