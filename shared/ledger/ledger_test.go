package ledger

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func notice(org, stage, at string) Notice {
	return Notice{
		Campaign: "c1", Org: org, OrgName: "Org " + org, Stage: stage, Deadline: day("2021-09-07"),
		PlannedFor: day(at), FirstContact: true, Recipients: []string{"la@example.nhs.net"},
		Accounts: []Account{{Account: "pat@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP",
			LastSeen: time.Date(2021, 7, 20, 10, 0, 0, 0, time.UTC), Successes: 3, Failures: 1, ClientIPs: []string{"10.0.0.1"}}},
		ExpiresAt:    time.Date(2022, 6, 7, 0, 0, 0, 0, time.UTC),
		Acknowledged: &Acknowledgement{At: time.Date(2021, 7, 20, 9, 0, 0, 0, time.UTC), By: "la@example.nhs.net"},
		Brownout:     &BrownoutSeen{Date: day("2021-07-19"), Hours: "09:00-12:00", Hostnames: []string{"imap.nhs.net"}, Accounts: []string{"pat@nhs.net"}},
		Digest: []DigestOrg{{ODS: "RX9", Name: "Org RX9", Stage: "final", Contacts: []string{"la@rx9.nhs.net"}, Accounts: []string{"sam@nhs.net"},
			Count: 3, LastSeen: day("2021-07-19")}},
		DigestMore: 2,
	}
}

func TestClaim(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })

	steps := []struct {
		name string
		n    Notice
		want bool
	}{
		{"first claim", notice("rx1", "advance", "2021-07-27"), true},
		{"same stage again, same day", notice("RX1", "advance", "2021-07-27"), false},
		{"same stage, later day", notice("RX1", "advance", "2021-07-28"), false},
		{"other stage, same day", notice("RX1", "reminder", "2021-07-27"), false},
		{"other stage, next day (the day guard was given back above)", notice("RX1", "reminder", "2021-07-28"), true},
		{"other org, same day", notice("RX2", "advance", "2021-07-27"), true},
	}
	for _, st := range steps {
		got, err := l.Claim(ctx, st.n)
		if err != nil || got != st.want {
			t.Errorf("%s: claimed %v, err %v; want %v", st.name, got, err, st.want)
		}
	}
	n, err := l.Get(ctx, "c1", "rx1", "advance")
	if err != nil {
		t.Fatal(err)
	}
	want := notice("RX1", "advance", "2021-07-27")
	want.Status, want.ClaimedAt, want.OrgName = Claimed, now, "Org rx1"
	if diff := cmp.Diff(&want, n); diff != "" {
		t.Errorf("stored notice (-want +got):\n%s", diff)
	}
	if _, err := l.Get(ctx, "c1", "RX1", "final"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of unclaimed stage: %v", err)
	}
}

func TestClaimConcurrent(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	l := New(db, table, time.Now)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stage := []string{"advance", "reminder"}[i%2] // two plans racing on one day
			ok, err := l.Claim(ctx, notice("RX1", stage, "2021-07-27"))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d claims won, want 1", wins.Load())
	}
	h, _ := l.History(ctx, "c1", "RX1")
	if len(h) != 1 {
		t.Errorf("history has %d notices, want 1", len(h))
	}
}

