package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/progress"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func chartCampaign(t *testing.T) *campaign.Campaign {
	t.Helper()
	c, err := campaign.Parse([]byte(`id: legacy-2021
title: Legacy hostnames <2021>
shutdown: 2021-09-07
hostnames:
  - name: imap.nhs.net
    replacement: {host: outlook.office365.com, port: 993}
stages:
  - {name: advance, days_before: 42}
  - {name: reminder, days_before: 21}
  - {name: final, days_before: 7}
  - {name: retired, days_after: 0}
sender: {from: "noreply@example.nhs.net"}
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var chartDays = []progress.Day{
	{At: date("2021-07-27"), Affected: 3, AffectedAccounts: 11},
	{At: date("2021-08-17"), Affected: 2, AffectedAccounts: 6, Notified: 3, Fixed: 1},
	{At: date("2021-08-31"), Affected: 1, AffectedAccounts: 2, Notified: 3, Fixed: 2},
	{At: date("2021-09-07"), Affected: 1, AffectedAccounts: 1, Notified: 3, Fixed: 2},
}

// The chart is well-formed SVG, says what it shows in words, marks every stage date and the
// shutdown by name, tells the two series apart without colour, and is byte-identical to its
// golden file.
func TestBurndownChart(t *testing.T) {
	c := chartCampaign(t)
	for _, tc := range []struct {
		name string
		days []progress.Day
	}{{"burndown", chartDays}, {"burndown-empty", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteBurndown(&b, "Burn-down: "+c.Title, tc.days, Markers(c)); err != nil {
				t.Fatal(err)
			}
			svg := b.String()
			dec := xml.NewDecoder(strings.NewReader(svg))
			for {
				if _, err := dec.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("not well-formed: %v", err)
				}
			}
			for _, want := range []string{`role="img"`, "<title id=\"chart-title\">Burn-down: Legacy hostnames &lt;2021&gt;</title>", "<desc id=\"chart-desc\">",
				">advance<", ">27 July 2021<", ">reminder<", ">17 August 2021<", ">final<", ">31 August 2021<", ">Shutdown<", ">07 September 2021<",
				"Affected organisations", "Affected accounts"} {
				if !strings.Contains(svg, want) {
					t.Errorf("chart lacks %q", want)
				}
			}
			if len(tc.days) > 0 && (!strings.Contains(svg, `stroke-dasharray="6 4"`) || !strings.Contains(svg, "<circle") || !strings.Contains(svg, "<rect x=")) {
				t.Error("the two series are not told apart by line style and marker")
			}
			golden := filepath.Join("testdata", tc.name+".svg")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), svg); d != "" {
				t.Errorf("chart differs from %s (go test -update rewrites it):\n%s", golden, d)
			}
		})
	}
}

func TestBurndownCSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteBurndownCSV(&b, chartDays[:2]); err != nil {
		t.Fatal(err)
	}
	want := "date,affected_organisations,affected_accounts,notified_organisations,fixed_organisations,unassigned_accounts\n" +
		"2021-07-27,3,11,0,0,0\n2021-08-17,2,6,3,1,0\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("CSV (-want +got):\n%s", d)
	}
}

func TestNiceStep(t *testing.T) {
	for peak, want := range map[int]int{0: 1, 4: 1, 5: 2, 11: 5, 40: 10, 3000: 1000, 30000: 10000, 1234567: 500000} {
		if got := niceStep(peak); got != want {
			t.Errorf("niceStep(%d) = %d, want %d", peak, got, want)
		}
	}
}
