package agg

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// aggregate is a finding being built. It is kept small: memory grows with distinct findings.
type aggregate struct {
	key string // account, hostname, protocol, client ip, day (see appendKeyPart); in keyBuf when it fits
	// keyBuf holds a short key inside the aggregate, so that the table's key comparison reads
	// the memory that the update reads next, not a separate allocation.
	keyBuf [48]byte
	// first and last seen as Unix seconds and nanoseconds (UTC, like every event time): exact for
	// any time.Time, compared as integers, and 16 bytes smaller than two time.Time values.
	firstSec, lastSec   int64
	firstNs, lastNs     int32
	successes, failures int64
	ips, uas, devs      []seenVal // most recent first; in inl until they outgrow it
	// inl holds the start of the lists (two client IPs, a user agent, a device id: enough for
	// most findings) inside the aggregate, so that an update reads one object, not four.
	inl                 [4]seenVal
	lastFile            int  // generation of the last file that touched it, for per-file counts
	firstPrec, lastPrec int8 // fraction digits the log used, for JSON
	direct              bool
}

func (g *aggregate) firstSeen() time.Time { return time.Unix(g.firstSec, int64(g.firstNs)).UTC() }
func (g *aggregate) lastSeen() time.Time  { return time.Unix(g.lastSec, int64(g.lastNs)).UTC() }

// Table folds events into findings. It is split into shards, each behind its own lock, so
// that parallel workers rarely wait for each other. An attributed finding's shard is
// chosen by its account, so the findings of one account (which share client addresses and device
// ids) share one shard's value table.
type Table struct {
	byDay   bool
	seed    maphash.Seed
	shards  [aggShards]aggShard
	scratch []byte // for Add; parallel workers bring a Scratch to AddBatch
}

const aggShards = 16

type aggShard struct {
	mu   sync.Mutex
	m    map[string]*aggregate // by encoded key
	vals values
	_    [64]byte // keep shards' locks off each other's cache lines
}

// New is an empty table; byDay splits findings by the UTC day of their events.
func New(byDay bool) *Table {
	a := &Table{byDay: byDay, seed: maphash.MakeSeed()}
	for i := range a.shards {
		a.shards[i].m = map[string]*aggregate{}
		a.shards[i].vals = values{ids: map[string]uint32{}}
	}
	return a
}

// appendKeyPart appends a length-prefixed part, so that no value can run into the next one.
func appendKeyPart[T string | []byte](b []byte, v T) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// decodeKey splits an encoded key back into its parts.
func decodeKey(k string) Key {
	var parts [5]string
	for i := range parts {
		n, w := binary.Uvarint([]byte(k))
		parts[i], k = k[w:w+int(n)], k[w+int(n):]
	}
	return Key{Account: parts[0], Hostname: parts[1], Protocol: parts[2], ClientIP: parts[3], Day: parts[4]}
}

// Add folds e in and reports whether this is the first event of its finding in file (a number
// the caller gives each file it scans, for per-file counts). Looking up a finding that exists
// allocates nothing. It is for one goroutine; parallel workers use AddBatch.
func (a *Table) Add(e *Event, file int) bool { return a.addWith(e, file, &a.scratch) }

// addWith is Add with the caller's scratch buffer for the key.
func (a *Table) addWith(e *Event, gen int, scratch *[]byte) bool {
	k := a.appendKey((*scratch)[:0], e)
	*scratch = k
	// The lists' value references are computed here, outside the shard's lock.
	hs := a.valueRefs(e)
	sh := &a.shards[a.shardOf(e, k)]
	sh.mu.Lock()
	first := sh.add(k, e, &hs, gen)
	sh.mu.Unlock()
	return first
}

// appendKey appends e's encoded key to b.
func (a *Table) appendKey(b []byte, e *Event) []byte {
	k := appendKeyPart(appendKeyPart(appendKeyPart(b, e.Account), e.Host), e.Protocol)
	if e.Account == "" {
		k = appendKeyPart(k, e.ClientIP)
	} else {
		k = append(k, 0)
	}
	if a.byDay {
		var d [32]byte
		k = appendKeyPart(k, e.Time.UTC().AppendFormat(d[:0], time.DateOnly))
	} else {
		k = append(k, 0)
	}
	return k
}

// shardOf is the shard of e, whose encoded key is k.
func (a *Table) shardOf(e *Event, k []byte) int {
	if e.Account != "" {
		return int(maphash.String(a.seed, e.Account) % aggShards)
	}
	return int(maphash.Bytes(a.seed, k) % aggShards)
}

func (a *Table) valueRefs(e *Event) [3]uint64 {
	return [3]uint64{a.valueRef(e.ClientIP), a.valueRef(e.UserAgent), a.valueRef(e.DeviceID)}
}

// Scratch is a parallel worker's memory for AddBatch; the zero value is ready.
type Scratch struct {
	keys  []byte
	ends  []int // end of each event's key in keys
	shard []uint8
	hs    [][3]uint64
	order []int32 // event indices grouped by shard
}

