package connlog

import (
	"bytes"
	"fmt"
	"math/bits"
	"net/netip"
	"path"
	"sort"
	"strings"
	"unicode/utf8"
)

// Rules is what a campaign tells the scanner. It is consumer-side configuration: the campaign
// package builds one from a campaign file, tests build them literally.
type Rules struct {
	// Hostnames are the legacy hostnames, e.g. "imap.nhs.net". Compared case-insensitively,
	// ignoring a trailing dot.
	Hostnames []string
	// Endpoints maps a server address that only ever served a legacy name to that name:
	// "10.20.0.11:993" (that port only) or "10.20.0.13" (any port). Used for logs that carry no
	// hostname and for host headers that are bare IPs (direct-IP findings).
	Endpoints map[string]string
	// IgnoreAccounts are case-insensitive globs (`*`, `?`, `[...]`) of accounts whose events are
	// dropped and counted as ignored, e.g. "healthmailbox*".
	IgnoreAccounts []string
	// Mapping maps the scanner's field names to column names (CSV) or keys (JSON lines, dotted
	// paths allowed) for the jsonl and csv formats. Keys: account, hostname, time, client_ip,
	// protocol, status, user_agent, device_id, server (ip or ip:port), port, path. A key left out
	// defaults to a column of the same name.
	Mapping map[string]string
	// Fields declares, per format name ("iis", "exchange-httpproxy", ...), the field list of
	// files that come without a "#Fields:" header, written as that format's "#Fields:" line
	// writes it (spaces for IIS, commas for Exchange), or "default" for DefaultFields. A file
	// with its own header uses its own. Header-less lines that fit a declared list are
	// detected as that format.
	Fields map[string]string
}

// MappingKeys are the keys Rules.Mapping understands.
var MappingKeys = []string{"account", "hostname", "time", "client_ip", "protocol", "status", "user_agent", "device_id", "server", "port", "path"}

// mappingAliases are other names accepted for mapping keys.
var mappingAliases = map[string]string{"server_ip": "server", "server_port": "port", "ip": "client_ip", "user": "account", "host": "hostname", "timestamp": "time"}

// rules is Rules compiled for matching.
type rules struct {
	hosts      map[string]string // normalised legacy hostname -> itself: resolve returns this copy, never the caller's bytes
	hostSet    hostSet           // the same, for quick
	endpoints  map[string]string // normalised "ip:port" or "ip" -> legacy hostname
	ignore     []string          // lower-cased globs
	ignoreLit  []string          // per glob: its literal prefix (before any * ? [ \\), a cheap first check
	mapping    map[string]string
	fields     map[Format][]string
	hostNeedle [][]byte        // lower-case byte strings whose presence makes a line a candidate
	endpointIP map[string]bool // every address in endpoints, lower-case, without port
	addrs      [][]byte        // the same, as a list: a few are faster to compare than to hash
	addrSet    map[netip.Addr]bool
}