func TestStatusTransitions(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	for _, org := range []string{"A1", "A2", "A3"} {
		if ok, err := l.Claim(ctx, notice(org, "reminder", "2021-07-27")); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if ok, err := l.MarkSuperseded(ctx, notice("A1", "advance", "2021-07-27")); !ok || err != nil {
		t.Fatalf("supersede: %v %v", ok, err)
	}
	if ok, _ := l.MarkSuperseded(ctx, notice("A1", "reminder", "2021-07-27")); ok {
		t.Error("superseded a claimed stage")
	}
	if err := l.MarkSent(ctx, "c1", "A1", "reminder", "msg-1", "abc"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkSent(ctx, "c1", "A1", "reminder", "msg-2", "abc"); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("second MarkSent: %v", err)
	}
	if err := l.MarkFailed(ctx, "c1", "A2", "reminder", "ses: rejected"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkSuppressed(ctx, "c1", "A3", "reminder", "all recipients bounced"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkSent(ctx, "c1", "A1", "advance", "m", "h"); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("MarkSent of superseded: %v", err)
	}
	if err := l.MarkSent(ctx, "c1", "ZZ", "advance", "m", "h"); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("MarkSent of unknown: %v", err)
	}
	all, err := l.List(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, n := range all {
		got[n.Org+"/"+n.Stage] = n.Status
	}
	want := map[string]Status{"A1/advance": Superseded, "A1/reminder": Sent, "A2/reminder": Failed, "A3/reminder": Suppressed}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	n, _ := l.Get(ctx, "c1", "A1", "reminder")
	if n.MessageID != "msg-1" || n.ContentSHA256 != "abc" || !n.SentAt.Equal(now) {
		t.Errorf("sent notice = %+v", n)
	}
	n, _ = l.Get(ctx, "c1", "A2", "reminder")
	if n.Error != "ses: rejected" {
		t.Errorf("failed notice = %+v", n)
	}
}

// Summaries are List without the accounts and recipients: every other field the same.
func TestSummaries(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	for _, n := range []Notice{notice("RX1", "advance", "2021-07-27"), notice("RX2", "advance", "2021-07-27")} {
		if _, err := l.Claim(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.MarkSent(ctx, "c1", "RX1", "advance", "m-1", "sha"); err != nil {
		t.Fatal(err)
	}
	full, err := l.List(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	sums, err := l.Summaries(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range full {
		full[i].Accounts, full[i].Recipients, full[i].ContentSHA256, full[i].ExpiresAt, full[i].Acknowledged = nil, nil, "", time.Time{}, nil
		full[i].Brownout, full[i].Digest, full[i].DigestMore = nil, nil, 0
	}
	if d := cmp.Diff(full, sums); d != "" {
		t.Errorf("summaries (-list without accounts and recipients +summaries):\n%s", d)
	}
}

// lostAnswers is the table with each PutItem's first answer lost on the way back: the write is
// done, and the retry the SDK makes then meets it (what the chaos run's reset-after fault does).
type lostAnswers struct {
	DB
	puts atomic.Int64
}

func (l *lostAnswers) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	l.puts.Add(1)
	if _, err := l.DB.PutItem(ctx, in, opts...); err != nil {
		return nil, err
	}
	return l.DB.PutItem(ctx, in, opts...) // the retry
}

// A claim whose writes went through but whose answers were lost is still a claim: the retry
// meets this claim's own items (their claim_token), not another run's, so the notice is claimed
// and handed over today rather than left claimed by nobody, or its day lost (chaos seed 1).
// Another run's claim is still refused.
func TestClaimWhoseAnswerWasLost(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	lossy := &lostAnswers{DB: db}
	l := New(lossy, table, func() time.Time { return now })
	if ok, err := l.Claim(ctx, notice("RX1", "advance", "2021-07-27")); !ok || err != nil {
		t.Fatalf("a claim whose answers were lost: %v, %v; want claimed", ok, err)
	}
	if lossy.puts.Load() != 2 {
		t.Fatalf("%d puts, want the day guard's and the notice's", lossy.puts.Load())
	}
	if ok, err := New(db, table, func() time.Time { return now }).Claim(ctx, notice("RX1", "advance", "2021-07-27")); ok || err != nil {
		t.Errorf("a second run's claim (same clock): %v, %v; want refused", ok, err)
	}
	n, err := l.Get(ctx, "c1", "RX1", "advance")
	if err != nil || n.Status != Claimed {
		t.Errorf("the notice is %+v, %v", n, err)
	}
}

// A day's guard left by a claim that failed after writing it (its notice put failed, and so did
// giving the guard back) is taken over by the next run's claim, so the organisation still gets
// its notice that day (chaos seed 11); a guard whose notice was made is not.
func TestClaimAdoptsAnOrphanedGuard(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	n := notice("RX1", "advance", "2021-07-27")
	guard := dayKey(n.Campaign, "RX1", n.PlannedFor)
	guard["stage"], guard["claim_token"], guard["claimed_at"] = store.S("advance"), store.S("a-failed-run"), store.S(now.Format(time.RFC3339Nano))
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: guard}); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Claim(ctx, n); !ok || err != nil {
		t.Fatalf("a claim meeting an orphaned guard: %v, %v; want claimed", ok, err)
	}
	if ok, err := l.Claim(ctx, notice("RX1", "advance", "2021-07-27")); ok || err != nil {
		t.Errorf("a claim meeting a guard whose notice was made: %v, %v; want refused", ok, err)
	}
	if ok, err := l.Claim(ctx, notice("RX1", "reminder", "2021-07-27")); ok || err != nil {
		t.Errorf("another stage the same day: %v, %v; want refused (one notice a day)", ok, err)
	}
}
