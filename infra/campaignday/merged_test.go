package campaignday_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/nhsmail-sunset/sunset/infra/campaignday"
	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/signing"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// crashAfterSend is the ledger of a sender that dies between SES's answer and the record of a
// merged email: the mail stays leased (in doubt).
type crashAfterSend struct{ *ledger.Ledger }

func (crashAfterSend) MarkMailSent(context.Context, ledger.MailKey, string, string) error {
	return errors.New("killed before the record")
}

// One support unit is an LA of three of five organisations whose notices are due the same day:
// it gets one email, with three sections and three sets of answer links, and each notice
// records that the mail carried it; every other address gets its organisation's email as
// before, without the unit. The sender dies between SES's answer and the mail's record; the
// same day's run again, and the next day's, send the unit nothing more.
func TestOneEmailAPersonADay(t *testing.T) {
	ctx := context.Background()
	d := newDay(t, "merged", 5, 3)
	keys, err := signing.NewKeyring([]byte(strings.Repeat("k", signing.MinKeyBytes)))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(d.db, d.table, d.clock)
	newSender := func(lg sender.Ledger) *sender.Sender {
		return sender.New(d.ses, lg, campaign.NewStore(d.db, d.table, d.clock), suppression.New(d.db, d.table, d.clock), d.clock,
			sender.Options{Links: &answers.Links{Keys: keys, Base: "https://sunset.example/"}})
	}
	p := planner.New(d.db, d.table, nil, d.clock)
	today := calendar.Of(d.now)
	res, err := p.Run(ctx, d.id, today, newSender(crashAfterSend{l}))
	if err != nil { // the sender logs the lost record; SES's Send event would settle the mail
		t.Fatal(err)
	}
	if res.Mails != 1 {
		t.Fatalf("merged emails handed over = %d, want 1", res.Mails)
	}

	mails := to(t, d.endpoint, campaignday.SharedLA)
	if testing.Verbose() && len(mails) > 0 {
		t.Logf("subject: %s\n%s", mails[0].Subject, mails[0].Body.Text)
	}
	if len(mails) != 1 {
		t.Fatalf("%s got %d emails, want 1", campaignday.SharedLA, len(mails))
	}
	m := mails[0]
	if !strings.Contains(m.Subject, "3 organisations") {
		t.Errorf("subject %q does not say how many organisations", m.Subject)
	}
	for i := range 3 {
		org := campaignday.Org(i)
		if !strings.Contains(m.Body.Text, org) || !strings.Contains(m.Body.HTML, "id=\"org-"+string(rune('1'+i))+"\"") {
			t.Errorf("the merged email has no section for %s", org)
		}
	}
	if n := strings.Count(m.Body.HTML, ">We have changed these settings<"); n != 3 {
		t.Errorf("the merged email has %d sets of answer links, want 3", n)
	}
	if strings.Count(m.Body.Text, "======== ") != 3 || !strings.Contains(m.Body.Text, "3 of 3: ") {
		t.Errorf("text sections:\n%s", m.Body.Text)
	}
	if m.Header("X-Sunset-Mail") == "" || len(m.Attachments) != 1 || !strings.Contains(m.Attachments[0].Filename, "3-organisations") {
		t.Errorf("merged email header %q, attachments %+v", m.Header("X-Sunset-Mail"), m.Attachments)
	}
	for i := range 5 {
		own := to(t, d.endpoint, "la"+string(rune('0'+i))+"@d")
		if len(own) != 1 || slices.ContainsFunc(own[0].Destination.To, func(a string) bool { return strings.Contains(a, campaignday.SharedLA) }) {
			t.Fatalf("%s's own addresses got %d emails (%v), want 1 without the unit", campaignday.Org(i), len(own), own)
		}
		n, err := l.Get(ctx, d.id, campaignday.Org(i), "advance")
		if err != nil {
			t.Fatal(err)
		}
		wantMerged := i < 3
		if n.Status != ledger.Sent || n.IsMerged(campaignday.SharedLA) != wantMerged || (len(n.Mailed) == 1) != wantMerged {
			t.Errorf("%s: status %s, merged %v, mailed %v", n.Org, n.Status, n.Merged, n.Mailed)
		}
	}
	all, err := l.Mails(ctx, d.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || !all[0].InDoubt() || len(all[0].Notices) != 3 {
		t.Fatalf("mails after the crash: %+v", all)
	}
	// SES's Send event about the merged email settles it (the feedback function finds the mail
	// by its header), once however often SNS delivers it.
	fb := feedback.New(suppression.New(d.db, d.table, d.clock), l, feedback.Options{})
	for _, ev := range []string{"Send", "Send"} {
		var sns events.SNSEvent
		if err := json.Unmarshal(m.SESEvent(ev), &sns); err != nil {
			t.Fatal(err)
		}
		if err := fb.Handle(ctx, sns); err != nil {
			t.Fatal(err)
		}
	}
	mail, err := l.GetMail(ctx, all[0].MailKey)
	if err != nil || mail.Status != ledger.Sent || mail.InDoubt() || mail.MessageID != m.MessageID {
		t.Fatalf("mail after SES's Send event: %+v, %v", mail, err)
	}

	for _, at := range []time.Time{d.now.Add(2 * time.Hour), d.now.Add(24 * time.Hour)} {
		d.now = at
		if _, err := p.Run(ctx, d.id, calendar.Of(d.now), newSender(l)); err != nil {
			t.Fatal(err)
		}
		if got := to(t, d.endpoint, campaignday.SharedLA); len(got) != 1 {
			t.Fatalf("after a run at %s, %s has %d emails, want still 1", at, campaignday.SharedLA, len(got))
		}
	}
}

// aDay is a campaign of its own whose advance notice is due on 27 July 2021 for n
// organisations, the first shared of which also have campaignday.SharedLA as an LA, on a table
// and an SES emulator of the test's own; now is its clock.
type aDay struct {
	db                  *dynamodb.Client
	table, endpoint, id string
	ses                 *sesv2.Client
	now                 time.Time
}

func newDay(t *testing.T, prefix string, n, shared int) *aDay {
	d := &aDay{now: time.Date(2021, 7, 27, 9, 0, 0, 0, time.UTC), id: prefix + "-" + localstacktest.Unique()}
	d.db, d.table = localstacktest.DynamoDB(t)
	d.endpoint = localstacktest.SESEmulator(t, "{}")
	d.ses = sesv2.NewFromConfig(localstacktest.Config(), func(o *sesv2.Options) { o.BaseEndpoint = aws.String(d.endpoint) })
	if _, err := campaignday.SeedSharing(context.Background(), d.db, d.table, filepath.Join("..", "demo", "data", "campaign.yaml"), d.id, n, shared, d.now); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *aDay) clock() time.Time { return d.now }

// sender is the day's sender over lg (the ledger, or a ledger that fails on purpose).
func (d *aDay) sender(lg sender.Ledger) *sender.Sender {
	return sender.New(d.ses, lg, campaign.NewStore(d.db, d.table, d.clock), suppression.New(d.db, d.table, d.clock), d.clock, sender.Options{})
}

// to is the emails the emulator at endpoint holds for an address containing addr.
func to(t *testing.T, endpoint, addr string) []localstacktest.Email {
	var out []localstacktest.Email
	for _, m := range localstacktest.SentEmailsAt(t, endpoint) {
		if slices.ContainsFunc(m.Destination.To, func(a string) bool { return strings.Contains(a, addr) }) {
			out = append(out, m)
		}
	}
	return out
}

// The unit's day is taken by one organisation's own email before the planner could merge (a
// notice sent alone, as by an earlier hand-off): the other two notices wait, and the next
// day's run merges them into one email to the unit. A run that stopped before its hand-over
// leaves notices claimed; the next run merges them like new ones. At most one email a day to
// the unit throughout, and each notice reaches it once.
func TestADayTakenIsMergedTheNextDay(t *testing.T) {
	ctx := context.Background()
	d := newDay(t, "taken", 3, 3)
	l := ledger.New(d.db, d.table, d.clock)
	snd := d.sender(l)
	p := planner.New(d.db, d.table, nil, d.clock)
	if _, err := p.Run(ctx, d.id, calendar.Of(d.now), nil); err != nil { // claims, no hand-over
		t.Fatal(err)
	}
	first := ledger.Key{Campaign: d.id, Org: campaignday.Org(0), Stage: "advance"}
	if res, err := snd.SendAll(ctx, []ledger.Key{first}); err != nil || len(res) != 1 || res[0].Outcome != sender.Sent {
		t.Fatalf("send %s alone: %+v %v", first, res, err)
	}
	res, err := p.Run(ctx, d.id, calendar.Of(d.now), snd)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mails != 0 {
		t.Errorf("merged emails on a day the unit already had one: %d", res.Mails)
	}
	if got := to(t, d.endpoint, campaignday.SharedLA); len(got) != 1 || got[0].Header("X-Sunset-Org") != first.Org {
		t.Fatalf("the unit's emails on the first day: %d, want %s's own", len(got), first.Org)
	}
	for i := 1; i < 3; i++ {
		n, err := l.Get(ctx, d.id, campaignday.Org(i), "advance")
		if err != nil || n.Status != ledger.Claimed || n.InDoubt() || !slices.Contains(n.DayTaken, campaignday.SharedLA) {
			t.Fatalf("%s after the first day: %+v %v", campaignday.Org(i), n, err)
		}
	}

	d.now = d.now.Add(24 * time.Hour)
	if res, err = p.Run(ctx, d.id, calendar.Of(d.now), snd); err != nil || res.Mails != 1 {
		t.Fatalf("next day's run: %d merged emails, %v", res.Mails, err)
	}
	got := to(t, d.endpoint, campaignday.SharedLA)
	if len(got) != 2 || got[1].Header("X-Sunset-Mail") == "" || !strings.Contains(got[1].Subject, "2 organisations") {
		t.Fatalf("the unit's emails after the second day: %d", len(got))
	}
	for i := 1; i < 3; i++ {
		n, err := l.Get(ctx, d.id, campaignday.Org(i), "advance")
		if err != nil || n.Status != ledger.Sent || len(n.Mailed) != 1 {
			t.Errorf("%s after the second day: %+v %v", campaignday.Org(i), n, err)
		}
		if own := to(t, d.endpoint, fmt.Sprintf("la%d@d%d.", i, i)); len(own) != 1 {
			t.Errorf("%s's own LA got %d emails, want 1", campaignday.Org(i), len(own))
		}
	}
}

// suppressFirst is the sender, except that the unit's address bounces for good between the
// planner's merge and the merged email's send.
type suppressFirst struct {
	*sender.Sender
	supp *suppression.List
}

func (d suppressFirst) DispatchMails(ctx context.Context, mails []ledger.MailKey) error {
	if err := d.supp.Add(ctx, campaignday.SharedLA, suppression.Bounce, "test"); err != nil {
		return err
	}
	return d.Sender.DispatchMails(ctx, mails)
}

// An address suppressed after the merge gets nothing: its merged email is marked suppressed
// and each organisation's own addresses still get their email.
func TestASuppressedUnitGetsNothing(t *testing.T) {
	ctx := context.Background()
	d := newDay(t, "supp", 3, 3)
	l := ledger.New(d.db, d.table, d.clock)
	supp := suppression.New(d.db, d.table, d.clock)
	snd := sender.New(d.ses, l, campaign.NewStore(d.db, d.table, d.clock), supp, d.clock, sender.Options{})
	if _, err := planner.New(d.db, d.table, nil, d.clock).Run(ctx, d.id, calendar.Of(d.now), suppressFirst{snd, supp}); err != nil {
		t.Fatal(err)
	}
	if got := to(t, d.endpoint, campaignday.SharedLA); len(got) != 0 {
		t.Errorf("the suppressed unit got %d emails", len(got))
	}
	mails, err := l.Mails(ctx, d.id)
	if err != nil || len(mails) != 1 || mails[0].Status != ledger.Suppressed {
		t.Fatalf("the unit's mail: %+v %v, want suppressed", mails, err)
	}
	for i := range 3 {
		if own := to(t, d.endpoint, fmt.Sprintf("la%d@d%d.", i, i)); len(own) != 1 {
			t.Errorf("%s's own LA got %d emails, want 1", campaignday.Org(i), len(own))
		}
	}
}

// failOnce is the ledger as the planner merges with it, except that marking one notice merged
// fails once (a fault half way through a merge).
type failOnce struct {
	*ledger.Ledger
	org    string
	failed bool
}

func (f *failOnce) MarkMerged(ctx context.Context, n ledger.Key, address string, day calendar.Date) (bool, error) {
	if n.Org == f.org && !f.failed {
		f.failed = true
		return false, errors.New("injected: the write failed")
	}
	return f.Ledger.MarkMerged(ctx, n, address, day)
}

// A run that fails half way through merging an address (one notice marked, the next not) hands
// nothing over; the retry merges the rest into the same mail, and the unit gets one email for
// all three, the same day.
func TestAMergeStoppedHalfWayIsFinishedByTheRetry(t *testing.T) {
	ctx := context.Background()
	d := newDay(t, "half", 3, 3)
	l := ledger.New(d.db, d.table, d.clock)
	snd := d.sender(l)
	p := planner.New(d.db, d.table, nil, d.clock)
	p.Mails = &failOnce{Ledger: l, org: campaignday.Org(2)} // the last: the retry has one left to merge
	if _, err := p.Run(ctx, d.id, calendar.Of(d.now), snd); err == nil {
		t.Fatal("a run whose merge failed half way reported no error")
	}
	if got := len(localstacktest.SentEmailsAt(t, d.endpoint)); got != 0 {
		t.Fatalf("%d emails sent by a run that failed before its hand-over", got)
	}
	res, err := p.Run(ctx, d.id, calendar.Of(d.now), snd)
	if err != nil || res.Mails != 1 {
		t.Fatalf("the retry: %d merged emails, %v", res.Mails, err)
	}
	got := to(t, d.endpoint, campaignday.SharedLA)
	if len(got) != 1 || !strings.Contains(got[0].Subject, "3 organisations") {
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("the unit got %d emails %q, want one for 3 organisations", len(got), subjects)
	}
	for i := range 3 {
		if n, err := l.Get(ctx, d.id, campaignday.Org(i), "advance"); err != nil || n.Status != ledger.Sent || len(n.DayTaken) != 0 {
			t.Errorf("%s: %+v %v", campaignday.Org(i), n, err)
		}
	}
}

// Two runs of the same day at once (a retry overlapping the scheduled run), each with its own
// sender, then the day's run again and the next day's: every organisation's own addresses get
// one email; the unit gets at most one email a day, and its emails carry each of its eight
// organisations exactly once (a notice one run handed over while the other was merging it waits
// for the next day's merge: docs/data-model.md, "Mail").
func TestConcurrentRunsSendOneEmailAnAddress(t *testing.T) {
	ctx := context.Background()
	const n = 12
	d := newDay(t, "both", n, 8)
	run := func() error {
		l := ledger.New(d.db, d.table, d.clock)
		snd := d.sender(l)
		_, err := planner.New(d.db, d.table, nil, d.clock).Run(ctx, d.id, calendar.Of(d.now), snd)
		return err
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- run() }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Log(err) // a run may find a notice another run leased: it says so; the next run sends what is left
		}
	}
	if err := run(); err != nil { // the day's next run, alone
		t.Fatal(err)
	}
	d.now = d.now.Add(24 * time.Hour)
	if err := run(); err != nil { // the next day's
		t.Fatal(err)
	}
	days := map[string]bool{}
	for _, m := range to(t, d.endpoint, campaignday.SharedLA) {
		day, _, _ := strings.Cut(m.Header("X-Sunset-Mail"), "_")
		if day == "" || days[day] {
			t.Errorf("the unit got a second email for %q", day)
		}
		days[day] = true
	}
	mails, err := ledger.New(d.db, d.table, d.clock).Mails(ctx, d.id)
	if err != nil {
		t.Fatal(err)
	}
	carried := map[string]int{}
	for _, m := range mails {
		for _, k := range m.Carried {
			carried[k.Org]++
		}
	}
	for i := range 8 {
		if got := carried[campaignday.Org(i)]; got != 1 {
			t.Errorf("the unit's emails carried %s %d times, want once", campaignday.Org(i), got)
		}
	}
	for i := range n {
		if own := to(t, d.endpoint, fmt.Sprintf("la%d@d%d.", i, i)); len(own) != 1 {
			t.Errorf("%s's own LA got %d emails, want 1", campaignday.Org(i), len(own))
		}
		if nt, err := ledger.New(d.db, d.table, d.clock).Get(ctx, d.id, campaignday.Org(i), "advance"); err != nil || nt.Status != ledger.Sent {
			t.Errorf("%s: %+v %v", campaignday.Org(i), nt, err)
		}
	}
}

