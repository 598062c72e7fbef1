package connlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const iisHeader = "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status\n"

func iisLine(sec int, user, host string) string {
	return fmt.Sprintf("2021-08-02 01:00:%02d 10.30.0.1 GET /owa/ - 443 %s 198.51.100.7 Mozilla/5.0 %s 200\n", sec%60, user, host)
}

func scanString(t *testing.T, opts Options, data string) (Summary, []Finding, error) {
	t.Helper()
	s, err := NewScanner(testRules(), opts)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.Scan(context.Background(), "test.log", strings.NewReader(data))
	return sum, s.Findings(), err
}

func TestLongLineSkipped(t *testing.T) {
	long := "2021-08-02 01:00:00 " + strings.Repeat("x", 2<<20) + " mail.nhs.net\n"
	data := iisHeader + iisLine(1, "a@nhs.net", "mail.nhs.net") + long + iisLine(2, "b@nhs.net", "mail.nhs.net")
	sum, fs, err := scanString(t, Options{}, data)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Malformed != 1 || sum.Lines != 5 || len(fs) != 2 || sum.MalformedLines[0].Line != 4 {
		t.Errorf("summary %+v, %d findings", sum, len(fs))
	}
	// A long line at the very end, without a newline.
	sum, _, err = scanString(t, Options{}, iisHeader+iisLine(1, "a@nhs.net", "mail.nhs.net")+strings.Repeat("y", 3<<20))
	if err != nil || sum.Malformed != 1 || sum.Events != 1 {
		t.Errorf("trailing long line: %+v %v", sum, err)
	}
}

// countingSource fails the test if the scanner holds more than a bounded amount of an endless line.
func TestLongLineNotBuffered(t *testing.T) {
	r := io.MultiReader(strings.NewReader(iisHeader), &repeatReader{b: 'z', n: 64 << 20}, strings.NewReader("\n"+iisLine(3, "c@nhs.net", "mail.nhs.net")))
	s, _ := NewScanner(testRules(), Options{})
	sum, err := s.Scan(context.Background(), "big", r)
	if err != nil || sum.Malformed != 1 || sum.Events != 1 {
		t.Errorf("%+v %v", sum, err)
	}
	if c := cap(newLineSource(nil, defaultMaxLine).buf); c > 2<<20 {
		t.Errorf("line buffer is %d bytes", c)
	}
}

type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

func TestInvalidUTF8MadeValid(t *testing.T) {
	data := iisHeader + "2021-08-02 01:00:00 10.30.0.1 GET /owa/ - 443 p\xffat@nhs.net 198.51.100.7 Moz\xfe\xfdilla mail.nhs.net 200\n"
	_, fs, err := scanString(t, Options{}, data)
	if err != nil || len(fs) != 1 {
		t.Fatalf("%v %d", err, len(fs))
	}
	if *fs[0].Account != "p\uFFFDat@nhs.net" || !strings.Contains(fs[0].UserAgents[0], "\uFFFD") {
		t.Errorf("got %q %q", *fs[0].Account, fs[0].UserAgents)
	}
}

func TestRandomBytesUnknownFormat(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		b := make([]byte, rng.Intn(4096))
		rng.Read(b)
		s, _ := NewScanner(testRules(), Options{})
		sum, err := s.Scan(context.Background(), "rand", bytes.NewReader(b))
		if err == nil && sum.Format != FormatUnknown {
			continue // a random prefix can look like something; it must just not panic
		}
		if err != nil && !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("unexpected error %v", err)
		}
	}
	_, _, err := scanString(t, Options{}, "\x00\x01\x02 hello\nworld\n")
	if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "test.log") {
		t.Errorf("err = %v", err)
	}
}

