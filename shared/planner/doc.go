// Package planner decides, every day, which notice of a campaign is due for each affected
// organisation, and claims it in the ledger so it goes at most once, ever.
//
// The rules (issue #5): an organisation's deadline is its extension, else its roster date, else
// the campaign's shutdown; stage due dates are calendar dates in the campaign's zone. The due
// stage is the latest one whose date has come, unless it or a later stage was already claimed;
// earlier stages never sent are marked superseded, so an organisation found late or a run
// skipped for days gets one notice, not a burst. An organisation is affected while any of its
// accounts was seen on a legacy hostname within activity_window_days (for a stage after the
// deadline, within the window before the deadline); roster campaigns address every roster
// organisation not marked done. Accounts are resolved to organisations at read time, so a
// directory change takes effect at once. Paused campaigns plan nothing (the plan shows what
// would be due); cancelled ones never send.
//
// A plan streams: a survey of the accounts seen in the window (survey.go), then the
// organisations in ODS order a chunk at a time beside the ledger (walk.go), reading each due
// organisation's findings only for the days its stage looks at. Memory follows a chunk and the
// number of affected organisations, never the window's findings or the ledger; reads are
// Queries and batched gets whose number grows with the affected organisations and their
// findings, never with the directory or days outside the window. run.go is the run over the
// walk, claim.go what it writes. reference_test.go keeps the
// planner that held the window, and tests compare the two.
package planner
