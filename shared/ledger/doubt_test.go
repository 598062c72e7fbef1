package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// inDoubt is a ledger with notice c1/RX1/advance claimed and leased at lease, never recorded:
// the state a sender that died after SendEmail leaves.
func inDoubt(t *testing.T, lease time.Time) (*Ledger, *time.Time) {
	t.Helper()
	db, table := localstacktest.DynamoDB(t)
	now := lease
	l := New(db, table, func() time.Time { return now })
	ctx := context.Background()
	if ok, err := l.Claim(ctx, notice("RX1", "advance", "2021-07-27")); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := l.BeginSend(ctx, "c1", "RX1", "advance"); err != nil {
		t.Fatal(err)
	}
	return l, &now
}

var lease = time.Date(2021, 7, 27, 8, 0, 0, 123000000, time.UTC)

func TestObserveSettlesANoticeInDoubt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		event      Event
		wantStatus Status
	}{
		{EventSend, Sent}, {EventDelivery, Sent}, {EventBounce, Sent}, {EventComplaint, Sent}, {EventReject, Failed},
	} {
		t.Run(string(tc.event), func(t *testing.T) {
			l, _ := inDoubt(t, lease)
			o := Observation{Event: tc.event, MessageID: "ses-1", MailAt: lease.Add(80 * time.Millisecond), At: lease.Add(time.Second)}
			got, err := l.Observe(ctx, "c1", "RX1", "advance", o)
			if err != nil || !got.First || !got.Settled || got.Status != tc.wantStatus {
				t.Fatalf("Observe = %+v, %v; want first, settled, %s", got, err, tc.wantStatus)
			}
			n, err := l.Get(ctx, "c1", "RX1", "advance")
			if err != nil || n.Status != tc.wantStatus || n.MessageID != "ses-1" || n.SettledBy != string(tc.event) || n.InDoubt() {
				t.Fatalf("notice = %+v, %v", n, err)
			}
			if tc.wantStatus == Sent && !n.SentAt.Equal(o.MailAt) {
				t.Errorf("sent_at %s, want SES's acceptance time %s", n.SentAt, o.MailAt)
			}
			again, err := l.Observe(ctx, "c1", "RX1", "advance", o)
			if err != nil || again.First || again.Settled {
				t.Errorf("repeated event = %+v, %v; want neither first nor settled", again, err)
			}
		})
	}
}

// The sender's own record lands after the SES event settled the notice: it is the same message,
// so it succeeds (and adds the content hash); a different message id is refused.
func TestMarkSentAfterTheEventSettledIt(t *testing.T) {
	ctx := context.Background()
	l, _ := inDoubt(t, lease)
	if _, err := l.Observe(ctx, "c1", "RX1", "advance", Observation{Event: EventSend, MessageID: "ses-1", MailAt: lease, At: lease}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkSent(ctx, "c1", "RX1", "advance", "ses-other", "h"); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("MarkSent of another message = %v, want ErrNotClaimed", err)
	}
	if err := l.MarkSent(ctx, "c1", "RX1", "advance", "ses-1", "h"); err != nil {
		t.Fatalf("MarkSent of the settled message: %v", err)
	}
	if n, _ := l.Get(ctx, "c1", "RX1", "advance"); n.Status != Sent || n.ContentSHA256 != "h" {
		t.Errorf("notice %+v", n)
	}
}

// An event about the send before a release for resending does not settle the new lease.
func TestObserveIgnoresAnEarlierLease(t *testing.T) {
	ctx := context.Background()
	l, _ := inDoubt(t, lease)
	old := Observation{Event: EventSend, MessageID: "ses-old", MailAt: lease.Add(-2 * time.Hour), At: lease.Add(-2 * time.Hour)}
	got, err := l.Observe(ctx, "c1", "RX1", "advance", old)
	if err != nil || got.Settled || got.Status != Claimed {
		t.Fatalf("Observe(earlier send) = %+v, %v; want left in doubt", got, err)
	}
	if n, _ := l.Get(ctx, "c1", "RX1", "advance"); !n.InDoubt() {
		t.Errorf("notice no longer in doubt: %+v", n)
	}
}

