package agg

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unsafe"
)

const recSize = int(unsafe.Sizeof(rec{}))

func (r *rec) firstSeen() time.Time { return time.Unix(r.firstSec, int64(r.firstNs)).UTC() }
func (r *rec) lastSeen() time.Time  { return time.Unix(r.lastSec, int64(r.lastNs)).UTC() }

// keyed is a finding with its key decoded, for output.
type keyed struct {
	k         Key
	r         *rec
	sh        *shard
	plainName bool // the account needs no JSON escaping
}

// lists are r's three lists.
func (sh *shard) lists3(r *rec) (ips, uas, devs []seenVal) {
	return sh.list(r, r.nIP, r.hIP, ipList), sh.list(r, r.nUA, r.hUA, uaList), sh.list(r, r.nDev, r.hDev, devList)
}

// ref is a finding's place in the table: its shard in the top 4 bits, its record below (a
// shard's ids stay far below 2^28: its indexes hold 2^24).
type ref uint32

func mkRef(sh int, id uint32) ref  { return ref(uint32(sh)<<28 | id) }
func (r ref) parts() (int, uint32) { return int(r >> 28), uint32(r) & (1<<28 - 1) }

// ranks are the places in sorted order of every string a key holds, per shard: names[i][id]
// is the rank of shard i's name id, hosts and protos likewise; account says whether a name
// rank is an account's (else a client address of unattributed findings).
type ranks struct {
	names, hosts, protos [shards][]uint32
	account              []bool // by name rank
}

// rankKeys ranks the names, hostnames and protocols of every shard once, so that sorting
// findings compares integers only.
func (t *Table) rankKeys() *ranks {
	hostRank, protoRank := map[string]uint32{}, map[string]uint32{}
	for i := range t.shards {
		for _, h := range t.shards[i].hosts {
			hostRank[h] = 0
		}
		for _, p := range t.shards[i].protos {
			protoRank[p] = 0
		}
	}
	rank(hostRank)
	rank(protoRank)
	type name struct {
		s  string
		sh uint8
		id uint32
	}
	var names []name
	for i := range t.shards {
		sh := &t.shards[i]
		for id := range sh.names.offs.n {
			names = append(names, name{s: sh.names.str(id), sh: uint8(i), id: id})
		}
	}
	slices.SortFunc(names, func(a, b name) int { return strings.Compare(a.s, b.s) })
	r := &ranks{account: make([]bool, len(names))}
	for i := range t.shards {
		sh := &t.shards[i]
		r.names[i] = make([]uint32, sh.names.offs.n)
		r.hosts[i], r.protos[i] = make([]uint32, len(sh.hosts)), make([]uint32, len(sh.protos))
		for j, h := range sh.hosts {
			r.hosts[i][j] = hostRank[h]
		}
		for j, p := range sh.protos {
			r.protos[i][j] = protoRank[p]
		}
	}
	for k, n := range names {
		r.names[n.sh][n.id] = uint32(k)
		r.account[k] = n.s[0] == 'a'
	}
	return r
}

