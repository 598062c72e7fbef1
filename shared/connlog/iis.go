package connlog

import (
	"bytes"
	"fmt"
	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"
	"strings"
	"time"
)

// iisParser reads IIS W3C extended logs. Columns come from the latest "#Fields:" line, so a
// file that restarts with a new declaration mid-way is read correctly.
type iisParser struct {
	fs *fileScan
	iisHeaderState
	ts     [64]byte
	fields [][]byte
	pos    [maxSpaces]int32 // offsets of the spaces of the line quick read, nsp of them
	nsp    int
	uas    memo     // raw user agent -> with '+' as spaces, redacted and cleaned (as emit would)
	days   dayCache // the date of the lines, nearly always the same one
	// The protocol of the last URI stem, and of a few hundred recent ones: legacy lines of a
	// log share a few stems, and often alternate between them.
	lastStem  []byte
	lastProto string
	stems     memo
	// known is how quick resolved the line being parsed, when it is legacy (host "" if not):
	// what resolve would find; at and prec are the line's time, as quick read it.
	known resolved
	at    time.Time
	prec  int8
}

// resolved is a legacy line's resolution: the hostname, and whether the line reached it by
// an address.
type resolved struct {
	host   string
	direct bool
}

// iisHeaderState is the state the header lines set: the columns of the latest "#Fields:" and the
// latest "#Date:".
type iisHeaderState struct {
	names   []string
	n       int
	date    int
	time    int
	sip     int
	sport   int
	stem    int
	query   int
	user    int
	cip     int
	ua      int
	host    int
	status  int
	last    int    // the last of the columns above that the log has
	hdrDate []byte // date from "#Date:" for logs without a date column
}

func (p *iisParser) prefilter() bool { return true }

// classifies: quick reads every field the full parse resolves a line by (the host, the HH
// token of the query, the server address) and checks each against the campaign itself, so no
// line is searched for needles first. Searching was the larger cost: accounts share the legacy
// hostnames' domain ("user@nhs.net" in every line), so the rarest byte of ".nhs.net" still hit
// every line, several times.
func (p *iisParser) classifies() bool { return true }
func (p *iisParser) finish()          {}

func (p *iisHeaderState) header(l []byte) {
	k, v, _ := bytes.Cut(l[1:], []byte(":"))
	switch strings.ToLower(strings.TrimSpace(string(k))) {
	case "fields":
		p.names = fieldNames(v, ' ')
		p.n = len(p.names)
		p.date = colIndex(p.names, "date")
		p.time = colIndex(p.names, "time")
		p.sip = colIndex(p.names, "s-ip")
		p.sport = colIndex(p.names, "s-port")
		p.stem = colIndex(p.names, "cs-uri-stem")
		p.query = colIndex(p.names, "cs-uri-query")
		p.user = colIndex(p.names, "cs-username")
		p.cip = colIndex(p.names, "c-ip")
		p.ua = colIndex(p.names, "cs(User-Agent)")
		p.host = colIndex(p.names, "cs-host", "cs(Host)")
		p.status = colIndex(p.names, "sc-status")
		p.last = max(p.date, p.time, p.sip, p.sport, p.stem, p.query, p.user, p.cip, p.ua, p.host, p.status)
	case "date":
		if d := bytes.TrimSpace(v); len(d) >= 10 {
			p.hdrDate = append(p.hdrDate[:0], d[:10]...)
		}
	}
}

// quick classifies a line as resolve would, without parsing it: not legacy, unresolved, or
// parseFully (a legacy line, a header, or one whose shape the full parse should name).
func (p *iisParser) quick(ln line) quickResult {
	p.known = resolved{}
	b := ln.b
	if len(b) == 0 || b[0] == '#' || p.n == 0 {
		return parseFully
	}
	if p.nsp = spaces(b, p.pos[:]); p.nsp != p.n-1 || p.nsp > maxSpaces {
		return parseFully // let the full parse name the problem
	}
	sip, host, q := p.quickFields(b)
	var ok bool
	if p.at, p.prec, ok = p.lineTime(p.fields); !ok {
		return parseFully // let the full parse count it malformed
	}
	// resolve's order: the host, then the HH token, then the server address.
	if host != nil {
		if r, done := p.decide(b, host); done {
			return r
		}
	}
	if hh := hhToken(q); len(hh) > 0 {
		if r, done := p.decide(b, hh); done {
			return r
		}
	}
	// isEndpointAddr answers most lines without parsing the address.
	if sip != nil && p.fs.rules.isEndpointAddr(sip) {
		if name, ok := p.fs.rules.server(view(sip), p.port(b)); ok {
			p.known = resolved{name, false}
			return parseFully
		}
	}
	return quickUnresolved
}