// A file with no data line is a clean outcome, not an unknown format: 0 bytes, blank lines,
// byte order marks, or '#' lines that name no format (issue #12). One whose headers name a
// format is that format, with no events.
func TestEmptyAndHeaderOnlyFiles(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		format     Format
		lines      int64
	}{
		{"0 bytes", "", FormatEmpty, 0},
		{"blank lines", "\n\r\n  \n", FormatEmpty, 3},
		{"a byte order mark", "\xEF\xBB\xBF", FormatEmpty, 1},
		{"comments", "#exported by a tool\n# nothing else\n", FormatEmpty, 2},
		{"IIS headers on rotation", "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2021-08-02 00:00:00\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n", FormatIIS, 4},
		{"IIS headers, BOM and CRLF", "\xEF\xBB\xBF#Software: Microsoft Internet Information Services 10.0\r\n#Fields: date time s-ip\r\n", FormatIIS, 2},
		{"HttpProxy headers", "#Software: Microsoft Exchange Server\n#Log-type: HttpProxy Logs\n#Fields: DateTime,UrlHost\n", FormatHTTPProxy, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, gz := range []bool{false, true} {
				data := []byte(tc.data)
				if gz {
					data = gzipBytes(t, data)
				}
				s, _ := NewScanner(testRules(), Options{})
				sum, err := s.Scan(context.Background(), "f", bytes.NewReader(data))
				if err != nil || sum.Format != tc.format || sum.Lines != tc.lines || sum.Events != 0 || sum.Malformed != 0 {
					t.Errorf("gzip %v: %+v, %v; want format %s, %d lines, no events, no error", gz, sum, err, tc.format, tc.lines)
				}
			}
		})
	}
}

func TestTruncatedGzip(t *testing.T) {
	var b strings.Builder
	b.WriteString(iisHeader)
	for i := 0; i < 20000; i++ {
		b.WriteString(iisLine(i, fmt.Sprintf("u%d@nhs.net", i%50), "mail.nhs.net"))
	}
	full := gzipBytes(t, []byte(b.String()))
	cut := full[:len(full)/2]
	s, _ := NewScanner(testRules(), Options{})
	sum, err := s.Scan(context.Background(), "u_ex.log.gz", bytes.NewReader(cut))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "u_ex.log.gz") || !strings.Contains(err.Error(), "byte offset") {
		t.Fatalf("err = %v", err)
	}
	if sum.Events == 0 || len(s.Findings()) == 0 {
		t.Errorf("nothing kept from before the cut: %+v", sum)
	}
	// Corrupt header.
	_, err = s.Scan(context.Background(), "bad.gz", bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}))
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("bad header: %v", err)
	}
}

func TestMultiMemberGzip(t *testing.T) {
	a := gzipBytes(t, []byte(iisHeader+iisLine(1, "a@nhs.net", "mail.nhs.net")))
	b := gzipBytes(t, []byte(iisLine(2, "b@nhs.net", "mail.nhs.net")))
	s, _ := NewScanner(testRules(), Options{})
	sum, err := s.Scan(context.Background(), "x.gz", bytes.NewReader(append(a, b...)))
	if err != nil || sum.Events != 2 {
		t.Errorf("%+v %v", sum, err)
	}
}

func TestFieldsRedeclared(t *testing.T) {
	data := iisHeader + iisLine(1, "a@nhs.net", "mail.nhs.net") +
		"#Fields: date time cs-host cs-username c-ip sc-status\n" +
		"2021-08-02 02:00:00 IMAP.nhs.net b@nhs.net 192.0.2.1 401\n"
	sum, fs, err := scanString(t, Options{}, data)
	if err != nil || sum.Malformed != 0 || len(fs) != 2 || fs[1].Hostname != "imap.nhs.net" || fs[1].Failures != 1 {
		t.Errorf("%+v %v %+v", sum, err, fs)
	}
}

func TestDataBeforeFields(t *testing.T) {
	data := "#Software: Microsoft Internet Information Services 10.0\n2021-08-02 01:00:00 x y\n"
	sum, _, err := scanString(t, Options{Format: FormatIIS}, data)
	if err != nil || sum.Malformed != 1 {
		t.Errorf("%+v %v", sum, err)
	}
}

