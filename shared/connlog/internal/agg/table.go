package agg

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Table folds events into findings. It is split into shards, each behind its own lock, so that
// parallel workers rarely wait for each other; an attributed finding's shard is chosen by its
// account, so the findings of one account (which share client addresses and device ids) share
// one shard's tables. Everything a shard holds is in pointer-free arrays (see doc.go).
type Table struct {
	byDay   bool
	seed    maphash.Seed
	shards  [shards]shard
	scratch Scratch // for Add; parallel workers bring their own to AddBatch
}

const shards = 16

// shardOf is the shard of a name's hash: bits 20-23, apart from the low bits the shard's index
// probes with and the top bits it tags with.
func shardOf(h uint32) uint32 { return h >> 20 & (shards - 1) }

// key identifies a finding within its shard: the account (or, unattributed, the client
// address) as an id of the shard's names table, the hostname and protocol as ids of its small
// tables, and the UTC day (days since 1970) when the table splits by day.
type key struct {
	name  uint32
	host  uint16
	proto uint16
	day   int32
}

// rec is a finding being built: 112 bytes, no pointers.
type rec struct {
	k        key
	lastFile uint32 // the last file that touched it, for per-file counts
	// first and last seen as Unix seconds and nanoseconds (UTC, like every event time): exact
	// for any time.Time, compared as integers, 16 bytes smaller than two time.Time values.
	firstSec, lastSec   int64
	firstNs, lastNs     int32
	successes, failures uint32 // saturating
	firstPrec, lastPrec int8   // fraction digits the log used, for JSON
	direct              bool
	// The lists (client addresses, user agents, device ids), most recent first: n entries in
	// the inline area (h 0) or in chunk h-1 of the shard's list pool. A list only ever grows,
	// one entry at a time, so its capacity follows from n (capOf).
	nIP, nUA, nDev uint8
	hIP, hUA, hDev uint32
	inl            [4]seenVal // inline: addresses [0:2], user agent [2:3], device id [3:4]
}

type shard struct {
	mu     sync.Mutex
	idx    index      // hash of key -> record
	recs   paged[rec] // the findings
	names  strTab     // 'a'+account or 'u'+client address
	vals   values     // list values that do not pack
	lists  listPool   // lists that outgrew their record
	hosts  []string   // small tables: a campaign has few legacy hostnames, and few protocols exist
	protos []string
	_      [64]byte // keep shards' locks off each other's cache lines
}

// New is an empty table; byDay splits findings by the UTC day of their events. Its arrays are
// Go slices of pointer-free types: the collector never looks inside them.
func New(byDay bool) *Table {
	t := &Table{byDay: byDay, seed: maphash.MakeSeed()}
	t.init()
	return t
}

// init makes the shards empty.
func (t *Table) init() {
	t.shards = [shards]shard{}
	for i := range t.shards {
		sh := &t.shards[i]
		for _, s := range []*strTab{&sh.names, &sh.vals.tab} {
			s.seed = t.seed
		}
	}
}

// Free leaves the table empty, its arrays to the collector. No view it handed out before may
// be used after (Findings returns copies), nor may Free run while another goroutine uses it.
func (t *Table) Free() { t.init() }

// prep is what an event needs before its shard's lock is taken: its name (prefixed), hashes,
// day and value references. Computing them outside the lock lets workers overlap.
type prep struct {
	name       []byte // in the scratch buffer
	hash       uint32
	day        int32
	ip, ua, dv pval // the client address, user agent, device id
}

// Scratch is a caller's memory for Add and AddBatch; the zero value is ready. A parallel worker
// keeps its own.
type Scratch struct {
	names []byte
	preps []prep
	order []int32 // event indices grouped by shard
	keys  []keyHash
}

func (t *Table) prepare(e *Event, buf []byte) (prep, []byte) {
	start := len(buf)
	if e.Account != "" {
		buf = append(append(buf, 'a'), e.Account...)
	} else {
		buf = append(append(buf, 'u'), e.ClientIP...)
	}
	p := prep{name: buf[start:], ip: t.prepValue(e.ClientIP, true), ua: t.prepValue(e.UserAgent, false), dv: t.prepValue(e.DeviceID, true)}
	p.hash = uint32(maphash.Bytes(t.seed, p.name))
	if t.byDay {
		p.day = unixDay(e.Time)
	}
	return p, buf
}

