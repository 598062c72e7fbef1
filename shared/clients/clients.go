// Package clients says which mail client an account's evidence points to ("Mail app on an
// iPhone, iOS 15") and how to fix it: each client family has a name, short steps and, per
// campaign, a guide link. The classification is a table of rules over the user agents the logs
// keep (and, for Exchange ActiveSync, the device id), first match wins; what no rule knows is
// "unknown", never a guess.
package clients

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Family is a kind of mail client that needs the same fix.
type Family string

// The families. docs/guides.md lists each with its steps and the rules that find it.
const (
	IOSMail        Family = "ios-mail"
	MacMail        Family = "mac-mail"
	AndroidMail    Family = "android-mail"
	OutlookWindows Family = "outlook-windows"
	OutlookMac     Family = "outlook-mac"
	OutlookIOS     Family = "outlook-ios"
	OutlookAndroid Family = "outlook-android"
	WindowsMail    Family = "windows-mail"
	Thunderbird    Family = "thunderbird"
	Printer        Family = "printer"
	Script         Family = "script"
	Unknown        Family = "unknown"
)

// Families are every family, in the order a notice lists their steps.
var Families = []Family{IOSMail, MacMail, AndroidMail, OutlookWindows, OutlookMac, OutlookIOS, OutlookAndroid, WindowsMail, Thunderbird, Printer, Script, Unknown}

// Known reports whether f is one of Families.
func Known(f Family) bool {
	for _, k := range Families {
		if k == f {
			return true
		}
	}
	return false
}

// Client is what one user agent says: its family and what the evidence adds ("iOS 15",
// "Samsung", "Canon", "Python").
type Client struct {
	Family Family
	Detail string
}

// String is the client as a notice shows it: "Mail app on an iPhone, iOS 15".
func (c Client) String() string {
	name := Name(c.Family)
	if c.Family == IOSMail {
		name = "Mail app on an iPhone"
		if strings.HasPrefix(c.Detail, "iPad") {
			name = "Mail app on an iPad"
		}
	}
	if d := strings.TrimPrefix(c.Detail, "iPad, "); d != "" && d != "iPad" {
		return name + ", " + d
	}
	return name
}

// rule is one row of the classifier: a pattern over the user agent (lower-cased first, so the
// patterns are lower case and need no (?i), which Go's regexp pays for on every byte; '+' read
// as a space as IIS writes it) and how to read the detail from its match.
type rule struct {
	family Family
	re     *regexp.Regexp
	detail func(m []string) string
}

func fixed(s string) func([]string) string { return func([]string) string { return s } }

// iosFromBuild is the iOS version of an Apple-iPhone/iPad user agent's build number: its first
// two digits are the Darwin major (19 → iOS 15; 15 → iOS 11).
func iosFromBuild(build string) string {
	if len(build) < 2 {
		return ""
	}
	major, err := strconv.Atoi(build[:2])
	if err != nil || major < 9 || major > 40 {
		return ""
	}
	return "iOS " + strconv.Itoa(major-4)
}

