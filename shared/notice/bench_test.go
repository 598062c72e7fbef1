package notice_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
)

// BenchmarkRender: one notice (subject, HTML, text, CSV) per op, with and without the .eml.
func BenchmarkRender(b *testing.B) {
	c := loadCampaign(&testing.T{}, "hostname-retirement.yaml")
	r, err := notice.New(c, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, rows := range []int{4, 60} {
		n := ledger.Notice{Campaign: c.ID, Org: "RX1", OrgName: "Example Trust", Stage: "reminder",
			Deadline: c.Shutdown, Recipients: []string{"la@nhs.net", "pla@nhs.net"}}
		for i := range rows {
			n.Accounts = append(n.Accounts, ledger.Account{Account: fmt.Sprintf("user%03d@nhs.net", i), Hostname: "imap.nhs.net",
				Protocol: "IMAP", LastSeen: time.Date(2021, 8, 1, 9, 0, 0, 0, time.UTC), Successes: 10, Failures: 1,
				ClientIPs: []string{"10.0.0.1", "10.0.0.2"}, UserAgents: []string{"Thunderbird/91.0"}})
		}
		now := time.Date(2021, 8, 17, 8, 0, 0, 0, time.UTC)
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Render(n, now); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d+eml", rows), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e, err := r.Render(n, now)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.EML(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