// decide is quick's answer for a host or HH value v of line b, resolve's own (resolveHost):
// done is false when resolve would go on to the next value. A legacy line's resolution is kept
// in p.known for parse, which then need not resolve it again.
func (p *iisParser) decide(b, v []byte) (r quickResult, done bool) {
	var host string
	var direct bool
	var res resolution
	if plainName(v) { // nearly every value: looked up in place, without normHost
		host, res = p.fs.rules.hostSet.get(v), notLegacy
		if host != "" {
			res = legacy
		}
	} else {
		host, direct, res = p.fs.rules.resolveHost(view(v), p.port(b))
	}
	switch res {
	case unresolved:
		return 0, false
	case legacy:
		p.known = resolved{host, direct}
		return parseFully, true
	}
	return quickNotLegacy, true
}

// port is the server port of line b, whose fields quick split: up to the port field when a
// host value needs it (an address, or a name to normalise) or the server address is one of the
// endpoints, which is seldom, so quick splits the line no further otherwise.
func (p *iisParser) port(b []byte) string {
	if p.sport >= len(p.fields) {
		p.more(b, p.sport+1)
	}
	return view(dash(field(p.fields, p.sport)))
}

// more splits line b, whose first fields p.fields holds, until it holds n (or all there are),
// from the offsets of its spaces quick found.
func (p *iisParser) more(b []byte, n int) {
	p.fields = fieldsTo(p.fields, b, p.pos[:p.nsp], min(n, p.nsp+1))
}

// lineTime is the time of a line of fields f, as parseTime reads stamp(f), without copying the
// date and time when they are of the day the last line was.
func (p *iisParser) lineTime(f [][]byte) (time.Time, int8, bool) {
	if p.date >= 0 && p.time >= 0 {
		if t, ok := p.days.sameDay(f[p.date], f[p.time]); ok {
			return t, 0, true
		}
	}
	return p.days.parse(p.stamp(f))
}

// plainName reports whether b is a hostname as normHost writes one and not an address: lower-case
// letters, digits, dots and hyphens, at least one letter, no trailing dot. Nearly every host
// and HH value is, and quick then needs no copy of it.
func plainName(b []byte) bool {
	letter := false
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			letter = true
		case '0' <= c && c <= '9' || c == '.' || c == '-':
		default:
			return false
		}
	}
	return letter && b[len(b)-1] != '.'
}

// stamp is the date and time of a line of fields f, as parseTime reads them (the date from
// "#Date:" when the log has no date column); empty when the log has no time column.
func (p *iisParser) stamp(f [][]byte) []byte {
	ts := p.ts[:0]
	switch {
	case p.date >= 0 && p.time >= 0:
		ts = append(append(append(ts, f[p.date]...), ' '), f[p.time]...)
	case p.time >= 0 && len(p.hdrDate) == 10:
		ts = append(append(append(ts, p.hdrDate...), ' '), f[p.time]...)
	}
	return ts
}

// quickFields returns the server address, host and query fields of the data line b (nil for a
// column the log lacks); p.fields holds the fields up to the last of those, the date and the
// time, cut at the spaces quick found.
func (p *iisParser) quickFields(b []byte) (sip, host, query []byte) {
	p.fields = fieldsTo(p.fields[:0], b, p.pos[:p.nsp], max(p.sip, p.host, p.query, p.date, p.time)+1)
	return field(p.fields, p.sip), field(p.fields, p.host), field(p.fields, p.query)
}

