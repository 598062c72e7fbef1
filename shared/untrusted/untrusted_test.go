package untrusted

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ward7.scanner@nhs.net", "ward7.scanner@nhs.net"},
		{"Café Médical – Ysbyty", "Café Médical – Ysbyty"},
		{"a\tb\nc", "a\tb\nc"},
		{"\x1b]0;pwned\x07", `\u001B]0;pwned\u0007`},
		{"\x1b[2J", `\u001B[2J`},
		{"bad\rgood", `bad\u000Dgood`},
		{"csv\r\nrow\r\n", "csv\r\nrow\r\n"},
		{"del\x7f", `del\u007F`},
		{"c1 \u009b31m", `c1 \u009B31m`},
		{"admin\u202Eten.shn@", `admin\u202Eten.shn@`},
		{"in\u2066vis\u2069", `in\u2066vis\u2069`},
		{"zero\u200Bwidth\u200D\uFEFF", `zero\u200Bwidth\u200D\uFEFF`},
		{"soft\u00ADhyphen", `soft\u00ADhyphen`},
		{"line\u2028sep", `line\u2028sep`},
		{"tag\U000E0041", `tag\uDB40\uDC41`},
		{"not utf-8 \xff\xfe", "not utf-8 \uFFFD\uFFFD"},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"  Riverside\tTeaching\r\nHospitals  ", "Riverside Teaching Hospitals"},
		{"a\u2028b\u0085c", "a b c"},
		{"evil\u202Egnp.exe", `evil\u202Egnp.exe`},
		{"\x1b[31mred", `\u001B[31mred`},
	} {
		if got := Line(tc.in); got != tc.want {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// An escape inside a JSON string is the same value: what a terminal shows of JSON output
// decodes to what was written.
func TestEscapeKeepsJSONValues(t *testing.T) {
	in := "org\u202E\u200B\x1b\u009b\U000E0041 ok"
	b, _ := json.Marshal(map[string]string{"name": in})
	var out map[string]string
	if err := json.Unmarshal([]byte(Escape(string(b))), &out); err != nil || out["name"] != in {
		t.Errorf("escaped JSON decodes to %q (%v), want %q", out["name"], err, in)
	}
}

// The writer escapes what a command prints, however the writes split it: runes across writes,
// CRLF kept, a lone CR escaped.
func TestWriter(t *testing.T) {
	in := "plan\r\nRX1 Caf\u00e9\x1b[2J \u202Eevil\rcut\r"
	for split := 0; split <= len(in); split++ {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Write([]byte(in[:split]))
		w.Write([]byte(in[split:]))
		w.Flush()
		if want := "plan\r\nRX1 Caf\u00e9\\u001B[2J \\u202Eevil\\u000Dcut\\u000D"; buf.String() != want {
			t.Fatalf("split at %d: %q, want %q", split, buf.String(), want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2J", "a\u202Eb", "\xff", "a\r\nb", "\U000E0041"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Escape(s), Line(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("%q: output %q is not UTF-8", s, out)
			}
			for _, r := range strings.ReplaceAll(out, "\r\n", "\n") {
				if Unsafe(r) {
					t.Fatalf("%q: output %q keeps %U", s, out, r)
				}
			}
		}
		if strings.ContainsAny(Line(s), "\r\n\t") {
			t.Fatalf("Line(%q) is more than one line", s)
		}
		if clean(s) && Escape(s) != s {
			t.Fatalf("a clean string changed: %q", s)
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Write([]byte(s))
		w.Flush()
		for _, r := range strings.ReplaceAll(buf.String(), "\r\n", "\n") {
			if Unsafe(r) {
				t.Fatalf("writer: %q keeps %U", buf.String(), r)
			}
		}
	})
}
