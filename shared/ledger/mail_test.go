package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Each (notice, address) goes by exactly one email whatever the order of the planner's two
// writes (MergeInto, MarkMerged), the mail's lease and its question to the notice (Carry).
func TestMergedAddressGoesByExactlyOneEmail(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	at := day("2021-07-27")
	const la = "Support@Unit.nhs.net"
	type step func(t *testing.T, k MailKey, n Key)
	merge := func(want bool) step {
		return func(t *testing.T, k MailKey, n Key) {
			ok, err := l.MergeInto(ctx, k, la, []Key{n}, now.Add(time.Hour))
			if err != nil || ok != want {
				t.Fatalf("MergeInto = %v, %v; want %v", ok, err, want)
			}
		}
	}
	mark := func(want bool) step {
		return func(t *testing.T, _ MailKey, n Key) {
			ok, err := l.MarkMerged(ctx, n, la, at)
			if err != nil || ok != want {
				t.Fatalf("MarkMerged = %v, %v; want %v", ok, err, want)
			}
		}
	}
	lease := func(t *testing.T, k MailKey, _ Key) {
		if _, err := l.BeginMail(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	leaseNotice := func(t *testing.T, _ MailKey, n Key) {
		if _, err := l.BeginSend(ctx, n.Campaign, n.Org, n.Stage); err != nil {
			t.Fatal(err)
		}
	}
	carry := func(want bool) step {
		return func(t *testing.T, _ MailKey, n Key) {
			got, err := l.Carry(ctx, n, la, at)
			if err != nil || (got != nil) != want || (got != nil && (!strings.EqualFold(got.Org, n.Org) || len(got.Accounts) == 0)) {
				t.Fatalf("Carry = %+v, %v; want carried %v, the notice whole", got, err, want)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		merged bool // the notice's own email leaves the address out
	}{
		{"planner then mail", []step{merge(true), mark(true), lease, carry(true)}, true},
		{"mail leased between the planner's writes", []step{merge(true), lease, carry(false), mark(false)}, false},
		{"mail leased before the planner", []step{merge(true), lease, merge(false)}, false},
		{"notice leased between the planner's writes", []step{merge(true), leaseNotice, mark(false), lease, carry(false)}, false},
		{"planner stopped after listing it", []step{merge(true), lease, carry(false)}, false},
		{"asked twice", []step{merge(true), mark(true), lease, carry(true), carry(true)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org := "M" + localstacktest.Unique()[:6]
			n := notice(org, "advance", "2021-07-27")
			if ok, err := l.Claim(ctx, n); err != nil || !ok {
				t.Fatal(ok, err)
			}
			k := MailKeyOf("c1-"+org, at, la) // a mail of its own for each case
			for _, s := range tc.steps {
				s(t, k, n.Key())
			}
			got, err := l.Get(ctx, "c1", org, "advance")
			if err != nil {
				t.Fatal(err)
			}
			if got.IsMerged(la) != tc.merged {
				t.Errorf("merged on the notice = %v, want %v (%v)", got.IsMerged(la), tc.merged, got.Merged)
			}
		})
	}
}

// A mail's life: listed notices, lease, record; its key round-trips through its ID; the
// campaign's mails are listed.
func TestMailLife(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	camp := "mails-" + localstacktest.Unique()
	k := MailKeyOf(camp, day("2021-07-27"), "la@unit.nhs.net")
	if back, err := ParseMailID(camp, k.ID()); err != nil || back != k {
		t.Fatalf("ParseMailID(%q) = %v, %v", k.ID(), back, err)
	}
	for _, bad := range []string{"", "2021-07-27", "2021-07-27_xyz", "nope_" + k.To} {
		if _, err := ParseMailID(camp, bad); err == nil {
			t.Errorf("ParseMailID(%q) accepted", bad)
		}
	}
	a, b := Key{Campaign: camp, Org: "A1", Stage: "advance"}, Key{Campaign: camp, Org: "B2", Stage: "final"}
	for _, n := range [][]Key{{b}, {a, b}} {
		if ok, err := l.MergeInto(ctx, k, "LA@unit.nhs.net", n, now.Add(time.Hour)); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	m, err := l.BeginMail(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Key{a, b}, m.Notices); diff != "" || m.Address != "la@unit.nhs.net" {
		t.Errorf("leased mail %s lists (-want +got):\n%s", m.Address, diff)
	}
	if _, err := l.BeginMail(ctx, k); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("second lease: %v, want ErrNotClaimed", err)
	}
	if err := l.RecordCarrying(ctx, k, []Key{b}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkMailSent(ctx, k, "msg-1", "sha"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkMailSent(ctx, k, "msg-2", "sha"); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("second record: %v, want ErrNotClaimed", err)
	}
	all, err := l.Mails(ctx, camp)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Status != Sent || all[0].MessageID != "msg-1" || !cmp.Equal(all[0].Carried, []Key{b}) || all[0].InDoubt() {
		t.Errorf("mails = %+v", all)
	}
}

// One email an address, campaign and day: the first email to take the day has it (its own retry
// too), another waits; a day given back can be taken.
func TestTakeDay(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	camp, at := "days-"+localstacktest.Unique(), day("2021-07-27")
	exp := now.Add(time.Hour)
	if err := l.TakeDay(ctx, camp, "la@x.nhs.net", at, "notice:A#advance", exp); err != nil {
		t.Fatal(err)
	}
	if err := l.TakeDay(ctx, camp, "LA@x.nhs.net", at, "notice:A#advance", exp); err != nil {
		t.Errorf("the same email again: %v", err)
	}
	if err := l.TakeDay(ctx, camp, "la@x.nhs.net", at, "mail:x", exp); !errors.Is(err, ErrDayTaken) {
		t.Errorf("another email the same day: %v, want ErrDayTaken", err)
	}
	if err := l.TakeDay(ctx, camp, "la@x.nhs.net", at.AddDays(1), "mail:x", exp); err != nil {
		t.Errorf("another email the next day: %v", err)
	}
	if err := l.ReleaseDay(ctx, camp, "la@x.nhs.net", at, "mail:x"); err != nil { // not its day: nothing
		t.Fatal(err)
	}
	if err := l.ReleaseDay(ctx, camp, "la@x.nhs.net", at, "notice:A#advance"); err != nil {
		t.Fatal(err)
	}
	if err := l.TakeDay(ctx, camp, "la@x.nhs.net", at, "mail:x", exp); err != nil {
		t.Errorf("a day given back: %v", err)
	}
}

// What merging costs in DynamoDB's write units, for a mail of three notices of the size a
// typical notice is (a few accounts): the planner's day, list and marks, and the sender's lease,
// questions and record. The local stand-in reports the table's share; a write to a notice's
// STAGE item or to the mail item costs as much again on GSI1 (docs/capacity.md).
func TestMergedEmailUnits(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t) // counts capacity (store.CountCapacity)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	at, la := day("2021-07-27"), "unit@units.nhs.net"
	camp := "units-" + localstacktest.Unique()
	var keys []Key
	size := 0
	for i := range 3 {
		n := notice(fmt.Sprintf("U%d", i), "advance", "2021-07-27")
		n.Campaign = camp
		for j := range 4 {
			n.Accounts = append(n.Accounts, Account{Account: fmt.Sprintf("user%d@nhs.net", j), Hostname: "imap.nhs.net", Protocol: "IMAP",
				LastSeen: now, Successes: 3, ClientIPs: []string{"10.0.0.1", "10.0.0.2"}, UserAgents: []string{"Apple-iPhone13C2/1805.436"}})
		}
		if ok, err := l.Claim(ctx, n); err != nil || !ok {
			t.Fatal(ok, err)
		}
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: stageKey(camp, n.Org, n.Stage)})
		if err != nil {
			t.Fatal(err)
		}
		size = store.ItemSize(out.Item)
		keys = append(keys, n.Key())
	}
	k := MailKeyOf(camp, at, la)
	pctx, planned := store.WithUnits(ctx)
	if err := l.TakeDay(pctx, camp, la, at, "mail:"+k.ID(), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.MergeInto(pctx, k, la, keys, now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, n := range keys {
		if ok, err := l.MarkMerged(pctx, n, la, at); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	sctx, sent := store.WithUnits(ctx)
	if _, err := l.BeginMail(sctx, k); err != nil {
		t.Fatal(err)
	}
	for _, n := range keys {
		if got, err := l.Carry(sctx, n, la, at); err != nil || got == nil {
			t.Fatal(got, err)
		}
	}
	if err := l.RecordCarrying(sctx, k, keys); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkMailSent(sctx, k, "m-1", "sha"); err != nil {
		t.Fatal(err)
	}
	t.Logf("a mail of 3 notices of %d bytes: the planner %.0f write units in %d requests, the sender %.0f in %d (table; GSI1 adds the notice and mail writes again)",
		size, planned.Write(), planned.Requests(), sent.Write(), sent.Requests())
	perNotice := float64((size + 1023) / 1024)
	if max := 2 + 3*perNotice; planned.Write() > max || sent.Write() > max+1 {
		t.Errorf("planner %.0f, sender %.0f write units; want at most %.0f and %.0f (two or three small writes and one write a notice)", planned.Write(), sent.Write(), max, max+1)
	}
}
