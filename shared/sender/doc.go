// Package sender delivers claimed notices through SES v2: it re-reads the ledger and the
// campaign, renders the notice (package notice), sends it with the campaign's sender, the
// configuration set, email tags and the CSV attachment, and records the outcome in the ledger.
// It keeps under the account's SES send rate with a token bucket and bounded concurrency.
//
// # Never twice
//
// A notice is sent only while its ledger status is "claimed". Before calling SES the sender
// takes a lease on it (ledger BeginSend: one conditional write that succeeds once per notice),
// so a duplicate SQS delivery, a concurrent Lambda or a second `sunset run` cannot send it
// again, and MarkSent is conditional on the status too. The price is the one window: if the
// process dies after the lease and before MarkSent (the SendEmail call and one DynamoDB write,
// typically 50-200 ms), the notice stays "claimed" with send_started_at set. It is never sent
// again automatically: it may or may not have gone out, so SES's own events about the message
// settle it (package feedback, ledger.Observe) and `sunset reconcile` lists what they did not.
// Each SendEmail is one SDK attempt: the SDK would retry a connection reset after the request
// was written, which could be a second email. The sender keeps the window small and
// rare: it does not take the lease with less than MinTimeLeft before its context's deadline,
// so a Lambda timeout cannot fall inside it; a throttled send waits with the lease held rather
// than dropping it; and a failure of MarkSent after a successful send is logged with the SES
// message id and never retried.
package sender
