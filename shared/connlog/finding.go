package connlog

import (
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Caps on the per-finding lists: memory grows with distinct findings, never with lines.
const (
	maxClientIPs  = 10
	maxUserAgents = 5
	maxDeviceIDs  = 10
)

// Finding is one account (or, unattributed, one client address) seen on one legacy hostname over
// one protocol. Its JSON form is the output contract of `sunset scan`.
type Finding struct {
	// Account is the normalised account; nil for unattributed traffic (no authenticated user).
	Account *string `json:"account"`
	// Hostname is the legacy hostname the traffic reached.
	Hostname string `json:"hostname"`
	// Protocol is IMAP, POP, SMTP, EAS, EWS, OWA, MAPI, RPC, Autodiscover, OAB, HTTP or TLS.
	Protocol string `json:"protocol"`
	// FirstSeen and LastSeen are UTC; JSON keeps the log's sub-second precision.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Successes and Failures count events (requests, logins, AUTH outcomes).
	Successes int64 `json:"successes"`
	Failures  int64 `json:"failures"`
	// ClientIPs are distinct client addresses, most recent first, at most 10.
	ClientIPs []string `json:"client_ips"`
	// UserAgents are distinct user agents, most recent first, at most 5.
	UserAgents []string `json:"user_agents"`
	// DeviceIDs are distinct ActiveSync device ids, most recent first, at most 10.
	DeviceIDs []string `json:"device_ids"`
	// DirectIP is true when any event reached the legacy server by a bare IP host header.
	DirectIP bool `json:"direct_ip"`
	// Day is the UTC day (YYYY-MM-DD) the finding covers; set only by a Scanner with
	// Options.ByDay.
	Day string `json:"day,omitempty"`

	firstPrec, lastPrec int8 // fraction digits the log used, for JSON
}

// Key identifies a finding: (account, hostname, protocol[, day]) or, when Account is "",
// (hostname, protocol, client IP[, day]).
type Key struct {
	Account  string
	Hostname string
	Protocol string
	ClientIP string // only for unattributed findings
	Day      string // only with Options.ByDay
}

// Key returns the aggregation key of f.
func (f *Finding) Key() Key {
	k := Key{Hostname: f.Hostname, Protocol: f.Protocol, Day: f.Day}
	if f.Account != nil {
		k.Account = *f.Account
	} else if len(f.ClientIPs) > 0 {
		k.ClientIP = f.ClientIPs[0]
	}
	return k
}

// MarshalJSON writes the fields in contract order, the times in RFC 3339 UTC with as many
// fraction digits as the log had, and empty lists as [].
func (f Finding) MarshalJSON() ([]byte, error) {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return json.Marshal(struct {
		Account    *string  `json:"account"`
		Hostname   string   `json:"hostname"`
		Protocol   string   `json:"protocol"`
		FirstSeen  string   `json:"first_seen"`
		LastSeen   string   `json:"last_seen"`
		Successes  int64    `json:"successes"`
		Failures   int64    `json:"failures"`
		ClientIPs  []string `json:"client_ips"`
		UserAgents []string `json:"user_agents"`
		DeviceIDs  []string `json:"device_ids"`
		DirectIP   bool     `json:"direct_ip"`
		Day        string   `json:"day,omitempty"`
	}{f.Account, f.Hostname, f.Protocol, formatTime(f.FirstSeen, f.firstPrec), formatTime(f.LastSeen, f.lastPrec),
		f.Successes, f.Failures, nonNil(f.ClientIPs), nonNil(f.UserAgents), nonNil(f.DeviceIDs), f.DirectIP, f.Day})
}

// formatTime formats t in UTC with at least prec fraction digits (more when t needs them).
func formatTime(t time.Time, prec int8) string { return string(appendTime(nil, t, prec)) }

// event is one counted connection outcome, after hostname resolution.
type event struct {
	t         time.Time
	prec      int8
	account   string // normalised; "" = unattributed
	host      string
	direct    bool
	protocol  string
	clientIP  string
	userAgent string
	deviceID  string
	success   bool
	uaClean   bool // userAgent is already redacted and cleaned (cleanUserAgent)
}

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

// seenVal is one entry of a finding's capped list: a value (see valueRef) and when it was last
// seen.
type seenVal struct {
	t   int64  // Unix nanoseconds
	ref uint64 // the value: packed, or interned (hash and id)
}

// A value reference is exact for short values: a value of at most 15 digits and dots (an IPv4
// address: nearly every client address) is packed into the reference itself, four bits a
// character, so that comparing two is comparing two integers and the value takes no room in the
// value table. Any other value is interned: its reference is interned | hash<<32 | id, and a
// list is searched by comparing hashes, the value itself (elsewhere in memory) being read only
// to confirm a match.
const interned = 1 << 63

// packValue returns s packed (first character in the lowest four bits, 0 after the last), and
// whether it packs.
func packValue(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var r uint64
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | uint64(c-'0'+1)
		case c == '.':
			r = r<<4 | 11
		default:
			return 0, false
		}
	}
	return r, true
}

