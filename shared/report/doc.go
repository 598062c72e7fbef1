// Package report is a campaign's progress as `sunset report` shows it: every notice in the
// ledger with its status, the accounts no organisation owns, the organisations no address
// reaches, and the suppression list.
//
// Build reads the campaign, its ledger, the suppression list and dry-run plans through small
// interfaces (the real campaign.Store, ledger.Ledger, suppression.List and planner.Planner fit);
// a Report is then written as JSON (its struct tags are the CLI's contract), as a table or as
// CSV. Nothing here writes to the table.
package report