// The needle prefilter is an optimisation only: with it and without it every count and finding
// must be identical, whatever the mix of lines and the buffer boundaries.
func TestPrefilterChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	hosts := []string{"mail.nhs.net", "MAIL.NHS.NET", "outlook.office365.com", "-", "10.20.0.14", "192.0.2.9", "eas.nhs.net.", "x.nhs.net"}
	var b strings.Builder
	b.WriteString("#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n")
	for i := 0; i < 30000; i++ {
		switch rng.Intn(12) {
		case 0:
			b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status\n")
		case 1:
			b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n")
		case 2:
			b.WriteString("garbage line\n")
		}
		sip := []string{"10.20.0.14", "10.30.0.1", "10.20.0.11"}[rng.Intn(3)]
		q := []string{"-", "Cmd=Sync&DeviceId=D1&Log=V1_HH:eas.nhs.net_", "Log=V1_HH:outlook.office365.com_", "Log=V1_hh:10.20.0.14_"}[rng.Intn(4)]
		line := fmt.Sprintf("2021-08-02 01:%02d:%02d %s GET /%s/ %s 443 u%d@nhs.net 198.51.100.%d UA/%d", rng.Intn(60), rng.Intn(60), sip,
			[]string{"owa", "ews", "Microsoft-Server-ActiveSync"}[rng.Intn(3)], q, rng.Intn(20), rng.Intn(5), rng.Intn(3))
		// Half the lines get a host column value; they are only well-formed under the cs-host declaration.
		if rng.Intn(2) == 0 {
			line += " " + hosts[rng.Intn(len(hosts))]
		}
		b.WriteString(line + " " + []string{"200", "401"}[rng.Intn(2)] + "\n")
	}
	data := b.String()
	for _, maxLine := range []int{300, 4096, defaultMaxLine} {
		run := func(noPrefilter bool) (Summary, []Finding) {
			s, _ := NewScanner(testRules(), Options{MaxLineBytes: maxLine})
			s.noPrefilter = noPrefilter
			sum, err := s.Scan(context.Background(), "mix", &oneByteChunks{r: strings.NewReader(data), n: 997})
			if err != nil {
				t.Fatal(err)
			}
			return sum, s.Findings()
		}
		s1, f1 := run(false)
		s2, f2 := run(true)
		s1.MalformedLines, s2.MalformedLines = nil, nil
		if d := cmp.Diff(s2, s1); d != "" {
			t.Errorf("maxLine %d: summary differs (-full +prefilter):\n%s", maxLine, d)
		}
		if d := cmp.Diff(f2, f1, cmpopts.IgnoreUnexported(Finding{})); d != "" {
			t.Errorf("maxLine %d: findings differ:\n%s", maxLine, d)
		}
		if s1.Events == 0 || s1.Unresolved == 0 || s1.Malformed == 0 {
			t.Errorf("fixture does not exercise every path: %+v", s1)
		}
	}
}

// oneByteChunks returns at most n bytes per Read, to move buffer boundaries around.
type oneByteChunks struct {
	r io.Reader
	n int
}

func (o *oneByteChunks) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), o.n)]) }

func TestByDay(t *testing.T) {
	data := iisHeader +
		"2021-08-02 23:59:59 10.30.0.1 GET /owa/ - 443 a@nhs.net 198.51.100.7 M mail.nhs.net 200\n" +
		"2021-08-03 00:00:01 10.30.0.1 GET /owa/ - 443 a@nhs.net 198.51.100.7 M mail.nhs.net 401\n"
	_, all, _ := scanString(t, Options{}, data)
	_, days, _ := scanString(t, Options{ByDay: true}, data)
	if len(all) != 1 || len(days) != 2 || days[0].Day != "2021-08-02" || days[1].Day != "2021-08-03" || days[1].Failures != 1 {
		t.Errorf("all %+v\ndays %+v", all, days)
	}
}

func TestSMTPBoundedSessions(t *testing.T) {
	hdr := "#Log-type: SMTP Receive Protocol Log\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\n"
	var b strings.Builder
	b.WriteString(hdr)
	// 50 interleaved sessions, each fails once (user name on a later line) then succeeds.
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "2021-08-04T10:00:00.000Z,C,S%02d,1,10.20.0.13:587,203.0.113.%d:1,<,AUTH LOGIN,\n", i, i)
	}
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "2021-08-04T10:00:01.000Z,C,S%02d,2,10.20.0.13:587,203.0.113.%d:1,*,,Inbound AUTH LOGIN failed because of LogonDenied\n", i, i)
		fmt.Fprintf(&b, "2021-08-04T10:00:01.000Z,C,S%02d,2,10.20.0.13:587,203.0.113.%d:1,*,,User Name: user%02d@nhs.net\n", i, i, i)
	}
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "2021-08-04T10:00:02.000Z,C,S%02d,3,10.20.0.13:587,203.0.113.%d:1,<,AUTH LOGIN,\n", i, i)
		fmt.Fprintf(&b, "2021-08-04T10:00:03.000Z,C,S%02d,4,10.20.0.13:587,203.0.113.%d:1,*,NHS\\user%02d,authenticated\n", i, i, i)
	}
	for _, max := range []int{1000, 3} {
		s, _ := NewScanner(testRules(), Options{MaxSessions: max})
		sum, err := s.Scan(context.Background(), "recv", strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		var fails, oks int64
		for _, f := range s.Findings() {
			fails += f.Failures
			oks += f.Successes
		}
		if fails != 50 || oks != 50 || sum.Events != 100 {
			t.Errorf("max %d: %d failures, %d successes, %+v", max, fails, oks, sum)
		}
		if max == 1000 && sum.Unattributed != 0 {
			t.Errorf("failures not attributed: %+v", sum)
		}
		if n := len(s.Findings()); max == 1000 && n != 100 {
			t.Errorf("%d findings", n)
		}
	}
}

