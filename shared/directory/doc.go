// Package directory is the organisation directory: who owns a mail account and whom to tell.
//
// Import streams two CSV files (organisations, accounts) into the table in batches of 25,
// reporting bad rows by line number and skipping them; with Prune, organisations and accounts
// missing from the new files are marked gone (kept for audit, ignored by resolution).
// Resolve maps accounts seen in logs to organisations: the account's own entry, else the
// organisation whose sub-domain is the account's domain, else, for alias-only accounts
// (`chris.wood`), the one directory account with that local part. Orgs reads organisations
// by ODS code. docs/data-model.md shows the items.
package directory
