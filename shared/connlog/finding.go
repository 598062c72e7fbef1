package connlog

import "github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"

// Finding is one account (or, unattributed, one client address) seen on one legacy hostname over
// one protocol. Its JSON form is the output contract of `sunset scan` (see agg.Finding for the
// fields).
type Finding = agg.Finding

// Key identifies a finding: (account, hostname, protocol[, day]) or, when Account is "",
// (hostname, protocol, client IP[, day]).
type Key = agg.Key

// event is one outcome a parser read, before emit cleans its values and folds it into the
// findings table.
type event struct {
	agg.Event
	uaClean bool // UserAgent is already redacted and cleaned (cleanUserAgent)
}
