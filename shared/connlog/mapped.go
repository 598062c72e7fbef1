package connlog

import (
	"bytes"
	"encoding/json"
	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"
	"strconv"
	"strings"
)

// mappedParser reads JSON lines or CSV (first line = header) through Rules.Mapping, for anything
// that is not a known format: a proxy, a SIEM export.
type mappedParser struct {
	fs     *fileScan
	json   bool
	names  []string // CSV header
	cols   map[string]int
	need   []int // columns a CSV row must have (rowFit)
	fields [][]byte
	scr    []byte
}

func (p *mappedParser) prefilter() bool        { return true }
func (p *mappedParser) finish()                {}
func (p *mappedParser) quick(line) quickResult { return parseFully }

func (p *mappedParser) col(key string) string { return mapped(p.fs.rules.mapping, key) }

func (p *mappedParser) parse(ln line) {
	b := bytes.TrimSpace(ln.b)
	if len(b) == 0 {
		return
	}
	fs := p.fs
	var get func(key string) string
	if p.json {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&m); err != nil || m == nil {
			fs.malformed("not a JSON object")
			return
		}
		get = func(key string) string { return jsonString(lookupJSON(m, p.col(key))) }
	} else {
		if b[0] == '#' {
			return
		}
		var ok bool
		p.fields, p.scr, ok = splitCSV(b, p.fields, p.scr)
		if !ok {
			fs.malformed("unterminated quoted field")
			return
		}
		if p.names == nil {
			p.names = make([]string, len(p.fields))
			for i, f := range p.fields {
				p.names[i] = strings.TrimSpace(string(f))
			}
			p.cols = map[string]int{}
			for _, k := range MappingKeys {
				p.cols[k] = colIndex(p.names, p.col(k))
			}
			if p.cols["hostname"] < 0 && p.cols["server"] < 0 {
				fs.malformed("CSV header has neither a hostname nor a server column")
			}
			p.need = declared(p.cols["time"], p.cols["hostname"], p.cols["server"], p.cols["port"], p.cols["account"], p.cols["status"])
			return
		}
		f, reason := rowFit(p.fields, p.names, p.need)
		if reason != "" {
			fs.malformed(reason)
			return
		}
		p.fields = f
		get = func(key string) string { return strings.TrimSpace(string(field(p.fields, p.cols[key]))) }
	}
	ts := get("time")
	t, prec, ok := parseTime([]byte(ts))
	if !ok {
		t, prec, ok = parseEpoch(ts)
	}
	if !ok {
		fs.malformed("bad or missing time")
		return
	}
	server, port := splitHostPort(get("server"))
	if pp := get("port"); pp != "" {
		port = pp
	}
	host, direct, res := fs.rules.resolve(get("hostname"), "", server, port)
	if res != legacy {
		fs.outcome(nil, host, direct, res)
		return
	}
	cip, _ := splitHostPort(get("client_ip"))
	e := &event{Event: agg.Event{
		Time: t, Prec: prec,
		Account:   NormalizeAccount(get("account")),
		Protocol:  mappedProtocol(get("protocol"), get("path"), port),
		ClientIP:  cip,
		UserAgent: get("user_agent"),
		DeviceID:  get("device_id"),
		Success:   !statusFailure(get("status"))}}
	fs.outcome(e, host, direct, res)
}

func mappedProtocol(name, path, port string) string {
	if p := protocolFromName(name); p != "" {
		return p
	}
	if path != "" {
		return protocolFromPath(path)
	}
	if p := protocolFromPort(port); p != ProtoTLS {
		return p
	}
	if name != "" {
		return clean(strings.ToUpper(name), 32)
	}
	return ProtoHTTP
}

// statusFailure reads a mapped status: HTTP 401/403, or words like "failed", "denied", "NO",
// "-ERR" are failures; anything else (200, "success", "OK", empty) is a success.
func statusFailure(s string) bool {
	l := strings.ToLower(strings.TrimSpace(s))
	if isDigits(l) {
		return httpFailure(l)
	}
	switch l {
	case "no", "bad", "-err", "false", "ko", "fail", "failure", "failed":
		return true
	}
	for _, w := range []string{"fail", "denied", "deny", "reject", "error", "invalid", "unauthori", "forbidden", "locked"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// lookupJSON finds key in m: literally, then as a dotted path.
func lookupJSON(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	var cur any = m
	for _, part := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = mm[part]; !ok {
			return nil
		}
	}
	return cur
}

func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}
