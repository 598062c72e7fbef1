package findings

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// OrgIndex is the one index of findings (fixed by template.yaml): each attributed finding under
// ORGFIND#<campaign>#<ods> and each unattributed one under UNATTR#<campaign>#<shard>,
// projecting what an Activity shows. Who was seen on a day needs no index: attributed findings
// are stored under DAY#<campaign>#<day>#<shard> (Contribution.pk).
const OrgIndex = "GSI4"

// Shards spread one day's findings (the table's DAY partitions) and a campaign's unattributed
// findings (OrgIndex) over this many partition keys, so no key takes more than a share of a
// merge's writes (docs/capacity.md, "Hot keys").
const Shards = 8

// MaxItemBytes bounds a stored finding so that writing it costs one write unit on the table
// and one on the index: evidence that would take it past is left out (user agents first, then
// device ids, then addresses), the reader's caps aside.
const MaxItemBytes = 1024

func shard(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return strconv.Itoa(int(h.Sum32() % Shards))
}

// dayPartition is the table partition of a campaign's attributed findings of one day in one
// shard.
func dayPartition(campaignID, day, shardNo string) string {
	return store.Key("DAY", campaignID, day, shardNo)
}

// itemOf is the stored item of a key's merged contribution, as of batch.
func itemOf(campaignID string, c *Contribution, batch int64, expiresAt time.Time) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"PK": store.S(c.pk(campaignID)), "SK": store.S(c.sk()),
		"hostname": store.S(c.Hostname), "protocol": store.S(c.Protocol), "day": store.S(c.Day),
		"s": store.N(c.Successes), "f": store.N(c.Failures), "n": store.N(c.Files), "batch": store.N(batch),
		"first": store.S(c.First.UTC().Format(time.RFC3339Nano)), "last": store.S(c.Last.UTC().Format(time.RFC3339Nano)),
		store.TTLAttribute: store.TTL(expiresAt),
	}
	if c.DirectIP {
		it["direct_ip"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if c.Attributed() {
		ods := cmp.Or(c.ODS, Unassigned)
		it["type"] = store.S("finding")
		it["account"] = store.S(c.Account)
		it["ods"] = store.S(ods)
		it["GSI4PK"] = store.S(store.Key("ORGFIND", campaignID, ods))
		it["GSI4SK"] = store.S(store.Key(c.Day, c.Account, c.Hostname, c.Protocol))
	} else {
		it["type"] = store.S("unattributed")
		it["client_ip"] = store.S(c.ClientIP)
		it["GSI4PK"] = store.S(store.Key("UNATTR", campaignID, shard(c.ClientIP)))
		it["GSI4SK"] = store.S(store.Key(c.Day, c.Hostname, c.Protocol, c.ClientIP))
	}
	ev := [][]string{slices.Clone(c.ClientIPs), slices.Clone(c.UserAgents), slices.Clone(c.DeviceIDs)}
	names := []string{"ips", "uas", "devs"}
	put := func() {
		for i, name := range names {
			if len(ev[i]) > 0 {
				it[name] = &types.AttributeValueMemberSS{Value: ev[i]}
			} else {
				delete(it, name)
			}
		}
	}
	put()
	for _, i := range []int{1, 2, 0} { // user agents, device ids, addresses
		for len(ev[i]) > 0 && store.ItemSize(it) > MaxItemBytes {
			ev[i] = ev[i][:len(ev[i])-1]
			put()
		}
	}
	return it
}

// contributionOfItem reads a stored finding back, with the batch it was last merged from.
func contributionOfItem(it map[string]types.AttributeValue) (Contribution, int64, error) {
	c := Contribution{
		Account: store.Str(it["account"]), Hostname: store.Str(it["hostname"]), Protocol: store.Str(it["protocol"]),
		Day: store.Str(it["day"]), ClientIP: store.Str(it["client_ip"]), ODS: store.Str(it["ods"]),
		Successes: num64(it["s"]), Failures: num64(it["f"]), Files: num64(it["n"]),
		ClientIPs: set(it["ips"]), UserAgents: set(it["uas"]), DeviceIDs: set(it["devs"]),
	}
	if b, ok := it["direct_ip"].(*types.AttributeValueMemberBOOL); ok {
		c.DirectIP = b.Value
	}
	var err1, err2 error
	c.First, err1 = time.Parse(time.RFC3339Nano, store.Str(it["first"]))
	c.Last, err2 = time.Parse(time.RFC3339Nano, store.Str(it["last"]))
	if err1 != nil || err2 != nil {
		return c, 0, fmt.Errorf("decode finding %s %s: bad first or last seen", store.Str(it["PK"]), store.Str(it["SK"]))
	}
	return c, num64(it["batch"]), nil
}

func set(v types.AttributeValue) []string {
	if ss, ok := v.(*types.AttributeValueMemberSS); ok {
		return slices.Clone(ss.Value)
	}
	return nil
}

// Items are the items one merge of exactly these findings (one file's, owners resolved as
// given) leaves in a table that holds none of them: for seeding tables in bulk (benchmarks,
// fixtures) with BatchWriteItem. A put replaces whole items: never ingest with it.
func Items(campaignID string, fs []connlog.Finding, owners map[string]string, expiresAt time.Time) ([]map[string]types.AttributeValue, error) {
	if campaignID == "" {
		return nil, fmt.Errorf("seed findings: no campaign")
	}
	sum := map[string]*Contribution{}
	var order []string
	for i := range fs {
		if fs[i].Day == "" {
			return nil, fmt.Errorf("seed findings: no day (scan with Options.ByDay)")
		}
		var ods string
		if fs[i].Account != nil {
			ods = owners[*fs[i].Account]
		}
		c := contributionOf(&fs[i], ods)
		if have := sum[c.id()]; have != nil {
			have.add(&c)
			have.Files = 1
			continue
		}
		sum[c.id()] = &c
		order = append(order, c.id())
	}
	out := make([]map[string]types.AttributeValue, 0, len(order))
	for _, id := range order {
		out = append(out, itemOf(campaignID, sum[id], 0, expiresAt))
	}
	return out, nil
}

// KeyOf is the table key of the item that holds a (for reading items whole: tests, benchmarks).
func KeyOf(campaignID string, a Activity) map[string]types.AttributeValue {
	c := Contribution{Account: a.Account, Hostname: a.Hostname, Protocol: a.Protocol, Day: a.Day.String(), ClientIP: a.ClientIP}
	return map[string]types.AttributeValue{"PK": store.S(c.pk(campaignID)), "SK": store.S(c.sk())}
}
