package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/spreadsheet"
)

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"org", "org_name", "stage", "status", "to", "sent_at", "message_id", "accounts", "error"}

// WriteCSV writes one row per notice. Every cell is neutralised against spreadsheet formulas
// (package spreadsheet): the organisation's name, the addresses and SES's error text come from
// outside.
func (r Report) WriteCSV(w io.Writer) error {
	cw := spreadsheet.NewWriter(w, false)
	cw.Write(CSVHeader)
	for _, n := range r.Notices {
		sent := ""
		if n.SentAt != nil {
			sent = n.SentAt.Format(time.RFC3339)
		}
		cw.Write([]string{n.Org, n.OrgName, n.Stage, n.Status, strings.Join(n.To, " "), sent, n.MessageID,
			fmt.Sprint(n.AccountCount()), n.Error})
	}
	return cw.Flush()
}

// WriteTable writes the report for a person: a summary line, the notices as a table, then the
// unassigned accounts, the unreachable organisations and the suppression list.
func (r Report) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	counts := map[string]int{}
	doubt := 0
	for _, n := range r.Notices {
		counts[n.Status]++
		if n.InDoubt {
			doubt++
		}
	}
	var parts []string
	for _, s := range []ledger.Status{ledger.Sent, ledger.Claimed, ledger.Failed, ledger.Suppressed} {
		parts = append(parts, fmt.Sprintf("%d %s", counts[string(s)], s))
	}
	if doubt > 0 {
		parts = append(parts, fmt.Sprintf("%d in doubt: sunset reconcile", doubt))
	}
	fmt.Fprintf(ew, "Campaign %s: %d notices (%s)\n", r.Campaign, len(r.Notices), strings.Join(parts, ", "))
	if r.PauseReason != "" {
		fmt.Fprintf(ew, "Paused automatically: %s\n", r.PauseReason)
	}
	if d := r.Delivery; d.Sends > 0 {
		fmt.Fprintf(ew, "SES events: %d recipients sent to, %d bounced, %d complained; bounce rate %.1f%%\n", d.Sends, d.Bounces, d.Complaints, 100*d.BounceRate)
	}
	fmt.Fprintln(ew)
	if len(r.Notices) > 0 {
		tw := tabwriter.NewWriter(ew, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ORG\tNAME\tSTAGE\tSTATUS\tSENT (UTC)\tACCOUNTS\tTO\tNOTE")
		for _, n := range r.Notices {
			sent := "-"
			if n.SentAt != nil {
				sent = n.SentAt.Format("2006-01-02 15:04")
			}
			status := n.Status
			if n.InDoubt {
				status = "in doubt"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.Org, n.OrgName, n.Stage, status, sent, n.AccountCount(), strings.Join(n.To, ", "), n.note())
		}
		tw.Flush()
	}
	if len(r.Mails) > 0 {
		fmt.Fprintf(ew, "\nMerged emails (one email a day to an address in several organisations' notices): %d\n", len(r.Mails))
		for _, m := range r.Mails {
			status := m.Status
			if m.InDoubt {
				status = "in doubt: sunset reconcile --mails"
			}
			fmt.Fprintf(ew, "  %s  %s  %s  %s\n", m.Day, m.To, strings.Join(m.Orgs, " "), status)
		}
	}
	list := func(title string, items []string) {
		fmt.Fprintf(ew, "\n%s: %d\n", title, len(items))
		for _, it := range items {
			fmt.Fprintf(ew, "  %s\n", it)
		}
	}
	if len(r.Brownouts) > 0 {
		fmt.Fprintf(ew, "\nBrownouts: %d\n", len(r.Brownouts))
		for _, b := range r.Brownouts {
			fmt.Fprintf(ew, "  %s %s %s: %d organisations told of %d accounts that failed during it\n",
				b.Date.British(), b.Hours, strings.Join(b.Hostnames, ", "), b.Organisations, b.Accounts)
		}
	}
	list("Unassigned accounts (no organisation owns them: fix the directory)", r.Unassigned)
	list("Unreachable organisations (every LA/PLA address suppressed)", r.Unreachable)
	fmt.Fprintf(ew, "\nSuppressed addresses (all campaigns): %d\n", len(r.SuppressedEntries))
	for _, e := range r.SuppressedEntries {
		fmt.Fprintf(ew, "  %s  %s  %s  %s\n", e.Address, e.Reason, e.At.Format("2006-01-02"), e.Detail)
	}
	return ew.err
}

// errWriter keeps the first write error so WriteTable can print freely and report it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// note is the table's last column: the error, then how a crash was settled and any resends.
func (n Notice) note() string {
	var parts []string
	if n.Error != "" {
		parts = append(parts, n.Error)
	}
	if n.SettledBy != "" {
		parts = append(parts, "settled by SES's "+n.SettledBy+" event")
	}
	for _, rs := range n.Resends {
		parts = append(parts, fmt.Sprintf("resent by %s on %s: %s", rs.By, rs.At.Format("2006-01-02"), rs.Reason))
	}
	return strings.Join(parts, "; ")
}
