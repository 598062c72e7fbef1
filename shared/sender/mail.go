package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
)

// This file sends merged emails (ledger.Mail: one email to one address covering several
// organisations' notices of a day) and keeps every email, merged or not, to one per address,
// campaign and day (ledger.TakeDay).

// MailResult is the outcome of one mail.
type MailResult struct {
	Key     ledger.MailKey
	Outcome Outcome
	Err     error
	Until   time.Time // for Deferred: when to try again
}

// SendMails sends mails with at most Concurrency at once. It stops early, with an error wrapping
// ErrSendingStopped, when SES stops sending (mails not tried have no result and hold no lease).
func (s *Sender) SendMails(ctx context.Context, keys []ledger.MailKey) ([]MailResult, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if err := s.canSendNotices(ctx); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	out := make([]*MailResult, len(keys))
	recs := &campaignCache{get: s.campaigns.Get, recs: map[string]*campaign.Record{}, errs: map[string]error{}}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(s.cfg.Concurrency, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if ctx.Err() != nil {
					continue
				}
				r := s.sendMail(ctx, recs, keys[i])
				out[i] = &r
				if errors.Is(r.Err, ErrSendingStopped) {
					stop(r.Err)
				}
			}
		}()
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()
	var res []MailResult
	for _, r := range out {
		if r == nil {
			continue
		}
		res = append(res, *r) // not counted as notices: each notice it carries is counted once, by its own send
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrSendingStopped) {
		return res, cause
	}
	return res, nil
}

// sendMail sends one mail: the campaign's state and window, the lease, the address's
// suppression, each listed notice asked whether the mail carries it (ledger.Carry) and the
// answer recorded on the mail, the merged rendering, SES, and the record. (The address's day is the planner's, taken before it made the
// mail.) Its length is that sequence of guards, kept in one place so the order is visible.
func (s *Sender) sendMail(ctx context.Context, recs *campaignCache, k ledger.MailKey) MailResult {
	res := MailResult{Key: k}
	log := s.cfg.Logger.With("campaign", k.Campaign, "mail", k.ID())
	rec, o, until, err := s.campaignFor(ctx, recs, k.Campaign, log)
	if rec == nil {
		res.Outcome, res.Until, res.Err = o, until, err
		return res
	}
	if err := s.ready(ctx); err != nil {
		res.Err = fmt.Errorf("send mail %s: %w", k, err)
		return res
	}
	m, err := s.ledger.BeginMail(ctx, k)
	if errors.Is(err, ledger.ErrNotClaimed) {
		log.Info("mail already done, or another sender has it")
		res.Outcome = AlreadyDone
		return res
	}
	if err != nil {
		res.Err = fmt.Errorf("send mail %s: %w", k, err)
		return res
	}
	release := func() {
		if err := s.ledger.ReleaseMail(context.WithoutCancel(ctx), k); err != nil {
			log.Error("could not release the mail's lease: it stays in doubt", "error", err)
		}
	}
	done := func(st ledger.Status, reason string) MailResult {
		if err := s.ledger.MarkMailDone(context.WithoutCancel(ctx), k, st, reason); err != nil {
			res.Err = fmt.Errorf("send mail %s: %w", k, err)
			return res
		}
		log.Warn("mail not sent", "status", st, "reason", reason)
		res.Outcome = map[ledger.Status]Outcome{ledger.Failed: Failed, ledger.Suppressed: Suppressed}[st]
		if res.Outcome == "" {
			res.Outcome = AlreadyDone
		}
		return res
	}
	if s.suppress != nil {
		sup, err := s.suppress.Suppressed(ctx, []string{m.Address})
		if err != nil {
			release()
			res.Err = fmt.Errorf("send mail %s: %w", k, err)
			return res
		}
		if sup[m.Address] {
			return done(ledger.Suppressed, "the address is suppressed")
		}
	}
	// The planner took the address's day for this mail before it listed any notice in it
	// (planner.merge), so no other email of the campaign goes to the address for that day.
	carried, err := s.carried(ctx, m)
	if err != nil {
		release()
		res.Err = fmt.Errorf("send mail %s: %w", k, err)
		return res
	}
	if len(carried) == 0 {
		return done(ledger.Superseded, "none of its notices was left to carry")
	}
	keys := make([]ledger.Key, len(carried))
	for i, n := range carried {
		keys[i] = n.Key()
	}
	if err := s.ledger.RecordCarrying(ctx, k, keys); err != nil {
		release()
		res.Err = fmt.Errorf("send mail %s: %w", k, err)
		return res
	}
	r, err := s.renderer(rec)
	if err != nil {
		release()
		res.Err = fmt.Errorf("send mail %s: %w", k, err)
		return res
	}
	e, err := r.RenderMerged(k, m.Address, carried, s.clock())
	if err != nil {
		return done(ledger.Failed, "render: "+err.Error())
	}
	in, err := s.Input(e)
	if err != nil {
		return done(ledger.Failed, err.Error())
	}
	id, err := s.send(ctx, in)
	switch {
	case isPermanent(err):
		return done(ledger.Failed, "SES rejected the message: "+err.Error())
	case err != nil && notAccepted(err):
		release()
		res.Err = fmt.Errorf("send mail %s: %w", k, err)
		return res
	case err != nil:
		log.Error("SES call failed without an answer: the mail is in doubt and will not be resent", "error", err)
		s.cfg.Metrics.Add(k.Campaign, metrics.NoticesInDoubt, 1)
		res.Err = fmt.Errorf("send mail %s: %w: %w", k, ErrInDoubt, err)
		return res
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.ledger.MarkMailSent(mctx, k, id, e.SHA256()); err != nil {
		log.Error("mail sent but not recorded: in doubt until SES's Send event settles it; do not resend", "message_id", id, "error", err)
		s.cfg.Metrics.Add(k.Campaign, metrics.NoticesInDoubt, 1)
	} else {
		log.Info("mail sent", "message_id", id, "organisations", len(carried))
	}
	res.Outcome = Sent
	return res
}

// carried asks each notice the leased mail lists whether the mail carries it (ledger.Carry: the
// answer is the notice, read whole), several at once, and returns those it does, in ODS order.
// A notice superseded or gone is left out.
func (s *Sender) carried(ctx context.Context, m *ledger.Mail) ([]ledger.Notice, error) {
	got := make([]*ledger.Notice, len(m.Notices))
	errs := make([]error, len(m.Notices))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, k := range m.Notices {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			n, err := s.ledger.Carry(ctx, k, m.Address, m.Day)
			if !errors.Is(err, ledger.ErrNotFound) {
				got[i], errs[i] = n, err
			}
		}()
	}
	wg.Wait()
	var out []ledger.Notice
	for i, n := range got {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if n != nil && n.Status != ledger.Superseded {
			out = append(out, *n)
		}
	}
	return out, nil
}

