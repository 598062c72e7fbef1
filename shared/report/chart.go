package report

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/spreadsheet"
)

// The burn-down chart: affected organisations and affected accounts on each day a run recorded,
// one panel each (their scales differ tenfold), with the stage dates and the shutdown marked.
// It is drawn here, as SVG text, so the console, the CLI (sunset report --chart) and a saved
// file are the same picture. It reads without colour: the two series differ by line style and
// marker, every marker line is labelled in words, and the SVG's title and description say what
// it shows.

const (
	chartW, panelH     = 760, 170
	padL, padR, labelH = 64, 24, 58
	rowH, charW        = 26, 6.2 // a marker label's two lines; the width of a character at 11px
)

// Marker is a dated line on the chart: a stage's due date or the shutdown.
type Marker struct {
	Date     calendar.Date
	Label    string
	Shutdown bool
}

// Markers are a campaign's stage dates and its shutdown (none for a roster campaign, whose
// deadlines differ by organisation).
func Markers(c *campaign.Campaign) []Marker {
	if c.Shutdown.IsZero() {
		return nil
	}
	var out []Marker
	for _, s := range c.Stages {
		if d := s.DueOn(c.Shutdown); d != c.Shutdown {
			out = append(out, Marker{Date: d, Label: s.Name})
		}
	}
	return append(out, Marker{Date: c.Shutdown, Label: "shutdown", Shutdown: true})
}

// series is one panel: a name, how it is drawn, and a value per day.
type series struct {
	name, dash, marker string
	value              func(progress.Day) int
}

var panels = []series{
	{"Affected organisations", "", "circle", func(d progress.Day) int { return d.Affected }},
	{"Affected accounts", "6 4", "square", func(d progress.Day) int { return d.AffectedAccounts }},
}

// WriteBurndown draws the chart of days (oldest first) with markers as SVG.
func WriteBurndown(w io.Writer, title string, days []progress.Day, markers []Marker) error {
	from, to := span(days, markers)
	total := from.DaysUntil(to)
	x := func(d calendar.Date) float64 {
		return padL + float64(from.DaysUntil(d))*float64(chartW-padL-padR)/float64(max(total, 1))
	}
	rows := labelRows(markers, x)
	band := 0
	for _, r := range rows {
		band = max(band, (r+1)*rowH)
	}
	top0 := 36 + band + 24 // the title, the marker labels, the first panel's name
	h := top0 + len(panels)*(panelH+labelH) - 20
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="chart-title chart-desc" font-family="Arial, Helvetica, sans-serif" font-size="12">`+"\n", chartW, h, chartW, h)
	fmt.Fprintf(&b, "<title id=\"chart-title\">%s</title>\n<desc id=\"chart-desc\">%s</desc>\n", html.EscapeString(title), html.EscapeString(describe(days, markers)))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartW, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15" font-weight="bold" fill="#000">%s</text>`+"\n", padL, html.EscapeString(title))
	drawLabels(&b, markers, rows, 36, x)
	for i, s := range panels {
		top := top0 + i*(panelH+labelH)
		drawPanel(&b, s, days, top, x)
		drawMarkers(&b, markers, top-4-(top-top0), top, x)
		drawDates(&b, from, to, top+panelH, x)
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// labelRows places each marker's label (its name over its date) in the first row of the band
// above the chart where it does not overlap the label before it in that row.
func labelRows(markers []Marker, x func(calendar.Date) float64) []int {
	rows := make([]int, len(markers))
	var ends []float64 // the right edge of the last label in each row
	for i, m := range markers {
		l, r := labelSpan(m, x)
		row := 0
		for row < len(ends) && l < ends[row]+8 {
			row++
		}
		if row == len(ends) {
			ends = append(ends, 0)
		}
		ends[row], rows[i] = r, row
	}
	return rows
}

// labelSpan is where a marker's label lies: centred on its line, kept inside the chart.
func labelSpan(m Marker, x func(calendar.Date) float64) (left, right float64) {
	name, date := markerLabel(m)
	w := float64(max(len(name), len(date))) * charW
	left = min(max(x(m.Date)-w/2, 4), chartW-4-w)
	return left, left + w
}

// drawLabels writes each marker's name and date in its row of the band starting at y.
func drawLabels(b *bytes.Buffer, markers []Marker, rows []int, y int, x func(calendar.Date) float64) {
	for i, m := range markers {
		name, date := markerLabel(m)
		l, r := labelSpan(m, x)
		weight := ""
		if m.Shutdown {
			weight = ` font-weight="bold"`
		}
		ty := y + rows[i]*rowH + 10
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#000"%s>%s</text>`+"\n", (l+r)/2, ty, weight, html.EscapeString(name))
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#000"%s>%s</text>`+"\n", (l+r)/2, ty+12, weight, date)
	}
}

// span is the chart's first and last day: the recorded days and every marker, or a week
// around today's marker when nothing is recorded.
func span(days []progress.Day, markers []Marker) (from, to calendar.Date) {
	var all []calendar.Date
	for _, d := range days {
		all = append(all, d.At)
	}
	for _, m := range markers {
		all = append(all, m.Date)
	}
	if len(all) == 0 {
		return calendar.Date{Year: 2000, Month: 1, Day: 1}, calendar.Date{Year: 2000, Month: 1, Day: 8}
	}
	from, to = all[0], all[0]
	for _, d := range all[1:] {
		if d.Before(from) {
			from = d
		}
		if d.After(to) {
			to = d
		}
	}
	if from == to {
		to = to.AddDays(1)
	}
	return from, to
}

// drawPanel draws one series: its axis with round ticks, its line and a marker per day.
func drawPanel(b *bytes.Buffer, s series, days []progress.Day, top int, x func(calendar.Date) float64) {
	peak := 0
	for _, d := range days {
		peak = max(peak, s.value(d))
	}
	step := niceStep(peak)
	ymax := step * int(math.Ceil(float64(max(peak, 1))*1.1/float64(step))) // headroom above the peak
	y := func(v int) float64 { return float64(top+panelH) - float64(v)*float64(panelH)/float64(ymax) }
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold" fill="#000">%s</text>`+"\n", padL, top-8, s.name)
	for v := 0; v <= ymax; v += step {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d0d0d0" stroke-width="1"/>`+"\n", padL, chartW-padR, y(v), y(v))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#000">%s</text>`+"\n", padL-6, y(v)+4, strconv.Itoa(v))
	}
	if len(days) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#000">No run recorded yet.</text>`+"\n", padL+10, top+panelH/2)
		return
	}
	var pts bytes.Buffer
	for i, d := range days {
		if i > 0 {
			pts.WriteByte(' ')
		}
		fmt.Fprintf(&pts, "%.1f,%.1f", x(d.At), y(s.value(d)))
	}
	dash := ""
	if s.dash != "" {
		dash = ` stroke-dasharray="` + s.dash + `"`
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="#003087" stroke-width="2"%s/>`+"\n", pts.String(), dash)
	for _, d := range days {
		cx, cy := x(d.At), y(s.value(d))
		if s.marker == "circle" {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#003087"><title>%s: %d</title></circle>`+"\n", cx, cy, d.At.British(), s.value(d))
		} else {
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="8" height="8" fill="#ffffff" stroke="#003087" stroke-width="2"><title>%s: %d</title></rect>`+"\n", cx-4, cy-4, d.At.British(), s.value(d))
		}
	}
}

// drawMarkers draws each stage date (dotted) and the shutdown (solid, thick) down a panel,
// from y1 (the label band, for the first panel) to its baseline.
func drawMarkers(b *bytes.Buffer, markers []Marker, y1, top int, x func(calendar.Date) float64) {
	for _, m := range markers {
		style := `stroke="#4c6272" stroke-width="1" stroke-dasharray="2 3"`
		if m.Shutdown {
			style = `stroke="#000000" stroke-width="3"`
		}
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" %s/>`+"\n", x(m.Date), x(m.Date), y1, top+panelH, style)
	}
}

