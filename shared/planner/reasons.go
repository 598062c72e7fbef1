package planner

// SkipReason says why an organisation gets no notice on a date. The values are a contract:
// `sunset plan --json`, the report and docs/cli.md show them as they are.
type SkipReason string

// The reasons, in the order docs/cli.md lists them.
const (
	SkipNotAffected    SkipReason = "not-affected"           // no account seen on a legacy hostname in the window
	SkipNotDue         SkipReason = "not-due"                // no stage is due yet for its deadline
	SkipAlreadySent    SkipReason = "already-sent"           // the due stage (or a later one) was claimed or sent, or one was claimed today
	SkipSuperseded     SkipReason = "superseded"             // the due stage was superseded by a later one
	SkipNoContacts     SkipReason = "no-contacts"            // the directory has no LA/PLA address for it
	SkipUnreachable    SkipReason = "unreachable"            // every address is suppressed (bounced, complained)
	SkipNotInDirectory SkipReason = "not-in-directory"       // the directory has no such organisation
	SkipOrgGone        SkipReason = "org-gone"               // the directory no longer lists it
	SkipDone           SkipReason = "done"                   // a roster organisation marked done, or no longer on the roster
	SkipPaused         SkipReason = "paused"                 // the campaign is paused: nothing is sent
	SkipCancelled      SkipReason = "cancelled"              // the campaign is cancelled: nothing is ever sent
	SkipLostClaim      SkipReason = "claimed-by-another-run" // another run claimed it first
	SkipNotWorkingDay  SkipReason = "not-a-working-day"      // the campaign sends on working days only: it goes on the next one
)

// SkipReasons is every reason, in the documented order.
var SkipReasons = []SkipReason{SkipNotAffected, SkipNotDue, SkipAlreadySent, SkipSuperseded, SkipNoContacts,
	SkipUnreachable, SkipNotInDirectory, SkipOrgGone, SkipDone, SkipPaused, SkipCancelled, SkipLostClaim, SkipNotWorkingDay}