// unixDay is the UTC day of t, in days since 1970-01-01.
func unixDay(t time.Time) int32 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return int32(d)
}

// prepValue prepares a list value: packed, loose, or to be interned (hashed if lookup needs
// to). A user agent is interned: a few thousand distinct ones are held by nearly every
// finding. A device id or an address that does not pack is loose: each finding that holds it
// keeps its own copy, because such values change from request to request (mobile networks,
// NAT pools), few findings share one, and sharing cost a hash, an index probe and an index
// slot for every new value.
func (t *Table) prepValue(s string, loose bool) pval {
	if r, ok := packV4(s); ok {
		return pval{ref: vref(r), packed: true}
	}
	return pval{loose: loose}
}

// Add folds e in and reports whether this is the first event of its finding in file (a number
// the caller gives each file it scans, for per-file counts). It is for one goroutine; parallel
// workers use AddBatch.
func (t *Table) Add(e *Event, file int) bool { return t.AddWith(e, file, &t.scratch) }

// AddWith is Add with the caller's Scratch: safe for concurrent use, each caller with its own.
func (t *Table) AddWith(e *Event, file int, s *Scratch) bool {
	p, buf := t.prepare(e, s.names[:0])
	s.names = buf
	sh := &t.shards[shardOf(p.hash)]
	sh.mu.Lock()
	first := sh.add(e, &p, uint32(file))
	sh.mu.Unlock()
	return first
}

// AddBatch folds evs in (as Add each) and returns how many were the first event of their
// finding in file. It is safe for concurrent use, each caller with its own Scratch: events are
// grouped by shard first, so that each shard's lock is taken once per batch.
func (t *Table) AddBatch(evs []Event, file int, s *Scratch) int {
	s.names, s.preps = s.names[:0], s.preps[:0]
	var count [shards + 1]int
	for i := range evs {
		var p prep
		p, s.names = t.prepare(&evs[i], s.names)
		s.preps = append(s.preps, p)
		count[shardOf(p.hash)+1]++
	}
	// The names were appended to one buffer that may have moved while it grew: point each
	// prep's name at its final place.
	off := 0
	for i := range s.preps {
		n := len(s.preps[i].name)
		s.preps[i].name = s.names[off : off+n]
		off += n
	}
	for n := 1; n <= shards; n++ {
		count[n] += count[n-1] // count[n] is now where shard n's events start
	}
	if cap(s.order) < len(evs) {
		s.order = make([]int32, len(evs))
	}
	s.order = s.order[:len(evs)]
	next := count
	for i := range s.preps {
		n := shardOf(s.preps[i].hash)
		s.order[next[n]] = int32(i)
		next[n]++
	}
	firsts := 0
	for n := range shards {
		idx := s.order[count[n]:count[n+1]]
		if len(idx) == 0 {
			continue
		}
		sh := &t.shards[n]
		sh.mu.Lock()
		firsts += sh.addGroup(evs, s, idx, uint32(file))
		sh.mu.Unlock()
	}
	return firsts
}

// small is the id of s in a small table, adding it if need be.
func small(tab *[]string, s string) uint16 {
	for i, x := range *tab {
		if x == s {
			return uint16(i)
		}
	}
	*tab = append(*tab, strings.Clone(s))
	return uint16(len(*tab) - 1)
}

func hashKey(k key) uint32 {
	x := uint64(k.name)<<32 | uint64(k.host)<<16 | uint64(k.proto)
	x ^= uint64(uint32(k.day)) * 0x9E3779B97F4A7C15
	x *= 0xbf58476d1ce4e5b9
	return uint32(x >> 32)
}

// addGroup folds the events evs[idx] (prepared in s) into the shard. It goes over them in
// passes, each asking the processor for the memory the next one reads (prefetch), so that the
// cache misses of a group's events overlap instead of following one another: the names'
// index slots, their offsets, their bytes; then (names interned) the findings' index slots,
// their records, the records' lists; then the folding, on memory that is in cache. A group is
// one block's events of one shard, about twenty; the passes took the narrow table benchmark
// to 0.75-0.82 of its time and the wide one to 0.84-0.93 (interleaved runs against the build
// before them).
func (sh *shard) addGroup(evs []Event, s *Scratch, idx []int32, file uint32) int {
	if plainGroups {
		return sh.addGroupPlain(evs, s, idx, file)
	}
	for step := range 3 {
		for _, i := range idx {
			sh.names.prefetch(s.preps[i].hash, step)
		}
	}
	s.keys = s.keys[:0]
	for _, i := range idx {
		k := sh.key(&evs[i], &s.preps[i])
		h := hashKey(k)
		s.keys = append(s.keys, keyHash{k, h})
		sh.idx.prefetch(h)
	}
	for _, kh := range s.keys {
		if id, ok := sh.idx.peek(kh.h); ok {
			prefetchRec(sh.recs.at(id))
		}
	}
	for _, kh := range s.keys {
		if r := sh.find(kh.k, kh.h); r != nil {
			sh.prefetchLists(r)
		}
	}
	firsts := 0
	for j, i := range idx {
		if sh.addKeyed(&evs[i], &s.preps[i], s.keys[j].k, s.keys[j].h, file) {
			firsts++
		}
	}
	return firsts
}