// A PLA shared by three organisations (a trust's PLA who is also its practices') is merged like
// a shared LA: one email for the three, each organisation's LA its own.
func TestASharedPLAGetsOneEmail(t *testing.T) {
	ctx := context.Background()
	d := newDay(t, "pla", 3, 0)
	const pla = "pla@trust.example.nhs.net"
	var orgs, accts strings.Builder
	orgs.WriteString("ods_code,name,la_emails,pla_email\n")
	accts.WriteString("email,ods_code\n")
	for i := range 3 {
		fmt.Fprintf(&orgs, "%s,Day Bench Trust %d,la%d@d%d.example.nhs.net,%s\n", campaignday.Org(i), i, i, i, pla)
		fmt.Fprintf(&accts, "%s,%s\n", campaignday.Account(i), campaignday.Org(i))
	}
	if _, err := directory.New(d.db, d.table, d.clock).Import(ctx, directory.ImportInput{Orgs: strings.NewReader(orgs.String()),
		Accounts: strings.NewReader(accts.String()), OrgsName: "orgs.csv", AccountsName: "accounts.csv"}); err != nil {
		t.Fatal(err)
	}
	res, err := planner.New(d.db, d.table, nil, d.clock).Run(ctx, d.id, calendar.Of(d.now), d.sender(ledger.New(d.db, d.table, d.clock)))
	if err != nil || res.Mails != 1 {
		t.Fatalf("run: %d merged emails, %v", res.Mails, err)
	}
	if got := to(t, d.endpoint, pla); len(got) != 1 || !strings.Contains(got[0].Subject, "3 organisations") {
		t.Errorf("the shared PLA got %d emails, want one for 3 organisations", len(got))
	}
	for i := range 3 {
		own := to(t, d.endpoint, fmt.Sprintf("la%d@d%d.", i, i))
		if len(own) != 1 || len(own[0].Destination.To) != 1 {
			t.Errorf("%s's LA got %d emails (want 1, to the LA alone)", campaignday.Org(i), len(own))
		}
	}
}
