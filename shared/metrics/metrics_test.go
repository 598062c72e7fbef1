package metrics_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
)

var fixed = time.Date(2021, 8, 2, 7, 0, 0, 0, time.UTC)

func TestFlushWritesOneValidLinePerCampaign(t *testing.T) {
	var buf bytes.Buffer
	r := metrics.New(&buf, "sender", func() time.Time { return fixed })
	r.Add("legacy-2021", metrics.NoticesSent, 2)
	r.Add("legacy-2021", metrics.NoticesSent, 1)
	r.Add("byo-mx", metrics.NoticesFailed, 1)
	r.Set("", metrics.SendQuota, 7)
	r.Set("", metrics.SendQuota, 14)
	r.Add("", metrics.SendThrottles, 0)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(buf.String(), "\n"); got != 3 {
		t.Fatalf("%d lines, want 3 (function-level, byo-mx, legacy-2021):\n%s", got, buf.String())
	}
	v := metricstest.Parse(t, buf.Bytes())
	for _, c := range []struct {
		campaign string
		name     metrics.Name
		want     float64
	}{
		{"legacy-2021", metrics.NoticesSent, 3},
		{"byo-mx", metrics.NoticesFailed, 1},
		{"", metrics.SendQuota, 14},
		{"", metrics.SendThrottles, 0},
	} {
		if got := v.Get(c.campaign, c.name); got != c.want {
			t.Errorf("%q %s = %g, want %g", c.campaign, c.name, got, c.want)
		}
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(buf.String(), "\n", 2)[0]), &first); err != nil {
		t.Fatal(err)
	}
	if ts := first["_aws"].(map[string]any)["Timestamp"].(float64); int64(ts) != fixed.UnixMilli() {
		t.Errorf("timestamp %v, want the injected clock's %d", ts, fixed.UnixMilli())
	}
	buf.Reset()
	if err := r.Flush(); err != nil || buf.Len() != 0 {
		t.Errorf("second flush wrote %q (err %v): a flush must start again", buf.String(), err)
	}
}

// A campaign-level line is published under both dimension sets, so an alarm can watch the
// function as a whole and the dashboard one campaign.
func TestCampaignLinesCarryBothDimensionSets(t *testing.T) {
	var buf bytes.Buffer
	r := metrics.New(&buf, "planner", nil)
	r.Add("c1", metrics.NoticesClaimed, 4)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	var line struct {
		AWS struct {
			CloudWatchMetrics []struct{ Dimensions [][]string } `json:"CloudWatchMetrics"`
		} `json:"_aws"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	got := line.AWS.CloudWatchMetrics[0].Dimensions
	if len(got) != 2 || strings.Join(got[0], ",") != "function" || strings.Join(got[1], ",") != "function,campaign" {
		t.Errorf("dimension sets %v, want [[function] [function campaign]]", got)
	}
}

// Whatever a caller passes as a campaign, nothing but a campaign id becomes a dimension.
func TestNoPersonalDataBecomesADimension(t *testing.T) {
	var buf bytes.Buffer
	r := metrics.New(&buf, "feedback", nil)
	for _, bad := range []string{"la@example.nhs.net", "10.0.0.1", "fe80::1", "Has Space", strings.Repeat("a", 200)} {
		r.Add(bad, metrics.FeedbackBounce, 1)
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	v := metricstest.Parse(t, buf.Bytes())
	if got := v.Get("other", metrics.FeedbackBounce); got != 5 {
		t.Errorf("other = %g, want all 5 under it; values %v", got, v)
	}
	if strings.Contains(buf.String(), "@") || strings.Contains(buf.String(), "10.0.0.1") {
		t.Errorf("personal data on a metric line: %s", buf.String())
	}
}

func TestNilRecorderRecordsNothing(t *testing.T) {
	var r *metrics.Recorder
	r.Add("c", metrics.NoticesSent, 1)
	r.Set("c", metrics.SendQuota, 1)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentAdds(t *testing.T) {
	var buf bytes.Buffer
	r := metrics.New(&buf, "sender", nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				r.Add("c", metrics.NoticesSent, 1)
			}
		}()
	}
	wg.Wait()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := metricstest.Parse(t, buf.Bytes()).Get("c", metrics.NoticesSent); got != 800 {
		t.Errorf("NoticesSent = %g, want 800", got)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestFlushReportsAWriteError(t *testing.T) {
	r := metrics.New(failWriter{}, "sender", nil)
	r.Add("", metrics.NoticesSent, 1)
	if err := r.Flush(); err == nil || !strings.Contains(err.Error(), "stdout closed") {
		t.Errorf("err = %v, want the write error", err)
	}
}

// The checker itself refuses what the rules forbid (else the handlers' tests prove nothing).
func TestCheckRefusesBadLines(t *testing.T) {
	ok := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Sunset","Dimensions":[["function"]],"Metrics":[{"Name":"NoticesSent","Unit":"Count"}]}]},"function":"sender","NoticesSent":1}`
	if _, err := metricstest.Check([]byte(ok)); err != nil {
		t.Fatalf("a valid line refused: %v", err)
	}
	for name, line := range map[string]string{
		"not json":        `NoticesSent=1`,
		"no timestamp":    strings.Replace(ok, `"Timestamp":1,`, ``, 1),
		"other namespace": strings.Replace(ok, `"Sunset"`, `"Other"`, 1),
		"other dimension": strings.Replace(strings.Replace(ok, `["function"]`, `["address"]`, 1), `"function":"sender"`, `"address":"x"`, 1),
		"unknown metric":  strings.ReplaceAll(ok, "NoticesSent", "Whatever"),
		"wrong unit":      strings.Replace(ok, `"Count"`, `"Seconds"`, 1),
		"string value":    strings.Replace(ok, `"NoticesSent":1}`, `"NoticesSent":"1"}`, 1),
		"extra member":    strings.Replace(ok, `"NoticesSent":1}`, `"NoticesSent":1,"to":"la@x.nhs.net"}`, 1),
		"address as dim":  strings.Replace(ok, `"function":"sender"`, `"function":"la@x.nhs.net"`, 1),
	} {
		if _, err := metricstest.Check([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
}
