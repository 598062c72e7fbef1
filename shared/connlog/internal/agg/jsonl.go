package agg

import (
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// WriteJSONLines writes every finding, in the order of Findings, as one JSON object per line:
// the bytes a json.Encoder writes for each Finding. It does not build the findings first, so
// writing out a large table costs little time and no memory beyond a few buffers. A large
// table is written by several goroutines (writeParallel). The table must not change while it
// runs.
func (a *Table) WriteJSONLines(w io.Writer) error {
	refs := a.sorted()
	if n := min(runtime.GOMAXPROCS(0), len(refs)/jsonChunk); n > 1 {
		return a.writeParallel(w, refs, n)
	}
	buf := make([]byte, 0, 64<<10)
	d := decoder{t: a}
	for _, o := range refs {
		buf = appendJSON(buf, d.decode(o), &d.dates)
		if len(buf) >= 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// jsonChunk is how many findings a goroutine of writeParallel turns into JSON at a time (about
// 300 KB of it).
const jsonChunk = 1024

// writeParallel writes refs as WriteJSONLines does with n goroutines: goroutine g makes the
// JSON of chunks g, g+n, g+2n, ... and this one writes the chunks in order. Each goroutine has
// two buffers (one being written, one being filled), so memory stays a few buffers whatever
// the table's size. Writing out half a million findings spent as long as the scan before it
// with one goroutine: reading the findings back is one cache miss after another.
func (a *Table) writeParallel(w io.Writer, refs []ref, n int) error {
	chunks := (len(refs) + jsonChunk - 1) / jsonChunk
	full, free := make([]chan []byte, n), make([]chan []byte, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range n {
		full[g], free[g] = make(chan []byte, 1), make(chan []byte, 2)
		free[g] <- make([]byte, 0, 64<<10)
		free[g] <- make([]byte, 0, 64<<10)
		wg.Go(func() {
			d := decoder{t: a}
			for c := g; c < chunks; c += n {
				var buf []byte
				select {
				case buf = <-free[g]:
				case <-stop:
					return
				}
				chunk := refs[c*jsonChunk : min(len(refs), (c+1)*jsonChunk)]
				for i, o := range chunk {
					d.prefetch(chunk, i)
					buf = appendJSON(buf, d.decode(o), &d.dates)
				}
				select {
				case full[g] <- buf:
				case <-stop:
					return
				}
			}
		})
	}
	var err error
	for c := 0; c < chunks && err == nil; c++ {
		buf := <-full[c%n]
		_, err = w.Write(buf)
		free[c%n] <- buf[:0]
	}
	close(stop)
	wg.Wait()
	return err
}

// appendJSON appends the JSON line of one finding, as Finding.MarshalJSON and json.Encoder make
// it (same field order, escaping and time layout); dates remembers the last date it wrote.
func appendJSON(b []byte, x keyed, dates *dateCache) []byte {
	k, g, v := x.k, x.r, &x.sh.vals
	ips, uas, devs := x.sh.lists3(g)
	b = append(b, `{"account":`...)
	if k.Account != "" {
		b = appendJSONStringIf(b, k.Account, x.plainName)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"hostname":`...)
	b = appendJSONString(b, k.Hostname)
	b = append(b, `,"protocol":`...)
	b = appendJSONString(b, k.Protocol)
	b = append(b, `,"first_seen":"`...)
	b = appendUnix(b, g.firstSec, g.firstNs, g.firstPrec, dates)
	b = append(b, `","last_seen":"`...)
	b = appendUnix(b, g.lastSec, g.lastNs, g.lastPrec, dates)
	b = append(b, `","successes":`...)
	b = appendCount(b, g.successes)
	b = append(b, `,"failures":`...)
	b = appendCount(b, g.failures)
	b = append(b, `,"client_ips":`...)
	b = appendJSONList(b, v, ips)
	b = append(b, `,"user_agents":`...)
	b = appendJSONList(b, v, uas)
	b = append(b, `,"device_ids":`...)
	b = appendJSONList(b, v, devs)
	b = append(b, `,"direct_ip":`...)
	b = strconv.AppendBool(b, g.direct)
	if k.Day != "" {
		b = append(b, `,"day":`...)
		b = appendJSONString(b, k.Day)
	}
	return append(b, "}\n"...)
}

func appendJSONList(b []byte, v *values, list []seenVal) []byte {
	b = append(b, '[')
	for i, x := range list {
		if i > 0 {
			b = append(b, ',')
		}
		if r := x.vref(); r&(isInterned|isLoose) != 0 {
			s, plain := v.str(r)
			b = appendJSONStringIf(b, s, plain)
		} else {
			b = append(appendV4(append(b, '"'), uint32(r)), '"') // digits and dots: nothing to escape
		}
	}
	return append(b, ']')
}

// appendCount appends n in decimal: most counts are one digit.
func appendCount(b []byte, n uint32) []byte {
	if n < 10 {
		return append(b, byte('0'+n))
	}
	return strconv.AppendUint(b, uint64(n), 10)
}

// AppendTime appends t in UTC (RFC 3339, "Z") with at least prec fraction digits, more when t
// needs them, at most 9: the log's own precision is kept (".100" stays ".100").
func AppendTime(b []byte, t time.Time, prec int8) []byte {
	return appendUnix(b, t.Unix(), int32(t.Nanosecond()), prec, nil)
}

// appendUnix is AppendTime for the time sec, ns (Unix seconds and nanoseconds, as a record
// keeps them); dates, if not nil, remembers the date it wrote last, which the next time of a
// table's output nearly always shares.
func appendUnix(b []byte, sec int64, ns int32, prec int8, dates *dateCache) []byte {
	need := int8(0)
	if ns != 0 {
		need = 9
		for n := ns; n%10 == 0; n /= 10 {
			need--
		}
	}
	prec = max(prec, int8(0), need)
	b = appendDateTime(b, sec, dates)
	if prec == 0 {
		return append(b, 'Z')
	}
	b = append(b, '.')
	var d [9]byte
	for i, n := 8, ns; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	b = append(b, d[:min(int(prec), 9)]...)
	return append(b, 'Z')
}

// dateCache is the "2006-01-02T" of the last day appendDateTime wrote.
type dateCache struct {
	days int64
	date [11]byte
	ok   bool
}

// appendDateTime appends the Unix time sec (UTC) as "2006-01-02T15:04:05". Years 1000-9999 are
// written here, three times faster than time's layouts (40 against 120 ns: a finding has two
// times, and writing out half a million findings spent a quarter of its time in AppendFormat);
// other years are left to time. The date comes from dates when it is the day it holds.
func appendDateTime(b []byte, sec int64, dates *dateCache) []byte {
	const first, last = -30610224000, 253402300799 // 1000-01-01T00:00:00Z, 9999-12-31T23:59:59Z
	if sec < first || sec > last {
		return time.Unix(sec, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
	}
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	if dates == nil || !dates.ok || dates.days != days {
		var c dateCache
		if dates == nil {
			dates = &c
		}
		y, m, d := civil(days)
		dates.days, dates.ok = days, true
		dates.date = [11]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
			byte('0' + m/10), byte('0' + m%10), '-', byte('0' + d/10), byte('0' + d%10), 'T'}
	}
	b = append(b, dates.date[:]...)
	h, mi, s := rem/3600, rem/60%60, rem%60
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
}

// civil is the proleptic Gregorian date of days since 1970-01-01 (Howard Hinnant's
// civil_from_days, http://howardhinnant.github.io/date_algorithms.html).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendJSONStringIf is appendJSONString for a string known to be plainJSON when plain is set.
func appendJSONStringIf(b []byte, s string, plain bool) []byte {
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return appendJSONString(b, s)
}

// appendJSONString quotes s as encoding/json does. Plain printable ASCII (nearly every value) is
// copied; anything else is left to encoding/json, so the escaping rules are exactly its own.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
