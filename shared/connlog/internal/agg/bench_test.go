package agg

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// events makes n legacy events of one day. narrow: 20,000 accounts, each with one home address
// and one device (the scan bench's shape). wide: 50,000 accounts over four hostnames and five
// kinds of request, with a client address and device id that change from request to request
// (mobile networks, NAT pools), so nearly every event adds a list value and many findings.
func events(n int, wide bool) []Event {
	rng := rand.New(rand.NewSource(1))
	base := time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC)
	hosts := []string{"eas.nhs.net", "mail.nhs.net", "outlook.nhs.net", "imap.nhs.net"}
	protos := []string{"EAS", "OWA", "EWS", "MAPI", "IMAP"}
	out := make([]Event, n)
	for i := range out {
		e := Event{Time: base.Add(time.Duration(i) * 20 * time.Millisecond), Success: rng.Intn(10) > 0, UserAgent: "Apple-iPhone13C2/1905.245"}
		if wide {
			a := rng.Intn(50000)
			e.Account = fmt.Sprintf("user%05d@nhs.net", a)
			e.Host, e.Protocol = hosts[rng.Intn(4)], protos[rng.Intn(5)]
			e.ClientIP = fmt.Sprintf("10.%d.%d.%d", rng.Intn(256), rng.Intn(256), rng.Intn(256))
			e.DeviceID = fmt.Sprintf("DEV%08d", rng.Intn(1<<24))
		} else {
			a := rng.Intn(20000)
			e.Account = fmt.Sprintf("user%05d@nhs.net", a)
			e.Host, e.Protocol = hosts[rng.Intn(3)], "EAS"
			e.ClientIP = fmt.Sprintf("203.0.%d.%d", a/256%256, a%256)
			e.DeviceID = fmt.Sprintf("DEV%06d", a)
		}
		out[i] = e
	}
	return out
}

func benchmarkAdd(b *testing.B, wide bool) {
	evs := events(300000, wide)
	b.ReportAllocs()
	var findings int
	for b.Loop() {
		tab := New(true)
		var s Scratch
		for i := 0; i < len(evs); i += 256 {
			tab.AddBatch(evs[i:min(i+256, len(evs))], 1, &s)
		}
		findings = tab.Len()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	b.ReportMetric(float64(findings), "findings")
}

// BenchmarkAddNarrow and BenchmarkAddWide: 300,000 events into an empty table, in batches, as a
// scan adds them.
// The Plain ones are the same without the prefetch passes (the twin the passes must beat).
func BenchmarkAddNarrow(b *testing.B)      { benchmarkAdd(b, false) }
func BenchmarkAddWide(b *testing.B)        { benchmarkAdd(b, true) }
func BenchmarkAddNarrowPlain(b *testing.B) { plain(b); benchmarkAdd(b, false) }
func BenchmarkAddWidePlain(b *testing.B)   { plain(b); benchmarkAdd(b, true) }

func plain(tb testing.TB) {
	plainGroups = true
	tb.Cleanup(func() { plainGroups = false })
}

// The prefetch passes change nothing but when memory arrives: a table folded with them holds
// the findings of one folded without (narrow and wide events, batches as a scan makes them).
func TestPrefetchPassesMatchPlain(t *testing.T) {
	for _, wide := range []bool{false, true} {
		build := func() []Finding {
			tab := New(true)
			var s Scratch
			evs := events(50000, wide)
			for i := 0; i < len(evs); i += 256 {
				tab.AddBatch(evs[i:min(i+256, len(evs))], 1, &s)
			}
			return tab.Findings()
		}
		want := build()
		plain(t)
		got := build()
		plainGroups = false
		if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Finding{})); d != "" {
			t.Fatalf("wide %v: findings differ (-passes +plain):\n%s", wide, d)
		}
		if len(want) < 1000 {
			t.Fatalf("only %d findings", len(want))
		}
	}
}

// BenchmarkFindings: sorting and decoding the findings of a large table.
func BenchmarkFindings(b *testing.B) {
	tab := New(true)
	for _, e := range events(300000, true) {
		tab.Add(&e, 1)
	}
	for b.Loop() {
		_ = tab.Findings()
	}
	b.ReportMetric(float64(tab.Len()), "findings")
}
