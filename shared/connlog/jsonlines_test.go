package connlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// encoderLines is the reference: json.Encoder over Findings.
func encoderLines(t *testing.T, fs []Finding) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, f := range fs {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func writeLines(t *testing.T, s *Scanner) string {
	t.Helper()
	var b bytes.Buffer
	w := bufio.NewWriterSize(&b, 100) // small: exercise partial writes
	if err := s.WriteJSONLines(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// WriteJSONLines writes what json.Encoder writes of Findings, also for a table filled by the
// parallel workers (agg's tests cover every value and precision).
func TestWriteJSONLinesMatchesEncoder(t *testing.T) {
	t.Run("parallel fixture", func(t *testing.T) {
		s, err := NewScanner(testRules(), Options{MaxLineBytes: 300})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Scan(context.Background(), "fixture", strings.NewReader(parallelFixture(3, 5000, 300))); err != nil {
			t.Fatal(err)
		}
		if len(s.Findings()) == 0 {
			t.Fatal("no findings")
		}
		if diff := cmp.Diff(encoderLines(t, s.Findings()), writeLines(t, s)); diff != "" {
			t.Errorf("WriteJSONLines differs from json.Encoder (-want +got):\n%s", diff)
		}
	})
}