// sorted returns every finding in output order: attributed first by account, hostname,
// protocol, day; unattributed last by hostname, protocol, client address, day. It costs 4
// bytes a finding: the strings are ranked once (rankKeys), the attributed findings are placed
// by a counting sort on their account's rank, and only the few findings of one account (and
// the unattributed ones) are sorted by comparison. Keys are decoded one at a time by decode,
// so the output costs no copy of the table.
func (t *Table) sorted() []ref {
	r := t.rankKeys()
	nameOf := func(i int, id uint32) uint32 { return r.names[i][t.shards[i].recs.at(id).k.name] }
	// Count each account's findings, then place them: start[k] is where rank k's go.
	start := make([]uint32, len(r.account)+1)
	var unattributed []ref
	for i := range t.shards {
		for id := range t.shards[i].recs.n {
			if k := nameOf(i, id); r.account[k] {
				start[k+1]++
			} else {
				unattributed = append(unattributed, mkRef(i, id))
			}
		}
	}
	for k := 1; k < len(start); k++ {
		start[k] += start[k-1]
	}
	out := make([]ref, int(start[len(start)-1])+len(unattributed))
	next := slices.Clone(start)
	for i := range t.shards {
		for id := range t.shards[i].recs.n {
			if k := nameOf(i, id); r.account[k] {
				out[next[k]] = mkRef(i, id)
				next[k]++
			}
		}
	}
	// hostname, protocol, then the name (for unattributed findings) and day.
	key := func(x ref) (uint64, int32) {
		i, id := x.parts()
		k := t.shards[i].recs.at(id).k
		return uint64(r.hosts[i][k.host])<<48 | uint64(r.protos[i][k.proto])<<32 | uint64(r.names[i][k.name]), k.day
	}
	byKey := func(a, b ref) int {
		ka, da := key(a)
		kb, db := key(b)
		return cmp.Or(cmp.Compare(ka, kb), cmp.Compare(da, db))
	}
	// An account's findings are sorted by their keys, read once each into tmp: sorting the
	// refs themselves would read two records per comparison, each a cache miss.
	type keyedRef struct {
		k   uint64
		day int32
		x   ref
	}
	var tmp []keyedRef
	for k := range r.account {
		g := out[start[k]:start[k+1]]
		if len(g) < 2 {
			continue
		}
		tmp = tmp[:0]
		for _, x := range g {
			i, id := x.parts()
			prefetch(uintptr(unsafe.Pointer(t.shards[i].recs.at(id))))
		}
		for _, x := range g {
			k, day := key(x)
			tmp = append(tmp, keyedRef{k, day, x})
		}
		slices.SortFunc(tmp, func(a, b keyedRef) int { return cmp.Or(cmp.Compare(a.k, b.k), cmp.Compare(a.day, b.day)) })
		for i := range tmp {
			g[i] = tmp[i].x
		}
	}
	// The unattributed findings, which are all of a table read from logs without accounts, are
	// sorted in place: a copy of their keys, as above, would cost 16 bytes a finding.
	slices.SortFunc(unattributed, byKey)
	copy(out[start[len(start)-1]:], unattributed)
	return out
}

// decoder turns a ref back into the finding's key and record.
type decoder struct {
	t    *Table
	days map[int32]string
}

// decode is the finding of x: its key (strings are views into the table, valid until it
// changes), its record and shard.
func (d *decoder) decode(x ref) keyed {
	i, id := x.parts()
	sh := &d.t.shards[i]
	r := sh.recs.at(id)
	k := Key{Hostname: sh.hosts[r.k.host], Protocol: sh.protos[r.k.proto]}
	plain := sh.names.plain(r.k.name)
	if n := sh.names.str(r.k.name); n[0] == 'a' {
		k.Account = n[1:]
	} else {
		k.ClientIP = n[1:]
	}
	if d.t.byDay {
		day, ok := d.days[r.k.day]
		if !ok {
			if d.days == nil {
				d.days = map[int32]string{}
			}
			day = time.Unix(int64(r.k.day)*86400, 0).UTC().Format(time.DateOnly)
			d.days[r.k.day] = day
		}
		k.Day = day
	}
	return keyed{k: k, r: r, sh: sh, plainName: plain}
}

// rank replaces each key's value with its place in sorted order.
func rank(m map[string]uint32) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		m[k] = uint32(i)
	}
}

// Findings returns copies of all findings in output order: by account, hostname, protocol,
// day; unattributed last, by hostname, protocol, client IP, day.
func (t *Table) Findings() []Finding {
	out := make([]Finding, 0, t.Len())
	t.Each(func(f Finding) error { out = append(out, f); return nil })
	return out
}

// Each hands every finding to fn, in the order of Findings, one at a time: a caller that writes
// them out holds one, not the table's worth. An error from fn stops it and is returned.
func (t *Table) Each(fn func(Finding) error) error {
	d := decoder{t: t}
	for _, o := range t.sorted() {
		x := d.decode(o)
		r, v := x.r, &x.sh.vals
		ips, uas, devs := x.sh.lists3(r)
		f := Finding{Hostname: x.k.Hostname, Protocol: x.k.Protocol, Day: x.k.Day,
			FirstSeen: r.firstSeen(), LastSeen: r.lastSeen(), firstPrec: r.firstPrec, lastPrec: r.lastPrec,
			Successes: int64(r.successes), Failures: int64(r.failures), DirectIP: r.direct,
			ClientIPs: v.strings(ips), UserAgents: v.strings(uas), DeviceIDs: v.strings(devs)}
		if x.k.Account != "" {
			acct := strings.Clone(x.k.Account)
			f.Account = &acct
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}
