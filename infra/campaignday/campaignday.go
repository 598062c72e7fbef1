// Package campaignday lays out a campaign day on a fresh table for the benchmarks and the chaos
// run: n organisations with an LA and a PLA and one account each, seen the day before on a
// legacy hostname, and a campaign whose advance notice is due that day for each.
package campaignday

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings/findingstest"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Now is the benchmarks' clock: 07:00 UTC on a day whose advance notice is due.
var Now = time.Date(2030, 7, 27, 7, 0, 0, 0, time.UTC)

// Table creates a table named name from template.yaml (deleted by the returned func).
func Table(ctx context.Context, db *dynamodb.Client, name string) (func(), error) {
	path, err := localstack.FindTemplate()
	if err != nil {
		return nil, err
	}
	spec, err := localstack.ReadTemplate(path, name)
	if err != nil {
		return nil, err
	}
	if err := localstack.EnsureTable(ctx, db, spec); err != nil {
		return nil, err
	}
	return func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}) }, nil
}

// Org and Account are the i-th organisation of a seeded day and its one account.
func Org(i int) string     { return fmt.Sprintf("D%05d", i) }
func Account(i int) string { return fmt.Sprintf("user%d@d%d.example.nhs.net", i, i) }

// Seed writes the directory, the findings and the campaign (from campaignFile, with id and a
// shutdown 42 days after now's day) of a day of n notices due on now's day, and returns the
// campaign. Each account was seen the day before on imap.nhs.net.
func Seed(ctx context.Context, db *dynamodb.Client, table, campaignFile, id string, n int, now time.Time) (*campaign.Campaign, error) {
	return seed(ctx, db, table, campaignFile, id, n, now, true)
}

// SharedLA is the Local Administrator SeedSharing gives the first organisations besides their
// own: a support unit that looks after several practices.
const SharedLA = "support@unit.example.nhs.net"

// SeedSharing is Seed, with SharedLA also an LA of organisations 0 to shared-1: on a day their
// notices are due, that address gets one merged email and each organisation's own addresses
// their own.
func SeedSharing(ctx context.Context, db *dynamodb.Client, table, campaignFile, id string, n, shared int, now time.Time) (*campaign.Campaign, error) {
	return seedWith(ctx, db, table, campaignFile, id, n, func(i int) string {
		if i < shared {
			return SharedLA
		}
		return ""
	}, now, true)
}

// Unit is the support unit that also looks after organisation i, if any: the first four of
// every ten organisations share one ("unit<i/10>@units.example.nhs.net").
func Unit(i int) string {
	if i%10 < 4 {
		return fmt.Sprintf("unit%d@units.example.nhs.net", i/10)
	}
	return ""
}

// SeedUnits is Seed with Unit(i) also an LA of each organisation i it names.
func SeedUnits(ctx context.Context, db *dynamodb.Client, table, campaignFile, id string, n int, now time.Time) (*campaign.Campaign, error) {
	return seedWith(ctx, db, table, campaignFile, id, n, Unit, now, true)
}

// SeedUnitsWithoutFindings is SeedWithoutFindings with Unit(i) also an LA of each organisation
// i it names: a day of many organisations whose addresses are shared in groups.
func SeedUnitsWithoutFindings(ctx context.Context, db *dynamodb.Client, table, campaignFile, id string, n int, now time.Time) (*campaign.Campaign, error) {
	return seedWith(ctx, db, table, campaignFile, id, n, Unit, now, false)
}

func seed(ctx context.Context, db *dynamodb.Client, table, campaignFile, id string, n int, now time.Time, withFindings bool) (*campaign.Campaign, error) {
	return seedWith(ctx, db, table, campaignFile, id, n, func(int) string { return "" }, now, withFindings)
}

func seedWith(ctx context.Context, db *dynamodb.Client, table, campaignFile, id string, n int, unit func(int) string, now time.Time, withFindings bool) (*campaign.Campaign, error) {
	clock := func() time.Time { return now }
	today := calendar.Of(now)
	c, err := campaign.Load(campaignFile)
	if err != nil {
		return nil, err
	}
	c.ID, c.Shutdown = id, today.AddDays(42)
	var orgs, accts bytes.Buffer
	orgs.WriteString("ods_code,name,la_emails,pla_email\n")
	accts.WriteString("email,ods_code\n")
	var fs []connlog.Finding
	owners := map[string]string{}
	for i := range n {
		ods, acct := Org(i), Account(i)
		also := ""
		if u := unit(i); u != "" {
			also = ";" + u
		}
		fmt.Fprintf(&orgs, "%s,Day Bench Trust %d,la%d@d%d.example.nhs.net%s,pla%d@d%d.example.nhs.net\n", ods, i, i, i, also, i, i)
		fmt.Fprintf(&accts, "%s,%s\n", acct, ods)
		owners[acct] = ods
		t := today.AddDays(-1).Start(time.UTC).Add(9 * time.Hour)
		fs = append(fs, connlog.Finding{Account: &acct, Hostname: "imap.nhs.net", Protocol: "IMAP", Day: today.AddDays(-1).String(),
			FirstSeen: t, LastSeen: t.Add(time.Hour), Successes: 12, Failures: 1, ClientIPs: []string{"10.0.0.1"}})
	}
	if _, err := directory.New(db, table, clock).Import(ctx, directory.ImportInput{Orgs: &orgs, Accounts: &accts, OrgsName: "orgs.csv", AccountsName: "accounts.csv"}); err != nil {
		return nil, err
	}
	if withFindings {
		items, err := findingstest.Items(ctx, findingstest.Batch{Campaign: c.ID, Owners: owners, ExpiresAt: now.AddDate(1, 0, 0)}, fs)
		if err != nil {
			return nil, err
		}
		if err := store.BatchPut(ctx, db, table, items); err != nil {
			return nil, err
		}
	}
	if _, _, err := campaign.NewStore(db, table, clock).Apply(ctx, c, "campaignday"); err != nil {
		return nil, err
	}
	return c, nil
}

// Queue is the send queue as the planner's hand-off sees it (planner.Queue's client): it keeps
// each message body for the caller to deliver.
type Queue struct {
	mu     sync.Mutex
	bodies []string
}

// SendMessageBatch keeps the batch's bodies.
func (q *Queue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		q.bodies = append(q.bodies, aws.ToString(e.MessageBody))
		out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// Take returns the bodies kept so far and forgets them.
func (q *Queue) Take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.bodies
	q.bodies = nil
	return b
}
