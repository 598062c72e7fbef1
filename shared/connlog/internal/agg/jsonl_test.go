package agg

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// encoderLines is the reference: json.Encoder over Findings.
func encoderLines(t *testing.T, fs []Finding) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, f := range fs {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func writeLines(t *testing.T, tab *Table) string {
	t.Helper()
	var b bytes.Buffer
	w := bufio.NewWriterSize(&b, 100) // small: exercise partial writes
	if err := tab.WriteJSONLines(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// WriteJSONLines is an optimisation of encoding Findings one by one: the bytes are the same,
// whatever the values hold (escapes, HTML characters, invalid UTF-8, U+2028) and whatever the
// time precision.
func TestWriteJSONLinesMatchesEncoder(t *testing.T) {
	alphabet := []string{"a", "B", "7", ".", "@", "\\", "\"", "<", ">", "&", "\n", "\t", "\x00", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xe2\x82", "💡", " ", "+", "%41"}
	str := func(rng *rand.Rand) string {
		var b strings.Builder
		for n := rng.Intn(12); n > 0; n-- {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		return b.String()
	}
	for _, byDay := range []bool{false, true} {
		t.Run(fmt.Sprintf("byDay=%v", byDay), func(t *testing.T) {
			rng := rand.New(rand.NewSource(7))
			tab := New(byDay)
			base := time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC)
			for i := 0; i < 3000; i++ {
				ns := []int{0, 100_000_000, 123_000_000, 1, 999_999_999, 120_000}[rng.Intn(6)]
				e := &Event{
					Time:      base.Add(time.Duration(rng.Intn(200000))*time.Second + time.Duration(ns)),
					Prec:      int8(rng.Intn(10)),
					Host:      []string{"mail.nhs.net", "eas.nhs.net"}[rng.Intn(2)],
					Protocol:  []string{"EAS", "OWA", "SMTP"}[rng.Intn(3)],
					ClientIP:  str(rng),
					UserAgent: str(rng),
					DeviceID:  str(rng),
					Success:   rng.Intn(2) == 0,
					Direct:    rng.Intn(5) == 0,
				}
				if rng.Intn(4) > 0 {
					e.Account = str(rng)
				}
				tab.Add(e, 1)
			}
			if diff := cmp.Diff(encoderLines(t, tab.Findings()), writeLines(t, tab)); diff != "" {
				t.Errorf("WriteJSONLines differs from json.Encoder (-want +got):\n%s", diff)
			}
		})
	}
}

// The parallel writer writes the same bytes as one goroutine, for any number of goroutines and
// any chunking, and stops cleanly when the writer fails.
func TestWriteParallel(t *testing.T) {
	tab := New(true)
	for _, e := range events(20000, true) {
		tab.Add(&e, 1)
	}
	refs := tab.sorted()
	var want bytes.Buffer
	for _, o := range refs {
		d := decoder{t: tab}
		want.Write(appendJSON(nil, d.decode(o), &d.dates))
	}
	for _, n := range []int{2, 3, 7} {
		var got bytes.Buffer
		if err := tab.writeParallel(&got, refs, n); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d goroutines: output differs", n)
		}
		fail := errors.New("disk full")
		if err := tab.writeParallel(&failAfter{n: 3, err: fail}, refs, n); !errors.Is(err, fail) {
			t.Errorf("%d goroutines, failing writer: error %v, want %v", n, err, fail)
		}
	}
}

// failAfter fails every write after the first n.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	f.n--
	return len(p), nil
}

// AppendTime writes what time's own layout writes, for any time: every day of 1000-9999 is
// spot-checked, and times outside them go to time.
func TestAppendTime(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	var dates dateCache // carried from time to time, as the output does
	check := func(tm time.Time, prec int8) {
		t.Helper()
		want := tm.UTC().Format("2006-01-02T15:04:05.000000000")
		want = strings.TrimRight(want, "0")
		frac := ""
		if i := strings.IndexByte(want, '.'); i >= 0 {
			frac, want = want[i+1:], want[:i]
		}
		for len(frac) < int(prec) {
			frac += "0"
		}
		if frac != "" {
			want += "." + frac
		}
		want += "Z"
		if got := string(AppendTime(nil, tm, prec)); got != want {
			t.Fatalf("AppendTime(%v, %d) = %s, want %s", tm, prec, got, want)
		}
		if got := string(appendUnix(nil, tm.Unix(), int32(tm.Nanosecond()), prec, &dates)); got != want {
			t.Fatalf("appendUnix(%v, %d) with the date of %d = %s, want %s", tm, prec, dates.days, got, want)
		}
	}
	for _, tm := range []time.Time{
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 1, time.UTC), time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2021, 8, 2, 10, 51, 23, 120000000, time.FixedZone("BST", 3600)),
	} {
		check(tm, 0)
		check(tm, 3)
	}
	for i := 0; i < 200000; i++ {
		sec := rng.Int63n(253402300800+30610224000+86400*400) - 30610224000 - 86400*200
		check(time.Unix(sec, int64(rng.Intn(1e9))*int64(rng.Intn(2))), int8(rng.Intn(10)))
	}
	// Times a few hours apart, as a table's output has them: most share the date before.
	for sec, i := int64(1627862400), 0; i < 20000; i++ {
		sec += rng.Int63n(40000)
		check(time.Unix(sec, 0), 0)
	}
}
