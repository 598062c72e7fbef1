package agg

import (
	"fmt"
	"math"
	"math/rand"
	"net/netip"
	"slices"
	"sort"
	"strings"
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
			a := New(false)
			for i, ts := range c.times {
				a.Add(&Event{Time: ts, Prec: int8(i), Account: "a@nhs.net", Host: "imap.nhs.net", Protocol: "IMAP", Success: true}, 1)
			}
			fs := a.Findings()
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

// TestRecentMatchesReference folds random event sequences (mostly repeating the previous value,
// as logs do, in and out of time order) through values.recent and checks each list against its
// definition: the n values with the latest times, most recent first, ties by value. Values come
// prepared by the table's own prepValue and by collidingValue, under which every interned value
// of one length has the same hash, so the value table must tell them apart by their bytes.
func TestRecentMatchesReference(t *testing.T) {
	a := New(false)
	preps := map[string]func(string) pval{
		"interned":  func(s string) pval { return a.prepValue(s, false) },
		"loose":     func(s string) pval { return a.prepValue(s, true) },
		"colliding": collidingValue}
	for name, prepOf := range preps {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(11))
			for round := 0; round < 300; round++ {
				n := 1 + rng.Intn(10)
				distinct := 1 + rng.Intn(30)
				tab := values{tab: strTab{seed: a.seed}} // prepValue leaves hashing to it
				// The list starts in a small array shared with a neighbour, as in a record's
				// inline area: growing must move it out, never write past its capacity.
				var inl [4]seenVal
				sentinel := mkSeen(77, isInterned|7)
				inl[2], inl[3] = sentinel, sentinel
				list := inl[0:0:2]
				latest := map[string]int64{}
				prev, now := "", int64(1000)
				for i := 0; i < 200; i++ {
					v := prev
					if v == "" || rng.Intn(4) == 0 {
						// short, long and NUL-padded values; addresses that pack, and digits and
						// dots that do not
						k := rng.Intn(distinct)
						v = []string{fmt.Sprintf("v%d", k), fmt.Sprintf("a-value-too-long-for-short-%d", k), fmt.Sprintf("v%d\x00", k/2), fmt.Sprintf("v%-15d", k),
							fmt.Sprintf("10.0.%d.1", k), fmt.Sprintf("%015d", k), fmt.Sprintf("10.0.0.%03d", k), fmt.Sprintf("%d.", k)}[k%8]
					}
					prev = v
					now += int64(rng.Intn(3))
					ts := now
					if rng.Intn(5) == 0 {
						ts -= int64(rng.Intn(40)) // out of order
					}
					list = tab.recent(list, v, prepOf(v), ts, n, growTo(n))
					if ts > latest[v] {
						latest[v] = ts
					}
					want := referenceRecent(latest, n)
					if got := tab.strings(list); !slices.Equal(got, want) {
						t.Fatalf("round %d event %d: list %q, want %q", round, i, got, want)
					}
					for _, x := range list {
						v := string(tab.appendStr(nil, x.vref()))
						_, packs := packV4(v)
						packs = packs && name != "colliding" // collidingValue interns everything
						if packs == (x.vref()&(isInterned|isLoose) != 0) || x.t() != latest[v] {
							t.Fatalf("entry %q: ref %x, time %d; want packed %v, time %d", v, x.vref(), x.t(), packs, latest[v])
						}
					}
				}
				if inl[2] != sentinel || inl[3] != sentinel {
					t.Fatalf("list wrote past its capacity: %+v", inl)
				}
				if held := countHeld(list); liveValues(&tab) != held {
					t.Fatalf("value table holds %d values for a list of %d it keeps", liveValues(&tab), held)
				}
			}
		})
	}
}

// referenceRecent is the definition of a capped list: by latest time, most recent first, ties by
// value, at most n.
func referenceRecent(latest map[string]int64, n int) []string {
	var all []string
	for v := range latest {
		all = append(all, v)
	}
	sort.Slice(all, func(i, j int) bool {
		if latest[all[i]] != latest[all[j]] {
			return latest[all[i]] > latest[all[j]]
		}
		return all[i] < all[j]
	})
	return all[:min(n, len(all))]
}

