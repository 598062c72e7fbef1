// Package spreadsheet is the CSV Sunset exchanges with people. It writes the files it hands
// them (the notice's attachment, `sunset report --csv`), whose values come partly from outside
// (account names from logs, organisation names from the directory, SES's error texts) and which
// are opened in spreadsheets: every cell of every such file goes through Cell, so none can be
// run as a formula, one rule in one place. And it bounds the files people hand it (the
// directory, a roster): Limit refuses a row over a size before anything buffers it.
package spreadsheet

import (
	"encoding/csv"
	"io"
	"strings"
)

// Cell neutralises a value a spreadsheet would run as a formula, by the OWASP rule for CSV
// injection: a value that starts with =, +, -, @, a tab or a carriage return, or with one of
// =, +, -, @ after leading spaces, tabs or line breaks, gets a leading apostrophe. Anything
// else is left as it is.
func Cell(s string) string {
	if s == "" {
		return s
	}
	if s[0] == '\t' || s[0] == '\r' {
		return "'" + s
	}
	t := strings.TrimLeft(s, " \t\r\n")
	if t != "" && strings.ContainsRune("=+-@", rune(t[0])) {
		return "'" + s
	}
	return s
}

// Writer is a CSV writer whose every cell is a Cell.
type Writer struct {
	w *csv.Writer
}

// NewWriter writes CSV to w; crlf chooses CRLF line endings (RFC 4180, what spreadsheets
// expect of an attachment).
func NewWriter(w io.Writer, crlf bool) *Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = crlf
	return &Writer{w: cw}
}

// Write writes one row, every value neutralised.
func (w *Writer) Write(row []string) error {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = Cell(v)
	}
	return w.w.Write(out)
}

// Flush writes what is buffered and returns the first error of any write.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}
