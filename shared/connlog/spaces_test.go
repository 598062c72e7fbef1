package connlog

import (
	"bytes"
	"slices"
	"testing"
)

// spaces agrees with the plain definition for every length and any room in pos, with spaces
// anywhere (word ends, the bytes after the last whole word, lines shorter than a word, bytes
// that differ from a space by one bit).
func FuzzSpaces(f *testing.F) {
	for _, s := range []string{"", " ", "a b", "2021-08-02 00:00:00 10.30.0.1 POST /mapi/emsmdb/ - 443 u@nhs.net 203.0.1.2 UA - 200 0 0 12",
		"0123456789abcde f", "               ", "                 x", "x               ", "exactly sixteen!", "a                               b",
		"!\x00\x21\xa0 !\x20\x60\x10 ", "\xff\xff\xff\xff\xff\xff\xff \x1f"} {
		f.Add(s, 64)
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, room int) {
		room = min(max(room, 0), 70)
		var want []int32
		for i := range len(s) {
			if s[i] == ' ' {
				want = append(want, int32(i))
			}
		}
		pos := make([]int32, room, room+1)
		pos = append(pos, -7)[:room] // a sentinel just past pos
		n := spaces([]byte(s), pos)
		if n != len(want) || !slices.Equal(pos[:min(n, room)], want[:min(n, room)]) || pos[:room+1][room] != -7 {
			t.Fatalf("spaces(%q, room %d) = %d %v, want %d %v", s, room, n, pos[:min(n, room)], len(want), want[:min(len(want), room)])
		}
		if len(want) <= maxSpaces {
			pos := make([]int32, maxSpaces)
			n := spaces([]byte(s), pos)
			got := fieldsTo(nil, []byte(s), pos[:n], n+1)
			if exp := bytes.Split([]byte(s), []byte(" ")); !slices.EqualFunc(got, exp, bytes.Equal) {
				t.Fatalf("fieldsTo(%q) = %q, want %q", s, got, exp)
			}
		}
	})
}

func BenchmarkSpaces(b *testing.B) {
	line := []byte("2021-08-02 00:00:00 10.30.0.1 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&User=user05466@nhs.net&DeviceId=DEV005466&DeviceType=iPhone&Log=V160_Ers1_HH:mail.nhs.net_Ty:iPhone_ 443 user05466@nhs.net 203.0.21.90 Apple-iPhone13C2/1905.245 - 200 0 0 290")
	pos := make([]int32, maxSpaces)
	var fields [][]byte
	b.Run("spaces", func(b *testing.B) {
		for b.Loop() {
			n := spaces(line, pos)
			fields = fieldsTo(fields[:0], line, pos[:n], n+1)
		}
	})
	b.Run("indexbyte", func(b *testing.B) {
		for b.Loop() {
			_ = bytes.Count(line, []byte{' '})
			fields = splitSpaces(fields[:0], line)
		}
	})
}

func BenchmarkSpacesOnly(b *testing.B) {
	line := []byte("2021-08-02 00:00:00 10.30.0.1 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&User=user05466@nhs.net&DeviceId=DEV005466&DeviceType=iPhone&Log=V160_Ers1_HH:mail.nhs.net_Ty:iPhone_ 443 user05466@nhs.net 203.0.21.90 Apple-iPhone13C2/1905.245 - 200 0 0 290")
	pos := make([]int32, maxSpaces)
	n := 0
	for b.Loop() {
		n += spaces(line, pos)
	}
}
