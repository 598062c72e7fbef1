package connlog

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestIndexRareMatchesIndex checks the needle search against bytes.Index on random data over
// small alphabets (many near misses, needles at the edges, common "rare" bytes that trigger the
// hand-over to bytes.Index), for every choice of the rare byte.
func TestIndexRareMatchesIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, alphabet := range []string{"ab", "abc", ".nhset", ".nhs.net@ 0123456789abcdefgh"} {
		for iter := 0; iter < 3000; iter++ {
			s := make([]byte, rng.Intn(300))
			for i := range s {
				s[i] = alphabet[rng.Intn(len(alphabet))]
			}
			n := make([]byte, 1+rng.Intn(8))
			for i := range n {
				n[i] = alphabet[rng.Intn(len(alphabet))]
			}
			if len(s) > len(n) && rng.Intn(2) == 0 { // plant it, often at an edge
				at := []int{0, len(s) - len(n), rng.Intn(len(s) - len(n))}[rng.Intn(3)]
				copy(s[at:], n)
			}
			want := bytes.Index(s, n)
			for r := range n {
				if got := indexRare(s, n, r); got != want {
					t.Fatalf("indexRare(%q, %q, %d) = %d, bytes.Index = %d", s, n, r, got, want)
				}
			}
		}
	}
}

func TestRareOffsets(t *testing.T) {
	sample := []byte("10.30.0.1 post /owa/service.svc user00001@nhs.net iphone hh:outlook.office365.com")
	got := rareOffsets([][]byte{[]byte(".nhs.net"), []byte("imap")}, sample)
	for i, n := range [][]byte{[]byte(".nhs.net"), []byte("imap")} {
		for _, c := range n {
			if bytes.Count(sample, []byte{c}) < bytes.Count(sample, []byte{n[got[i]]}) {
				t.Errorf("needle %q: offset %d (%q) is not a rarest byte: %q is rarer", n, got[i], n[got[i]], c)
			}
		}
	}
	if got := rareOffsets([][]byte{[]byte(".nhs.net")}, []byte("....nnnsssseeeettttt h")); got[0] != 2 {
		t.Errorf(`rare offset of ".nhs.net" = %d, want 2 ('h')`, got[0])
	}
}

func BenchmarkNeedleSearch(b *testing.B) {
	data := bytes.ToLower(benchLog(2000, 0))
	n := []byte(".nhs.net")
	r := rareOffsets([][]byte{n}, data)[0]
	b.Run("bytes.Index", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			bytes.Index(data, n)
		}
	})
	b.Run("indexRare", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			indexRare(data, n, r)
		}
	})
}
