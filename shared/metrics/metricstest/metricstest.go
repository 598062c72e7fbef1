// Package metricstest reads back what a metrics.Recorder wrote, checking every line against
// the Embedded Metric Format specification and Sunset's own rules (namespace Sunset, only the
// function and campaign dimensions, only known metric names, no value that could be personal
// data), so a handler's test can assert both what it counted and that the line is valid.
package metricstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/metrics"
)

// Values are metric values by campaign ("" for the function-level line), then by name. Lines
// for the same campaign add up (gauges: the last wins).
type Values map[string]map[metrics.Name]float64

// Get is the value of n for campaign (0 when not emitted).
func (v Values) Get(campaign string, n metrics.Name) float64 { return v[campaign][n] }

// Parse checks every line of out and returns the values; any line that breaks a rule fails t.
func Parse(t testing.TB, out []byte) Values {
	t.Helper()
	v, err := Check(out)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Check is Parse without a testing.TB: the error names the line and the rule it breaks.
func Check(out []byte) (Values, error) {
	v := Values{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := line(sc.Bytes(), v); err != nil {
			return nil, fmt.Errorf("metrics line %d: %w: %s", n, err, sc.Text())
		}
	}
	return v, sc.Err()
}

type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	} `json:"Metrics"`
}

// line applies the specification: the root holds _aws {Timestamp (ms), CloudWatchMetrics
// [directives]}, every dimension named in a directive is a string member of the root, every
// metric a number member; and Sunset's rules on top.
func line(b []byte, v Values) error {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(b, &root); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	var meta struct {
		Timestamp         *int64      `json:"Timestamp"`
		CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
	}
	if err := json.Unmarshal(root["_aws"], &meta); err != nil || meta.Timestamp == nil || *meta.Timestamp <= 0 {
		return fmt.Errorf("no _aws.Timestamp in milliseconds")
	}
	if len(meta.CloudWatchMetrics) != 1 {
		return fmt.Errorf("want one metric directive, got %d", len(meta.CloudWatchMetrics))
	}
	d := meta.CloudWatchMetrics[0]
	if d.Namespace != metrics.Namespace {
		return fmt.Errorf("namespace %q, not %q", d.Namespace, metrics.Namespace)
	}
	if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
		return fmt.Errorf("%d metrics in a directive (1 to 100 allowed)", len(d.Metrics))
	}
	dims := map[string]string{}
	for _, set := range d.Dimensions {
		if len(set) == 0 || len(set) > 30 {
			return fmt.Errorf("dimension set of %d names", len(set))
		}
		for _, name := range set {
			if name != metrics.DimFunction && name != metrics.DimCampaign {
				return fmt.Errorf("dimension %q: only function and campaign are allowed", name)
			}
			var s string
			if err := json.Unmarshal(root[name], &s); err != nil || s == "" || len(s) > 1024 {
				return fmt.Errorf("dimension %q has no string value", name)
			}
			if strings.ContainsAny(s, "@:/ ") {
				return fmt.Errorf("dimension %s=%q looks like personal data", name, s)
			}
			dims[name] = s
		}
	}
	if dims[metrics.DimFunction] == "" {
		return fmt.Errorf("no function dimension")
	}
	campaign := dims[metrics.DimCampaign]
	if v[campaign] == nil {
		v[campaign] = map[metrics.Name]float64{}
	}
	members := map[string]bool{"_aws": true, metrics.DimFunction: true, metrics.DimCampaign: campaign != ""}
	for _, m := range d.Metrics {
		n := metrics.Name(m.Name)
		if !slices.Contains(metrics.Names, n) {
			return fmt.Errorf("metric %q is not in metrics.Names", m.Name)
		}
		if m.Unit != metrics.Unit(n) {
			return fmt.Errorf("metric %s unit %q, want %q", n, m.Unit, metrics.Unit(n))
		}
		var f float64
		if err := json.Unmarshal(root[m.Name], &f); err != nil {
			return fmt.Errorf("metric %s has no number value", n)
		}
		if m.Unit == "Count" {
			v[campaign][n] += f
		} else {
			v[campaign][n] = f
		}
		members[m.Name] = true
	}
	for k := range root {
		if !members[k] {
			return fmt.Errorf("member %q is neither a dimension nor a metric (no other data may ride on a metric line)", k)
		}
	}
	return nil
}