func compileRules(r Rules) (*rules, error) {
	c := &rules{hosts: map[string]string{}, endpoints: map[string]string{}, mapping: map[string]string{}}
	for _, h := range r.Hostnames {
		n := normHost(h)
		if n == "" {
			return nil, fmt.Errorf("hostnames: empty hostname")
		}
		if _, err := netip.ParseAddr(n); err == nil {
			return nil, fmt.Errorf("hostnames: %q is an address; put addresses under endpoints", h)
		}
		c.hosts[n] = n
	}
	c.hostSet = newHostSet(c.hosts)
	for k, v := range r.Endpoints {
		key, ok := EndpointKey(k)
		if !ok {
			return nil, fmt.Errorf("endpoints: %q is not an ip or ip:port", k)
		}
		h := normHost(v)
		if h == "" {
			return nil, fmt.Errorf("endpoints[%q]: empty hostname", k)
		}
		c.endpoints[key] = h
	}
	for _, g := range r.IgnoreAccounts {
		g = strings.ToLower(strings.TrimSpace(g))
		if _, err := path.Match(g, ""); err != nil || g == "" {
			return nil, fmt.Errorf("ignore_accounts: bad glob %q", g)
		}
		c.ignore = append(c.ignore, g)
		lit := g
		if i := strings.IndexAny(g, `*?[\`); i >= 0 {
			lit = g[:i]
		}
		c.ignoreLit = append(c.ignoreLit, lit)
	}
	known := map[string]bool{}
	for _, k := range MappingKeys {
		known[k] = true
	}
	for k, v := range r.Mapping {
		if alias, ok := mappingAliases[k]; ok {
			k = alias
		}
		if !known[k] {
			return nil, fmt.Errorf("mapping: unknown key %q (known: %s)", k, strings.Join(MappingKeys, ", "))
		}
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("mapping[%q]: empty column name", k)
		}
		c.mapping[k] = v
	}
	var err error
	if c.fields, err = compileFields(r.Fields); err != nil {
		return nil, err
	}
	c.hostNeedle = c.needles()
	c.endpointIP, c.addrSet = map[string]bool{}, map[netip.Addr]bool{}
	for k := range c.endpoints {
		ip, _ := splitHostPort(k)
		c.endpointIP[strings.ToLower(ip)] = true
		if a, err := netip.ParseAddr(ip); err == nil {
			c.addrSet[a] = true
		}
	}
	for ip := range c.endpointIP {
		c.addrs = append(c.addrs, []byte(ip))
	}
	return c, nil
}

// needles returns the lower-case strings one of which must appear in a line for it to be a
// legacy event: the hostnames (or their common suffix, when long enough to be selective, so one
// search covers them all) and the endpoint addresses.
func (c *rules) needles() [][]byte {
	var hosts []string
	for h := range c.hosts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	var out []string
	if suf := commonSuffix(hosts); len(hosts) > 1 && len(suf) >= 6 && strings.Contains(suf[1:], ".") {
		out = append(out, suf)
	} else {
		out = append(out, hosts...)
	}
	seen := map[string]bool{}
	for k := range c.endpoints {
		ip := k
		if ap, err := netip.ParseAddrPort(k); err == nil {
			ip = ap.Addr().String()
		}
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	return dedupeNeedles(out)
}

// dedupeNeedles sorts needles and drops any that contains another one (it is redundant).
func dedupeNeedles(out []string) [][]byte {
	sort.Strings(out)
	var res [][]byte
	for i, n := range out {
		redundant := false
		for j, m := range out {
			if i != j && strings.Contains(n, m) && (n != m || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			res = append(res, []byte(n))
		}
	}
	return res
}

func commonSuffix(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	suf := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasSuffix(s, suf) {
			suf = suf[1:]
		}
	}
	return suf
}

// normHost lower-cases a host, strips a trailing dot and a :port (or [v6]:port).
func normHost(h string) string {
	h = strings.TrimSpace(h)
	if h == "" || h == "-" {
		return ""
	}
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	return h
}

// EndpointKey is the canonical form of an endpoints key: "10.20.0.11:993", "10.20.0.13",
// "[fe80::1]:993" or "fe80::1", as netip writes them (port 1-65535). A zone index ("fe80::1%12") names the
// interface of the server that logged, not another server, so it is dropped, here and in every
// address read from a log: "fe80::1%12" and "fe80::1" are one endpoint. An IPv4-mapped IPv6
// address is its IPv4 address. ok is false for anything that is not an ip or ip:port.
func EndpointKey(k string) (key string, ok bool) {
	k = strings.TrimSpace(k)
	if ap, err := netip.ParseAddrPort(k); err == nil {
		if ap.Port() == 0 {
			return "", false
		}
		return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()).String(), true
	}
	if a, err := netip.ParseAddr(k); err == nil {
		return a.Unmap().WithZone("").String(), true
	}
	return "", false
}

// splitHostPort splits "ip:port", "[v6]:port", "ip" into ip and port ("" when absent). It does not
// allocate.
func splitHostPort(s string) (host, port string) {
	if s == "" {
		return "", ""
	}
	if s[0] == '[' {
		if i := strings.IndexByte(s, ']'); i > 0 {
			if i+1 < len(s) && s[i+1] == ':' {
				return s[1:i], s[i+2:]
			}
			return s[1:i], ""
		}
		return s, ""
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, ""
	}
	if strings.IndexByte(s[:i], ':') < 0 { // exactly one colon: v4:port or name:port
		return s[:i], s[i+1:]
	}
	// Several colons: a bare IPv6 address, unless the tail is a port after a full address.
	if isDigits(s[i+1:]) {
		if _, err := netip.ParseAddr(s[:i]); err == nil {
			if _, err2 := netip.ParseAddr(s); err2 != nil {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// resolution is the outcome of looking for a line's legacy hostname.
type resolution int

const (
	notLegacy  resolution = iota // the line named a hostname that is not legacy
	legacy                       // the line reached a legacy hostname
	unresolved                   // the line says nothing that identifies the hostname
)

// resolve applies the hostname order: explicit host field, then the ActiveSync HH token, then
// the server address through the endpoints map. A host that is a bare IP is looked up in the
// endpoints map (a hit is a direct-IP finding); an unmapped IP tells nothing and falls through.
func (c *rules) resolve(explicit, hh, serverIP, serverPort string) (host string, direct bool, res resolution) {
	for _, h := range [2]string{explicit, hh} {
		if host, direct, res := c.resolveHost(h, serverPort); res != unresolved {
			return host, direct, res
		}
	}
	if name, ok := c.server(serverIP, serverPort); ok {
		return name, false, legacy
	}
	return "", false, unresolved
}

// resolveHost is resolve's reading of one host value h (the host field or the HH token):
// legacy or notLegacy when h decides the line, unresolved when resolve goes on (h is empty, or
// an address no endpoint has).
func (c *rules) resolveHost(h, serverPort string) (host string, direct bool, res resolution) {
	h = normHost(h)
	if h == "" {
		return "", false, unresolved
	}
	if looksLikeIP(h) {
		if a, err := netip.ParseAddr(h); err == nil {
			if name, ok := c.endpoint(a, serverPort); ok {
				return name, true, legacy
			}
			return "", false, unresolved
		}
	}
	if name, ok := c.hosts[h]; ok {
		return name, false, legacy
	}
	return "", false, notLegacy
}

// server is resolve's last step: the endpoint the server address (and port) is, if any.
func (c *rules) server(serverIP, serverPort string) (string, bool) {
	if serverIP == "" {
		return "", false
	}
	a, err := netip.ParseAddr(strings.Trim(serverIP, "[]"))
	if err != nil {
		return "", false
	}
	return c.endpoint(a, serverPort)
}

// isEndpointAddr reports whether b (an address as a log writes it, any case, no port, perhaps
// with a zone index) is the address of one of the endpoints: the answer the full parse gets
// from netip, faster for the usual case. Text is compared first; an IPv6 address, whose text a
// log may write in several ways ("fe80:0:0::1", "::ffff:10.20.0.11"), is parsed when the text
// does not match.
func (c *rules) isEndpointAddr(b []byte) bool {
	if i := bytes.IndexByte(b, '%'); i >= 0 {
		b = b[:i]
	}
	if c.textEndpointAddr(b) {
		return true
	}
	if len(c.addrSet) == 0 || bytes.IndexByte(b, ':') < 0 {
		return false
	}
	a, err := netip.ParseAddr(view(b))
	return err == nil && c.addrSet[a.Unmap()]
}

func (c *rules) textEndpointAddr(b []byte) bool {
	if len(c.addrs) > 8 {
		var low [64]byte // an address is at most 45 bytes
		if len(b) > len(low) {
			return false
		}
		for i, ch := range b {
			low[i] = foldASCII(ch)
		}
		return c.endpointIP[string(low[:len(b)])]
	}
	for _, a := range c.addrs {
		if equalFoldLower(b, a) {
			return true
		}
	}
	return false
}

func (c *rules) endpoint(a netip.Addr, port string) (string, bool) {
	if len(c.endpoints) == 0 {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if port != "" {
		if p, ok := parsePort(port); ok {
			if name, ok := c.endpoints[netip.AddrPortFrom(a, p).String()]; ok {
				return name, true
			}
		}
	}
	name, ok := c.endpoints[a.String()]
	return name, ok
}

func parsePort(s string) (uint16, bool) {
	if !isDigits(s) || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// looksLikeIP is a cheap pre-check before netip parsing: digits and dots, or a colon.
func looksLikeIP(h string) bool {
	if strings.IndexByte(h, ':') >= 0 {
		return true
	}
	for i := 0; i < len(h); i++ {
		if (h[i] < '0' || h[i] > '9') && h[i] != '.' {
			return false
		}
	}
	return h != ""
}

// ignored reports whether a normalised account matches an ignore glob.
func (c *rules) ignored(account string) bool {
	for i, g := range c.ignore {
		if !strings.HasPrefix(account, c.ignoreLit[i]) {
			continue
		}
		if ok, _ := path.Match(g, account); ok {
			return true
		}
	}
	return false
}

// NormalizeAccount applies the account rule: lower-case, URL-decode, DOMAIN\user[\mailbox] ->
// user, the first `\`-component holding an `@` wins. It returns "" for unauthenticated values
// ("-", empty, "Anonymous") and for anything that looks like a redacted secret.
func NormalizeAccount(s string) string {
	if plainAccount(s) { // most accounts: nothing to do, and no copy
		return s
	}
	return normalizeAccount(s)
}

func normalizeAccount(s string) string {
	s = strings.TrimSpace(s)
	if isUnauthenticated(s) {
		return ""
	}
	if strings.IndexByte(s, '%') >= 0 {
		s = percentDecode(s)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ToLower(strings.TrimSpace(s))
	if isUnauthenticated(s) {
		return ""
	}
	acct := s
	if strings.IndexByte(s, '\\') >= 0 {
		acct = ""
		second, n := "", 0
		for rest := s; ; n++ {
			part, tail, more := strings.Cut(rest, `\`)
			if strings.IndexByte(part, '@') >= 0 {
				acct = part
				break
			}
			if n == 1 {
				second = part
			}
			if !more {
				break
			}
			rest = tail
		}
		if acct == "" {
			acct = second
		}
	}
	acct = strings.TrimSpace(acct)
	if isUnauthenticated(acct) || strings.Contains(acct, "***") || !utf8.ValidString(acct) {
		return ""
	}
	return acct
}

// plainAccount reports whether NormalizeAccount would return s unchanged, checked in one pass:
// lower-case printable ASCII without spaces, '%', '\\' or "***", and not an unauthenticated value.
func plainAccount(s string) bool {
	if s == "" || s == "-" || len(s) == 9 && s == "anonymous" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '\\' || ('A' <= c && c <= 'Z') || c == '*' && i+2 < len(s) && s[i+1] == '*' && s[i+2] == '*' {
			return false
		}
	}
	return true
}

func isUnauthenticated(s string) bool {
	return s == "" || s == "-" || strings.EqualFold(s, "anonymous")
}

// percentDecode decodes %XX escapes and leaves anything malformed as it is ('+' is not a space
// here: IIS has already turned spaces into '+', and they are handled by the caller).
func percentDecode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Protocols named by the scanner.
const (
	ProtoIMAP         = "IMAP"
	ProtoPOP          = "POP"
	ProtoSMTP         = "SMTP"
	ProtoEAS          = "EAS"
	ProtoEWS          = "EWS"
	ProtoOWA          = "OWA"
	ProtoMAPI         = "MAPI"
	ProtoRPC          = "RPC"
	ProtoAutodiscover = "Autodiscover"
	ProtoOAB          = "OAB"
	ProtoHTTP         = "HTTP"
	ProtoTLS          = "TLS"
)

// protocolFromPath maps a URL path (or a full URL) to the Exchange protocol it serves.
func protocolFromPath(p string) string {
	if i := strings.Index(p, "://"); i >= 0 { // absolute URL: drop scheme and authority
		p = p[i+3:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = "/"
		}
	}
	p = strings.TrimLeft(p, "/")
	if i := strings.IndexAny(p, "/?"); i >= 0 {
		p = p[:i]
	}
	for _, m := range pathProtocols {
		if strings.EqualFold(p, m.seg) {
			return m.proto
		}
	}
	return ProtoHTTP
}

var pathProtocols = []struct{ seg, proto string }{
	{"microsoft-server-activesync", ProtoEAS}, {"ews", ProtoEWS}, {"owa", ProtoOWA}, {"mapi", ProtoMAPI},
	{"rpc", ProtoRPC}, {"rpcwithcert", ProtoRPC}, {"autodiscover", ProtoAutodiscover}, {"oab", ProtoOAB},
}

// protocolFromName maps a protocol column value (HttpProxy "Eas", "RpcHttp", a mapped "imap4", ...)
// to a protocol; "" when the value names none of them.
func protocolFromName(v string) string {
	l := strings.ToLower(strings.TrimSpace(v))
	switch {
	case l == "":
		return ""
	case strings.HasPrefix(l, "imap"):
		return ProtoIMAP
	case strings.HasPrefix(l, "pop"):
		return ProtoPOP
	case strings.HasPrefix(l, "smtp") || l == "submission":
		return ProtoSMTP
	case l == "eas" || l == "activesync" || l == "microsoft-server-activesync":
		return ProtoEAS
	case l == "ews":
		return ProtoEWS
	case l == "owa" || l == "owacalendar":
		return ProtoOWA
	case l == "mapi":
		return ProtoMAPI
	case l == "rpchttp" || l == "rpc" || l == "rpcwithcert":
		return ProtoRPC
	case l == "autodiscover":
		return ProtoAutodiscover
	case l == "oab":
		return ProtoOAB
	case l == "http" || l == "https":
		return ProtoHTTP
	case l == "tls":
		return ProtoTLS
	}
	return ""
}

// protocolFromPort maps a server port to a mail protocol (NLB TLS listeners).
func protocolFromPort(port string) string {
	switch port {
	case "993", "143":
		return ProtoIMAP
	case "995", "110":
		return ProtoPOP
	case "587", "465", "25":
		return ProtoSMTP
	}
	return ProtoTLS
}

// httpFailure is the HTTP rule: 401 and 403 are failures, anything else a success.
func httpFailure(status string) bool {
	return status == "401" || status == "403"
}

// redact removes anything that looks like a credential from a value before it is kept (user
// agents, device ids, accounts: every free-text field a finding carries):
//   - the value of a key=value or key: value pair whose key names a credential: pass, passwd,
//     password, pwd, secret, token, access_token, auth, authorization, apikey, api_key, and any
//     key ending in token or holding password, passwd or secret (case-insensitive, whatever
//     sits before the key: "?", "&", ";", a space, a quote);
//   - the credential after an authentication scheme (Bearer, Basic, Digest, Negotiate, NTLM);
//   - *****-style masks.
//
// A value runs to the next &, ;, comma, space, tab or quote; after an Authorization key or a
// scheme it runs to the next delimiter after the scheme's credential. The check is one pass
// over the value when nothing suspicious is in it.
func redact(s string) string {
	if s == "" || !marked(s) || !suspicious(s) {
		return s
	}
	return redactAll(s)
}

// marked reports whether s holds a byte without which redact changes nothing: a key's '=' or
// ':' (or the '%' of their percent-encodings), a scheme's space, a mask's '*'. Accounts and
// device ids hold none: one table lookup a byte, where suspicious takes two and more.
func marked(s string) bool {
	for i := 0; i < len(s); i++ {
		if credentialMark[s[i]] {
			return true
		}
	}
	return false
}

var credentialMark = [256]bool{' ': true, '=': true, ':': true, '%': true, '*': true}

// redactAll is redact without the fast check.
func redactAll(s string) string {
	l := strings.ToLower(s)
	var b strings.Builder
	for i := 0; i < len(s); {
		if n := credentialAt(l, i); n > 0 {
			b.WriteString(s[i : i+n])
			b.WriteString("[redacted]")
			i = skipValue(l, i+n)
			continue
		}
		if s[i] == '*' && strings.HasPrefix(s[i:], "***") {
			for i < len(s) && s[i] == '*' {
				i++
			}
			b.WriteString("[redacted]")
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// suspicious is the fast check: does s hold anything redact would change? One pass of two
// table lookups a byte: the words whose first byte is s[i] and whose second is s[i+1]
// (suspiciousFirst, suspiciousSecond), and a closer look only where both hold a word.
func suspicious(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		for m := suspiciousFirst[s[i]] & suspiciousSecond[s[i+1]]; m != 0; m &= m - 1 {
			w := suspiciousWords[bits.TrailingZeros16(m)]
			if len(s)-i >= len(w) && equalFoldLower(s[i+2:i+len(w)], w[2:]) {
				return true
			}
		}
	}
	return false
}

// suspiciousFirst[c] is the set of suspiciousWords (bit i for word i) whose first byte is c,
// in any case; suspiciousSecond likewise for the second byte.
var suspiciousFirst, suspiciousSecond = func() (first, second [256]uint16) {
	for i, w := range suspiciousWords {
		first[w[0]] |= 1 << i
		first[upperASCII(w[0])] |= 1 << i
		second[w[1]] |= 1 << i
		second[upperASCII(w[1])] |= 1 << i
	}
	return first, second
}()

// upperASCII upper-cases an ASCII letter.
func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// suspiciousWords start every credential redact looks for (in any case).
// A "***" mask is one of them: its bytes are no letters, so case does not change them.
var suspiciousWords = [...]string{"pass", "pwd", "secret", "token", "auth", "apikey", "api_key", "bearer ", "basic ", "digest ", "negotiate ", "ntlm ", "***"}

// credentialKeys are the keys whose value is a credential.
var credentialKeys = map[string]bool{
	"pass": true, "passwd": true, "password": true, "pwd": true, "secret": true, "token": true,
	"access_token": true, "auth": true, "authorization": true, "apikey": true, "api_key": true,
}

// authSchemes are the HTTP authentication schemes whose next word is a credential.
var authSchemes = [...]string{"bearer ", "basic ", "digest ", "negotiate ", "ntlm "}

func keyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// credentialAt reports whether a credential starts at l[i] (l lower-cased), returning the
// length of what stays before "[redacted]": the key and its separator ("password=",
// "authorization: bearer ") or the scheme ("bearer ").
func credentialAt(l string, i int) int {
	if i > 0 && keyByte(l[i-1]) {
		return 0 // inside a word, not at the start of a key
	}
	for _, sc := range authSchemes {
		if strings.HasPrefix(l[i:], sc) && i+len(sc) < len(l) && !strings.ContainsRune(delims, rune(l[i+len(sc)])) {
			return len(sc)
		}
	}
	j := i
	for j < len(l) && keyByte(l[j]) {
		j++
	}
	key := l[i:j]
	if j < len(l) && (l[j] == '"' || l[j] == '\'') { // a quoted key: "password": "..."
		j++
	}
	sep := 1 // '=' or ':', or either percent-encoded (a value taken from a query string)
	switch {
	case j == i || j >= len(l):
		return 0
	case l[j] == '=' || l[j] == ':':
	case strings.HasPrefix(l[j:], "%3d") || strings.HasPrefix(l[j:], "%3a"):
		sep = 3
	default:
		return 0
	}
	if !credentialKeys[key] && !strings.HasSuffix(key, "token") && !strings.Contains(key, "password") &&
		!strings.Contains(key, "passwd") && !strings.Contains(key, "secret") {
		return 0
	}
	n := j - i + sep
	for i+n < len(l) && l[i+n] == ' ' {
		n++
	}
	if i+n < len(l) && (l[i+n] == '"' || l[i+n] == '\'') { // a quoted value: keep the quote
		n++
	}
	for _, sc := range authSchemes { // "Authorization: Bearer x": keep the scheme, redact x
		if strings.HasPrefix(l[i+n:], sc) {
			n += len(sc)
			break
		}
	}
	return n
}

// delims end a redacted value.
const delims = "&; ,\t\"'"

// skipValue returns the index after the value that starts at l[i]: up to the next delimiter,
// or, for a quoted value (l[i-1] is its opening quote), up to its closing quote.
func skipValue(l string, i int) int {
	if i > 0 && (l[i-1] == '"' || l[i-1] == '\'') {
		q := l[i-1]
		for i < len(l) && l[i] != q {
			i++
		}
		return i
	}
	for i < len(l) && !strings.ContainsRune(delims, rune(l[i])) {
		i++
	}
	return i
}
