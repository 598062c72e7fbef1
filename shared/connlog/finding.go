package connlog

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Caps on the per-finding lists: memory grows with distinct findings, never with lines.
const (
	maxClientIPs  = 10
	maxUserAgents = 5
	maxDeviceIDs  = 10
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

// MarshalJSON writes the fields in contract order, the times in RFC 3339 UTC with as many
// fraction digits as the log had, and empty lists as [].
func (f Finding) MarshalJSON() ([]byte, error) {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return json.Marshal(struct {
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
	}{f.Account, f.Hostname, f.Protocol, formatTime(f.FirstSeen, f.firstPrec), formatTime(f.LastSeen, f.lastPrec),
		f.Successes, f.Failures, nonNil(f.ClientIPs), nonNil(f.UserAgents), nonNil(f.DeviceIDs), f.DirectIP, f.Day})
}

// formatTime formats t in UTC with at least prec fraction digits (more when t needs them).
func formatTime(t time.Time, prec int8) string {
	t = t.UTC()
	need := int8(0)
	if ns := t.Nanosecond(); ns != 0 {
		need = 9
		for ns%10 == 0 {
			ns /= 10
			need--
		}
	}
	prec = max(prec, need)
	layout := "2006-01-02T15:04:05"
	if prec > 0 {
		layout += "." + strings.Repeat("0", int(prec))
	}
	return t.Format(layout + "Z07:00")
}

// event is one counted connection outcome, after hostname resolution.
type event struct {
	t         time.Time
	prec      int8
	account   string // normalised; "" = unattributed
	host      string
	direct    bool
	protocol  string
	clientIP  string
	userAgent string
	deviceID  string
	success   bool
}

type aggregate struct {
	f        Finding
	ipSeen   []int64 // Unix nanoseconds, parallel to f.ClientIPs
	uaSeen   []int64
	devSeen  []int64
	lastFile int // generation of the last file that touched it, for per-file counts
}

// aggregator folds events into findings.
type aggregator struct {
	byDay bool
	m     map[Key]*aggregate
}

func newAggregator(byDay bool) *aggregator {
	return &aggregator{byDay: byDay, m: map[Key]*aggregate{}}
}

// add folds e in and reports whether this is the first event of the finding in file gen.
func (a *aggregator) add(e *event, gen int) bool {
	k := Key{Account: e.account, Hostname: e.host, Protocol: e.protocol}
	if e.account == "" {
		k.ClientIP = e.clientIP
	}
	if a.byDay {
		k.Day = e.t.UTC().Format(time.DateOnly)
	}
	g := a.m[k]
	if g == nil {
		g = &aggregate{f: Finding{Hostname: e.host, Protocol: e.protocol, Day: k.Day,
			FirstSeen: e.t, LastSeen: e.t, firstPrec: e.prec, lastPrec: e.prec}}
		if e.account != "" {
			acct := e.account
			g.f.Account = &acct
		}
		a.m[k] = g
	}
	f := &g.f
	if e.t.Before(f.FirstSeen) {
		f.FirstSeen, f.firstPrec = e.t, e.prec
	} else if e.t.Equal(f.FirstSeen) {
		f.firstPrec = max(f.firstPrec, e.prec)
	}
	if e.t.After(f.LastSeen) {
		f.LastSeen, f.lastPrec = e.t, e.prec
	} else if e.t.Equal(f.LastSeen) {
		f.lastPrec = max(f.lastPrec, e.prec)
	}
	if e.success {
		f.Successes++
	} else {
		f.Failures++
	}
	f.DirectIP = f.DirectIP || e.direct
	ns := e.t.UnixNano()
	f.ClientIPs, g.ipSeen = recent(f.ClientIPs, g.ipSeen, e.clientIP, ns, maxClientIPs)
	f.UserAgents, g.uaSeen = recent(f.UserAgents, g.uaSeen, e.userAgent, ns, maxUserAgents)
	f.DeviceIDs, g.devSeen = recent(f.DeviceIDs, g.devSeen, e.deviceID, ns, maxDeviceIDs)
	first := g.lastFile != gen
	g.lastFile = gen
	return first
}

// recent keeps vals distinct, ordered most recent first (ties by value), at most n long. The
// result does not depend on the order events arrive in. Lists grow to exactly n, never beyond:
// memory per finding is what bounds the scanner's memory.
func recent(vals []string, seen []int64, v string, t int64, n int) ([]string, []int64) {
	if v == "" {
		return vals, seen
	}
	// Fast path for logs read in time order: the value becomes (or stays) the most recent.
	if len(vals) > 0 && (t > seen[0] || (t == seen[0] && v <= vals[0])) {
		if vals[0] == v {
			seen[0] = t
			return vals, seen
		}
		i := 1
		for ; i < len(vals) && vals[i] != v; i++ {
		}
		if i == len(vals) { // new value: grow unless full, dropping the oldest
			if len(vals) < n {
				vals, seen = grow(vals, seen, n)
			} else {
				i = len(vals) - 1
			}
		}
		copy(vals[1:i+1], vals[:i])
		copy(seen[1:i+1], seen[:i])
		vals[0], seen[0] = v, t
		return vals, seen
	}
	i := 0
	for ; i < len(vals); i++ {
		if vals[i] == v {
			break
		}
	}
	if i < len(vals) {
		if t <= seen[i] {
			return vals, seen
		}
		vals = append(vals[:i], vals[i+1:]...)
		seen = append(seen[:i], seen[i+1:]...)
	} else if len(vals) >= n {
		last := len(vals) - 1
		if t < seen[last] || (t == seen[last] && v > vals[last]) {
			return vals, seen
		}
		vals, seen = vals[:last], seen[:last]
	}
	j := sort.Search(len(vals), func(j int) bool {
		return seen[j] < t || (seen[j] == t && vals[j] > v)
	})
	vals, seen = grow(vals, seen, n)
	copy(vals[j+1:], vals[j:])
	copy(seen[j+1:], seen[j:])
	vals[j], seen[j] = v, t
	return vals, seen
}

// grow lengthens both lists by one, reallocating to at most n.
func grow(vals []string, seen []int64, n int) ([]string, []int64) {
	if len(vals) < cap(vals) && len(seen) < cap(seen) {
		return vals[:len(vals)+1], seen[:len(seen)+1]
	}
	c := min(n, max(2, 2*len(vals)))
	nv, ns := make([]string, len(vals)+1, c), make([]int64, len(seen)+1, c)
	copy(nv, vals)
	copy(ns, seen)
	return nv, ns
}

// findings returns copies of all findings in output order: by account, hostname, protocol, day;
// unattributed last, by hostname, protocol, client IP, day.
func (a *aggregator) findings() []Finding {
	out := make([]Finding, 0, len(a.m))
	keys := make([]Key, 0, len(a.m))
	for k := range a.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	for _, k := range keys {
		f := a.m[k].f
		f.ClientIPs = append([]string(nil), f.ClientIPs...)
		f.UserAgents = append([]string(nil), f.UserAgents...)
		f.DeviceIDs = append([]string(nil), f.DeviceIDs...)
		if f.Account != nil {
			acct := *f.Account
			f.Account = &acct
		}
		out = append(out, f)
	}
	return out
}

func keyLess(a, b Key) bool {
	if (a.Account == "") != (b.Account == "") {
		return a.Account != ""
	}
	if a.Account != b.Account {
		return a.Account < b.Account
	}
	if a.Hostname != b.Hostname {
		return a.Hostname < b.Hostname
	}
	if a.Protocol != b.Protocol {
		return a.Protocol < b.Protocol
	}
	if a.ClientIP != b.ClientIP {
		return a.ClientIP < b.ClientIP
	}
	return a.Day < b.Day
}
