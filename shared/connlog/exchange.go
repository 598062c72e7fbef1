package connlog

import (
	"bytes"
	"container/list"
	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"
	"strings"
	"time"
)

// sessions is a bounded LRU table of per-session state for logs whose events span lines.
type sessions[T any] struct {
	max   int
	m     map[string]*list.Element
	order *list.List // front = most recently used
	evict func(id string, v *T)
}

type sessionEntry[T any] struct {
	id string
	v  T
}

func newSessions[T any](max int, evict func(string, *T)) *sessions[T] {
	return &sessions[T]{max: max, m: map[string]*list.Element{}, order: list.New(), evict: evict}
}

// get returns the session, creating it (and evicting the least recently used one) if needed.
func (s *sessions[T]) get(id string) *T {
	if el, ok := s.m[id]; ok {
		s.order.MoveToFront(el)
		return &el.Value.(*sessionEntry[T]).v
	}
	if s.order.Len() >= s.max {
		old := s.order.Back()
		e := old.Value.(*sessionEntry[T])
		s.order.Remove(old)
		delete(s.m, e.id)
		if s.evict != nil {
			s.evict(e.id, &e.v)
		}
	}
	e := &sessionEntry[T]{id: id}
	s.m[id] = s.order.PushFront(e)
	return &e.v
}

func (s *sessions[T]) remove(id string) {
	if el, ok := s.m[id]; ok {
		s.order.Remove(el)
		delete(s.m, id)
	}
}

// all calls fn for every session, oldest first, and empties the table.
func (s *sessions[T]) drain(fn func(string, *T)) {
	for el := s.order.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*sessionEntry[T])
		fn(e.id, &e.v)
	}
	s.m = map[string]*list.Element{}
	s.order.Init()
}

// outcome of a protocol response.
type respKind int

const (
	respUnknown respKind = iota
	respOK
	respFail
	respContinue
)

// response reads the server's answer from an Exchange IMAP4/POP3 context column:
// R="a1 OK LOGIN completed.", R=OK, R="+OK ...", R="-ERR ...", R="a1 NO ...", R="+ ".
func response(ctx []byte) respKind {
	v := ctx
	if i := bytes.Index(ctx, []byte("R=")); i >= 0 {
		v = ctx[i+2:]
		if len(v) > 0 && v[0] == '"' {
			v = v[1:]
			if j := bytes.IndexByte(v, '"'); j >= 0 {
				v = v[:j]
			}
		} else if j := bytes.IndexByte(v, ';'); j >= 0 {
			v = v[:j]
		}
		if t := bytes.TrimSpace(v); len(t) == 1 && t[0] == '+' {
			return respContinue
		}
	}
	for _, tok := range bytes.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ';' || r == ',' || r == ':' || r == '.' }) {
		switch strings.ToUpper(string(tok)) {
		case "OK", "+OK":
			return respOK
		case "NO", "BAD", "-ERR":
			return respFail
		}
	}
	return respUnknown
}

// mailParser reads Exchange IMAP4 and POP3 protocol logs:
// dateTime,sessionId,seqNumber,sIp,cIp,user,duration,rqsize,rpsize,command,parameters,context.
// They carry no hostname: the server endpoint sIp goes through Rules.Endpoints.
type mailParser struct {
	fs    *fileScan
	proto string
	hdr   csvHeader
	sess  *sessions[popSession]

	dt, sid, sip, cip, user, cmd, params, ctx int
}

type popSession struct{ user string }

func newMailParser(fs *fileScan, proto string) *mailParser {
	return &mailParser{fs: fs, proto: proto, sess: newSessions[popSession](fs.opts.MaxSessions, nil)}
}

func (p *mailParser) prefilter() bool        { return false }
func (p *mailParser) quick(line) quickResult { return parseFully }
func (p *mailParser) finish()                {}