func (p *iisParser) parse(ln line) {
	known := p.known // from quick, for this line only
	p.known = resolved{}
	b := ln.b
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	if b[0] == '#' {
		p.header(b)
		return
	}
	fs := p.fs
	if p.n == 0 {
		fs.malformed("data line before any #Fields declaration")
		return
	}
	var t time.Time
	var prec int8
	if known.host == "" {
		p.fields = splitSpaces(p.fields[:0], b)
		if len(p.fields) != p.n {
			fs.malformed(fmt.Sprintf("%d fields where #Fields declares %d", len(p.fields), p.n))
			return
		}
		var ok bool
		if t, prec, ok = p.days.parse(p.stamp(p.fields)); !ok {
			fs.malformed("bad or missing date/time")
			return
		}
	} else {
		// quick checked the line's shape and time, and split its first fields: go on from
		// there, up to the last field parse reads.
		p.more(b, p.last+1)
		t, prec = p.at, p.prec
	}
	f := p.fields
	q := dash(field(f, p.query))
	host, direct, res := known.host, known.direct, legacy
	if known.host == "" {
		var hh []byte
		if q != nil {
			hh = hhToken(q)
		}
		host, direct, res = fs.rules.resolve(view(dash(field(f, p.host))), view(hh), view(dash(field(f, p.sip))), view(dash(field(f, p.sport))))
	}
	if res != legacy {
		fs.outcome(nil, host, direct, res)
		return
	}
	e := &event{Event: agg.Event{
		Time: t, Prec: prec,
		Account:   NormalizeAccount(plusToSpace(dash(field(f, p.user)))),
		Protocol:  p.protocol(field(f, p.stem)),
		ClientIP:  view(dash(field(f, p.cip))),
		UserAgent: p.uas.get(dash(field(f, p.ua)), iisUserAgent),
		Success:   !httpFailure(string(field(f, p.status)))}, uaClean: true}
	if q != nil {
		e.DeviceID = view(queryValue(q, "DeviceId"))
	}
	fs.outcome(e, host, direct, res)
}

// protocol is protocolFromPath(stem), remembered.
func (p *iisParser) protocol(stem []byte) string {
	if p.lastProto == "" || !bytes.Equal(stem, p.lastStem) {
		p.lastProto = p.stems.get(stem, stemProtocol)
		p.lastStem = append(p.lastStem[:0], stem...)
	}
	return p.lastProto
}

func stemProtocol(stem []byte) string { return protocolFromPath(string(stem)) }

// iisUserAgent is a user agent field as a finding keeps it: '+' as spaces, then what emit does
// to every user agent.
func iisUserAgent(raw []byte) string { return cleanUserAgent(plusToSpace(raw)) }

// memo maps a few recent raw values (user agents: a handful of distinct values make up most of a
// log) to their converted strings, so that converting allocates once per value, not per line.
// The two values of each length seen last are found first without hashing (front): a map
// lookup hashed every byte of a user agent on every legacy line.
type memo struct {
	m     map[string]memoEntry
	front [memoFront][2]memoEntry // by length mod memoFront, the most recent first
}

type memoEntry struct{ raw, v string }

const (
	memoMax   = 512
	memoFront = 64
)

func (m *memo) get(raw []byte, conv func([]byte) string) string {
	if len(raw) == 0 {
		return conv(raw)
	}
	return m.find(view(raw), func() string { return conv(raw) })
}

// getString is get for a string that may be a view of a read buffer.
func (m *memo) getString(raw string, conv func(string) string) string {
	if len(raw) == 0 {
		return conv(raw)
	}
	return m.find(raw, func() string { return conv(raw) })
}

// find returns the conversion of raw (not empty; it may be a view of a read buffer, and is
// kept only as a copy), converting it with conv when neither the front nor the map has it.
func (m *memo) find(raw string, conv func() string) string {
	f := &m.front[len(raw)%memoFront]
	if f[0].raw == raw {
		return f[0].v
	}
	if f[1].raw == raw {
		f[0], f[1] = f[1], f[0]
		return f[0].v
	}
	e, ok := m.m[raw]
	if !ok {
		if m.m == nil || len(m.m) >= memoMax {
			m.m = make(map[string]memoEntry, 16)
		}
		e = memoEntry{raw: strings.Clone(raw), v: strings.Clone(conv())} // conv may return a view of raw
		m.m[e.raw] = e
	}
	f[0], f[1] = e, f[0]
	return e.v
}