// Keys short enough to live inside their aggregate and keys too long for it decode alike.
func TestAggregateKeyStorage(t *testing.T) {
	a := New(true)
	ts := time.Date(2021, 8, 2, 10, 0, 0, 0, time.UTC)
	accounts := []string{"a@nhs.net", "firstname.middlename.lastname.department@nhs.net"}
	for _, acct := range accounts {
		for i := 0; i < 3; i++ {
			a.Add(&Event{Time: ts, Account: acct, Host: "imap.nhs.net", Protocol: "IMAP", ClientIP: "198.51.100.1", Success: true}, 1)
		}
	}
	a.Add(&Event{Time: ts, Host: "imap.nhs.net", Protocol: "IMAP", ClientIP: "198.51.100.7"}, 1)
	fs := a.Findings()
	if len(fs) != 3 {
		t.Fatalf("%d findings, want 3", len(fs))
	}
	want := []Key{
		{Account: accounts[0], Hostname: "imap.nhs.net", Protocol: "IMAP", Day: "2021-08-02"},
		{Account: accounts[1], Hostname: "imap.nhs.net", Protocol: "IMAP", Day: "2021-08-02"},
		{Hostname: "imap.nhs.net", Protocol: "IMAP", ClientIP: "198.51.100.7", Day: "2021-08-02"},
	}
	for i, f := range fs {
		if got := f.Key(); got != want[i] {
			t.Errorf("finding %d: key %+v, want %+v", i, got, want[i])
		}
		if f.Account != nil && f.Successes != 3 {
			t.Errorf("finding %d: %d successes, want 3 (one finding per key)", i, f.Successes)
		}
	}
}

// countHeld is how many entries of list the value table keeps (interned or loose).
func countHeld(list []seenVal) int {
	n := 0
	for _, x := range list {
		if x.vref()&(isInterned|isLoose) != 0 {
			n++
		}
	}
	return n
}

// packV4 packs exactly the addresses appendV4 writes back the same: four decimal bytes without
// leading zeros. Anything else is interned.
func TestPackV4(t *testing.T) {
	for _, tc := range []struct {
		s    string
		pack bool
	}{
		{"10.20.0.11", true}, {"255.255.255.255", true}, {"0.0.0.0", true}, {"198.51.100.7", true},
		{"", false}, {"0", false}, {".", false}, {"1.2.3", false}, {"1.2.3.4.5", false}, {"256.1.1.1", false}, {"01.2.3.4", false},
		{"1.2.3.04", false}, {"1..2.3", false}, {"1.2.3.", false}, {".1.2.3", false}, {"1234.1.1.1", false}, {"fe80::1", false},
		{"10.0.0.1 ", false}, {"000000000000000", false}, {"١.١.١.١", false},
	} {
		r, ok := packV4(tc.s)
		if ok != tc.pack {
			t.Errorf("packV4(%q) packs = %v, want %v", tc.s, ok, tc.pack)
			continue
		}
		if got := string(appendV4(nil, r)); ok && got != tc.s {
			t.Errorf("packV4(%q) = %x, writes back %q", tc.s, r, got)
		}
	}
	for n := range uint32(256) { // every byte value, in each place, as netip writes it
		for _, r := range []uint32{n << 24, n << 16, n << 8, n, n * 0x01010101} {
			want := netip.AddrFrom4([4]byte{byte(r >> 24), byte(r >> 16), byte(r >> 8), byte(r)}).String()
			if got := string(appendV4([]byte("x"), r)); got != "x"+want {
				t.Fatalf("appendV4(%#x) = %q, want %q", r, got, "x"+want)
			}
		}
	}
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 100000; i++ {
		var b []byte
		for n := rng.Intn(16); n > 0; n-- {
			b = append(b, "0123456789.."[rng.Intn(12)])
		}
		s := string(b)
		if r, ok := packV4(s); ok && string(appendV4(nil, r)) != s {
			t.Fatalf("packV4(%q) writes back %q", s, appendV4(nil, r))
		}
	}
}

// Times outside what a list entry holds (before 1970, after 2116) are clamped, and every time
// inside round-trips with the interned flag beside it.
func TestSeenValTime(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{{0, 0}, {1, 1}, {1628064000123456789, 1628064000123456789}, {-5, 0}, {1<<62 - 1, 1<<62 - 1}, {1 << 62, 1<<62 - 1}, {math.MaxInt64, 1<<62 - 1}} {
		for _, r := range []vref{0, isInterned | 12345, 0xffffffff} {
			e := mkSeen(tc.in, r)
			if e.t() != tc.want || e.vref() != r {
				t.Errorf("mkSeen(%d, %x) = %d, %x; want %d, %x", tc.in, r, e.t(), e.vref(), tc.want, r)
			}
		}
	}
}

