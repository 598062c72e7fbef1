package connlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Under a bound on its findings the scanner hands partial findings to Flush: merged by key they
// give exactly the counts and times of one unbounded scan, the table never holds more than the
// bound allows, and the parts fall at the same events on every read of the file (gzipped or
// not, and whatever seed each table hashes with).
func TestMemoryBudgetParts(t *testing.T) {
	var b strings.Builder
	b.WriteString(iisHeader)
	for i := 0; i < 40000; i++ {
		b.WriteString(iisLine(i, fmt.Sprintf("u%d@nhs.net", i*7919%25000), "mail.nhs.net"))
	}
	data := []byte(b.String())
	whole, err := NewScanner(testRules(), Options{ByDay: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := whole.Scan(context.Background(), "f", strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	const budget = 4000
	scan := func(in []byte) (parts [][]Finding, sum Summary) {
		t.Helper()
		var s *Scanner
		s, err := NewScanner(testRules(), Options{ByDay: true, MaxFindings: budget, Flush: func(fs []Finding) error {
			if got := s.Len(); got < budget || got > budget+budgetCheck {
				t.Errorf("flushed a table of %d findings, budget %d", got, budget)
			}
			parts = append(parts, fs)
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		sum, err = s.Scan(context.Background(), "f", strings.NewReader(string(in)))
		if err != nil {
			t.Fatal(err)
		}
		return append(parts, s.Findings()), sum
	}
	parts, sum := scan(data)
	if len(parts) < 4 || sum.Flushes != len(parts)-1 {
		t.Fatalf("%d parts, %d flushes: the budget does not bite", len(parts), sum.Flushes)
	}
	type total struct {
		s, f        int64
		first, last string
	}
	merged := map[Key]total{}
	for _, p := range parts {
		for _, f := range p {
			m := merged[f.Key()]
			m.s, m.f = m.s+f.Successes, m.f+f.Failures
			if first := f.FirstSeen.String(); m.first == "" || first < m.first {
				m.first = first
			}
			if last := f.LastSeen.String(); last > m.last {
				m.last = last
			}
			merged[f.Key()] = m
		}
	}
	want := map[Key]total{}
	for _, f := range whole.Findings() {
		want[f.Key()] = total{f.Successes, f.Failures, f.FirstSeen.String(), f.LastSeen.String()}
	}
	if d := cmp.Diff(want, merged, cmp.AllowUnexported(total{})); d != "" {
		t.Errorf("merged parts differ from one scan (-one +parts):\n%s", d)
	}
	again, _ := scan(gzipBytes(t, data))
	if d := cmp.Diff(parts, again, cmpopts.IgnoreUnexported(Finding{})); d != "" {
		t.Errorf("a second read cuts other parts:\n%s", d)
	}

	boom := errors.New("table full")
	s, _ := NewScanner(testRules(), Options{MaxFindings: budget, Flush: func([]Finding) error { return boom }})
	if _, err := s.Scan(context.Background(), "f", strings.NewReader(b.String())); !errors.Is(err, boom) {
		t.Errorf("Flush's error: Scan = %v", err)
	}
	if _, err := NewScanner(testRules(), Options{MaxFindings: budget}); err == nil {
		t.Error("a budget without a Flush is accepted")
	}
}
