// Package answers is what an organisation says back to a notice, without an account or a
// password: each notice carries three signed links ("we have changed these settings", "these
// accounts are not ours", "we need more time"), and this package makes and reads those links
// and keeps the answers: acknowledgements, disputed accounts, extension requests. The team
// resolves disputes (an account reassigned to another organisation for the campaign, or
// confirmed) and decides extension requests; the planner reads the answers so the next notice
// says what it should.
package answers
