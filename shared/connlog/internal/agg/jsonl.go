package agg

import (
	"encoding/json"
	"io"
	"runtime"
	"sync"
	"strconv"
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
		buf = appendJSON(buf, d.decode(o))
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
				for _, o := range refs[c*jsonChunk : min(len(refs), (c+1)*jsonChunk)] {
					buf = appendJSON(buf, d.decode(o))
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
// it (same field order, escaping and time layout).
func appendJSON(b []byte, x keyed) []byte {
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
	b = AppendTime(b, g.firstSeen(), g.firstPrec)
	b = append(b, `","last_seen":"`...)
	b = AppendTime(b, g.lastSeen(), g.lastPrec)
	b = append(b, `","successes":`...)
	b = strconv.AppendUint(b, uint64(g.successes), 10)
	b = append(b, `,"failures":`...)
	b = strconv.AppendUint(b, uint64(g.failures), 10)
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
		if r := x.vref(); r&isInterned != 0 {
			b = appendJSONStringIf(b, v.tab.str(uint32(r)), v.tab.plain(uint32(r)))
		} else {
			b = append(appendV4(append(b, '"'), uint32(r)), '"') // digits and dots: nothing to escape
		}
	}
	return append(b, ']')
}

// AppendTime appends t in UTC (RFC 3339, "Z") with at least prec fraction digits, more when t
// needs them, at most 9: the log's own precision is kept (".100" stays ".100").
func AppendTime(b []byte, t time.Time, prec int8) []byte {
	t = t.UTC()
	need := int8(0)
	if ns := t.Nanosecond(); ns != 0 {
		need = 9
		for ns%10 == 0 {
			ns /= 10
			need--
		}
	}
	prec = max(prec, int8(0), need)
	if prec == 0 {
		return t.AppendFormat(b, "2006-01-02T15:04:05Z07:00")
	}
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, '.')
	ns := t.Nanosecond()
	var d [9]byte
	for i := 8; i >= 0; i-- {
		d[i] = byte('0' + ns%10)
		ns /= 10
	}
	b = append(b, d[:min(int(prec), 9)]...)
	return append(b, 'Z')
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