func (p *mailParser) columns(n []string) {
	p.dt = colIndex(n, "dateTime", "date-time")
	p.sid = colIndex(n, "sessionId")
	p.sip = colIndex(n, "sIp")
	p.cip = colIndex(n, "cIp")
	p.user = colIndex(n, "user")
	p.cmd = colIndex(n, "command")
	p.params = colIndex(n, "parameters")
	p.ctx = colIndex(n, "context")
	// The outcome of a login is in the context, the last column: a row without it says
	// nothing certain. The client address and sizes are evidence only.
	p.hdr.need = declared(p.dt, p.sid, p.sip, p.user, p.cmd, p.params, p.ctx)
}

func (p *mailParser) parse(ln line) {
	f, ok := p.hdr.row(p.fs, ln.b, p.columns)
	if !ok {
		return
	}
	fs := p.fs
	cmd := strings.ToLower(string(bytes.TrimSpace(field(f, p.cmd))))
	isEvent := false
	var acct string
	switch {
	case p.proto == ProtoIMAP && cmd == "login":
		isEvent = true
		acct = firstToken(field(f, p.params))
	case p.proto == ProtoIMAP && cmd == "authenticate":
		isEvent = true
	case p.proto == ProtoPOP && cmd == "user":
		if u := firstToken(field(f, p.params)); u != "" {
			p.sess.get(string(field(f, p.sid))).user = u
		}
		return
	case p.proto == ProtoPOP && (cmd == "pass" || cmd == "auth" || cmd == "apop"):
		isEvent = true
		if cmd == "apop" {
			acct = firstToken(field(f, p.params))
		} else if cmd == "pass" {
			if s, ok := p.sess.m[string(field(f, p.sid))]; ok {
				acct = s.Value.(*sessionEntry[popSession]).v.user
			}
		}
	case p.proto == ProtoPOP && cmd == "quit":
		p.sess.remove(string(field(f, p.sid)))
		return
	}
	if !isEvent {
		return
	}
	resp := response(field(f, p.ctx))
	if resp == respContinue {
		return // an AUTHENTICATE continuation; the outcome comes on a later line
	}
	t, prec, ok := parseTime(field(f, p.dt))
	if !ok {
		fs.malformed("bad or missing dateTime")
		return
	}
	sip, sport := splitHostPort(string(field(f, p.sip)))
	host, direct, res := fs.rules.resolve("", "", sip, sport)
	if res != legacy {
		fs.outcome(nil, host, direct, res)
		return
	}
	account := NormalizeAccount(string(field(f, p.user)))
	if account == "" {
		account = NormalizeAccount(acct)
	}
	cip, _ := splitHostPort(string(field(f, p.cip)))
	e := &event{Event: agg.Event{Time: t, Prec: prec, Account: account, Protocol: p.proto, ClientIP: cip, Success: resp == respOK}}
	fs.outcome(e, host, direct, res)
}

// firstToken is the first space-separated token, unless it is a mask like "*****".
func firstToken(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	if bytes.Contains(b, []byte("***")) {
		return ""
	}
	return string(b)
}

// smtpParser reads Exchange SMTP Receive protocol logs:
// date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context.
// Lines of many sessions interleave; a bounded session table joins them.
type smtpParser struct {
	fs   *fileScan
	hdr  csvHeader
	sess *sessions[smtpSession]

	dt, sid, seq, local, remote, ev, data, ctx int
}

type smtpSession struct {
	user        string // authenticated account, once known
	authPending bool   // an AUTH command awaits its outcome
	lastFailSeq string
	pending     *pendingFailure // a failure waiting for its "User Name:" line
}

type pendingFailure struct {
	t       time.Time
	prec    int8
	account string
	local   string
	remote  string
}

func newSMTPParser(fs *fileScan) *smtpParser {
	p := &smtpParser{fs: fs}
	p.sess = newSessions(fs.opts.MaxSessions, func(_ string, s *smtpSession) { p.flush(s) })
	return p
}

func (p *smtpParser) prefilter() bool        { return false }
func (p *smtpParser) quick(line) quickResult { return parseFully }
func (p *smtpParser) finish()                { p.sess.drain(func(_ string, s *smtpSession) { p.flush(s) }) }