func TestPOPUserAcrossInterleavedSessions(t *testing.T) {
	data := "#Log-type: POP3 Protocol Log\n#Fields: dateTime,sessionId,seqNumber,sIp,cIp,user,duration,rqsize,rpsize,command,parameters,context\n" +
		"2021-08-03T09:00:01.000Z,A,1,10.20.0.12:995,203.0.113.1:1,,0,0,0,user,alice@nhs.net,R=+OK\n" +
		"2021-08-03T09:00:01.000Z,B,1,10.20.0.12:995,203.0.113.2:1,,0,0,0,user,bob@nhs.net,R=+OK\n" +
		"2021-08-03T09:00:02.000Z,B,2,10.20.0.12:995,203.0.113.2:1,,0,0,0,pass,*****,\"R=\"\"-ERR Logon failure\"\"\"\n" +
		"2021-08-03T09:00:02.000Z,A,2,10.20.0.12:995,203.0.113.1:1,,0,0,0,pass,*****,\"R=\"\"+OK User successfully logged on.\"\"\"\n"
	_, fs, err := scanString(t, Options{}, data)
	if err != nil || len(fs) != 2 || *fs[0].Account != "alice@nhs.net" || fs[0].Successes != 1 || *fs[1].Account != "bob@nhs.net" || fs[1].Failures != 1 {
		t.Errorf("%v %+v", err, fs)
	}
}

func TestNoRawLineInErrors(t *testing.T) {
	secret := "password=hunter2"
	data := iisHeader + "2021-08-02 01:00:00 " + secret + " mail.nhs.net\n"
	sum, _, _ := scanString(t, Options{}, data)
	for _, m := range sum.MalformedLines {
		if strings.Contains(m.Reason, "hunter2") {
			t.Errorf("reason leaks the line: %q", m.Reason)
		}
	}
	if sum.Malformed != 1 {
		t.Errorf("%+v", sum)
	}
}

// An IIS Advanced Logging file (quoted values with spaces, local times) is said to be one, in
// auto detection and under --format iis, instead of a malformed count on every line.
func TestIISAdvancedLoggingIsNamed(t *testing.T) {
	const advanced = "#Software: IIS Advanced Logging Module\r\n#Version: 1.0\r\n#Start-Date: 2021-08-02 00:00:00.123\r\n" +
		"#Fields: date-local time-local s-computername cs-uri-stem cs-uri-query cs-username c-ip cs(User-Agent) cs(Host) sc-status\r\n" +
		"2021-08-02 01:00:00.123 \"CAS01\" \"/owa/\" \"-\" \"jo@nhs.net\" \"198.51.100.7\" \"Mozilla/5.0 (Windows NT 10.0)\" \"mail.nhs.net\" 200\r\n"
	for _, f := range []Format{FormatAuto, FormatIIS} {
		_, _, err := scanString(t, Options{Format: f}, advanced)
		if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "IIS Advanced Logging") || !strings.Contains(err.Error(), "u_ex") {
			t.Errorf("format %s: %v", f, err)
		}
	}
	headerless := strings.Replace(advanced, "#Software: IIS Advanced Logging Module\r\n", "", 1)
	if _, _, err := scanString(t, Options{}, headerless); err == nil || !strings.Contains(err.Error(), "IIS Advanced Logging") {
		t.Errorf("by its date-local and time-local fields: %v", err)
	}
}