// plainGroups makes addGroup its plain twin, addGroupPlain: tests hold the two to the same
// findings, and benchmarks measure what the passes earn.
var plainGroups = false

// addGroupPlain is addGroup without the prefetch passes: each event looked up and folded in
// turn.
func (sh *shard) addGroupPlain(evs []Event, s *Scratch, idx []int32, file uint32) int {
	firsts := 0
	for _, i := range idx {
		k := sh.key(&evs[i], &s.preps[i])
		if sh.addKeyed(&evs[i], &s.preps[i], k, hashKey(k), file) {
			firsts++
		}
	}
	return firsts
}

// prefetchRec asks for the cache lines of r (two or three: a record is 120 bytes).
func prefetchRec(r *rec) {
	p := uintptr(unsafe.Pointer(r))
	prefetch(p)
	prefetch(p + 64)
	prefetch(p + uintptr(recSize) - 1)
}

// prefetchValues asks for the loose values of list.
func (sh *shard) prefetchValues(list []seenVal) {
	for _, e := range list {
		if v := e.vref(); v&isLoose != 0 {
			sh.vals.loose.prefetch(uint32(v))
		}
	}
}

// prefetchLists asks for what r's lists will need: the chunks of its addresses and devices, or
// the device id it saw last when that list is in the record.
func (sh *shard) prefetchLists(r *rec) {
	if r.hIP != 0 {
		prefetch(uintptr(unsafe.Pointer(&sh.lists.slice(r.hIP-1, 1)[0])))
	}
	if r.hDev != 0 {
		prefetch(uintptr(unsafe.Pointer(&sh.lists.slice(r.hDev-1, 1)[0])))
	} else {
		sh.prefetchValues(sh.list(r, r.nDev, 0, devList))
	}
}

type keyHash struct {
	k key
	h uint32
}

// add folds e into its finding; p is e prepared.
func (sh *shard) add(e *Event, p *prep, file uint32) bool {
	k := sh.key(e, p)
	return sh.addKeyed(e, p, k, hashKey(k), file)
}

// key is the key of e's finding (its name interned).
func (sh *shard) key(e *Event, p *prep) key {
	return key{name: sh.names.intern(p.name, p.hash), host: small(&sh.hosts, e.Host), proto: small(&sh.protos, e.Protocol), day: p.day}
}

// addKeyed is add for an event whose key k (hash h) is known.
func (sh *shard) addKeyed(e *Event, p *prep, k key, h uint32, file uint32) bool {
	r := sh.find(k, h)
	sec, ns := e.Time.Unix(), int32(e.Time.Nanosecond())
	if r == nil {
		id := sh.recs.add()
		r = sh.recs.at(id)
		*r = rec{k: k, firstSec: sec, lastSec: sec, firstNs: ns, lastNs: ns, firstPrec: e.Prec, lastPrec: e.Prec, lastFile: file - 1}
		sh.idx.insert(h, id, sh.recs.n, sh.rehash)
	}
	switch {
	case sec < r.firstSec || (sec == r.firstSec && ns < r.firstNs):
		r.firstSec, r.firstNs, r.firstPrec = sec, ns, e.Prec
	case sec == r.firstSec && ns == r.firstNs:
		r.firstPrec = max(r.firstPrec, e.Prec)
	}
	switch {
	case sec > r.lastSec || (sec == r.lastSec && ns > r.lastNs):
		r.lastSec, r.lastNs, r.lastPrec = sec, ns, e.Prec
	case sec == r.lastSec && ns == r.lastNs:
		r.lastPrec = max(r.lastPrec, e.Prec)
	}
	if e.Success {
		if r.successes != ^uint32(0) {
			r.successes++
		}
	} else if r.failures != ^uint32(0) {
		r.failures++
	}
	r.direct = r.direct || e.Direct
	un := e.Time.UnixNano()
	if e.ClientIP != "" {
		sh.update(r, &r.nIP, &r.hIP, ipList, e.ClientIP, &p.ip, un)
	}
	if e.UserAgent != "" {
		sh.update(r, &r.nUA, &r.hUA, uaList, e.UserAgent, &p.ua, un)
	}
	if e.DeviceID != "" {
		sh.update(r, &r.nDev, &r.hDev, devList, e.DeviceID, &p.dv, un)
	}
	if sh.vals.loose.crowded() {
		sh.compactLoose()
	}
	first := r.lastFile != file
	r.lastFile = file
	return first
}

