// Package progress is where a campaign stands, as each scheduled run of the planner found it:
// one item a day (the funnel: organisations and accounts affected, notified, fixed) and one item
// an organisation (accounts still seen, last seen, the stage it reached). The planner writes it
// as it walks; the report, the console and the burn-down chart read it with one query instead
// of re-planning the campaign, so a page for 30,000 organisations costs a few reads.
package progress
