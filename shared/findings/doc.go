// Package findings stores what the scanner found, per campaign and UTC day, and reads it back
// for the planner and the reports.
//
// A file's findings are written twice, so that what a key costs does not grow with the files
// that hold it. Ingest stages each file's findings in S3 (Writer.Stage: one object a part,
// the same bytes on every attempt) and commits the file to its campaign's open merge batch
// (Writer.Commit: one conditional update, the batch the file's ledger entry names, so a file
// is in one batch only). Every hour a Merger seals the open batch, adds its files up by key
// and writes each key once (one UpdateItem of the attributes that changed, conditional on the
// batch it read): one write a key an hour however many files held it, and every item bounded
// (MaxItemBytes). Readers make a View: the table, plus the committed files not merged yet,
// read from the stage, so everything ingested so far counts, and counts once (an item records
// the last batch merged into it; a pending batch at or below it is not added again).
// docs/data-model.md, "Exactly once per file", has the argument; docs/capacity.md the costs.
//
// The owning organisation is resolved at ingest (so reports can list unassigned findings from
// an index) and rewritten by each merge from the newest file; the planner re-resolves at read
// time, so a directory change takes effect for planning at once.
package findings
