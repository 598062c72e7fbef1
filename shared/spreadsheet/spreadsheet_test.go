package spreadsheet

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// The OWASP list of formula prefixes, each as it is and after leading whitespace.
func TestCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"Riverside Trust", "Riverside Trust"},
		{"a=b", "a=b"}, // only a leading character starts a formula
		{"'quoted", "'quoted"},
		{"la@x.nhs.net", "la@x.nhs.net"},
		{"=1+1", "'=1+1"},
		{"+SUM(A1)", "'+SUM(A1)"},
		{"-2", "'-2"},
		{"@cmd", "'@cmd"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1+1", "'\r=1+1"},
		{"\tplain", "'\tplain"},
		{"\rplain", "'\rplain"},
		{"   =HYPERLINK(\"x\")", "'   =HYPERLINK(\"x\")"},
		{" +1", "' +1"},
		{"  -1", "'  -1"},
		{" @SUM(1)", "' @SUM(1)"},
		{"\n=1", "'\n=1"},
		{"  plain", "  plain"},
	} {
		if got := Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriterNeutralisesEveryCell(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b, true)
	if err := w.Write([]string{"ok", "=cmd|' /C calc'!A0", "\t@x"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "ok,'=cmd|' /C calc'!A0,'\t@x\r\n"; got != want {
		t.Errorf("row %q, want %q", got, want)
	}
	if strings.Count(b.String(), "\r\n") != 1 {
		t.Errorf("want CRLF: %q", b.String())
	}
}

func TestLimit(t *testing.T) {
	ok := "a,b\n\"x\ny\",z\n" + strings.Repeat("c", 100) + "\n"
	if b, err := io.ReadAll(Limit(strings.NewReader(ok), 100)); err != nil || string(b) != ok {
		t.Fatalf("rows within the limit: %q, %v", b, err)
	}
	for name, tc := range map[string]struct {
		in   string
		line int
	}{
		"one long line":             {"a,b\n" + strings.Repeat("c", 101) + "\n", 2},
		"a quoted field over lines": {"a\n\"" + strings.Repeat("x\n", 60) + "\"\n", 2},
		"no newline at all":         {strings.Repeat("z", 1000), 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := io.ReadAll(Limit(strings.NewReader(tc.in), 100))
			var tl *TooLongError
			if !errors.As(err, &tl) || tl.Line != tc.line {
				t.Errorf("err = %v, want a TooLongError at line %d", err, tc.line)
			}
		})
	}
}