// campaignFor reads a mail's campaign and says whether it can send now: the record when it can;
// otherwise the outcome (NotFound, NotActive, Deferred until its window opens) or the error.
func (s *Sender) campaignFor(ctx context.Context, recs *campaignCache, id string, log *slog.Logger) (*campaign.Record, Outcome, time.Time, error) {
	rec, err := recs.read(ctx, id)
	switch {
	case errors.Is(err, campaign.ErrNotFound):
		log.Error("campaign not found: hand-off dropped")
		return nil, NotFound, time.Time{}, nil
	case err != nil:
		return nil, "", time.Time{}, fmt.Errorf("campaign %s: %w", id, err)
	case rec.Status != campaign.Active:
		log.Info("campaign not active: mail left claimed", "campaign_status", rec.Status)
		return nil, NotActive, time.Time{}, nil
	case s.cfg.Identity != "" && rec.Campaign.CheckIdentity(s.cfg.Identity) != nil:
		return nil, "", time.Time{}, fmt.Errorf("campaign %s: %w", id, rec.Campaign.CheckIdentity(s.cfg.Identity))
	}
	if open, next := rec.Campaign.Window(s.clock()); !open {
		log.Info("outside the campaign's send window: mail left claimed", "until", next)
		return nil, Deferred, next, nil
	}
	return rec, "", time.Time{}, nil
}

// takeDays claims, for each of a notice's own recipients, its email of the campaign for the
// notice's day (the day the planner chose it for). When one already has one it gives back those
// it took and returns that address with ledger.ErrDayTaken. The helpdesk's digest takes none (it
// goes to the team, not to an organisation). give gives the days back, for an email that was not
// sent after all.
func (s *Sender) takeDays(ctx context.Context, rec *campaign.Record, n *ledger.Notice, to []string) (give func(), taken string, err error) {
	k := n.Key()
	if k.Org == ledger.HelpdeskOrg {
		return func() {}, "", nil
	}
	day := n.PlannedFor
	if day.IsZero() {
		day = calendar.In(s.clock(), rec.Campaign.Location())
	}
	by := "notice:" + k.Org + "#" + k.Stage
	var took []string
	give = func() {
		for _, a := range took {
			if err := s.ledger.ReleaseDay(context.WithoutCancel(ctx), k.Campaign, a, day, by); err != nil {
				s.cfg.Logger.Error("could not give an address's day back", "notice", k.String(), "error", err)
			}
		}
	}
	addrs := slices.Clone(to)
	slices.Sort(addrs)
	for _, a := range slices.Compact(addrs) {
		if err := s.ledger.TakeDay(ctx, k.Campaign, a, day, by, rec.Campaign.RetainUntil()); err != nil {
			give()
			return nil, a, err
		}
		took = append(took, a)
	}
	return give, "", nil
}

// tomorrow is when a notice or mail that found an address's day taken tries again.
func (s *Sender) tomorrow(rec *campaign.Record) time.Time {
	loc := rec.Campaign.Location()
	return calendar.In(s.clock(), loc).AddDays(1).Start(loc)
}

// campaignCache reads each campaign once for a call of SendMails (as a chunk of notices does).
type campaignCache struct {
	get  func(ctx context.Context, id string) (*campaign.Record, error)
	mu   sync.Mutex
	recs map[string]*campaign.Record
	errs map[string]error
}

func (c *campaignCache) read(ctx context.Context, id string) (*campaign.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.recs[id]; ok {
		return r, c.errs[id]
	}
	r, err := c.get(ctx, id)
	c.recs[id], c.errs[id] = r, err
	return r, err
}
