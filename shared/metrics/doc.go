// Package metrics is how every Sunset Lambda reports what it did to CloudWatch: lines in the
// Embedded Metric Format (EMF) written to standard output, which Lambda forwards to CloudWatch
// Logs, which turns them into metrics in the namespace Sunset. No API call, no permission
// beyond the logs every function already writes, nothing lost when CloudWatch is slow.
//
// A Recorder adds up counts during one invocation and Flush writes one line per campaign
// (dimensions function, and function+campaign) plus one for counts that belong to no campaign
// (dimension function). The only dimension values are the function's name and campaign ids,
// which validation restricts to [a-z0-9-]: no address, account or IP can become a dimension.
// Every metric Sunset emits is a Name below, and docs/operations.md lists them all (a test
// checks both ways).
//
// No Go EMF library is served to this project (aws-embedded-metrics-go and the community ones
// are not on the module proxy), and the format is one JSON object a line, so this package is
// our own.
package metrics
