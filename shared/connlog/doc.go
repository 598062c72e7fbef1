// Package connlog turns raw connection logs into findings: "account X used legacy hostname H over
// protocol P, first/last seen, N successes, M failures".
//
// It is the one code path shared by the ingest Lambda and `sunset scan`. A Scanner is built from
// Rules (legacy hostnames, an endpoint map for logs that carry only a server address, ignored
// account globs and a field mapping for JSON lines / CSV input) and is fed one file at a time:
//
//	s, err := connlog.NewScanner(rules, connlog.Options{})
//	sum, err := s.Scan(ctx, "RECV2021090112-1.LOG.gz", r) // gzip detected by magic bytes
//	for _, f := range s.Findings() { ... }               // sorted, unattributed last
//
// Formats (auto-detected from headers and line shape, or forced with Options.Format): IIS W3C
// extended, Exchange HttpProxy, Exchange IMAP4 and POP3 protocol logs, Exchange SMTP Receive
// protocol logs, AWS ALB access logs, AWS NLB TLS access logs, and JSON lines or CSV with a field
// mapping.
//
// Rules applied to every line (see the package tests for one table per rule):
//   - Hostname: the explicit field (cs-host, UrlHost, domain_name, mapped), then the ActiveSync
//     `_HH:<host>_` token, then Rules.Endpoints on the server address (ip:port, then ip); a line
//     with none of these is counted as unresolved and never guessed. A host header that is a bare
//     IP resolved through Rules.Endpoints gives a direct-IP finding.
//   - Account: only the authenticated-user column attributes a line; it is lower-cased,
//     URL-decoded and reduced from DOMAIN\user[\mailbox] forms (the first component holding an
//     `@` wins). Unauthenticated events become unattributed findings keyed by client IP.
//   - Findings aggregate by (account, hostname, protocol), or (hostname, protocol, client IP)
//     when unattributed; with Options.ByDay also by UTC day. direct_ip is true when any event of
//     the finding reached the legacy server by a bare IP.
//
// Outcomes: HTTP-style logs give one event per request (401/403 = failure); IMAP4 one per
// login/authenticate (success needs an explicit OK in the response, NO/BAD/unknown = failure);
// POP3 one per pass/auth/apop (+OK / -ERR); SMTP Receive one per authentication outcome
// (`*,<user>,authenticated`, or `AUTH ... failed` attributed to the following `User Name:` line or
// the session's user); NLB one per TLS connection (no handshake time or a client TLS alert =
// failure). Summary counts: Events are legacy events kept in findings, Unresolved are events
// whose hostname the line does not identify, Ignored and Unattributed are subsets of legacy
// events, Malformed lines are skipped with a reason (never the line itself).
//
// The findings table is internal/agg: the one hand-tuned part, with its reasons and its own
// benchmarks, behind New, Add, AddBatch, Findings and Each.
//
// Memory grows with distinct findings only: lines are read through a fixed buffer (a line longer
// than MaxLineBytes is skipped and counted without being held), SMTP/POP3 sessions are kept in a
// bounded table, and per-finding lists are capped. Raw lines are never kept or logged; values
// that look like credentials are redacted before they reach a finding.
//
// Speed comes from not parsing most lines: each block read is searched for the campaign's
// needles (legacy hostnames, endpoint addresses), in any ASCII case, by their rarest byte; a line
// holding none of them can not be a legacy event, so for HTTP-style formats it is only
// classified (unresolved or not) and checked for shape, never tokenised in full. Only the few
// fields a line is judged by are lower-cased, never whole blocks.
package connlog
