// Package findings stores what the scanner found, per campaign and UTC day, and reads it back
// for the planner and the reports.
//
// The Writer records one source file's findings with one UpdateItem per distinct key, in
// parallel with a bound. Each write is idempotent for its file: the file's own contribution
// (successes, failures, first and last seen) is a top-level attribute named after the file,
// set with SET; client addresses, user agents and device ids are string sets grown with ADD (a
// union). Writing the same file again, half of it again, or twice at once changes nothing;
// files arriving in any order give the same totals, which the Reader derives by summing the
// contributions. The processed-file ledger (File) lets ingest skip a finished file cheaply,
// but correctness does not depend on it. docs/data-model.md, "Exactly once per file", has the
// argument.
//
// The owning organisation is resolved at write time (so reports can list unassigned findings
// from an index) and rewritten by every later write; the planner re-resolves at read time, so
// a directory change takes effect for planning at once.
package findings
