package findings

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Unassigned is the organisation of findings whose account no organisation owns.
const Unassigned = "UNASSIGNED"

// Contribution is what one or more files say of one finding key (campaign, account, hostname,
// protocol, UTC day; or, unattributed, hostname, protocol, client address and day): the form a
// file's findings are staged in, and what a merge adds to the stored item. Adding two is
// commutative for every total; the evidence lists keep the newer side's entries first.
type Contribution struct {
	Account  string `json:"a,omitempty"`
	Hostname string `json:"h"`
	Protocol string `json:"p"`
	Day      string `json:"d"`
	// ClientIP is the key of an unattributed finding (Account == "").
	ClientIP string `json:"ip,omitempty"`
	// ODS is the owner the directory gave the account when the file was ingested: only where
	// the stored item's index entry goes (readers resolve owners now).
	ODS        string    `json:"o,omitempty"`
	Successes  int64     `json:"s"`
	Failures   int64     `json:"f"`
	First      time.Time `json:"t0"`
	Last       time.Time `json:"t1"`
	Files      int64     `json:"n"`
	ClientIPs  []string  `json:"ips,omitempty"`
	UserAgents []string  `json:"uas,omitempty"`
	DeviceIDs  []string  `json:"devs,omitempty"`
	DirectIP   bool      `json:"x,omitempty"`
}

// contributionOf is one file's finding as a contribution, its strings clipped as stored.
func contributionOf(f *connlog.Finding, ods string) Contribution {
	c := Contribution{
		Hostname: strings.ToLower(f.Hostname), Protocol: f.Protocol, Day: f.Day,
		Successes: f.Successes, Failures: f.Failures, First: f.FirstSeen.UTC(), Last: f.LastSeen.UTC(), Files: 1,
		ClientIPs: nonEmpty(f.ClientIPs), UserAgents: nonEmpty(f.UserAgents), DeviceIDs: nonEmpty(f.DeviceIDs),
		DirectIP: f.DirectIP,
	}
	if f.Account != nil && *f.Account != "" {
		c.Account = *f.Account
		c.ODS = cmp.Or(ods, Unassigned)
	} else {
		c.ClientIP = f.Key().ClientIP
	}
	return c
}

// Attributed reports whether the contribution names an account.
func (c *Contribution) Attributed() bool { return c.Account != "" }

// pk and sk are the stored item's key. An attributed finding lives in its day's partition,
// in the account's shard (dayPartition): the planner's survey reads who was seen on a day from
// the table itself, so creating a key-day writes the table and the organisation index only.
// An unattributed one lives in its day's partition in the address's shard, so neither kind
// puts a merge's writes on a few partition keys.
func (c *Contribution) pk(campaignID string) string {
	if c.Attributed() {
		return dayPartition(campaignID, c.Day, shard(c.Account))
	}
	return store.Key("ADDR", campaignID, c.Day, shard(c.ClientIP))
}

func (c *Contribution) sk() string {
	if c.Attributed() {
		return store.Key(c.Account, c.Hostname, c.Protocol)
	}
	return store.Key(c.Hostname, c.Protocol, c.ClientIP)
}

// id identifies the key within a campaign.
func (c *Contribution) id() string { return c.pk("") + "\x00" + c.sk() }

// add folds o into c: sums, the earlier first and later last seen, o's evidence ahead of c's
// when o is the newer (each list capped as the reader shows it), and o's owner when newer.
func (c *Contribution) add(o *Contribution) {
	newer := o.Last.After(c.Last) || (o.Last.Equal(c.Last) && o.ODS > c.ODS)
	c.Successes += o.Successes
	c.Failures += o.Failures
	c.Files += o.Files
	if c.First.IsZero() || (!o.First.IsZero() && o.First.Before(c.First)) {
		c.First = o.First
	}
	if newer {
		c.Last = o.Last
		if o.ODS != "" {
			c.ODS = o.ODS
		}
	}
	c.DirectIP = c.DirectIP || o.DirectIP
	c.ClientIPs = union(c.ClientIPs, o.ClientIPs, newer, MaxClientIPs)
	c.UserAgents = union(c.UserAgents, o.UserAgents, newer, MaxUserAgents)
	c.DeviceIDs = union(c.DeviceIDs, o.DeviceIDs, newer, MaxDeviceIDs)
}

// union is the distinct entries of a and b, b's first when bFirst, at most n.
func union(a, b []string, bFirst bool, n int) []string {
	if bFirst {
		a, b = b, a
	}
	out := make([]string, 0, min(n, len(a)+len(b)))
	for _, list := range [][]string{a, b} {
		for _, s := range list {
			if len(out) == n {
				return out
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// nonEmpty drops empty strings and duplicates: a string set may hold neither.
func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// FileID is the short name of a source file in staged object keys and batch lists: the first
// 16 hex digits of SHA-256 of its source id.
func FileID(source string) string {
	h := sha256.Sum256([]byte(source))
	return hex.EncodeToString(h[:8])
}

// encode is a staged object: the contributions as JSON lines, gzipped. The same findings
// encode to the same bytes.
func encode(cs []Contribution) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	for i := range cs {
		if err := enc.Encode(&cs[i]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeStaged reads a staged object, handing each contribution to fn.
func decodeStaged(body []byte, fn func(*Contribution)) error {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("staged findings: %w", err)
	}
	dec := json.NewDecoder(bufio.NewReader(zr))
	for {
		var c Contribution
		if err := dec.Decode(&c); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("staged findings: %w", err)
		}
		fn(&c)
	}
}
