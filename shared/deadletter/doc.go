// Package deadletter is what the team does with Sunset's dead-letter queues: see what waits in
// one (a line per message, with no personal data: a notice's ids, a file's S3 key, an SES
// event's type and message id), and send it back to be processed again.
//
// Redrive moves each message to the queue it came from (send, ingest, directory), sending
// first and deleting second: a crash between the two leaves a message in both queues, which is
// safe because every consumer is idempotent (a notice is leased once, a file version is
// ingested once, a directory import converges). The feedback and planner queues have no source
// queue (SNS and the scheduler invoke their functions directly), so their messages are replayed:
// an SES event through the feedback handler, whose writes are idempotent; a failed run by
// running the day's plan again, which claims nothing twice. Queues are named from the table: <table>-<name>-dlq, as
// template.yaml names them.
package deadletter