var rules = []rule{
	// Outlook's own apps first: their user agents also name the platform.
	{OutlookIOS, regexp.MustCompile(`outlook-ios/`), fixed("")},
	{OutlookAndroid, regexp.MustCompile(`outlook-android/`), fixed("")},
	{OutlookMac, regexp.MustCompile(`macoutlook/|macintosh;.*microsoft outlook`), fixed("")},
	{OutlookWindows, regexp.MustCompile(`microsoft office/[0-9.]+ \(windows|microsoft outlook|outlook/[0-9]|\bmsrpc\b|outlook-express`), fixed("")},
	{WindowsMail, regexp.MustCompile(`windows-?mail|msft-win-|outlook-windowsmail`), fixed("")},
	// Apple: Exchange ActiveSync's Apple-iPhone13C2/1905.245, and dataaccessd's iOS/15.4.
	{IOSMail, regexp.MustCompile(`apple-ipad[^/]*/([0-9]+)`), func(m []string) string {
		if v := iosFromBuild(m[1]); v != "" {
			return "iPad, " + v
		}
		return "iPad"
	}},
	{IOSMail, regexp.MustCompile(`apple-(?:iphone|ipod)[^/]*/([0-9]+)`), func(m []string) string { return iosFromBuild(m[1]) }},
	{IOSMail, regexp.MustCompile(`\bios/([0-9]+)[0-9.]* .*dataaccessd|iphone(?:os)?[ /]mail`), func(m []string) string {
		if m[1] != "" {
			return "iOS " + m[1]
		}
		return ""
	}},
	{MacMail, regexp.MustCompile(`(?:mac os x|macos)/([0-9]+(?:\.[0-9]+)?).*(?:mail|dataaccessd)|apple ?mail`), func(m []string) string {
		if m[1] != "" {
			return "macOS " + m[1]
		}
		return ""
	}},
	// Android: the maker's own app names its maker; Gmail and other apps say Android.
	{AndroidMail, regexp.MustCompile(`^samsung-|samsung ?email|\bsm-[a-z][0-9]{3}`), fixed("Samsung")},
	{AndroidMail, regexp.MustCompile(`^huawei|honor-`), fixed("Huawei")},
	{AndroidMail, regexp.MustCompile(`^xiaomi|\bmi ?mail|redmi`), fixed("Xiaomi")},
	{AndroidMail, regexp.MustCompile(`^(?:sony|motorola|lge|htc|oneplus|nokia)-`), fixed("")},
	{AndroidMail, regexp.MustCompile(`android-gmail|gmail`), fixed("Gmail")},
	{AndroidMail, regexp.MustCompile(`^nine/|bluemail|aquamail|\bk-?9 ?mail`), fixed("")},
	{AndroidMail, regexp.MustCompile(`\bandroid/([0-9]{1,2})\b`), func(m []string) string { return "Android " + m[1] }},
	{AndroidMail, regexp.MustCompile(`\bandroid`), fixed("")},
	{Thunderbird, regexp.MustCompile(`thunderbird/([0-9]+)`), func(m []string) string { return "version " + m[1] }},
	// Printers and scanners by maker.
	{Printer, regexp.MustCompile(`\b(canon|xerox|ricoh|kyocera|lexmark|epson|brother|sharp mx|toshiba e-studio|konica minolta|bizhub|hp laserjet|hp officejet|hp-print|hp color|laserjet|sindoh|develop ineo|utax|oki(?:data)?\b)`), func(m []string) string {
		return makerOf(m[1])
	}},
	// Scripts and applications.
	{Script, regexp.MustCompile(`powershell`), fixed("PowerShell")},
	{Script, regexp.MustCompile(`exchangeservicesclient|system\.net|\.net clr|microsoft\.net|mailkit|dotnet|\bews(?:java)?\b`), fixed(".NET")},
	{Script, regexp.MustCompile(`python|exchangelib|imaplib|urllib`), fixed("Python")},
	{Script, regexp.MustCompile(`\bjava/|javamail|jakarta|apache-httpclient|okhttp`), fixed("Java")},
	{Script, regexp.MustCompile(`phpmailer|\bphp/|swiftmailer|symfony mailer`), fixed("PHP")},
	{Script, regexp.MustCompile(`^curl/|libcurl|go-http-client|node-fetch|axios/|ruby|perl|libwww`), fixed("")},
}

// makerOf names a printer maker as people write it.
func makerOf(s string) string {
	s = strings.ToLower(s)
	for _, m := range []struct{ prefix, name string }{{"canon", "Canon"}, {"xerox", "Xerox"}, {"ricoh", "Ricoh"}, {"kyocera", "Kyocera"},
		{"lexmark", "Lexmark"}, {"epson", "Epson"}, {"brother", "Brother"}, {"sharp", "Sharp"}, {"toshiba", "Toshiba"},
		{"konica", "Konica Minolta"}, {"bizhub", "Konica Minolta"}, {"hp", "HP"}, {"laserjet", "HP"}, {"sindoh", "Sindoh"},
		{"develop", "Develop"}, {"utax", "Utax"}, {"oki", "OKI"}} {
		if strings.HasPrefix(s, m.prefix) {
			return m.name
		}
	}
	return ""
}

// seen remembers what each user agent read as: a notice reads each account's agents for its
// rows, its steps and its CSV, and a campaign's notices share a few thousand distinct agents.
// Bounded: past maxSeen agents, new ones are read each time.
var seen = struct {
	sync.RWMutex
	m map[string]Client
}{m: map[string]Client{}}

const maxSeen = 10000

// Classify reads one user agent.
func Classify(ua string) Client {
	seen.RLock()
	c, ok := seen.m[ua]
	seen.RUnlock()
	if ok {
		return c
	}
	c = classify(ua)
	seen.Lock()
	if len(seen.m) < maxSeen {
		seen.m[ua] = c
	}
	seen.Unlock()
	return c
}

func classify(ua string) Client {
	ua = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(ua, "+", " ")))
	if ua == "" || ua == "-" {
		return Client{Family: Unknown}
	}
	for _, r := range rules {
		if m := r.re.FindStringSubmatch(ua); m != nil {
			return Client{Family: r.family, Detail: r.detail(m)}
		}
	}
	return Client{Family: Unknown}
}

// OfAccount reads what an account's evidence says: each user agent's client (once each, in
// order), or, when no user agent is known, an Exchange ActiveSync device id Apple's devices
// write ("Appl…": the Mail app on an iPhone or iPad).
func OfAccount(userAgents, deviceIDs []string) []Client {
	var out []Client
	seen := map[Client]bool{}
	for _, ua := range userAgents {
		c := Classify(ua)
		if c.Family == Unknown || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	if len(out) == 0 {
		for _, id := range deviceIDs {
			if strings.HasPrefix(strings.ToLower(id), "appl") {
				return []Client{{Family: IOSMail}}
			}
		}
	}
	return out
}

// Describe is an account's clients as one phrase ("Mail app on an iPhone, iOS 15; Outlook for
// Windows"), "" when nothing is known.
func Describe(cs []Client) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}
