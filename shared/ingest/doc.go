// Package ingest turns log files into stored findings, exactly once per file: it checks the
// processed-file ledger, streams the file once through one scanner per live campaign, resolves
// the accounts' organisations through the directory, writes one finding item per distinct
// (account, hostname, protocol, day) and records the file's summary. The ingest Lambda (S3 ->
// SQS -> Handler) and `sunset ingest` both call Ingester.File. docs/data-model.md, "Exactly
// once per file", has the argument.
package ingest