// AddBatch folds evs in (as Add each) and returns how many were the first event of their
// finding in file. It is safe for concurrent use, each caller with its own Scratch. Events are grouped by shard first, so that each shard's lock is taken
// once per batch rather than once per event.
func (a *Table) AddBatch(evs []Event, gen int, bs *Scratch) int {
	bs.keys, bs.ends, bs.shard, bs.hs = bs.keys[:0], bs.ends[:0], bs.shard[:0], bs.hs[:0]
	var count [aggShards + 1]int
	for i := range evs {
		e := &evs[i]
		start := len(bs.keys)
		bs.keys = a.appendKey(bs.keys, e)
		n := a.shardOf(e, bs.keys[start:])
		bs.ends = append(bs.ends, len(bs.keys))
		bs.shard = append(bs.shard, uint8(n))
		bs.hs = append(bs.hs, a.valueRefs(e))
		count[n+1]++
	}
	for n := 1; n <= aggShards; n++ {
		count[n] += count[n-1] // count[n] is now where shard n's events start
	}
	bs.order = slices.Grow(bs.order[:0], len(evs))[:len(evs)]
	next := count
	for i, n := range bs.shard {
		bs.order[next[n]] = int32(i)
		next[n]++
	}
	firsts := 0
	for n := range aggShards {
		idx := bs.order[count[n]:count[n+1]]
		if len(idx) == 0 {
			continue
		}
		sh := &a.shards[n]
		sh.mu.Lock()
		for _, i := range idx {
			start := 0
			if i > 0 {
				start = bs.ends[i-1]
			}
			if sh.add(bs.keys[start:bs.ends[i]], &evs[i], &bs.hs[i], gen) {
				firsts++
			}
		}
		sh.mu.Unlock()
	}
	return firsts
}

// valueRef is the reference a list entry keeps of s: packed, or for an interned value its hash
// (the id is filled in when the value is interned).
func (a *Table) valueRef(s string) uint64 {
	if r, ok := packValue(s); ok {
		return r
	}
	return interned | uint64(uint32(maphash.String(a.seed, s))>>1)<<32
}

// add folds e into its finding; hs are the valueRef of e's client IP, user agent and device id.
func (sh *aggShard) add(k []byte, e *Event, hs *[3]uint64, gen int) bool {
	sec, ns := e.Time.Unix(), int32(e.Time.Nanosecond())
	g := sh.m[string(k)]
	if g == nil {
		g = &aggregate{firstSec: sec, lastSec: sec, firstNs: ns, lastNs: ns, firstPrec: e.Prec, lastPrec: e.Prec}
		g.ips, g.uas, g.devs = g.inl[0:0:2], g.inl[2:2:3], g.inl[3:3:4]
		if len(k) <= len(g.keyBuf) {
			// The bytes are never written again: the string stays immutable.
			g.key = unsafe.String(&g.keyBuf[0], copy(g.keyBuf[:], k))
		} else {
			g.key = string(k)
		}
		sh.m[g.key] = g
	}
	switch {
	case sec < g.firstSec || (sec == g.firstSec && ns < g.firstNs):
		g.firstSec, g.firstNs, g.firstPrec = sec, ns, e.Prec
	case sec == g.firstSec && ns == g.firstNs:
		g.firstPrec = max(g.firstPrec, e.Prec)
	}
	switch {
	case sec > g.lastSec || (sec == g.lastSec && ns > g.lastNs):
		g.lastSec, g.lastNs, g.lastPrec = sec, ns, e.Prec
	case sec == g.lastSec && ns == g.lastNs:
		g.lastPrec = max(g.lastPrec, e.Prec)
	}
	if e.Success {
		g.successes++
	} else {
		g.failures++
	}
	g.direct = g.direct || e.Direct
	un := e.Time.UnixNano()
	g.ips = sh.vals.recent(g.ips, e.ClientIP, hs[0], un, MaxClientIPs)
	g.uas = sh.vals.recent(g.uas, e.UserAgent, hs[1], un, MaxUserAgents)
	g.devs = sh.vals.recent(g.devs, e.DeviceID, hs[2], un, MaxDeviceIDs)
	first := g.lastFile != gen
	g.lastFile = gen
	return first
}

// keyedAggregate is a finding with its key decoded, for sorting.
type keyedAggregate struct {
	k    Key
	g    *aggregate
	vals *values // the table its lists' ids index
}

// sorted returns every finding in output order: by account, hostname, protocol, day;
// unattributed last, by hostname, protocol, client IP, day.
func (a *Table) sorted() []keyedAggregate {
	n := 0
	for i := range a.shards {
		n += len(a.shards[i].m)
	}
	all := make([]keyedAggregate, 0, n)
	for i := range a.shards {
		sh := &a.shards[i]
		for _, g := range sh.m {
			all = append(all, keyedAggregate{decodeKey(g.key), g, &sh.vals})
		}
	}
	slices.SortFunc(all, func(x, y keyedAggregate) int { return keyCompare(x.k, y.k) })
	return all
}

// Len is the number of findings.
func (a *Table) Len() int {
	n := 0
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Findings returns copies of all findings in output order: by account, hostname, protocol,
// day; unattributed last, by hostname, protocol, client IP, day.
func (a *Table) Findings() []Finding {
	all := a.sorted()
	out := make([]Finding, len(all))
	for i, x := range all {
		g, v := x.g, x.vals
		f := Finding{Hostname: x.k.Hostname, Protocol: x.k.Protocol, Day: x.k.Day,
			FirstSeen: g.firstSeen(), LastSeen: g.lastSeen(), firstPrec: g.firstPrec, lastPrec: g.lastPrec,
			Successes: g.successes, Failures: g.failures, DirectIP: g.direct,
			ClientIPs: v.strings(g.ips), UserAgents: v.strings(g.uas), DeviceIDs: v.strings(g.devs)}
		if x.k.Account != "" {
			acct := x.k.Account
			f.Account = &acct
		}
		out[i] = f
	}
	return out
}

// keyCompare orders keys for output: by account, hostname, protocol, client IP, day; keys
// without an account (unattributed) last.
func keyCompare(a, b Key) int {
	if (a.Account == "") != (b.Account == "") {
		if a.Account != "" {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.Account, b.Account); c != 0 {
		return c
	}
	if c := strings.Compare(a.Hostname, b.Hostname); c != 0 {
		return c
	}
	if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	if c := strings.Compare(a.ClientIP, b.ClientIP); c != 0 {
		return c
	}
	return strings.Compare(a.Day, b.Day)
}
