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

// order is a finding's place in the output: attributed first by account, hostname, protocol,
// day; unattributed last by hostname, protocol, client address, day. The strings are ranked
// once (a few thousand distinct ones), so sorting the findings compares integers only.
type order struct {
	hi, lo uint64
	sh     uint8
	id     uint32
}

// sorted returns every finding in output order. The strings are ranked once (a few thousand
// distinct ones), so sorting compares integers only; keys are decoded one at a time by
// decode, so the output costs no copy of the table.
func (t *Table) sorted() []order {
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
	total := 0
	for i := range t.shards {
		sh := &t.shards[i]
		for id := range sh.names.offs.n {
			names = append(names, name{s: sh.names.str(id), sh: uint8(i), id: id})
		}
		total += int(sh.recs.n)
	}
	slices.SortFunc(names, func(a, b name) int { return strings.Compare(a.s, b.s) })
	var nameRank [shards][]uint32
	for i := range t.shards {
		nameRank[i] = make([]uint32, t.shards[i].names.offs.n)
	}
	for r, n := range names {
		nameRank[n.sh][n.id] = uint32(r)
	}
	orders := make([]order, 0, total)
	for i := range t.shards {
		sh := &t.shards[i]
		hosts, protos := make([]uint32, len(sh.hosts)), make([]uint32, len(sh.protos))
		for j, h := range sh.hosts {
			hosts[j] = hostRank[h]
		}
		for j, p := range sh.protos {
			protos[j] = protoRank[p]
		}
		for id := range sh.recs.n {
			k := sh.recs.at(id).k
			nr, hr, pr := uint64(nameRank[i][k.name]), uint64(hosts[k.host]), uint64(protos[k.proto])
			o := order{sh: uint8(i), id: id, lo: uint64(uint32(k.day) ^ 1<<31)}
			if sh.names.str(k.name)[0] == 'a' {
				o.hi = nr<<32 | hr<<16 | pr
			} else {
				o.hi = 1<<63 | hr<<48 | pr<<32 | nr
			}
			orders = append(orders, o)
		}
	}
	slices.SortFunc(orders, func(a, b order) int { return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo)) })
	return orders
}

// decoder turns an order back into the finding's key and record.
type decoder struct {
	t    *Table
	days map[int32]string
}

// decode is the finding of o: its key (strings are views into the table, valid until it
// changes), its record and shard.
func (d *decoder) decode(o order) keyed {
	sh := &d.t.shards[o.sh]
	r := sh.recs.at(o.id)
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
	orders := t.sorted()
	out := make([]Finding, len(orders))
	d := decoder{t: t}
	for i, o := range orders {
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
		out[i] = f
	}
	return out
}