// A value dropped from every list is forgotten: a spray of distinct addresses and user agents
// leaves the value table holding what the capped lists hold. IPv6 addresses and user agents
// are interned; IPv4 addresses are packed into the lists and never enter it. With 50,000
// values, dead bytes outgrow live ones more than once: the table compacts and lists still
// read back.
func TestValueTableBounded(t *testing.T) {
	a := New(false)
	base := time.Date(2021, 8, 2, 1, 0, 0, 0, time.UTC)
	for i := range 50000 {
		ts := base.Add(time.Duration(i) * time.Second)
		a.Add(&Event{Time: ts, Account: "a@nhs.net", Host: "mail.nhs.net", Protocol: "OWA", ClientIP: fmt.Sprintf("2001:db8::%x", i), UserAgent: fmt.Sprintf("UA/%d/%s", i, strings.Repeat("x", 40)),
			DeviceID: fmt.Sprintf("DEV%d%s", i, strings.Repeat("d", 30)), Success: true}, 1)
		a.Add(&Event{Time: ts, Account: "b@nhs.net", Host: "mail.nhs.net", Protocol: "OWA", ClientIP: fmt.Sprintf("198.51.%d.%d", i/256, i%256), Success: true}, 1)
	}
	fs := a.Findings()
	if len(fs) != 2 || len(fs[0].ClientIPs) != MaxClientIPs || len(fs[0].UserAgents) != MaxUserAgents || len(fs[0].DeviceIDs) != MaxDeviceIDs || len(fs[1].ClientIPs) != MaxClientIPs {
		t.Fatalf("findings: %+v", fs)
	}
	n := 0
	for i := range a.shards {
		n += liveValues(&a.shards[i].vals)
	}
	if want := MaxClientIPs + MaxUserAgents + MaxDeviceIDs; n != want {
		t.Errorf("value table holds %d values, want %d", n, want)
	}
	for i, dev := range fs[0].DeviceIDs { // the ten most recent, whatever compaction moved
		if want := fmt.Sprintf("DEV%d%s", 49999-i, strings.Repeat("d", 30)); dev != want {
			t.Errorf("device %d: %q, want %q", i, dev, want)
		}
	}
	if fs[0].ClientIPs[0] != "2001:db8::c34f" || fs[0].ClientIPs[9] != "2001:db8::c346" || !strings.HasPrefix(fs[0].UserAgents[0], "UA/49999/") || fs[1].ClientIPs[0] != "198.51.195.79" {
		t.Errorf("most recent values: %q %q %q %q", fs[0].ClientIPs[0], fs[0].ClientIPs[9], fs[0].UserAgents[0], fs[1].ClientIPs[0])
	}
	// 50,000 device ids and addresses went by, about 2.7 MB of loose values: compaction
	// keeps the dead ones under a megabyte.
	for i := range a.shards {
		v := &a.shards[i].vals
		if v.tab.dead > 1<<20+1<<10 || v.loose.dead > 1<<20+1<<10 {
			t.Errorf("shard %d: %d and %d dead bytes kept: compaction did not run", i, v.tab.dead, v.loose.dead)
		}
	}
}

// growTo is a list's growth as a slice of its own (1, 2, 4, ... n), for tests of recent alone.
func growTo(n int) func([]seenVal) []seenVal {
	return func(l []seenVal) []seenVal {
		if len(l) < cap(l) {
			return l[:len(l)+1]
		}
		nl := make([]seenVal, len(l)+1, min(n, max(1, 2*len(l))))
		copy(nl, l)
		return nl
	}
}

// liveValues counts the values some list holds.
// liveValues is how many values v keeps for lists: interned ones held, and loose ones.
func liveValues(v *values) int {
	n := v.loose.n
	for id := range v.tab.refs.n {
		if *v.tab.refs.at(id) > 0 {
			n++
		}
	}
	return n
}

// Compaction moves the loose values of every list in a shard and points their entries at the
// new places: many findings' device ids and IPv6 addresses, churning through several
// compactions, read back against the definition of a capped list.
func TestLooseCompaction(t *testing.T) {
	a := New(false)
	rng := rand.New(rand.NewSource(3))
	devs, ips := map[string]map[string]int64{}, map[string]map[string]int64{}
	base := time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC)
	for i := range 300000 {
		acct := fmt.Sprintf("u%d@nhs.net", rng.Intn(40))
		dev := fmt.Sprintf("DEV%05d%s", rng.Intn(2000), strings.Repeat("x", 90))
		ip := fmt.Sprintf("2001:db8::%x", rng.Intn(3000))
		ts := base.Add(time.Duration(i-rng.Intn(50)) * time.Millisecond) // in time order, nearly
		a.Add(&Event{Time: ts, Account: acct, Host: "mail.nhs.net", Protocol: "EAS", DeviceID: dev, ClientIP: ip}, 1)
		for _, m := range []struct {
			seen map[string]map[string]int64
			v    string
		}{{devs, dev}, {ips, ip}} {
			if m.seen[acct] == nil {
				m.seen[acct] = map[string]int64{}
			}
			m.seen[acct][m.v] = max(m.seen[acct][m.v], ts.UnixNano())
		}
	}
	compactions := 0
	for i := range a.shards {
		compactions += a.shards[i].vals.loose.compactions
	}
	t.Logf("%d compactions", compactions)
	if compactions < 16 {
		t.Errorf("%d compactions: the test should make several", compactions)
	}
	for _, f := range a.Findings() {
		if want := referenceRecent(devs[*f.Account], MaxDeviceIDs); !slices.Equal(f.DeviceIDs, want) {
			t.Fatalf("%s: devices %q, want %q", *f.Account, f.DeviceIDs, want)
		}
		if want := referenceRecent(ips[*f.Account], MaxClientIPs); !slices.Equal(f.ClientIPs, want) {
			t.Fatalf("%s: addresses %q, want %q", *f.Account, f.ClientIPs, want)
		}
	}
}