// markerLabel is a marker's name and its date.
func markerLabel(m Marker) (name, date string) {
	if m.Shutdown {
		return "Shutdown", m.Date.British()
	}
	return m.Label, m.Date.British()
}

// drawDates labels the x axis with about eight dates, first and last included.
func drawDates(b *bytes.Buffer, from, to calendar.Date, baseline int, x func(calendar.Date) float64) {
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#000" stroke-width="1"/>`+"\n", padL, chartW-padR, baseline, baseline)
	total := from.DaysUntil(to)
	every := max(1, int(math.Ceil(float64(total)/8)))
	for i := 0; i <= total; i += every {
		d := from.AddDays(i)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#000">%s</text>`+"\n", x(d), baseline+16, shortDate(d))
	}
}

func shortDate(d calendar.Date) string { return d.British()[:6] }

// niceStep is a round tick step giving about four ticks up to peak.
func niceStep(peak int) int {
	if peak <= 4 {
		return 1
	}
	raw := float64(peak) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return int(m * mag)
		}
	}
	return int(10 * mag)
}

// describe is the chart in words, for a screen reader (and the SVG's desc).
func describe(days []progress.Day, markers []Marker) string {
	if len(days) == 0 {
		return "No daily run has been recorded yet."
	}
	first, last := days[0], days[len(days)-1]
	s := fmt.Sprintf("On %s, %s and %s were affected; on %s, %s and %s.",
		first.At.British(), plural(first.Affected, "organisation"), plural(first.AffectedAccounts, "account"),
		last.At.British(), plural(last.Affected, "organisation"), plural(last.AffectedAccounts, "account"))
	for _, m := range markers {
		if m.Shutdown {
			s += " The shutdown is on " + m.Date.British() + "."
		}
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// WriteBurndownCSV writes the chart's data: one row a recorded day.
func WriteBurndownCSV(w io.Writer, days []progress.Day) error {
	cw := spreadsheet.NewWriter(w, false)
	if err := cw.Write([]string{"date", "affected_organisations", "affected_accounts", "notified_organisations", "fixed_organisations", "unassigned_accounts"}); err != nil {
		return err
	}
	for _, d := range days {
		if err := cw.Write([]string{d.At.String(), strconv.Itoa(d.Affected), strconv.Itoa(d.AffectedAccounts),
			strconv.Itoa(d.Notified), strconv.Itoa(d.Fixed), strconv.Itoa(d.Unassigned)}); err != nil {
			return err
		}
	}
	return cw.Flush()
}
