package api

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/report"
)

// The campaign page of a campaign of 3,000 affected organisations, from what its reads return
// (the reads themselves are timed by infra/bench/console.sh): joining the recorded
// organisations with 12,000 notices, drawing the chart of 42 days, and the first page of the
// table.
func BenchmarkCampaignPage(b *testing.B) {
	pages, err := parsePages()
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{pages: pages}
	c, err := campaign.Parse([]byte(`id: bench
shutdown: 2030-09-07
hostnames: [{name: imap.nhs.net, replacement: {host: outlook.office365.com}}]
sender: {from: "noreply@example.nhs.net"}
`), "c.yaml")
	if err != nil {
		b.Fatal(err)
	}
	const affected = 3000
	at := calendar.Date{Year: 2030, Month: 7, Day: 28}
	var days []progress.Day
	for i := range 42 {
		days = append(days, progress.Day{At: at.AddDays(i - 41), Affected: affected - i*50, AffectedAccounts: (affected - i*50) * 7})
	}
	var orgs []progress.Org
	var notices []ledger.Notice
	for i := range affected {
		ods := fmt.Sprintf("O%05d", i)
		orgs = append(orgs, progress.Org{ODS: ods, Name: "Trust " + ods, AsOf: at, Affected: i%3 != 0, Accounts: 7, LastSeen: at.AddDays(-1)})
		for _, st := range c.Stages {
			notices = append(notices, ledger.Notice{Campaign: "bench", Org: ods, OrgName: "Trust " + ods, Stage: st.Name, Status: ledger.Sent,
				PlannedFor: st.DueOn(c.Shutdown), SentAt: time.Date(2030, 7, 1, 8, 0, 0, 0, time.UTC)})
		}
	}
	rec := &campaign.Record{Campaign: c, Status: campaign.Active, Version: 1}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		sum := &campaignSummary{Rec: rec, Deadline: deadlineOf(c), Days: days, Latest: &days[len(days)-1], Window: c.ActivityWindowDays}
		sum.AllOrgs, sum.Counts = orgRows(c, days, orgs, notices)
		sum.Stages = stageRows(c, notices)
		sum.Pages, sum.Page = (len(sum.AllOrgs)+orgsPerPage-1)/orgsPerPage, 1
		sum.Orgs = sum.AllOrgs[:orgsPerPage]
		var chart bytes.Buffer
		if err := report.WriteBurndown(&chart, "Burn-down: bench", days, report.Markers(c)); err != nil {
			b.Fatal(err)
		}
		sum.Chart = template.HTML(chart.String())
		w := httptest.NewRecorder()
		if err := s.show(w, http.StatusOK, &view{Title: "bench", Data: sum}, "campaign"); err != nil {
			b.Fatal(err)
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}
