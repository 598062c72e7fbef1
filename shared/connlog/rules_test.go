package connlog

import (
	"fmt"
	"math/rand"
	"path"
	"strings"
	"testing"
	"time"
)

func mustRules(t *testing.T) *rules {
	t.Helper()
	c, err := compileRules(testRules())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolveOrder(t *testing.T) {
	c := mustRules(t)
	tests := []struct {
		name                       string
		explicit, hh, server, port string
		host                       string
		direct                     bool
		res                        resolution
	}{
		{name: "explicit legacy", explicit: "imap.nhs.net", host: "imap.nhs.net", res: legacy},
		{name: "explicit case, dot and port", explicit: "IMAP.NHS.Net.:993", host: "imap.nhs.net", res: legacy},
		{name: "explicit wins over HH", explicit: "outlook.office365.com", hh: "eas.nhs.net", res: notLegacy},
		{name: "explicit wins over endpoint", explicit: "outlook.office365.com", server: "10.20.0.14", res: notLegacy},
		{name: "HH when no explicit", hh: "eas.nhs.net", host: "eas.nhs.net", res: legacy},
		{name: "HH not legacy", hh: "outlook.office365.com", server: "10.20.0.14", res: notLegacy},
		{name: "endpoint ip:port", server: "10.20.0.11", port: "993", host: "imap.nhs.net", res: legacy},
		{name: "endpoint ip:port other port", server: "10.20.0.11", port: "143", res: unresolved},
		{name: "endpoint ip any port", server: "10.20.0.13", port: "2525", host: "smtp.nhs.net", res: legacy},
		{name: "bare IP host resolved is direct", explicit: "10.20.0.14", host: "mail.nhs.net", direct: true, res: legacy},
		{name: "bare IP host with port", explicit: "10.20.0.11:993", port: "993", host: "imap.nhs.net", direct: true, res: legacy},
		{name: "unmapped IP host falls through to server", explicit: "192.0.2.1", server: "10.20.0.14", host: "mail.nhs.net", res: legacy},
		{name: "unmapped IP host, nothing else", explicit: "192.0.2.1", res: unresolved},
		{name: "IPv6 endpoint not mapped", server: "2001:db8::1", port: "993", res: unresolved},
		{name: "dash is absent", explicit: "-", hh: "", server: "", res: unresolved},
		{name: "nothing", res: unresolved},
		{name: "suffix only is not legacy", explicit: "autodiscover.nhs.net", res: notLegacy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, direct, res := c.resolve(tt.explicit, tt.hh, tt.server, tt.port)
			if host != tt.host || direct != tt.direct || res != tt.res {
				t.Errorf("resolve = (%q, %v, %v), want (%q, %v, %v)", host, direct, res, tt.host, tt.direct, tt.res)
			}
		})
	}
}

