// Package agg is the scanner's findings table: it folds connection events into findings, one
// per (account, hostname, protocol[, day]) or, unattributed, per (hostname, protocol, client
// address[, day]), and writes them out sorted as JSON lines.
//
// It is the one hand-tuned part of the scanner, kept behind a small API (New, Add, AddBatch,
// Findings, WriteJSONLines) so that the format readers stay plain Go. Scanning is bound by the
// table once a log has many legacy lines: each event is a lookup and an update of a finding, and
// memory grows with distinct findings. The tricks, each with its reason:
//   - a finding's key is length-prefixed parts (no value can run into the next) and, when short,
//     lives inside the finding, so the lookup's key comparison reads the memory the update reads
//     next (one cache miss, not two);
//   - first and last seen are Unix seconds and nanoseconds: exact for any time.Time, compared as
//     integers, 16 bytes smaller than two time.Time values;
//   - the capped lists (client addresses, user agents, device ids) start inside the finding
//     (two addresses, one agent, one device: most findings never need more);
//   - a list entry refers to its value: an IPv4 address (at most 15 digits and dots) is packed
//     into the reference itself, anything else is interned once per shard with a reference
//     count, so a value dropped from every list is forgotten and memory follows what findings
//     hold, not what went by;
//   - the table is split into shards by account, each behind its own lock, so parallel workers
//     rarely wait, and AddBatch takes each shard's lock once per batch of events.
//
// The tests compare each trick with its plain definition (capped lists against a reference
// implementation, packing round trips, JSON against encoding/json); the benchmarks measure the
// shapes users have (few and many distinct findings).
package agg
