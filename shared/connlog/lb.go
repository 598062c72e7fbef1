package connlog

import (
	"bytes"
	"fmt"
	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"
	"strings"
)

// lbParser reads AWS load balancer access logs. They carry the hostname (domain_name, the TLS SNI)
// and the client address but never an account: legacy traffic there is unattributed.
//
// ALB: type time elb client:port target:port request_processing_time target_processing_time
// response_processing_time elb_status_code target_status_code received_bytes sent_bytes
// "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" ...
//
// NLB (TLS listeners): type version time elb listener client:port destination:port
// connection_time tls_handshake_time received_bytes sent_bytes incoming_tls_alert
// chosen_cert_arn chosen_cert_serial tls_cipher tls_protocol_version tls_named_group
// domain_name ...
//
// Classic ELB: time elb client:port backend:port request_processing_time
// backend_processing_time response_processing_time elb_status_code backend_status_code
// received_bytes sent_bytes "request" "user_agent" ssl_cipher ssl_protocol (the last three
// since 2015; TCP listeners log "- - - " as the request). The hostname is the request URL's.
type lbParser struct {
	fs     *fileScan
	kind   Format // FormatALB, FormatNLB or FormatELB
	fields [][]byte
}

func (p *lbParser) prefilter() bool        { return true }
func (p *lbParser) finish()                {}
func (p *lbParser) quick(line) quickResult { return parseFully }

func (p *lbParser) parse(ln line) {
	b := bytes.TrimSpace(ln.b)
	if len(b) == 0 || b[0] == '#' {
		return
	}
	fs := p.fs
	var ok bool
	p.fields, ok = splitSpaceQuoted(b, p.fields)
	if !ok {
		fs.malformed("unterminated quoted field")
		return
	}
	f := p.fields
	switch p.kind {
	case FormatNLB:
		p.parseNLB(f)
		return
	case FormatELB:
		p.parseELB(f)
		return
	}
	if len(f) < 19 {
		fs.malformed(fmt.Sprintf("%d fields, an ALB entry has at least 19", len(f)))
		return
	}
	t, prec, ok := parseTime(f[1])
	if !ok {
		fs.malformed("bad time")
		return
	}
	// request is "METHOD scheme://host:port/path?query HTTP/x".
	var url string
	if parts := strings.SplitN(string(f[12]), " ", 3); len(parts) >= 2 {
		url = parts[1]
	}
	reqHost, reqPort := urlHostPort(url)
	explicit := string(dash(f[18]))
	port := ""
	if explicit == "" {
		explicit, port = reqHost, reqPort
	} else if strings.EqualFold(normHost(explicit), normHost(reqHost)) {
		port = reqPort
	}
	host, direct, res := fs.rules.resolve(explicit, "", "", port)
	if res != legacy {
		fs.outcome(nil, host, direct, res)
		return
	}
	cip, _ := splitHostPort(string(f[3]))
	e := &event{Event: agg.Event{
		Time: t, Prec: prec,
		Protocol:  protocolFromPath(url),
		ClientIP:  cip,
		UserAgent: string(dash(f[13])),
		Success:   !httpFailure(string(f[8]))}}
	fs.outcome(e, host, direct, res)
}

func (p *lbParser) parseNLB(f [][]byte) {
	fs := p.fs
	if len(f) < 18 {
		fs.malformed(fmt.Sprintf("%d fields, an NLB TLS entry has at least 18", len(f)))
		return
	}
	t, prec, ok := parseTime(f[2])
	if !ok {
		fs.malformed("bad time")
		return
	}
	dip, dport := splitHostPort(string(f[6]))
	host, direct, res := fs.rules.resolve(string(dash(f[17])), "", dip, dport)
	if res != legacy {
		fs.outcome(nil, host, direct, res)
		return
	}
	cip, _ := splitHostPort(string(f[5]))
	// A handshake that did not complete, or a TLS alert from the client, is a failed connection.
	failed := len(dash(f[8])) == 0 || len(dash(f[11])) != 0
	e := &event{Event: agg.Event{Time: t, Prec: prec, Protocol: protocolFromPort(dport), ClientIP: cip, Success: !failed}}
	fs.outcome(e, host, direct, res)
}

func (p *lbParser) parseELB(f [][]byte) {
	fs := p.fs
	if len(f) < 12 {
		fs.malformed(fmt.Sprintf("%d fields, a Classic ELB entry has at least 12", len(f)))
		return
	}
	t, prec, ok := parseTime(f[0])
	if !ok {
		fs.malformed("bad time")
		return
	}
	// request is "METHOD scheme://host:port/path?query HTTP/x", or "- - - " (TCP listener).
	var url string
	if parts := strings.SplitN(string(f[11]), " ", 3); len(parts) >= 2 {
		url = parts[1]
	}
	reqHost, reqPort := urlHostPort(url)
	host, direct, res := fs.rules.resolve(reqHost, "", "", reqPort)
	if res != legacy {
		fs.outcome(nil, host, direct, res)
		return
	}
	cip, _ := splitHostPort(string(f[2]))
	var ua []byte
	if len(f) > 12 {
		ua = dash(f[12])
	}
	e := &event{Event: agg.Event{
		Time: t, Prec: prec,
		Protocol:  protocolFromPath(url),
		ClientIP:  cip,
		UserAgent: string(ua),
		Success:   !httpFailure(string(f[7]))}}
	fs.outcome(e, host, direct, res)
}

// urlHostPort extracts host and port from an absolute URL.
func urlHostPort(u string) (string, string) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", ""
	}
	u = u[i+3:]
	if j := strings.IndexAny(u, "/?#"); j >= 0 {
		u = u[:j]
	}
	if j := strings.LastIndexByte(u, '@'); j >= 0 {
		u = u[j+1:]
	}
	return splitHostPort(u)
}
