package connlog

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// secretLines are log lines of several formats with SECRET planted where people and tools put
// credentials: a password or token parameter, an Authorization value, a bearer token, in the
// user agent, the account and the device id.
var secretLines = []struct{ name, text string }{
	{"iis", "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n" +
		"2021-08-02 00:00:01 10.20.0.14 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Ping&DeviceId=token%3DSECRET&Log=V160_HH:eas.nhs.net_ 443 pat.lee 203.0.113.5 Outlook+pass=SECRET - 200 0 0 15\n" +
		"2021-08-02 00:00:02 10.20.0.14 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Ping&DeviceId=dev1&Log=V160_HH:eas.nhs.net_ 443 jo?password=SECRET 203.0.113.6 curl/7+Authorization:+Bearer+SECRET - 200 0 0 15\n"},
	{"jsonl", `{"ts":"2021-08-07T10:00:00Z","upn":"bob@nhs.net;pwd=SECRET","host":"imap.nhs.net","ip":"203.0.113.70","proto":"imap4","result":"success","ua":"app Authorization: Basic SECRET","dev":"access_token=SECRET"}` + "\n" +
		`{"ts":"2021-08-07T10:00:01Z","upn":"amy@nhs.net","host":"imap.nhs.net","ip":"203.0.113.71","proto":"imap4","result":"success","ua":"x {\"secret\":\"SECRET\"}","dev":"d api_key=SECRET"}` + "\n"},
	{"alb", `https 2021-08-05T12:00:00.123456Z app/legacy-alb/50dc6c495c0c9188 203.0.113.50:2817 10.0.0.1:443 0.000 0.001 0.000 200 200 34 366 "GET https://mail.nhs.net:443/owa/?access_token=SECRET HTTP/1.1" "Mozilla/5.0 Bearer SECRET" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/owa/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "mail.nhs.net" "arn:aws:acm:eu-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 2021-08-05T12:00:00.120000Z "forward" "-" "-" "10.0.0.1:443" "200" "-" "-"` + "\n"},
}

func secretRules() Rules {
	r := testRules()
	r.Mapping = map[string]string{"account": "upn", "hostname": "host", "time": "ts", "client_ip": "ip", "protocol": "proto",
		"status": "result", "user_agent": "ua", "device_id": "dev"}
	return r
}

// scanOut is everything a scan lets out: the findings as JSON lines and the summary.
func scanOut(t testing.TB, text string) (string, int64) {
	t.Helper()
	s, err := NewScanner(secretRules(), Options{ByDay: true})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := s.Scan(context.Background(), "planted.log", strings.NewReader(text))
	var b bytes.Buffer
	if err := s.WriteJSONLines(&b); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(sum)
	return b.String() + string(js), sum.Events
}

// No planted credential reaches a finding or a summary, in any format, and the lines are still
// counted (redaction is not a reason to drop a sign-in).
func TestPlantedSecretsAreRedacted(t *testing.T) {
	for _, l := range secretLines {
		t.Run(l.name, func(t *testing.T) {
			const secret = "Zq7secretValue42"
			out, events := scanOut(t, strings.ReplaceAll(l.text, "SECRET", secret))
			if strings.Contains(out, secret) {
				t.Errorf("the secret reached the output:\n%s", out)
			}
			if events == 0 {
				t.Errorf("no legacy event counted: the lines must still count\n%s", out)
			}
		})
	}
}

// Whatever the secret looks like, it never comes out.
func FuzzPlantedSecrets(f *testing.F) {
	for _, s := range []string{"hunter2hunter2", "eyJhbGciOiJIUzI1NiJ9.e30.sig", "p4ssw0rd!!!", "dXNlcjpwYXNz"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, secret string, which int) {
		// A secret is a run of characters a value can hold: no delimiter, no log syntax.
		var b strings.Builder
		for _, c := range secret {
			if c > ' ' && c < 0x7f && !strings.ContainsRune("&;,\"'\\%+*", c) {
				b.WriteRune(c)
			}
		}
		s := b.String()
		if len(s) < 8 {
			return
		}
		s = "Zq" + s // not to be found in the fixture by chance
		l := secretLines[(which%len(secretLines)+len(secretLines))%len(secretLines)]
		out, _ := scanOut(t, strings.ReplaceAll(l.text, "SECRET", s))
		if strings.Contains(out, s) {
			t.Errorf("%s: the secret %q reached the output:\n%s", l.name, s, out)
		}
	})
}

// suspicious is only a shortcut: whatever it passes, redaction would have left as it is.
func FuzzSuspicious(f *testing.F) {
	for _, s := range []string{"user07887@nhs.net", "DEV005466", "token%3DSECRET", "jo?password=SECRET", "Outlook+pass=SECRET",
		"curl/7+Authorization:+Bearer+SECRET", "NTLM abc", "x*****y", "**", "PaSsWoRd=1", "a api_key=b", "negotiate q", "Digest d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !suspicious(s) && redactAll(s) != s {
			t.Errorf("suspicious(%q) is false, but redaction makes %q", s, redactAll(s))
		}
		if !marked(s) && redactAll(s) != s {
			t.Errorf("marked(%q) is false, but redaction makes %q", s, redactAll(s))
		}
		if got, want := suspicious(s), suspiciousReference(s); got != want {
			t.Errorf("suspicious(%q) = %v, its definition says %v", s, got, want)
		}
	})
}

// suspiciousReference is suspicious's definition: s holds one of suspiciousWords, ASCII case
// ignored.
func suspiciousReference(s string) bool {
	b := []byte(s)
	for i, c := range b {
		b[i] = foldASCII(c)
	}
	for _, w := range suspiciousWords {
		if strings.Contains(string(b), w) {
			return true
		}
	}
	return false
}
