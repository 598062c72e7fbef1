// Package agg is the scanner's findings table: it folds connection events into findings, one
// per (account, hostname, protocol[, day]) or, unattributed, per (hostname, protocol, client
// address[, day]), and writes them out sorted as JSON lines.
//
// It is the one hand-tuned part of the scanner, kept behind a small API (New, Add, AddBatch,
// Findings, Each, Len, Bytes) so that the format readers stay plain Go. Once a log has
// many legacy lines, scanning is bound by this table: each event is a lookup and an update of a
// finding, and memory grows with distinct findings (a real estate's log of 3M lines can hold
// 600,000). The design, each choice with its reason:
//   - Nothing the table holds contains a pointer: records, indexes, string arenas and list
//     chunks are arrays of plain values in fixed-size pages (paged), so growing never copies
//     them. The pages are mapped from the system outside the Go heap (mem.go): on the heap the
//     table, live and large, set the collector's pace, and a scan spent a third of its CPU
//     collecting nothing. Free (Scanner.Close) hands them back.
//   - Accounts (and, unattributed, client addresses) are interned once per shard, hostnames and
//     protocols are ids of small tables: a finding's key is 12 bytes of integers, compared as
//     such.
//   - A shard's findings are found through an open-addressing index of 4-byte slots (an 8-bit
//     hash tag and the record's id), records are 120 bytes: first and last seen as Unix seconds
//     and nanoseconds (exact for any time), counts, and the start of the three capped lists.
//     An index grows by walking ids in order, so it reads records and strings as they lie.
//   - A list entry is 12 bytes: when the value was last seen and a reference to it. An IPv4
//     address in canonical form (nearly every client address) is its four bytes. A user agent
//     is interned in the shard's value table (shared by every finding that saw it, found by
//     hash) with a reference count, so a value dropped from every list is forgotten (strTab
//     compacts dead bytes away). A device id or an address that does not pack is loose: each
//     entry that holds one has its own copy in the shard's loose arena, referred to by its
//     position, and a list finds it among its own entries. Such values change per request:
//     sharing them cost a hash, an index probe and an index slot each (prepValue), and giving
//     each an id cost arrays of offsets, lengths and counts, each one more cache miss to read
//     a value. Memory follows what findings hold, not what went by: dropped values are
//     compacted away, the shard moving each live one and updating its one entry (loose.go).
//   - Lists start inside the record (two addresses, one user agent, one device) and move to
//     chunks of the shard's list pool as they grow (2, 4, 8 entries, then the cap).
//   - The table is split into shards by account, each behind its own lock, so parallel workers
//     rarely wait, and AddBatch takes each shard's lock once per batch of events.
//   - An event's lookups are cache misses one after another (its name, its finding, its lists),
//     so AddBatch folds a shard's events in passes, each asking the processor for the memory
//     the next pass reads (prefetch.go: an instruction Go has no word for), and the output asks
//     for the findings ahead of the one it writes: the misses of many events overlap.
//   - Output ranks the strings once, places findings by a counting sort on their account's
//     rank (4 bytes a finding), and decodes one finding at a time, so writing the table out
//     costs no copy of it; every core writes chunks of it, in order, with times formatted by
//     hand.
//
// The tests compare each trick with its plain definition (capped lists against a reference
// implementation, packing round trips, JSON against encoding/json, times against time's
// layouts, output order against a sort of the keys, compaction); the benchmarks
// measure the shapes users have (few and many distinct findings).
package agg