// find is the record of k (hash h), or nil.
func (sh *shard) find(k key, h uint32) *rec {
	if len(sh.idx.slots) == 0 {
		return nil
	}
	mask, tag := uint32(len(sh.idx.slots)-1), h&tagMask
	for i := h & mask; ; i = (i + 1) & mask {
		sl := sh.idx.slots[i]
		if sl == 0 {
			return nil
		}
		if sl&tagMask == tag {
			if r := sh.recs.at(sl&idMask - 1); r.k == k {
				return r
			}
		}
	}
}

func (sh *shard) rehash(id uint32) (uint32, bool) { return hashKey(sh.recs.at(id).k), true }

// listKind is one of a record's three lists: where it starts in the inline area, how many
// entries fit there, and its cap.
type listKind struct{ inl, inlCap, max int }

var (
	ipList  = listKind{0, 2, MaxClientIPs}
	uaList  = listKind{2, 1, MaxUserAgents}
	devList = listKind{3, 1, MaxDeviceIDs}
)

// capOf is the capacity of a list of kind k holding n entries: lists grow one entry at a time
// through the inline area and then nextCap, so it is the first of those capacities >= n.
func (k listKind) capOf(n int) uint8 {
	c := uint8(k.inlCap)
	for int(c) < n {
		c = nextCap(c, k.max)
	}
	return c
}

// list is the entries of one of r's lists.
func (sh *shard) list(r *rec, n uint8, h uint32, k listKind) []seenVal {
	if h == 0 {
		return r.inl[k.inl : k.inl+int(n) : k.inl+k.inlCap]
	}
	return sh.lists.slice(h-1, k.capOf(int(n)))[:n]
}

// update folds value s (prepared as p, seen at t) into one of r's lists, moving the list to a
// larger chunk when it is full and below its cap.
func (sh *shard) update(r *rec, n *uint8, h *uint32, k listKind, s string, p *pval, t int64) {
	list := sh.list(r, *n, *h, k)
	list = sh.vals.recent(list, s, *p, t, k.max, func(l []seenVal) []seenVal {
		if len(l) < cap(l) {
			return l[:len(l)+1]
		}
		c := uint8(cap(l))
		nc := nextCap(c, k.max)
		nh, chunk := sh.lists.get(nc)
		copy(chunk, l)
		if *h != 0 {
			sh.lists.put(*h-1, c)
		}
		*h = nh + 1
		return chunk[:len(l)+1]
	})
	*n = uint8(len(list))
}

// compactLoose moves the loose values every list holds to new pages (looseArena.compact).
func (sh *shard) compactLoose() {
	sh.vals.loose.compact(func(move func(uint32) uint32) {
		for id := range sh.recs.n {
			r := sh.recs.at(id)
			ips, uas, devs := sh.lists3(r)
			for _, list := range [...][]seenVal{ips, uas, devs} {
				for i, e := range list {
					if x := e.vref(); x&isLoose != 0 {
						list[i] = mkSeen(e.t(), isLoose|vref(move(uint32(x))))
					}
				}
			}
		}
	})
}

// Len is the number of findings.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += int(sh.recs.n)
		sh.mu.Unlock()
	}
	return n
}

// Bytes is roughly the memory the table holds (its arrays, not the Go runtime's overhead).
func (t *Table) Bytes() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += sh.recs.bytes(recSize) + len(sh.idx.slots)*4 + sh.names.bytes() + sh.vals.tab.bytes() + sh.vals.loose.bytes() + sh.lists.bytes()
		sh.mu.Unlock()
	}
	return n
}