func TestNormalizeAccount(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pat.lee@nhs.net", "pat.lee@nhs.net"},
		{"Pat.Lee@NHS.NET", "pat.lee@nhs.net"},
		{"pat.lee%40nhs.net", "pat.lee@nhs.net"},
		{`NHS\pat.lee`, "pat.lee"},
		{`nhs%5Cpat.lee`, "pat.lee"},
		{`nhs\pat.lee\shared.pharmacy`, "pat.lee"},
		{`nhs\pat.lee@nhs.net\shared.pharmacy`, "pat.lee@nhs.net"},
		{`nhs\shared\pat.lee@nhs.net`, "pat.lee@nhs.net"},
		{"-", ""},
		{"", ""},
		{"Anonymous", ""},
		{"ANONYMOUS", ""},
		{"  ", ""},
		{"*****", ""},
		{"bad%zzescape", "bad%zzescape"},
		{"x\xffy@nhs.net", "x\uFFFDy@nhs.net"},
	}
	for _, tt := range tests {
		if got := NormalizeAccount(tt.in); got != tt.want {
			t.Errorf("NormalizeAccount(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIgnoreAccounts(t *testing.T) {
	c := mustRules(t)
	for acct, want := range map[string]bool{
		"healthmailbox0123@nhs.net": true, "healthmailboxabc": true, "pat.lee@nhs.net": false, "myhealthmailbox": false,
	} {
		if got := c.ignored(acct); got != want {
			t.Errorf("ignored(%q) = %v, want %v", acct, got, want)
		}
	}
}

func TestProtocolRules(t *testing.T) {
	paths := map[string]string{
		"/Microsoft-Server-ActiveSync/default.eas": ProtoEAS, "/microsoft-server-activesync": ProtoEAS,
		"/EWS/Exchange.asmx": ProtoEWS, "/owa/": ProtoOWA, "/OWA": ProtoOWA, "/mapi/emsmdb/": ProtoMAPI,
		"/rpc/rpcproxy.dll": ProtoRPC, "/Autodiscover/Autodiscover.xml": ProtoAutodiscover, "/OAB/x/oab.xml": ProtoOAB,
		"/ecp/": ProtoHTTP, "/": ProtoHTTP, "": ProtoHTTP, "https://mail.nhs.net:443/owa/?a=b": ProtoOWA,
		"/owaxyz": ProtoHTTP,
	}
	for p, want := range paths {
		if got := protocolFromPath(p); got != want {
			t.Errorf("protocolFromPath(%q) = %q, want %q", p, got, want)
		}
	}
	names := map[string]string{"Eas": ProtoEAS, "Ews": ProtoEWS, "Owa": ProtoOWA, "Mapi": ProtoMAPI, "RpcHttp": ProtoRPC,
		"Autodiscover": ProtoAutodiscover, "OAB": ProtoOAB, "imap4": ProtoIMAP, "POP3": ProtoPOP, "smtp": ProtoSMTP, "Ecp": "", "": ""}
	for n, want := range names {
		if got := protocolFromName(n); got != want {
			t.Errorf("protocolFromName(%q) = %q, want %q", n, got, want)
		}
	}
	ports := map[string]string{"993": ProtoIMAP, "143": ProtoIMAP, "995": ProtoPOP, "110": ProtoPOP, "587": ProtoSMTP,
		"465": ProtoSMTP, "25": ProtoSMTP, "443": ProtoTLS, "": ProtoTLS}
	for p, want := range ports {
		if got := protocolFromPort(p); got != want {
			t.Errorf("protocolFromPort(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestSuccessFailureRules(t *testing.T) {
	for s, fail := range map[string]bool{"200": false, "302": false, "401": true, "403": true, "500": false, "": false} {
		if got := httpFailure(s); got != fail {
			t.Errorf("httpFailure(%q) = %v", s, got)
		}
	}
	resp := map[string]respKind{
		`R="a1 OK LOGIN completed."`: respOK, `R=ok`: respOK, `R="+OK User successfully logged on."`: respOK,
		`R="a1 NO LOGIN failed."`: respFail, `R="-ERR Logon failure"`: respFail, `R="a1 BAD Command"`: respFail,
		`R="+ "`: respContinue, `R=+`: respContinue, ``: respUnknown,
		`R="a1 OK LOGIN completed.";Msg="NO such thing"`: respOK,
	}
	for ctx, want := range resp {
		if got := response([]byte(ctx)); got != want {
			t.Errorf("response(%q) = %v, want %v", ctx, got, want)
		}
	}
	status := map[string]bool{"success": false, "OK": false, "200": false, "": false, "failed": true, "FAILURE": true,
		"denied": true, "-ERR": true, "NO": true, "401": true, "AccessDenied": true, "authenticated": false}
	for s, fail := range status {
		if got := statusFailure(s); got != fail {
			t.Errorf("statusFailure(%q) = %v, want %v", s, got, fail)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"Outlook/16.0":             "Outlook/16.0",
		"a=1&password=hunter2&b=2": "a=1&password=[redacted]&b=2",
		"PWD=abc;x":                "PWD=[redacted];x",
		"user *****":               "user [redacted]",
		"nothing to see":           "nothing to see",
		"Passwd=zz":                "Passwd=[redacted]",
		"UA?pass=hunter2":          "UA?pass=[redacted]",
		"x;secret=s3&y=1":          "x;secret=[redacted]&y=1",
		"a token=t0k b":            "a token=[redacted] b",
		"access_token=abc.def":     "access_token=[redacted]",
		"oauth_token=abc":          "oauth_token=[redacted]",
		"client_secret=cs":         "client_secret=[redacted]",
		"auth=xyz":                 "auth=[redacted]",
		"apikey: k1":               "apikey: [redacted]",
		"Authorization: Bearer eyJhbGciOi.x.y rest": "Authorization: Bearer [redacted] rest",
		"authorization=Basic dXNlcjpwYXNz":          "authorization=Basic [redacted]",
		"curl Bearer abc123":                        "curl Bearer [redacted]",
		"{\"password\":\"p w\"}":                    "{\"password\":\"[redacted]\"}",
		"token='a b' x":                             "token='[redacted]' x",
		"author=jo":                                 "author=jo",
		"passport=123":                              "passport=123",
		"iOS/16 Basic":                              "iOS/16 Basic",
		"authenticated=yes":                         "authenticated=yes",
		"MyPassword=abc":                            "MyPassword=[redacted]",
		"dev&token%3Dabc":                           "dev&token%3D[redacted]",
	}
	for in, want := range tests {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		prec int8
		ok   bool
	}{
		{"2021-08-02T08:00:00.101Z", time.Date(2021, 8, 2, 8, 0, 0, 101e6, time.UTC), 3, true},
		{"2021-08-02 08:00:00", time.Date(2021, 8, 2, 8, 0, 0, 0, time.UTC), 0, true},
		{"2021-08-05T12:00:00.123456Z", time.Date(2021, 8, 5, 12, 0, 0, 123456e3, time.UTC), 6, true},
		{"2021-08-07T10:00:05+01:00", time.Date(2021, 8, 7, 9, 0, 5, 0, time.UTC), 0, true},
		{"2021-02-31T00:00:00Z", time.Time{}, 0, false},
		{"2021-08-02", time.Time{}, 0, false},
		{"garbage-garbage-garbage", time.Time{}, 0, false},
	}
	for _, tt := range tests {
		got, prec, ok := parseTime([]byte(tt.in))
		if ok != tt.ok || !got.Equal(tt.want) || prec != tt.prec {
			t.Errorf("parseTime(%q) = %v %d %v", tt.in, got, prec, ok)
		}
	}
}

func TestCompileRulesErrors(t *testing.T) {
	bad := []Rules{
		{Hostnames: []string{""}},
		{Hostnames: []string{"10.0.0.1"}},
		{Endpoints: map[string]string{"not-an-ip": "imap.nhs.net"}},
		{Endpoints: map[string]string{"10.0.0.1": ""}},
		{IgnoreAccounts: []string{"[unclosed"}},
		{Mapping: map[string]string{"colour": "c"}},
	}
	for _, r := range bad {
		if _, err := NewScanner(r, Options{}); err == nil {
			t.Errorf("NewScanner(%+v) accepted", r)
		}
	}
}

// NormalizeAccount's one-pass check for accounts that need no change returns exactly what the
// full rule returns.
func TestNormalizeAccountFastPath(t *testing.T) {
	parts := []string{"a", "Z", "pat.lee", "@", "nhs.net", "\\", "%40", "%", "*", "***", " ", "\t", "-", "anonymous", "Anonymous", "é", "\xff", "\x00", "\x7f", "+", "_"}
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		for n := rng.Intn(6); n > 0; n-- {
			b.WriteString(parts[rng.Intn(len(parts))])
		}
		s := b.String()
		if got, want := NormalizeAccount(s), normalizeAccount(s); got != want {
			t.Fatalf("NormalizeAccount(%q) = %q, full rule gives %q", s, got, want)
		}
	}
}

// The literal-prefix check in front of each ignore glob changes no answer.
func TestIgnoredPrefixCheck(t *testing.T) {
	globs := []string{"healthmailbox*", "svc-?x*", "[ab]*", "*@test.nhs.net", "lit\\*eral*", "exact@nhs.net"}
	c, err := compileRules(Rules{IgnoreAccounts: globs})
	if err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{"healthmailbox1", "healthmailbo", "xhealthmailbox", "svc-ax1", "svc-x", "a1", "b", "c", "u@test.nhs.net", "lit*eral9", "litxeral", "exact@nhs.net", "exact@nhs.net2", ""} {
		want := false
		for _, g := range globs {
			if ok, _ := path.Match(g, acct); ok {
				want = true
			}
		}
		if got := c.ignored(acct); got != want {
			t.Errorf("ignored(%q) = %v, path.Match gives %v", acct, got, want)
		}
	}
}

// isEndpointAddr compares an address as a log writes it (any case) with the endpoints' addresses,
// by a list for a few endpoints and by the map for many.
func TestIsEndpointAddr(t *testing.T) {
	few := testRules()
	few.Endpoints["[FE80::1]:993"] = "imap.nhs.net"
	many := testRules()
	many.Endpoints = map[string]string{"FE80::1": "imap.nhs.net"}
	for i := range 20 {
		many.Endpoints[fmt.Sprintf("10.20.1.%d:993", i)] = "imap.nhs.net"
	}
	many.Endpoints["10.20.0.13"] = "smtp.nhs.net"
	for name, r := range map[string]Rules{"few": few, "many": many} {
		c, err := compileRules(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			addr string
			want bool
		}{
			{"10.20.0.13", true},
			{"fe80::1", true},
			{"FE80::1", true},
			{"Fe80::1", true},
			{"10.20.0.1", false},
			{"10.20.0.130", false},
			{"", false},
			{strings.Repeat("1", 80), false},
		} {
			if got := c.isEndpointAddr([]byte(tc.addr)); got != tc.want {
				t.Errorf("%s: isEndpointAddr(%q) = %v, want %v", name, tc.addr, got, tc.want)
			}
		}
	}
}

// plainName is quick's shortcut past normHost: a name it passes is already normalised and not
// an address.
func FuzzPlainName(f *testing.F) {
	for _, s := range []string{"mail.nhs.net", "MAIL.nhs.net", "mail.nhs.net.", "10.20.0.11", "fe80::1", "[::1]:443", "eas.nhs.net:443", "-", "", " a", "xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if plainName([]byte(s)) && (normHost(s) != s || looksLikeIP(s)) {
			t.Errorf("plainName(%q), but normHost makes %q (looksLikeIP %v)", s, normHost(s), looksLikeIP(s))
		}
	})
}

// hostSet finds exactly what the hosts map holds.
func FuzzHostSet(f *testing.F) {
	c, err := compileRules(testRules())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"mail.nhs.net", "MAIL.nhs.net", "mail.nhs.net.", "eas.nhs.net", "outlook.office365.com", "", "m", "imap.nhs.ne", "pop.nhs.net"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := c.hostSet.get([]byte(s)), c.hosts[s]; got != want {
			t.Errorf("hostSet.get(%q) = %q, the map says %q", s, got, want)
		}
	})
}

// A set of many hostnames (more than its smallest table) finds each, and nothing else.
func TestHostSetMany(t *testing.T) {
	names := map[string]string{}
	for i := range 100 {
		n := fmt.Sprintf("host%d.nhs.net", i)
		names[n] = n
	}
	s := newHostSet(names)
	for n := range names {
		if s.get([]byte(n)) != n {
			t.Errorf("%s not found", n)
		}
	}
	if got := s.get([]byte("host100.nhs.net")); got != "" {
		t.Errorf("found %q", got)
	}
}
