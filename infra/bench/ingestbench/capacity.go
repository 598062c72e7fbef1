package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// httpProxyHeader is an Exchange HttpProxy log's header with the fields the scanner reads.
const httpProxyHeader = "#Software: Microsoft Exchange Server\n#Version: 15.01.2375.007\n#Log-type: HttpProxy Logs\n" +
	"#Fields: DateTime,Protocol,UrlHost,UrlStem,AuthenticatedUser,UserAgent,ClientIpAddress,HttpStatus\n"

// benchCapacity replays a scaled-down national day through the ingest path: every hour each
// front-end server writes an HttpProxy log in which every account appears (the worst case: a
// device whose connections the load balancer spreads over every server), the load balancer's
// nodes write a log every five minutes (unattributed traffic from a pool of addresses), and
// the hourly merge runs after each hour's files. It prints what DynamoDB reported.
func benchCapacity(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("capacity", flag.ContinueOnError)
	camp := fl.String("campaign", "", "campaign file")
	servers := fl.Int("servers", 40, "front-end servers (one HttpProxy log each an hour)")
	hours := fl.Int("hours", 24, "hours of the day replayed")
	accounts := fl.Int("accounts", 2000, "legacy accounts, each in every server's log every hour")
	albNodes := fl.Int("alb-nodes", 3, "load-balancer nodes (one log each every five minutes)")
	albIPs := fl.Int("alb-ips", 300, "client addresses in each load-balancer log")
	if err := fl.Parse(args); err != nil {
		return err
	}
	c, err := campaign.Load(*camp)
	if err != nil {
		return err
	}
	db, table, err := freshTable(ctx)
	if err != nil {
		return err
	}
	defer dropTable(db, table)
	in, err := newIngester(ctx, db, table)
	if err != nil {
		return err
	}
	t := ingest.TargetOf(c)
	day := time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC)
	uctx, units := store.WithUnits(ctx)
	var files, lines, mergeWrites int
	var ingestUnits, mergeUnits, firstHour float64
	start := time.Now()
	ingestOne := func(id string, body []byte, n int) error {
		outs, err := in.File(uctx, memSource(id, body), []ingest.Target{t})
		if err != nil {
			return err
		}
		files++
		lines += n
		ingestUnits += outs[0].File.WriteUnits
		return nil
	}
	for h := range *hours {
		for s := range *servers {
			var b bytes.Buffer
			b.WriteString(httpProxyHeader)
			for a := range *accounts {
				ts := day.Add(time.Duration(h)*time.Hour + time.Duration(a%3600)*time.Second)
				fmt.Fprintf(&b, "%s,Eas,eas.nhs.net,/Microsoft-Server-ActiveSync/default.eas,user%05d@nhs.net,Apple-iPhone13C2/%d.%d,10.%d.%d.%d,200\n",
					ts.Format("2006-01-02T15:04:05.000Z"), a, 1900+h, s, s, (a+h)%250, a%250)
			}
			if err := ingestOne(fmt.Sprintf("logs/httpproxy/fe%02d/%02d.log#v1", s, h), b.Bytes(), *accounts); err != nil {
				return err
			}
		}
		for node := range *albNodes {
			for m := 0; m < 60; m += 5 {
				var b bytes.Buffer
				for i := range *albIPs {
					ts := day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(i)*time.Second)
					fmt.Fprintf(&b, "https %s app/legacy-alb/50dc6c495c0c9188 203.0.%d.%d:2817 10.0.0.1:443 0.000 0.001 0.000 200 200 34 366 \"GET https://mail.nhs.net:443/owa/ HTTP/1.1\" \"Mozilla/5.0\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/owa/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"mail.nhs.net\" \"-\" 0 %s \"forward\" \"-\" \"-\" \"10.0.0.1:443\" \"200\" \"-\" \"-\"\n",
						ts.Format("2006-01-02T15:04:05.000000Z"), (i/250)%250, i%250, ts.Format("2006-01-02T15:04:05.000000Z"))
				}
				if err := ingestOne(fmt.Sprintf("logs/alb/node%d/%02d%02d.log#v1", node, h, m), b.Bytes(), *albIPs); err != nil {
					return err
				}
			}
		}
		before := units.Write()
		m, err := in.Merge(uctx, t)
		if err != nil {
			return err
		}
		mergeUnits += units.Write() - before
		if h == 0 {
			firstHour = units.Write() - before
		}
		mergeWrites += m.Written
	}
	took := time.Since(start)
	// The largest stored finding, read back whole.
	largest, items := 0, 0
	v, err := in.View(ctx, c.ID)
	if err != nil {
		return err
	}
	acts, err := v.Window(ctx, calendar.Of(day), calendar.Of(day))
	if err != nil {
		return err
	}
	var attributed, attributedBytes, dayEntryBytes int
	for _, a := range acts {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: findings.KeyOf(c.ID, a)})
		if err != nil {
			return err
		}
		items++
		n := store.ItemSize(out.Item)
		largest = max(largest, n)
		if a.Account != "" {
			attributed++
			attributedBytes += n
			// What a by-day index entry projecting account, ods and day would hold: its keys,
			// the table's keys and the three attributes.
			dayEntryBytes += store.ItemSize(map[string]types.AttributeValue{
				"PK": out.Item["PK"], "SK": out.Item["SK"], "GSI3PK": out.Item["PK"], "GSI3SK": out.Item["SK"],
				"account": out.Item["account"], "ods": out.Item["ods"], "day": out.Item["day"],
			})
		}
	}
	// The planner's survey of the day: what it reads now (the day's partitions of the table).
	sctx, sunits := store.WithUnits(ctx)
	sv, err := in.View(sctx, c.ID)
	if err != nil {
		return err
	}
	seen := 0
	if err := sv.Accounts(sctx, calendar.Of(day), calendar.Of(day), func(findings.Seen) error { seen++; return nil }); err != nil {
		return err
	}
	keys := float64(len(acts))
	fmt.Printf("files=%d lines=%d keys=%d attributed=%d pending_after=%d\n", files, lines, len(acts), attributed, v.Pending)
	fmt.Printf("write_requests: update_item=%d put_item=%d merge_writes=%d\n", writes["UpdateItem"].Load(), writes["PutItem"].Load(), mergeWrites)
	total := ingestUnits + mergeUnits
	fmt.Printf("write_units (local: the table's share): ingest=%.0f merge=%.0f total=%.0f per_key_day=%.2f merge_per_key_hour=%.3f\n",
		ingestUnits, mergeUnits, total, total/keys, mergeUnits/keys/float64(*hours))
	// DynamoDB Local and dynalite report the table's share only: a merge's write of a finding
	// changes its one index entry too (GSI4 projects the counts), so a key-hour costs the
	// table's units plus one.
	fmt.Printf("first hour a key, table + index: %.3f (+ the files' share below); later hours: %.3f\n",
		firstHour/keys+1, (mergeUnits-firstHour)/keys/float64(max(1, *hours-1))+1)
	fmt.Printf("files' share a key-hour: attributed=%.4f (%d files of %d keys an hour) unattributed=%.4f (%d files of %d keys an hour)\n",
		ingestUnits/float64(files)*float64(*servers)/float64(*accounts), *servers, *accounts,
		ingestUnits/float64(files)*float64(*albNodes*12)/float64(*albIPs), *albNodes*12, *albIPs)
	fmt.Printf("survey of the day: %d accounts, %.0f read units (the view's own reads included); items %.0f bytes on average, a by-day index entry would be %.0f\n",
		seen, sunits.Read(), float64(attributedBytes)/float64(max(1, attributed)), float64(dayEntryBytes)/float64(max(1, attributed)))
	fmt.Printf("read_units=%.0f largest_item_bytes=%d items=%d seconds=%.1f\n", units.Read(), largest, items, took.Seconds())
	return nil
}

// memSource is a file held in memory, named id.
func memSource(id string, data []byte) ingest.Source {
	return ingest.Source{ID: id, Name: id, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}
