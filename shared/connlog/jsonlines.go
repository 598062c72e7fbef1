package connlog

import "io"

// WriteJSONLines writes every finding, in the order of Findings, as one JSON object per line:
// the bytes a json.Encoder writes for each Finding, without building the findings first.
func (s *Scanner) WriteJSONLines(w io.Writer) error { return s.table.WriteJSONLines(w) }
