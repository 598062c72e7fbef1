package agg

import (
	"encoding/json"
	"time"
)

// Caps on a finding's lists: memory grows with distinct findings, never with lines.
const (
	MaxClientIPs  = 10
	MaxUserAgents = 5
	MaxDeviceIDs  = 10
)

// Finding is one account (or, unattributed, one client address) seen on one legacy hostname over
// one protocol. Its JSON form is the output contract of `sunset scan`.
type Finding struct {
	// Account is the normalised account; nil for unattributed traffic (no authenticated user).
	Account *string `json:"account"`
	// Hostname is the legacy hostname the traffic reached.
	Hostname string `json:"hostname"`
	// Protocol is IMAP, POP, SMTP, EAS, EWS, OWA, MAPI, RPC, Autodiscover, OAB, HTTP or TLS.
	Protocol string `json:"protocol"`
	// FirstSeen and LastSeen are UTC; JSON keeps the log's sub-second precision.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Successes and Failures count events (requests, logins, AUTH outcomes).
	Successes int64 `json:"successes"`
	Failures  int64 `json:"failures"`
	// ClientIPs are distinct client addresses, most recent first, at most 10.
	ClientIPs []string `json:"client_ips"`
	// UserAgents are distinct user agents, most recent first, at most 5.
	UserAgents []string `json:"user_agents"`
	// DeviceIDs are distinct ActiveSync device ids, most recent first, at most 10.
	DeviceIDs []string `json:"device_ids"`
	// DirectIP is true when any event reached the legacy server by a bare IP host header.
	DirectIP bool `json:"direct_ip"`
	// Day is the UTC day (YYYY-MM-DD) the finding covers; set only by a Scanner with
	// Options.ByDay.
	Day string `json:"day,omitempty"`

	firstPrec, lastPrec int8 // fraction digits the log used, for JSON
}

// Key identifies a finding: (account, hostname, protocol[, day]) or, when Account is "",
// (hostname, protocol, client IP[, day]).
type Key struct {
	Account  string
	Hostname string
	Protocol string
	ClientIP string // only for unattributed findings
	Day      string // only with Options.ByDay
}

// Key returns the aggregation key of f.
func (f *Finding) Key() Key {
	k := Key{Hostname: f.Hostname, Protocol: f.Protocol, Day: f.Day}
	if f.Account != nil {
		k.Account = *f.Account
	} else if len(f.ClientIPs) > 0 {
		k.ClientIP = f.ClientIPs[0]
	}
	return k
}

// Wire is a finding as the JSON contract has it: the fields in contract order, the times in
// RFC 3339 UTC with as many fraction digits as the log had, empty lists as [].
type Wire struct {
	Account    *string  `json:"account"`
	Hostname   string   `json:"hostname"`
	Protocol   string   `json:"protocol"`
	FirstSeen  string   `json:"first_seen"`
	LastSeen   string   `json:"last_seen"`
	Successes  int64    `json:"successes"`
	Failures   int64    `json:"failures"`
	ClientIPs  []string `json:"client_ips"`
	UserAgents []string `json:"user_agents"`
	DeviceIDs  []string `json:"device_ids"`
	DirectIP   bool     `json:"direct_ip"`
	Day        string   `json:"day,omitempty"`
}

// Wire is f as the JSON contract has it.
func (f Finding) Wire() Wire {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return Wire{f.Account, f.Hostname, f.Protocol, formatTime(f.FirstSeen, f.firstPrec), formatTime(f.LastSeen, f.lastPrec),
		f.Successes, f.Failures, nonNil(f.ClientIPs), nonNil(f.UserAgents), nonNil(f.DeviceIDs), f.DirectIP, f.Day}
}

// MarshalJSON writes f's Wire.
func (f Finding) MarshalJSON() ([]byte, error) { return json.Marshal(f.Wire()) }

// formatTime formats t in UTC (RFC 3339, "Z") with at least prec fraction digits, more when t
// needs them, at most 9: the log's own precision is kept (".100" stays ".100").
func formatTime(t time.Time, prec int8) string {
	t = t.UTC()
	ns, need := t.Nanosecond(), 0
	if ns != 0 {
		need = 9
		for n := ns; n%10 == 0; n /= 10 {
			need--
		}
	}
	p := min(max(int(prec), need), 9)
	b := t.AppendFormat(make([]byte, 0, 32), "2006-01-02T15:04:05")
	if p > 0 {
		var d [9]byte
		for i, n := 8, ns; i >= 0; i-- {
			d[i] = byte('0' + n%10)
			n /= 10
		}
		b = append(append(b, '.'), d[:p]...)
	}
	return string(append(b, 'Z'))
}