// unpackValue is the string packValue packed into r.
func unpackValue(r uint64) string {
	var b [15]byte
	n := 0
	for ; r != 0; r >>= 4 {
		if d := r & 0xf; d == 11 {
			b[n] = '.'
		} else {
			b[n] = byte('0' + d - 1)
		}
		n++
	}
	return string(b[:n])
}

// aggregator folds events into findings. Its table is split into shards, each behind its own
// lock, so that parallel workers rarely wait for each other. An attributed finding's shard is
// chosen by its account, so the findings of one account (which share client addresses and device
// ids) share one shard's value table.
type aggregator struct {
	byDay   bool
	seed    maphash.Seed
	shards  [aggShards]aggShard
	scratch []byte // for add; parallel workers bring their own
}

const aggShards = 16

type aggShard struct {
	mu   sync.Mutex
	m    map[string]*aggregate // by encoded key
	vals values
	_    [64]byte // keep shards' locks off each other's cache lines
}

func newAggregator(byDay bool) *aggregator {
	a := &aggregator{byDay: byDay, seed: maphash.MakeSeed()}
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

// add folds e in and reports whether this is the first event of the finding in file gen. Looking
// up a finding that exists allocates nothing. It is for one goroutine; workers use addWith.
func (a *aggregator) add(e *event, gen int) bool { return a.addWith(e, gen, &a.scratch) }

// addWith is add with the caller's scratch buffer for the key; it is safe for concurrent use.
func (a *aggregator) addWith(e *event, gen int, scratch *[]byte) bool {
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
func (a *aggregator) appendKey(b []byte, e *event) []byte {
	k := appendKeyPart(appendKeyPart(appendKeyPart(b, e.account), e.host), e.protocol)
	if e.account == "" {
		k = appendKeyPart(k, e.clientIP)
	} else {
		k = append(k, 0)
	}
	if a.byDay {
		var d [32]byte
		k = appendKeyPart(k, e.t.UTC().AppendFormat(d[:0], time.DateOnly))
	} else {
		k = append(k, 0)
	}
	return k
}

// shardOf is the shard of e, whose encoded key is k.
func (a *aggregator) shardOf(e *event, k []byte) int {
	if e.account != "" {
		return int(maphash.String(a.seed, e.account) % aggShards)
	}
	return int(maphash.Bytes(a.seed, k) % aggShards)
}

func (a *aggregator) valueRefs(e *event) [3]uint64 {
	return [3]uint64{a.valueRef(e.clientIP), a.valueRef(e.userAgent), a.valueRef(e.deviceID)}
}

// batchScratch is a parallel worker's memory for addBatch.
type batchScratch struct {
	keys  []byte
	ends  []int // end of each event's key in keys
	shard []uint8
	hs    [][3]uint64
	order []int32 // event indices grouped by shard
}

// addBatch folds evs in (as addWith each) and returns how many were the first event of their
// finding in file gen. Events are grouped by shard first, so that each shard's lock is taken
// once per batch rather than once per event.
func (a *aggregator) addBatch(evs []event, gen int, bs *batchScratch) int {
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
func (a *aggregator) valueRef(s string) uint64 {
	if r, ok := packValue(s); ok {
		return r
	}
	return interned | uint64(uint32(maphash.String(a.seed, s))>>1)<<32
}

// add folds e into its finding; hs are the valueRef of e's client IP, user agent and device id.
func (sh *aggShard) add(k []byte, e *event, hs *[3]uint64, gen int) bool {
	sec, ns := e.t.Unix(), int32(e.t.Nanosecond())
	g := sh.m[string(k)]
	if g == nil {
		g = &aggregate{firstSec: sec, lastSec: sec, firstNs: ns, lastNs: ns, firstPrec: e.prec, lastPrec: e.prec}
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
		g.firstSec, g.firstNs, g.firstPrec = sec, ns, e.prec
	case sec == g.firstSec && ns == g.firstNs:
		g.firstPrec = max(g.firstPrec, e.prec)
	}
	switch {
	case sec > g.lastSec || (sec == g.lastSec && ns > g.lastNs):
		g.lastSec, g.lastNs, g.lastPrec = sec, ns, e.prec
	case sec == g.lastSec && ns == g.lastNs:
		g.lastPrec = max(g.lastPrec, e.prec)
	}
	if e.success {
		g.successes++
	} else {
		g.failures++
	}
	g.direct = g.direct || e.direct
	un := e.t.UnixNano()
	g.ips = sh.vals.recent(g.ips, e.clientIP, hs[0], un, maxClientIPs)
	g.uas = sh.vals.recent(g.uas, e.userAgent, hs[1], un, maxUserAgents)
	g.devs = sh.vals.recent(g.devs, e.deviceID, hs[2], un, maxDeviceIDs)
	first := g.lastFile != gen
	g.lastFile = gen
	return first
}

// values interns the strings kept in findings' lists (client IPs, user agents, device ids), with
// reference counts so that a value dropped from every list is forgotten: the table follows what
// the findings hold, not what went by.
type values struct {
	ids  map[string]uint32
	strs []string
	refs []int32
	free []uint32
}

func (v *values) acquire(s string) uint32 {
	if id, ok := v.ids[s]; ok {
		v.refs[id]++
		return id
	}
	s = strings.Clone(s) // s may point into a read buffer
	var id uint32
	if n := len(v.free); n > 0 {
		id, v.free = v.free[n-1], v.free[:n-1]
		v.strs[id], v.refs[id] = s, 1
	} else {
		id = uint32(len(v.strs))
		v.strs, v.refs = append(v.strs, s), append(v.refs, 1)
	}
	v.ids[s] = id
	return id
}

// release drops a list's hold on the value of ref (nothing to do for a packed value).
func (v *values) release(ref uint64) {
	if ref&interned == 0 {
		return
	}
	id := uint32(ref)
	if v.refs[id]--; v.refs[id] == 0 {
		delete(v.ids, v.strs[id])
		v.strs[id] = ""
		v.free = append(v.free, id)
	}
}

func (v *values) strings(list []seenVal) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = v.str(x.ref)
	}
	return out
}

// str is the value of ref.
func (v *values) str(ref uint64) string {
	if ref&interned == 0 {
		return unpackValue(ref)
	}
	return v.strs[uint32(ref)]
}

// hold returns the reference an entry keeps of s, whose valueRef is ref, interning s if need be.
func (v *values) hold(s string, ref uint64) uint64 {
	if ref&interned == 0 {
		return ref
	}
	return ref&^0xffffffff | uint64(v.acquire(s))
}

// recent keeps list distinct, ordered most recent first (ties by value), at most n long. The
// result does not depend on the order events arrive in. Lists grow to exactly n, never beyond:
// memory per finding is what bounds the scanner's memory. ref is s's valueRef: entries whose
// reference differs (packed) or whose hash differs (interned) are passed over without reading
// their value.
func (v *values) recent(list []seenVal, s string, ref uint64, t int64, n int) []seenVal {
	if s == "" {
		return list
	}
	str := func(i int) string { return v.str(list[i].ref) }
	is := func(i int) bool {
		x := list[i].ref
		if ref&interned == 0 {
			return x == ref
		}
		return x>>32 == ref>>32 && v.strs[uint32(x)] == s
	}
	// Fast path for logs read in time order: the value becomes (or stays) the most recent.
	if len(list) > 0 && (t > list[0].t || (t == list[0].t && s <= str(0))) {
		if is(0) {
			list[0].t = t
			return list
		}
		i := 1
		for ; i < len(list) && !is(i); i++ {
		}
		var held uint64
		if i < len(list) {
			held = list[i].ref
		} else { // new value: grow unless full, dropping the oldest
			held = v.hold(s, ref)
			if len(list) < n {
				list = growVals(list, n)
			} else {
				i = len(list) - 1
				v.release(list[i].ref)
			}
		}
		copy(list[1:i+1], list[:i])
		list[0] = seenVal{t: t, ref: held}
		return list
	}
	i := 0
	for ; i < len(list) && !is(i); i++ {
	}
	var held uint64
	if i < len(list) {
		if t <= list[i].t {
			return list
		}
		held = list[i].ref
		list = append(list[:i], list[i+1:]...)
	} else {
		if len(list) >= n {
			last := len(list) - 1
			if t < list[last].t || (t == list[last].t && s > str(last)) {
				return list
			}
			v.release(list[last].ref)
			list = list[:last]
		}
		held = v.hold(s, ref)
	}
	j := sort.Search(len(list), func(j int) bool {
		return list[j].t < t || (list[j].t == t && v.str(list[j].ref) > s)
	})
	list = growVals(list, n)
	copy(list[j+1:], list[j:])
	list[j] = seenVal{t: t, ref: held}
	return list
}

// growVals lengthens list by one, reallocating to at most n (1, 2, 4, ... n: most lists hold one
// value).
func growVals(list []seenVal, n int) []seenVal {
	if len(list) < cap(list) {
		return list[:len(list)+1]
	}
	l := make([]seenVal, len(list)+1, min(n, max(1, 2*len(list))))
	copy(l, list)
	return l
}

// keyedAggregate is a finding with its key decoded, for sorting.
type keyedAggregate struct {
	k    Key
	g    *aggregate
	vals *values // the table its lists' ids index
}

// sorted returns every finding in output order: by account, hostname, protocol, day;
// unattributed last, by hostname, protocol, client IP, day.
func (a *aggregator) sorted() []keyedAggregate {
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

// findings returns copies of all findings in output order (see sorted).
func (a *aggregator) findings() []Finding {
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
