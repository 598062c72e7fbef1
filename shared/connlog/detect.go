package connlog

import (
	"bytes"
	"strings"
)

// detect names the format of a stream from its first bytes: "#" headers first, then the shape of
// the first data line.
func detect(head []byte, mapping map[string]string, declared map[Format][]string) Format {
	var fields string
	lines := bytes.Split(head, []byte("\n"))
	if len(lines) > 1 {
		lines = lines[:len(lines)-1] // the last one may be cut short
	}
	for i, l := range lines {
		l = trimBOM(bytes.TrimRight(l, "\r"))
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if l[0] == '#' {
			k, v, _ := bytes.Cut(l[1:], []byte(":"))
			val := strings.ToLower(strings.TrimSpace(string(v)))
			switch strings.ToLower(strings.TrimSpace(string(k))) {
			case "software":
				if strings.Contains(val, "internet information services") {
					return FormatIIS
				}
			case "log-type":
				switch {
				case strings.Contains(val, "httpproxy") || strings.Contains(val, "http proxy"):
					return FormatHTTPProxy
				case strings.Contains(val, "imap4"):
					return FormatIMAP4
				case strings.Contains(val, "pop3"):
					return FormatPOP3
				case strings.Contains(val, "smtp receive"):
					return FormatSMTPReceive
				}
			case "fields":
				fields = val
				switch {
				case strings.Contains(val, "urlhost") || strings.HasPrefix(val, "datetime,requestid"):
					return FormatHTTPProxy
				case strings.HasPrefix(val, "date-time,connector-id,session-id"):
					return FormatSMTPReceive
				case strings.HasPrefix(val, "datetime,sessionid,seqnumber"):
					return imapOrPop(lines[i+1:])
				case !strings.Contains(val, ",") && (strings.Contains(val, "cs-uri-stem") || strings.Contains(val, "s-ip") || strings.Contains(val, "c-ip")):
					return FormatIIS
				}
			}
			continue
		}
		if fields != "" {
			return FormatUnknown
		}
		if f := detectDeclared(l, lines[i:], declared); f != "" {
			return f
		}
		return detectDataLine(l, mapping)
	}
	return FormatUnknown
}

// hasDataLine reports whether head holds a line that is not blank and not a '#' header.
func hasDataLine(head []byte) bool {
	for l := range bytes.SplitSeq(head, []byte("\n")) {
		l = bytes.TrimSpace(trimBOM(bytes.TrimSpace(l)))
		if len(l) > 0 && l[0] != '#' {
			return true
		}
	}
	return false
}

func detectDataLine(l []byte, mapping map[string]string) Format {
	t := bytes.TrimSpace(l)
	if len(t) > 0 && t[0] == '{' {
		return FormatJSONL
	}
	toks := bytes.SplitN(t, []byte(" "), 4)
	if len(toks) >= 3 {
		switch string(toks[0]) {
		case "tls":
			if _, _, ok := parseTime(toks[2]); ok {
				return FormatNLB
			}
		case "http", "https", "h2", "grpcs", "ws", "wss":
			if _, _, ok := parseTime(toks[1]); ok {
				return FormatALB
			}
		default:
			// Classic ELB: the time first, then the load balancer's name and the client ip:port.
			if _, _, ok := parseTime(toks[0]); ok && bytes.IndexByte(toks[0], 'T') > 0 && bytes.IndexByte(toks[2], ':') > 0 && bytes.Count(t, []byte{'"'}) >= 2 {
				return FormatELB
			}
		}
	}
	if bytes.IndexByte(t, ',') >= 0 {
		cols, _, ok := splitCSV(t, nil, nil)
		if !ok {
			return FormatUnknown
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = strings.TrimSpace(string(c))
		}
		want := []string{mapped(mapping, "hostname"), mapped(mapping, "account"), mapped(mapping, "server")}
		for _, w := range want {
			if colIndex(names, w) >= 0 {
				return FormatCSV
			}
		}
	}
	return FormatUnknown
}

func mapped(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	return key
}

// imapOrPop tells the two Exchange client-protocol logs apart (same #Fields) by the server port,
// then by commands only one protocol has.
func imapOrPop(lines [][]byte) Format {
	pop, imap := 0, 0
	for _, l := range lines {
		f, _, ok := splitCSV(bytes.TrimRight(l, "\r"), nil, nil)
		if !ok || len(f) < 10 || (len(l) > 0 && l[0] == '#') {
			continue
		}
		_, port := splitHostPort(string(f[3]))
		switch port {
		case "995", "110":
			pop += 10
		case "993", "143":
			imap += 10
		}
		switch strings.ToLower(string(f[9])) {
		case "user", "pass", "stat", "retr", "uidl", "top", "dele", "apop", "capa", "auth":
			pop++
		case "login", "select", "fetch", "capability", "authenticate", "examine", "uid", "idle", "logout", "lsub", "id":
			imap++
		}
	}
	if pop > imap {
		return FormatPOP3
	}
	return FormatIMAP4
}

func newParser(f Format, fs *fileScan) parser {
	switch f {
	case FormatIIS:
		return &iisParser{fs: fs}
	case FormatHTTPProxy:
		return &proxyParser{fs: fs}
	case FormatIMAP4:
		return newMailParser(fs, ProtoIMAP)
	case FormatPOP3:
		return newMailParser(fs, ProtoPOP)
	case FormatSMTPReceive:
		return newSMTPParser(fs)
	case FormatALB, FormatNLB, FormatELB:
		return &lbParser{fs: fs, kind: f}
	case FormatJSONL:
		return &mappedParser{fs: fs, json: true}
	case FormatCSV:
		return &mappedParser{fs: fs}
	case FormatEmpty:
		return emptyParser{}
	}
	return nil
}

// emptyParser reads a file that has no data line: the lines are counted, nothing else.
type emptyParser struct{}

func (emptyParser) prefilter() bool        { return false }
func (emptyParser) quick(line) quickResult { return parseFully }
func (emptyParser) parse(line)             {}
func (emptyParser) finish()                {}

// advancedLogging reports whether head is an IIS Advanced Logging file: its "#Software:" says
// so, or its "#Fields:" has date-local and time-local. Its values are quoted (with spaces) and
// its times local, so the W3C parser cannot read it.
func advancedLogging(head []byte) bool {
	for l := range bytes.SplitSeq(head, []byte("\n")) {
		l = bytes.ToLower(trimBOM(bytes.TrimSpace(l)))
		if len(l) == 0 || l[0] != '#' {
			return false
		}
		if bytes.HasPrefix(l, []byte("#software:")) && bytes.Contains(l, []byte("advanced logging")) ||
			bytes.HasPrefix(l, []byte("#fields:")) && bytes.Contains(l, []byte("date-local")) && bytes.Contains(l, []byte("time-local")) {
			return true
		}
	}
	return false
}
