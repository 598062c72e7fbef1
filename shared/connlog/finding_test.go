package connlog

import (
	"testing"
	"time"
)

// TestFirstLastRoundTrip checks that first/last seen, kept as Unix seconds and nanoseconds, come
// back as exactly the event times (sub-second precision, UTC, times outside UnixNano's range),
// with the precision of the event that set them.
func TestFirstLastRoundTrip(t *testing.T) {
	cases := []struct {
		name        string
		times       []time.Time
		first, last time.Time
	}{
		{"sub-second", []time.Time{
			time.Date(2021, 8, 2, 10, 0, 0, 123456789, time.UTC),
			time.Date(2021, 8, 2, 10, 0, 0, 123456788, time.UTC),
			time.Date(2021, 8, 2, 10, 0, 0, 123456790, time.UTC),
		}, time.Date(2021, 8, 2, 10, 0, 0, 123456788, time.UTC), time.Date(2021, 8, 2, 10, 0, 0, 123456790, time.UTC)},
		{"same second, nanoseconds decide", []time.Time{
			time.Date(2021, 8, 2, 10, 0, 1, 0, time.UTC),
			time.Date(2021, 8, 2, 10, 0, 0, 999999999, time.UTC),
			time.Date(2021, 8, 2, 10, 0, 1, 1, time.UTC),
		}, time.Date(2021, 8, 2, 10, 0, 0, 999999999, time.UTC), time.Date(2021, 8, 2, 10, 0, 1, 1, time.UTC)},
		{"outside UnixNano's range", []time.Time{
			time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		}, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"before 1970", []time.Time{
			time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC),
			time.Date(1969, 12, 31, 23, 59, 59, 400000000, time.UTC),
		}, time.Date(1969, 12, 31, 23, 59, 59, 400000000, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAggregator(false)
			for i, ts := range c.times {
				a.add(&event{t: ts, prec: int8(i), account: "a@nhs.net", host: "imap.nhs.net", protocol: "IMAP", success: true}, 1)
			}
			fs := a.findings()
			if len(fs) != 1 {
				t.Fatalf("%d findings, want 1", len(fs))
			}
			f := fs[0]
			if f.FirstSeen != c.first || f.LastSeen != c.last { // == : same instant and location
				t.Errorf("first, last = %v, %v; want %v, %v", f.FirstSeen, f.LastSeen, c.first, c.last)
			}
			for i, ts := range c.times {
				if ts.Equal(c.first) && f.firstPrec != int8(i) {
					t.Errorf("first precision %d, want %d (of the event that set it)", f.firstPrec, i)
				}
				if ts.Equal(c.last) && f.lastPrec != int8(i) {
					t.Errorf("last precision %d, want %d", f.lastPrec, i)
				}
			}
		})
	}
}
