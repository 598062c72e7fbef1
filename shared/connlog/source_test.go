package connlog

import (
	"bytes"
	"math/rand"
	"slices"
	"testing"
)

// TestProbesMatchIndex checks the needle search against bytes.Index on lower-cased data, over
// random data of small alphabets in mixed case (many near misses, needles at the edges, common
// "rare" bytes that trigger the hand-over to indexFold), for every choice of the rare byte: the
// first match found by a needle's probes is the first match.
func TestProbesMatchIndex(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, alphabet := range []string{"ab", "aAbB", "abc", ".nhset", ".nhsNHSetET", ".nhs.net@ 0123456789abcdefghHN"} {
		for iter := 0; iter < 3000; iter++ {
			s := make([]byte, rng.Intn(300))
			for i := range s {
				s[i] = alphabet[rng.Intn(len(alphabet))]
			}
			n := make([]byte, 1+rng.Intn(8))
			for i := range n {
				n[i] = foldASCII(alphabet[rng.Intn(len(alphabet))])
			}
			if len(s) > len(n) && rng.Intn(2) == 0 { // plant it, often at an edge, in random case
				at := []int{0, len(s) - len(n), rng.Intn(len(s) - len(n))}[rng.Intn(3)]
				for i, c := range n {
					if rng.Intn(2) == 0 {
						c = bytes.ToUpper([]byte{c})[0]
					}
					s[at+i] = c
				}
			}
			want := bytes.Index(bytes.ToLower(s), n)
			for r := range n {
				c := n[r]
				probes := []probe{{needle: n, r: r, c: c}}
				if 'a' <= c && c <= 'z' {
					probes = append(probes, probe{needle: n, r: r, c: c - 'a' + 'A'})
				}
				got := -1
				for _, p := range probes {
					if i := p.index(s); i >= 0 && (got < 0 || i < got) {
						got = i
					}
				}
				if got != want {
					t.Fatalf("probes of %q at %d in %q found %d, bytes.Index = %d", n, r, s, got, want)
				}
			}
		}
	}
}

// TestCandidateAnyCase: a line holding a needle in any case is a candidate, others are not.
func TestCandidateAnyCase(t *testing.T) {
	data := "a EAS.NHS.NET b\nnothing here\nx Eas.Nhs.Net\n.nhs.ne t\nimap.nhs.net\n"
	src := newLineSource(bytes.NewReader([]byte(data)), 1<<10)
	src.setProbes(newProbes([][]byte{[]byte(".nhs.net")}, nil))
	var got []bool
	for {
		ln, ok := src.next()
		if !ok {
			break
		}
		got = append(got, ln.candidate)
	}
	want := []bool{true, false, true, false, true}
	if !slices.Equal(got, want) {
		t.Errorf("candidates = %v, want %v", got, want)
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
	// Letters count in both cases: here 'h' is common, as "HH:" tokens make it.
	if got := rareOffsets([][]byte{[]byte(".nhs.net")}, []byte("..nnnssseeetttt HHHHHH h")); got[0] == 2 {
		t.Errorf(`rare offset of ".nhs.net" = 2 ('h'), though H is the most common letter`)
	}
}

func BenchmarkNeedleSearch(b *testing.B) {
	data := benchLog(2000, 0)
	n := []byte(".nhs.net")
	lower := bytes.ToLower(data)
	b.Run("bytes.Index", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			bytes.Index(lower, n)
		}
	})
	b.Run("probes", func(b *testing.B) {
		probes := newProbes([][]byte{n}, data)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for _, p := range probes {
				p.index(data)
			}
		}
	})
}