// flush emits a pending failure.
func (p *smtpParser) flush(s *smtpSession) {
	pf := s.pending
	if pf == nil {
		return
	}
	s.pending = nil
	acct := pf.account
	if acct == "" {
		acct = s.user
	}
	p.event(pf.t, pf.prec, acct, pf.local, pf.remote, false)
}

func (p *smtpParser) event(t time.Time, prec int8, acct, local, remote string, ok bool) {
	lip, lport := splitHostPort(local)
	host, direct, res := p.fs.rules.resolve("", "", lip, lport)
	if res != legacy {
		p.fs.outcome(nil, host, direct, res)
		return
	}
	rip, _ := splitHostPort(remote)
	e := &event{Event: agg.Event{Time: t, Prec: prec, Account: acct, Protocol: ProtoSMTP, ClientIP: rip, Success: ok}}
	p.fs.outcome(e, host, direct, res)
}

func (p *smtpParser) columns(n []string) {
	p.dt = colIndex(n, "date-time")
	p.sid = colIndex(n, "session-id")
	p.seq = colIndex(n, "sequence-number")
	p.local = colIndex(n, "local-endpoint")
	p.remote = colIndex(n, "remote-endpoint")
	p.ev = colIndex(n, "event")
	p.data = colIndex(n, "data")
	p.ctx = colIndex(n, "context")
	// data and context are empty on most lines of a session; a row without them carries no
	// authentication outcome, which is what an empty value says too.
	p.hdr.need = declared(p.dt, p.sid, p.local, p.remote, p.ev)
}

func (p *smtpParser) parse(ln line) {
	f, ok := p.hdr.row(p.fs, ln.b, p.columns)
	if !ok {
		return
	}
	fs := p.fs
	id := string(field(f, p.sid))
	ev := string(bytes.TrimSpace(field(f, p.ev)))
	data := bytes.TrimSpace(field(f, p.data))
	ctx := bytes.TrimSpace(field(f, p.ctx))
	switch ev {
	case "+", "<", ">", "*", "-":
	default:
		fs.malformed("unknown event type")
		return
	}
	if ev == "-" {
		if el, ok := p.sess.m[id]; ok {
			p.flush(&el.Value.(*sessionEntry[smtpSession]).v)
			p.sess.remove(id)
		}
		return
	}
	s := p.sess.get(id)
	if ev == "+" {
		p.flush(s)
		*s = smtpSession{}
		return
	}
	isAuthCmd := ev == "<" && len(data) >= 4 && bytes.EqualFold(data[:4], []byte("auth"))
	success := ev == "*" && len(data) > 0 && bytes.EqualFold(ctx, []byte("authenticated"))
	failed := ev == "*" && indexFold(ctx, "auth") >= 0 && indexFold(ctx, "failed") >= 0
	userName := ev == "*" && len(ctx) > 10 && bytes.EqualFold(ctx[:10], []byte("user name:"))
	resp535 := ev == ">" && bytes.HasPrefix(data, []byte("535"))
	if !(isAuthCmd || success || failed || userName || resp535) {
		if ev == "<" {
			p.flush(s)
		}
		return
	}
	t, prec, ok := parseTime(field(f, p.dt))
	if !ok {
		fs.malformed("bad or missing date-time")
		return
	}
	seq := string(field(f, p.seq))
	switch {
	case isAuthCmd:
		p.flush(s)
		s.authPending = true
	case success:
		p.flush(s)
		s.authPending = false
		s.user = NormalizeAccount(string(data))
		p.event(t, prec, s.user, string(field(f, p.local)), string(field(f, p.remote)), true)
	case userName:
		if s.pending != nil {
			s.pending.account = NormalizeAccount(string(bytes.TrimSpace(ctx[10:])))
			p.flush(s)
		}
	case failed || resp535:
		if s.authPending || (failed && seq != s.lastFailSeq && s.pending == nil) {
			p.flush(s)
			s.authPending = false
			s.lastFailSeq = seq
			s.pending = &pendingFailure{t: t, prec: prec, local: string(field(f, p.local)), remote: string(field(f, p.remote))}
		}
	}
}
