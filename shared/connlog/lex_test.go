package connlog

import (
	"bytes"
	"math/rand"
	"testing"
)

// hhTokenReference is the HH token rule written the plain way: find the next "hh:" or "hh%3a"
// (any case); if it starts the query or follows '_', '=' or ';', the token runs to the next
// '_', '&', ';', ' ' or ','; else look again after it.
func hhTokenReference(q []byte) []byte {
	low := bytes.ToLower(q)
	for i := 0; i+3 <= len(q); {
		j := bytes.Index(low[i:], []byte("hh:"))
		k := bytes.Index(low[i:], []byte("hh%3a"))
		n := 3
		if j < 0 || (k >= 0 && k < j) {
			j, n = k, 5
		}
		if j < 0 {
			return nil
		}
		j += i
		if j == 0 || q[j-1] == '_' || q[j-1] == '=' || q[j-1] == ';' {
			v := q[j+n:]
			if e := bytes.IndexAny(v, "_&; ,"); e >= 0 {
				return v[:e]
			}
			return v
		}
		i = j + n
	}
	return nil
}

func TestHHToken(t *testing.T) {
	for _, tc := range []struct{ q, want string }{
		{"Cmd=Sync&Log=V160_Ers1_HH:eas.nhs.net_Ty:iPhone_", "eas.nhs.net"},
		{"Log=V160_hh:MAIL.nhs.NET_Ty:iPhone_", "MAIL.nhs.NET"},
		{"Log=V160_HH%3aoutlook.nhs.net_", "outlook.nhs.net"},
		{"Log=V160_HH%3Aoutlook.nhs.net&x=1", "outlook.nhs.net"},
		{"HH:10.20.0.14", "10.20.0.14"},
		{"Log=xHH:nope_HH:eas.nhs.net_", "eas.nhs.net"}, // the first is not at a token start
		{"Log=HHH:x_", ""},
		{"Log=V160_HH:", ""},
		{"Cmd=Ping&app=Mail", ""},
		{"a=hh%3_HH:x", "x"},
	} {
		if got := string(hhToken([]byte(tc.q))); got != tc.want {
			t.Errorf("hhToken(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
}

// TestHHTokenMatchesReference compares hhToken with the plain rule on random queries made of
// the characters that matter.
func TestHHTokenMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const alphabet = "hH:%3aA_=;&, x."
	for iter := 0; iter < 200000; iter++ {
		q := make([]byte, rng.Intn(24))
		for i := range q {
			q[i] = alphabet[rng.Intn(len(alphabet))]
		}
		got, want := hhToken(q), hhTokenReference(q)
		if !bytes.Equal(got, want) {
			t.Fatalf("hhToken(%q) = %q, reference %q", q, got, want)
		}
	}
}

// splitSpaces is bytes.Split on single spaces.
func FuzzSplitSpaces(f *testing.F) {
	for _, s := range []string{"", " ", "a", "a b", "2021-08-02 00:00:00 10.30.0.1 POST /mapi/emsmdb/ - 443", "  double  spaces ", "exactly8 bytes!!", "\x20\xa0\x00 \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := bytes.Split([]byte(s), []byte(" "))
		got := splitSpaces(nil, []byte(s))
		if len(got) != len(want) {
			t.Fatalf("splitSpaces(%q): %d fields, want %d", s, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("splitSpaces(%q)[%d] = %q, want %q", s, i, got[i], want[i])
			}
		}
	})
}

// clean's fast check (plainValue) keeps exactly the values cleanAny would keep as they are.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "-", " -", "user@nhs.net", " padded ", "tab\t", "\vx", "caf\xc3\xa9", "\xff", "x\u00a0", "\u0085y", "long value"} {
		f.Add(s, 64)
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = 1 + abs(n%600)
		if got, want := clean(s, n), cleanAny(s, n); got != want {
			t.Fatalf("clean(%q, %d) = %q, cleanAny %q", s, n, got, want)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// queryValueReference is queryValue's definition: split the query into pairs at '&', drop one
// '?' from a pair's start, and take the first pair whose name (up to its first '=') is key.
func queryValueReference(q []byte, key string) []byte {
	for _, part := range bytes.Split(q, []byte("&")) {
		part = bytes.TrimPrefix(part, []byte("?"))
		if name, v, ok := bytes.Cut(part, []byte("=")); ok && bytes.EqualFold(name, []byte(key)) {
			return v
		}
	}
	return nil
}

func FuzzQueryValue(f *testing.F) {
	for _, q := range []string{"", "DeviceId=1", "?deviceid=X&a=b", "a=1&DeviceId=2&DeviceId=3", "foo&DeviceId=x", "a=DeviceId=5&b", "??DeviceId=1",
		"&?DeviceId=1", "a?DeviceId=1", "Cmd=Sync&User=u@nhs.net&DeviceId=DEV1&DeviceType=iPhone&Log=V160_HH:mail.nhs.net_", "DeviceId=&x=1", "xDeviceId=1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, want := queryValue([]byte(q), "DeviceId"), queryValueReference([]byte(q), "DeviceId")
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("queryValue(%q) = %q, reference %q", q, got, want)
		}
	})
}
