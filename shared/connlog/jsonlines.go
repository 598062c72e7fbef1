package connlog

import (
	"bufio"
	"encoding/json"
	"io"
)

// WriteJSONLines writes every finding, in the order of Findings, as one JSON object per line:
// what a json.Encoder writes for each, one finding held at a time.
func (s *Scanner) WriteJSONLines(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	// f.Wire(), not f: the encoder would check again the bytes MarshalJSON made.
	if err := s.table.Each(func(f Finding) error { return enc.Encode(f.Wire()) }); err != nil {
		return err
	}
	return bw.Flush()
}
