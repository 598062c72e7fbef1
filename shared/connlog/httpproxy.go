package connlog

import (
	"bytes"
	"fmt"
	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"
	"strings"
)

// csvHeader tracks the "#Fields:" declaration of Exchange's CSV logs (HttpProxy, IMAP4, POP3,
// SMTP Receive), which may be redeclared mid-file.
type csvHeader struct {
	names   []string
	need    []int // columns a row must have (see rowFit); the parser sets them with the columns
	fields  [][]byte
	scratch []byte
}

func (h *csvHeader) header(l []byte) bool {
	k, v, _ := bytes.Cut(l[1:], []byte(":"))
	if strings.EqualFold(strings.TrimSpace(string(k)), "fields") {
		h.names = fieldNames(v, ',')
		return true
	}
	return false
}

// row reads one line of an Exchange CSV log. A "#Fields:" line updates the declaration and hands
// the new column names to columns; other '#' lines and blank lines are skipped; a data line is
// split and checked against the declaration, and one that does not fit is counted malformed.
// ok reports a data row in f.
func (h *csvHeader) row(fs *fileScan, b []byte, columns func(names []string)) (f [][]byte, ok bool) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, false
	}
	if b[0] == '#' {
		if h.header(b) {
			columns(h.names)
		}
		return nil, false
	}
	f, reason := h.split(b)
	if reason != "" {
		fs.malformed(reason)
		return nil, false
	}
	return f, true
}

// split splits a data line and checks it against the declaration; reason is "" when it fits.
func (h *csvHeader) split(b []byte) (f [][]byte, reason string) {
	if len(h.names) == 0 {
		return nil, "data line before any #Fields declaration"
	}
	var ok bool
	h.fields, h.scratch, ok = splitCSV(b, h.fields, h.scratch)
	if !ok {
		return nil, "unterminated quoted field"
	}
	return rowFit(h.fields, h.names, h.need)
}

// rowFit checks a row of n fields against a header of names, and returns it cut to the header.
// Writers leave trailing empty fields off a row (Exchange does, for the last columns of an
// HttpProxy log): a short row is read with its missing fields empty when every needed column
// (need: indexes into names) is present, and is malformed, naming the first missing one,
// otherwise. A long row is read only when its extra fields are empty (a trailing separator): an
// extra value means a separator inside an unquoted value shifted every column after it, and
// reading it by position would take one column for another.
func rowFit(f [][]byte, names []string, need []int) ([][]byte, string) {
	switch {
	case len(f) < len(names):
		for _, i := range need {
			if i >= len(f) {
				return nil, fmt.Sprintf("%d fields where the header declares %d: no %s", len(f), len(names), names[i])
			}
		}
	case len(f) > len(names):
		for _, x := range f[len(names):] {
			if len(bytes.TrimSpace(x)) > 0 {
				return nil, fmt.Sprintf("%d fields where the header declares %d", len(f), len(names))
			}
		}
		f = f[:len(names)]
	}
	return f, ""
}

// declared lists the column indexes that the header declares (>= 0).
func declared(cols ...int) []int {
	var out []int
	for _, c := range cols {
		if c >= 0 {
			out = append(out, c)
		}
	}
	return out
}

// proxyParser reads Exchange HttpProxy logs: UrlHost is the hostname the client asked for,
// AuthenticatedUser the account, Protocol (or the path) the protocol.
type proxyParser struct {
	fs  *fileScan
	hdr csvHeader
	// column indexes
	dt, proto, host, stem, user, ua, cip, status, query int
}

func (p *proxyParser) prefilter() bool { return true }
func (p *proxyParser) finish()         {}

func (p *proxyParser) quick(ln line) quickResult {
	b := ln.b
	if len(b) == 0 || b[0] == '#' || p.host < 0 || len(p.hdr.names) == 0 {
		return parseFully
	}
	// UrlHost sits early in the record; walk to it unless a quote makes that unsafe.
	h, ok := csvFieldQuick(b, p.host)
	if !ok || len(h) == 0 || looksLikeIP(normHost(string(h))) {
		return parseFully
	}
	// Not a legacy host: only a row the full parse would count as malformed is left to it. A
	// whole row (no quote, every declared field) with a time and a status is not.
	if p.dt < 0 || bytes.IndexByte(b, '"') >= 0 || bytes.Count(b, []byte{','})+1 != len(p.hdr.names) {
		return parseFully
	}
	if st, ok := csvFieldQuick(b, p.status); p.status >= 0 && (!ok || !isDigits(strings.TrimSpace(view(st)))) {
		return parseFully
	}
	if dt, ok := csvFieldQuick(b, p.dt); !ok {
		return parseFully
	} else if _, _, ok := parseTime(dt); !ok {
		return parseFully
	}
	return quickNotLegacy
}

// csvFieldQuick returns field i when no quote precedes it.
func csvFieldQuick(b []byte, i int) ([]byte, bool) {
	for ; i > 0; i-- {
		j := bytes.IndexByte(b, ',')
		if j < 0 {
			return nil, false
		}
		if bytes.IndexByte(b[:j], '"') >= 0 {
			return nil, false
		}
		b = b[j+1:]
	}
	j := bytes.IndexByte(b, ',')
	if j < 0 {
		j = len(b)
	}
	if bytes.IndexByte(b[:j], '"') >= 0 {
		return nil, false
	}
	return b[:j], true
}

func (p *proxyParser) columns(n []string) {
	p.dt = colIndex(n, "DateTime")
	p.proto = colIndex(n, "Protocol")
	p.host = colIndex(n, "UrlHost")
	p.stem = colIndex(n, "UrlStem")
	p.user = colIndex(n, "AuthenticatedUser")
	p.ua = colIndex(n, "UserAgent")
	p.cip = colIndex(n, "ClientIpAddress")
	p.status = colIndex(n, "HttpStatus")
	p.query = colIndex(n, "UrlQuery")
	// A row is judged by its time, hostname, account and status; the rest is evidence.
	p.hdr.need = declared(p.dt, p.host, p.user, p.status)
}

func (p *proxyParser) parse(ln line) {
	f, ok := p.hdr.row(p.fs, ln.b, p.columns)
	if !ok {
		return
	}
	fs := p.fs
	t, prec, ok := parseTime(field(f, p.dt))
	if !ok {
		fs.malformed("bad or missing DateTime")
		return
	}
	status := strings.TrimSpace(string(field(f, p.status)))
	if p.status >= 0 && !isDigits(status) {
		// A value's comma left unquoted shifts every later column: the status is the check
		// that the columns are where the header says.
		fs.malformed("HttpStatus is not a status code (a value's comma left unquoted shifts the columns)")
		return
	}
	q := field(f, p.query)
	var hh []byte
	if q != nil {
		hh = hhToken(q)
	}
	host, direct, res := fs.rules.resolve(string(field(f, p.host)), string(hh), "", "")
	if res != legacy {
		fs.outcome(nil, host, direct, res)
		return
	}
	proto := protocolFromName(string(field(f, p.proto)))
	if proto == "" || proto == ProtoHTTP {
		proto = protocolFromPath(string(field(f, p.stem)))
	}
	cip, _ := splitHostPort(string(field(f, p.cip)))
	e := &event{Event: agg.Event{
		Time: t, Prec: prec,
		Account:   NormalizeAccount(string(field(f, p.user))),
		Protocol:  proto,
		ClientIP:  cip,
		UserAgent: string(field(f, p.ua)),
		Success:   !httpFailure(status)}}
	if q != nil {
		e.DeviceID = string(queryValue(q, "DeviceId"))
	}
	fs.outcome(e, host, direct, res)
}
