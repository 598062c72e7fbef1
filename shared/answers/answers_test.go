package answers_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

func ring(t *testing.T, keys ...string) *signing.Keyring {
	t.Helper()
	var ks [][]byte
	for _, k := range keys {
		ks = append(ks, []byte(strings.Repeat(k, 32)))
	}
	r, err := signing.NewKeyring(ks...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A link's token: round trip; a tampered byte, another answer's purpose, an expired link,
// another key, another campaign's token all refused; a rotated ring still reads the old key's.
func TestLinks(t *testing.T) {
	now := time.Date(2021, 8, 17, 9, 0, 0, 0, time.UTC)
	exp := now.Add(30 * 24 * time.Hour)
	ls := answers.Links{Keys: ring(t, "a"), Base: "https://console.example/"}
	l := answers.Link{Campaign: "legacy-2021", Org: "RX1", Stage: "reminder"}
	tok := ls.Token(answers.Fixed, l, exp)
	other := ls.Token(answers.Fixed, answers.Link{Campaign: "other-2022", Org: "RX1", Stage: "reminder"}, exp)
	u := ls.URL(answers.NotOurs, l, exp)
	if !strings.HasPrefix(u, "https://console.example/answer/not-ours/") || strings.Contains(u, "RX1") || strings.Contains(u, "legacy") {
		t.Errorf("URL %s: want an opaque token under /answer/not-ours/", u)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	for _, tc := range []struct {
		name    string
		ls      answers.Links
		purpose answers.Purpose
		token   string
		at      time.Time
		want    error
		link    answers.Link
	}{
		{"round trip", ls, answers.Fixed, tok, now, nil, l},
		{"rotated key", answers.Links{Keys: ring(t, "b", "a")}, answers.Fixed, tok, now, nil, l},
		{"other campaign", ls, answers.Fixed, other, now, nil, answers.Link{Campaign: "other-2022", Org: "RX1", Stage: "reminder"}},
		{"tampered byte", ls, answers.Fixed, flip(tok, 5), now, answers.ErrInvalid, answers.Link{}},
		{"wrong purpose", ls, answers.MoreTime, tok, now, answers.ErrInvalid, answers.Link{}},
		{"no such purpose", ls, answers.Purpose("delete"), tok, now, answers.ErrInvalid, answers.Link{}},
		{"expired", ls, answers.Fixed, tok, exp, answers.ErrExpired, answers.Link{}},
		{"key taken off the ring", answers.Links{Keys: ring(t, "b")}, answers.Fixed, tok, now, answers.ErrInvalid, answers.Link{}},
		{"empty", ls, answers.Fixed, "", now, answers.ErrInvalid, answers.Link{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ls.Read(tc.purpose, tc.token, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read: %v, want %v", err, tc.want)
			}
			if d := cmp.Diff(tc.link, got); d != "" {
				t.Errorf("link (-want +got):\n%s", d)
			}
		})
	}
	// The other campaign's token is a valid link of that campaign, never of this one: the page
	// shows the notice the token names.
}

func testCampaign(t *testing.T) *campaign.Campaign {
	t.Helper()
	c, err := campaign.Parse([]byte(`id: legacy-2021
shutdown: 2021-09-07
max_extension_days: 30
hostnames: [{name: imap.nhs.net, replacement: {host: outlook.office365.com}}]
sender: {from: "noreply@example.nhs.net"}
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Answers are kept once each, listed by campaign, and decided once: a reassignment moves the
// account for the campaign; an approval makes the campaign's extension; a refusal says why.
func TestStore(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 8, 17, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := answers.NewStore(db, table, clock)
	c := testCampaign(t)
	cs := campaign.NewStore(db, table, clock)
	if _, _, err := cs.Apply(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	exp := c.RetainUntil()
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	ack := answers.Ack{Org: "rx1", Stage: "reminder", By: "LA@riverside.nhs.net", Note: "all printers moved"}
	if !must(s.Acknowledge(ctx, c.ID, ack, exp)) || must(s.Acknowledge(ctx, c.ID, ack, exp)) {
		t.Error("an acknowledgement was not recorded once")
	}
	d := answers.Dispute{Org: "RX1", Stage: "reminder", Account: "Scanner@nhs.net", By: "la@riverside.nhs.net"}
	if !must(s.Dispute(ctx, c.ID, d, exp)) || must(s.Dispute(ctx, c.ID, d, exp)) {
		t.Error("a dispute was not recorded once")
	}
	must(s.Dispute(ctx, c.ID, answers.Dispute{Org: "RX1", Stage: "reminder", Account: "kiosk@nhs.net", By: "la@riverside.nhs.net"}, exp))
	until := calendar.Date{Year: 2021, Month: 9, Day: 30}
	r := answers.Request{Org: "RX1", Stage: "reminder", Until: until, Reason: "ward closed", By: "la@riverside.nhs.net"}
	if !must(s.RequestTime(ctx, c.ID, r, exp)) || must(s.RequestTime(ctx, c.ID, r, exp)) {
		t.Error("a request was not recorded once")
	}
	must(s.RequestTime(ctx, c.ID, answers.Request{Org: "Y0123", Stage: "reminder", Until: until, Reason: "r", By: "x@y.nhs.net"}, exp))

	if err := s.ResolveDispute(ctx, c, "RX1", "scanner@nhs.net", "y0123", "ops"); err != nil {
		t.Fatal(err)
	}
	if err := s.ResolveDispute(ctx, c, "RX1", "scanner@nhs.net", "", "ops"); !errors.Is(err, answers.ErrNotFound) {
		t.Errorf("a dispute decided twice: %v", err)
	}
	if err := s.ResolveDispute(ctx, c, "RX1", "kiosk@nhs.net", "", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, cs, c.ID, "RX1", until, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := s.Refuse(ctx, c.ID, "Y0123", until, "ops", ""); !errors.Is(err, campaign.ErrRefused) {
		t.Errorf("a refusal without a reason: %v", err)
	}
	if err := s.Refuse(ctx, c.ID, "Y0123", until, "ops", "past the contract"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, cs, c.ID, "Y0123", until, "ops"); !errors.Is(err, answers.ErrNotFound) {
		t.Errorf("approving a refused request: %v", err)
	}

	got, err := s.List(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := answers.Answers{
		Acks: []answers.Ack{{Org: "RX1", Stage: "reminder", By: "LA@riverside.nhs.net", At: now, Note: "all printers moved"}},
		Disputes: []answers.Dispute{
			{Org: "RX1", Stage: "reminder", Account: "kiosk@nhs.net", By: "la@riverside.nhs.net", At: now, Status: answers.Confirmed, ResolvedBy: "ops", ResolvedAt: now},
			{Org: "RX1", Stage: "reminder", Account: "scanner@nhs.net", By: "la@riverside.nhs.net", At: now, Status: answers.Reassigned, ReassignedTo: "Y0123", ResolvedBy: "ops", ResolvedAt: now},
		},
		Requests: []answers.Request{
			{Org: "RX1", Stage: "reminder", Until: until, Reason: "ward closed", By: "la@riverside.nhs.net", At: now, Status: answers.Approved, DecidedBy: "ops", DecidedAt: now},
			{Org: "Y0123", Stage: "reminder", Until: until, Reason: "r", By: "x@y.nhs.net", At: now, Status: answers.Refused, DecidedBy: "ops", DecidedAt: now, Decision: "past the contract"},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("answers (-want +got):\n%s", d)
	}
	owners, err := s.Owners(ctx, c.ID)
	if err != nil || len(owners) != 1 || owners["scanner@nhs.net"] != "Y0123" {
		t.Errorf("owners %v %v", owners, err)
	}
	exts, err := cs.Extensions(ctx, c.ID)
	if err != nil || exts["RX1"].Until != until || !strings.Contains(exts["RX1"].Reason, "ward closed") {
		t.Errorf("the approved request made %+v (%v)", exts, err)
	}
}

// A thousand requests on one link in a minute: exactly the limit pass, counted once each
// however many arrive at once.
func TestAllow(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 8, 17, 9, 0, 0, 0, time.UTC)
	s := answers.NewStore(db, table, func() time.Time { return now })
	var mu sync.Mutex
	var wg sync.WaitGroup
	allowed := 0
	sem := make(chan struct{}, 16)
	for range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok, err := s.Allow(ctx, "token-1", 30)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 30 {
		t.Errorf("%d of 1000 allowed, want 30", allowed)
	}
	if ok, _ := s.Allow(ctx, "token-2", 30); !ok {
		t.Error("another link is limited by the first's count")
	}
}

// What checking a link costs on every request to an answer page: HMAC-SHA256 over the token,
// under a ring of two keys (a rotation in progress), and reading its ids.
func BenchmarkRead(b *testing.B) {
	keys, _ := signing.NewKeyring([]byte(strings.Repeat("n", 32)), []byte(strings.Repeat("o", 32)))
	ls := answers.Links{Keys: keys, Base: "https://console.example"}
	now := time.Date(2021, 8, 17, 9, 0, 0, 0, time.UTC)
	tok := ls.Token(answers.NotOurs, answers.Link{Campaign: "legacy-hostnames-2021", Org: "RX1", Stage: "reminder"}, now.AddDate(1, 0, 0))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ls.Read(answers.NotOurs, tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
