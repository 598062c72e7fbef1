package spreadsheet

import (
	"fmt"
	"io"
)

// TooLongError is a CSV row over the limit a reader of people's files allows.
type TooLongError struct {
	Line int // where the row starts
	Max  int // bytes
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("line %d: a row longer than %d KiB (the limit for this file)", e.Line, e.Max>>10)
}

// Limit reads r, failing with a *TooLongError as soon as one CSV row (a line, or several
// inside a quoted field) passes max bytes: before a reader buffers it, so a file of one
// enormous field costs max bytes, not its size. Quotes are tracked as RFC 4180 has them (a
// doubled quote inside a quoted field toggles twice).
func Limit(r io.Reader, max int) io.Reader { return &limited{r: r, max: max, line: 1, start: 1} }

type limited struct {
	r           io.Reader
	max         int
	row         int // bytes of the current row so far
	quoted      bool
	line, start int // the current line, and the line the current row started on
	err         error
}

func (l *limited) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		switch p[i] {
		case '"':
			l.quoted = !l.quoted
		case '\n':
			l.line++
			if !l.quoted {
				l.row, l.start = 0, l.line
				continue
			}
		}
		if l.row++; l.row > l.max {
			l.err = &TooLongError{Line: l.start, Max: l.max}
			return i, l.err
		}
	}
	return n, err
}
