// Package untrusted makes text from outside (log fields, directory names, answers' notes) safe
// wherever Sunset shows it: a terminal, a notice, a console page, a CSV. One rule for all of
// them: a character that could act instead of being read (a C0 or C1 control, DEL, a Unicode
// format character such as a bidi override or a zero-width space, a line or paragraph
// separator) is shown as its escape, \u202E, and bytes that are not UTF-8 as U+FFFD. The escape
// is visible, so two names that differ only by an invisible character still look different,
// and inside a JSON string it is the same value (a JSON escape).
package untrusted

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Unsafe reports whether r must not reach a reader as itself. Tab and line feed are not unsafe
// here (Line turns them into spaces where one line is wanted).
func Unsafe(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20 || (r >= 0x7f && r < 0xa0):
		return true
	case r < 0xa0:
		return false
	}
	return r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}

// clean reports whether s is valid UTF-8 without an unsafe character (the common case, one
// pass over ASCII).
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return cleanFrom(s[i:])
		}
		if (c < 0x20 && c != '\t' && c != '\n' && !crlf(s, i)) || c == 0x7f {
			return false
		}
	}
	return true
}

func cleanFrom(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError || (Unsafe(r) && !crlf(s, i)) {
			return false
		}
	}
	return true
}

// crlf reports whether s[i] is the CR of a CRLF line end, which is kept: harmless on a terminal
// and what CSV, email and .eml lines end with.
func crlf(s string, i int) bool { return s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' }

// escape appends the escape of r: \uXXXX, or a UTF-16 surrogate pair of them beyond the BMP
// (as JSON writes it).
func escape(b *strings.Builder, r rune) {
	if r > 0xffff {
		r -= 0x10000
		fmt.Fprintf(b, `\u%04X\u%04X`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		return
	}
	fmt.Fprintf(b, `\u%04X`, r)
}

// write appends r as it may be shown: escaped when unsafe (a byte that was not UTF-8 reads as
// U+FFFD already).
func write(b *strings.Builder, r rune) {
	if Unsafe(r) {
		escape(b, r)
		return
	}
	b.WriteRune(r)
}

// Escape is s with every unsafe character escaped (but the CR of a CRLF) and every byte that
// is not UTF-8 replaced; s itself when there is none (no allocation).
func Escape(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if r == '\r' && crlf(s, i) {
			b.WriteRune(r)
			continue
		}
		write(&b, r)
	}
	return b.String()
}

// Line is s made into one line of text: tabs, line breaks and other spacing controls become
// one space, runs of spaces one, the ends trimmed, and every other unsafe character escaped
// (Escape). For names, subjects, headers and table cells.
func Line(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == '\u0085' || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		write(&b, r)
	}
	return strings.TrimSpace(b.String())
}

// Writer is w with Escape applied to everything written: for a terminal (the CLI's output). A
// rune or a CRLF split across writes is held until its rest comes; Flush writes what is held.
type Writer struct {
	w       io.Writer
	pending []byte
}

// NewWriter wraps w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p and writes it, reporting len(p) on success.
func (tw *Writer) Write(p []byte) (int, error) {
	buf := append(tw.pending, p...)
	tw.pending = nil
	// Hold back an incomplete rune, or a CR that may be the start of a CRLF.
	cut := len(buf)
	if cut > 0 && buf[cut-1] == '\r' {
		cut--
	} else {
		for i := 1; i <= 3 && i <= cut; i++ {
			if c := buf[cut-i]; c >= 0xc0 { // a start byte
				if !utf8.FullRune(buf[cut-i:]) {
					cut -= i
				}
				break
			} else if c < 0x80 {
				break
			}
		}
	}
	tw.pending = append([]byte(nil), buf[cut:]...)
	if _, err := io.WriteString(tw.w, Escape(string(buf[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what Write held back (a lone CR or an incomplete rune), escaped.
func (tw *Writer) Flush() error {
	if len(tw.pending) == 0 {
		return nil
	}
	out := Escape(string(tw.pending))
	tw.pending = nil
	_, err := io.WriteString(tw.w, out)
	return err
}