func TestObserveUnknownNotice(t *testing.T) {
	l, _ := inDoubt(t, lease)
	_, err := l.Observe(context.Background(), "c1", "ZZZ", "advance", Observation{Event: EventSend, At: lease})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestInDoubtAndReleaseForResend(t *testing.T) {
	ctx := context.Background()
	l, now := inDoubt(t, lease)
	if got, err := l.InDoubt(ctx, "c1", lease); err != nil || len(got) != 0 {
		t.Errorf("InDoubt(cutoff = the lease) = %v, %v; want none yet (grace period)", got, err)
	}
	got, err := l.InDoubt(ctx, "c1", lease.Add(time.Hour))
	if err != nil || len(got) != 1 || got[0].Org != "RX1" || !got[0].SendStartedAt.Equal(lease) {
		t.Fatalf("InDoubt = %+v, %v", got, err)
	}
	n := got[0]
	if err := l.ReleaseForResend(ctx, n, "alice", ""); !errors.Is(err, ErrReasonRequired) {
		t.Errorf("release without a reason = %v, want ErrReasonRequired", err)
	}
	*now = lease.Add(2 * time.Hour)
	if err := l.ReleaseForResend(ctx, n, "alice", "SES shows no message for RX1"); err != nil {
		t.Fatal(err)
	}
	if err := l.ReleaseForResend(ctx, n, "bob", "me too"); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("second release of the same lease = %v, want ErrNotClaimed", err)
	}
	after, err := l.Get(ctx, "c1", "RX1", "advance")
	if err != nil || after.Status != Claimed || after.InDoubt() {
		t.Fatalf("after release: %+v %v; want claimed without a lease", after, err)
	}
	want := Resend{At: *now, By: "alice", Reason: "SES shows no message for RX1", SendStartedAt: lease.Format(time.RFC3339Nano)}
	if len(after.Resends) != 1 || after.Resends[0] != want {
		t.Errorf("resends = %+v, want [%+v]", after.Resends, want)
	}
	// The release lets exactly one sender lease it again.
	if _, err := l.BeginSend(ctx, "c1", "RX1", "advance"); err != nil {
		t.Fatalf("BeginSend after release: %v", err)
	}
	if _, err := l.BeginSend(ctx, "c1", "RX1", "advance"); !errors.Is(err, ErrNotClaimed) {
		t.Errorf("second BeginSend = %v, want ErrNotClaimed", err)
	}
}

func TestMarkBouncedCountsEachAddressOnce(t *testing.T) {
	ctx := context.Background()
	l, _ := inDoubt(t, lease)
	if err := l.MarkSent(ctx, "c1", "RX1", "advance", "ses-1", "h"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addrs []string
		want  int
	}{{[]string{"a@x"}, 1}, {[]string{"a@x"}, 0}, {[]string{"a@x", "b@x"}, 1}} {
		got, err := l.MarkBounced(ctx, "c1", "RX1", "advance", "bounce", tc.addrs, lease)
		if err != nil || got != tc.want {
			t.Errorf("MarkBounced(%v) = %d, %v; want %d", tc.addrs, got, err, tc.want)
		}
	}
	if got, err := l.MarkBounced(ctx, "c1", "RX1", "advance", "complaint", []string{"a@x"}, lease); err != nil || got != 1 {
		t.Errorf("complaint from a bounced address = %d, %v; want 1 (its own count)", got, err)
	}
}

func TestCountAndRebase(t *testing.T) {
	ctx := context.Background()
	l, _ := inDoubt(t, lease)
	if st, err := l.Stats(ctx, "c1"); err != nil || st != (Stats{}) {
		t.Fatalf("Stats before any event = %+v, %v", st, err)
	}
	if _, err := l.Count(ctx, "c1", 10, 0, 0); err != nil {
		t.Fatal(err)
	}
	st, err := l.Count(ctx, "c1", 0, 2, 1)
	if err != nil || st.Sends != 10 || st.Bounces != 2 || st.Complaints != 1 {
		t.Fatalf("Count = %+v, %v", st, err)
	}
	if err := l.Rebase(ctx, "c1", st); err != nil {
		t.Fatal(err)
	}
	st, _ = l.Count(ctx, "c1", 5, 1, 0)
	if s, b := st.Window(); s != 5 || b != 1 {
		t.Errorf("window after rebase = %d sends, %d bounces; want 5, 1", s, b)
	}
	if got, _ := l.Stats(ctx, "c1"); got != st {
		t.Errorf("Stats = %+v, want %+v", got, st)
	}
}
