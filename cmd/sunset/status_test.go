package main

import (
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// statusPage opens the status link of an email's text and returns the page.
func (j *journey) statusPage(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`Where things stand now, account by account \(updated as new logs arrive\):\n(\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the email has no status link:\n%s", text)
	}
	u, _ := url.Parse(m[1])
	rec := httptest.NewRecorder()
	j.srv.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8080"+u.Path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d\n%s", u.Path, rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// section is the part of a status page under the heading that starts with head.
func section(page, head string) string {
	i := strings.Index(page, "<h2>"+head)
	if i < 0 {
		return ""
	}
	rest := page[i+4:]
	if j := strings.Index(rest, "<h2>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// The status page linked from a notice: an account the logs show is "still seen" with when,
// how and from what; once a newer day of logs of its kind comes without it, the same link
// shows it quiet; the page says how recent the logs are.
func TestStatusPageShowsAnAccountGoQuiet(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	j.cli.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	j.demo(t, "")
	j.must("run", "--campaign", j.id, "--at", "2021-07-27")
	rx1 := j.email(t, "RX1", "advance")

	j.cli.now = time.Date(2021, 7, 28, 9, 0, 0, 0, time.UTC)
	before := j.statusPage(t, rx1)
	if still := section(before, "Still seen"); !strings.Contains(still, "dr.amelia.jones") || !strings.Contains(still, "Mail app on an iPhone, iOS 15") {
		t.Fatalf("before: the ActiveSync account is not still seen with its device:\n%s", before)
	}
	for _, want := range []string{"Why you are getting this", "logs up to 20 July 2021", "The deadline is <strong>", "We need more time"} {
		if !strings.Contains(before, want) {
			t.Errorf("the status page lacks %q:\n%s", want, before)
		}
	}

	// A day later the ActiveSync logs carry someone else: Dr Jones's phone has been changed.
	newer := filepath.Join(t.TempDir(), "iis-2021-07-22.log")
	os.WriteFile(newer, []byte("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"+
		"2021-07-22 08:00:00 10.20.0.14 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&User=district.nursing&DeviceId=ApplX1&DeviceType=iPhone&Log=V160_HH:eas.nhs.net_ 443 NHS\\district.nursing 203.0.113.8 Apple-iPhone13C2/1905.245 - 200 0 0 12\n"), 0o644)
	j.must("ingest", "--campaign", j.id, newer)
	after := j.statusPage(t, rx1)
	if strings.Contains(section(after, "Still seen"), "dr.amelia.jones") || !strings.Contains(section(after, "Quiet"), "dr.amelia.jones") {
		t.Errorf("after a newer day of ActiveSync logs without it, the account is not quiet:\n%s", after)
	}
	if !strings.Contains(after, "logs up to 22 July 2021") {
		t.Errorf("the page does not say the logs are newer:\n%s", after)
	}
}
