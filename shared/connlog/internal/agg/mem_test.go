package agg

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"
)

// Findings come out in the documented order whatever order events came in: attributed by
// account, hostname, protocol, day; unattributed last by hostname, protocol, client address,
// day. (sorted places accounts by counting, and sorts only within one account.)
func TestFindingsOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	tab := New(true)
	base := time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC)
	pick := func(s ...string) string { return s[rng.Intn(len(s))] }
	for i := 0; i < 20000; i++ {
		e := &Event{
			Time:     base.Add(time.Duration(rng.Intn(5*86400)) * time.Second),
			Host:     pick("mail.nhs.net", "eas.nhs.net", "imap.nhs.net"),
			Protocol: pick("EAS", "OWA", "IMAP", "SMTP"),
			ClientIP: fmt.Sprintf("10.0.%d.%d", rng.Intn(3), rng.Intn(4)),
		}
		if rng.Intn(5) > 0 {
			e.Account = fmt.Sprintf("user%03d@nhs.net", rng.Intn(700))
		}
		tab.Add(e, 1)
	}
	fs := tab.Findings()
	less := func(a, b Key) int {
		if (a.Account == "") != (b.Account == "") {
			if a.Account == "" {
				return 1
			}
			return -1
		}
		if a.Account != "" {
			return cmpKeys(a.Account, b.Account, a.Hostname, b.Hostname, a.Protocol, b.Protocol, a.Day, b.Day)
		}
		return cmpKeys(a.Hostname, b.Hostname, a.Protocol, b.Protocol, a.ClientIP, b.ClientIP, a.Day, b.Day)
	}
	keys := make([]Key, len(fs))
	for i, f := range fs {
		keys[i] = f.Key()
	}
	if !slices.IsSortedFunc(keys, less) {
		t.Fatal("findings are not in output order")
	}
	if n := len(slices.CompactFunc(slices.Clone(keys), func(a, b Key) bool { return a == b })); n != len(keys) {
		t.Fatalf("%d distinct keys among %d findings", n, len(keys))
	}
	if len(fs) < 5000 {
		t.Fatalf("only %d findings: the test should make many", len(fs))
	}
}

func cmpKeys(pairs ...string) int {
	for i := 0; i < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// Memory handed back is handed out again, zeroed; large arrays have mappings of their own.
func TestMemReuse(t *testing.T) {
	if !offHeap {
		t.Skip("arrays come from the heap in this build (the race detector's, or a system without mmap)")
	}
	var m mem
	a := array[uint32](&m, 1024)
	for i := range a {
		a[i] = 7
	}
	handArray(&m, a)
	b := array[uint32](&m, 1024)
	if &a[0] != &b[0] {
		t.Error("a handed-back array of the same size was not reused")
	}
	if slices.ContainsFunc(b, func(x uint32) bool { return x != 0 }) {
		t.Error("a reused array is not zeroed")
	}
	big := m.alloc(ownMapping)
	if len(m.big) != 1 {
		t.Errorf("%d own mappings, want 1", len(m.big))
	}
	m.hand(big)
	if len(m.big) != 0 {
		t.Errorf("%d own mappings after handing back, want 0", len(m.big))
	}
	m.release()
	m.release() // a cleanup after Free: nothing left to do
}

// A freed table is empty and usable (from the heap), and the same events give the same
// findings again.
func TestFree(t *testing.T) {
	tab := New(false)
	add := func() {
		base := time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 5000; i++ {
			tab.Add(&Event{Time: base.Add(time.Duration(i) * time.Second), Account: fmt.Sprintf("u%d", i%900), Host: "imap.nhs.net",
				Protocol: "IMAP", ClientIP: fmt.Sprintf("10.1.%d.%d", i%7, i%5), DeviceID: fmt.Sprintf("DEV%d", i%13)}, 1)
		}
	}
	add()
	want := writeLines(t, tab)
	tab.Free()
	if tab.Len() != 0 || tab.Bytes() != 0 {
		t.Fatalf("after Free: %d findings, %d bytes", tab.Len(), tab.Bytes())
	}
	add()
	if got := writeLines(t, tab); got != want {
		t.Error("a freed table refilled writes other findings")
	}
}
