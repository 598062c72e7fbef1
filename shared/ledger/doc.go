// Package ledger is the notice ledger: the record that a notice was claimed, sent, failed or
// suppressed, which makes "at most one notice per organisation per stage, ever" true across
// retries, crashes and concurrent runs. Every claim is a single conditional put.
package ledger
