package agg

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// collidingValue prepares every value as interned, with its length for a hash: all values of
// one length collide, so that the tests exercise the comparison of values behind equal hashes.
func collidingValue(s string) pval { return pval{hash: uint32(len(s)), hashed: true} }

// recent runs values.recent on a list of strings, for the tests.
func recent(vals []string, seen []int64, v string, t int64, n int) ([]string, []int64) {
	var tab values
	list := make([]seenVal, len(vals))
	for i := range vals {
		p := collidingValue(vals[i])
		known, ok := tab.lookup(nil, vals[i], &p)
		list[i] = mkSeen(seen[i], tab.hold(vals[i], p, known, ok))
	}
	list = tab.recent(list, v, collidingValue(v), t, n, growTo(n))
	out := make([]int64, len(list))
	for i, x := range list {
		out[i] = x.t()
	}
	// Every value in the list is held once; a value dropped from it is released.
	if live := liveValues(&tab); live != len(list) {
		panic(fmt.Sprintf("value table holds %d values for a list of %d", live, len(list)))
	}
	for _, x := range list {
		if id := uint32(x.ref); *tab.tab.refs.at(id) != 1 {
			panic(fmt.Sprintf("%q held %d times", tab.tab.str(id), *tab.tab.refs.at(id)))
		}
	}
	return tab.strings(list), out
}

func TestRecentList(t *testing.T) {
	var vals []string
	var seen []int64
	base := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 15; i++ {
		vals, seen = recent(vals, seen, string(rune('a'+i)), base.Add(time.Duration(i)*time.Second).UnixNano(), 10)
	}
	vals, seen = recent(vals, seen, "b", base.Add(time.Hour).UnixNano(), 10) // evicted long ago, now most recent
	vals, _ = recent(vals, seen, "z", base.UnixNano(), 10)                   // older than everything kept: dropped
	want := []string{"b", "o", "n", "m", "l", "k", "j", "i", "h", "g"}
	if d := cmp.Diff(want, vals); d != "" {
		t.Error(d)
	}
}

func TestRecentOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	base := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	type ev struct {
		v string
		t time.Time
	}
	var evs []ev
	for i := 0; i < 300; i++ {
		evs = append(evs, ev{fmt.Sprintf("ip%d", rng.Intn(25)), base.Add(time.Duration(rng.Intn(50)) * time.Second)})
	}
	var want []string
	for round := 0; round < 20; round++ {
		var vals []string
		var seen []int64
		for _, e := range evs {
			vals, seen = recent(vals, seen, e.v, e.t.UnixNano(), 10)
		}
		if round == 0 {
			want = vals
		} else if d := cmp.Diff(want, vals); d != "" {
			t.Fatalf("order changed the result:\n%s", d)
		}
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		if round == 1 {
			sort.Slice(evs, func(i, j int) bool { return evs[i].t.Before(evs[j].t) })
		}
	}
}

// A time keeps the log's precision: ".100" stays ".100".
func TestFormatTimeKeepsPrecision(t *testing.T) {
	if got := formatTime(time.Date(2021, 8, 2, 8, 0, 0, 100e6, time.UTC), 3); got != "2021-08-02T08:00:00.100Z" {
		t.Errorf("formatTime kept %q", got)
	}
}
