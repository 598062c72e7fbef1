package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
)

// This file is how a batch of notices is sent with as few table requests as the guarantees
// allow: per chunk of notices, each campaign is read once and every recipient is checked
// against the suppression list in one batched read; per notice, the lease is the read (one
// conditional write that returns the notice) and the mark is the only other write. A sent
// notice costs 2 table requests plus its share of the chunk's two reads.

// ErrInDoubt wraps the error of a send whose outcome the sender cannot know (SES's call failed
// without an answer): the notice stays leased, and SES's own events settle it.
var ErrInDoubt = errors.New("in doubt")

// Result is the outcome of one notice of a batch.
type Result struct {
	Key     ledger.Key
	Outcome Outcome
	Err     error
	// Until is, for a Deferred notice, when the campaign's send window next opens.
	Until time.Time
}

// outcomeMetric is the count each outcome adds to.
var outcomeMetric = map[Outcome]metrics.Name{Sent: metrics.NoticesSent, Failed: metrics.NoticesFailed, Suppressed: metrics.NoticesSuppressed}

// Send delivers one claimed notice. An error means "try again later" (the notice is still
// claimed) unless it wraps ErrSendingStopped, when nothing more should be sent now, or
// ErrInDoubt, when it is never tried again without a person (sunset reconcile).
func (s *Sender) Send(ctx context.Context, k ledger.Key) (Outcome, error) {
	res, err := s.SendAll(ctx, []ledger.Key{k})
	if len(res) == 0 {
		return "", err
	}
	return res[0].Outcome, res[0].Err
}

// chunkSize is how many notices are leased and checked together: enough to keep every worker
// busy between the chunk's shared reads, few enough that a crash leaves few notices in doubt
// (at most the chunk being sent and the two leased after it).
func (s *Sender) chunkSize() int { return max(4*s.cfg.Concurrency, 10) }

// SendAll sends keys with bounded concurrency. Notices are leased a chunk at a time, ahead of
// the workers, and each worker takes the next leased notice as soon as it is free, so the
// table's and SES's latencies overlap and no worker waits for a chunk's slowest send. It stops
// early, returning an error wrapping ErrSendingStopped, when SES stops sending; the results
// say what happened to each notice tried, in the order of keys (notices not tried have no
// result, and hold no lease).
func (s *Sender) SendAll(ctx context.Context, keys []ledger.Key) ([]Result, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if err := s.canSendNotices(ctx); err != nil {
		return nil, err // nothing leased: every notice waits, claimed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := make(chan *chunk)
	go func() {
		defer close(ready)
		for start := 0; start < len(keys); start += s.chunkSize() {
			c := s.prepare(ctx, keys[start:min(start+s.chunkSize(), len(keys))])
			select {
			case ready <- c:
			case <-ctx.Done():
				s.drop(ctx, c)
				return
			}
		}
	}()
	work := make(chan *job)
	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				s.sendOne(ctx, cancel, j)
			}
		}()
	}
	var chunks []*chunk
	for c := range ready {
		chunks = append(chunks, c)
		for _, j := range c.leased {
			work <- j
		}
	}
	close(work)
	wg.Wait()
	out := results(chunks)
	s.count(out)
	if cause := context.Cause(ctx); errors.Is(cause, ErrSendingStopped) {
		return out, cause
	}
	return out, nil
}

// job is one notice of a chunk on its way: its campaign, once leased the notice, and the
// suppression list's answer for its chunk.
type job struct {
	k          ledger.Key
	rec        *campaign.Record
	n          *ledger.Notice
	suppressed map[string]bool
	result     *Result // set when the notice is done with (or could not be tried)
	until      time.Time
}

// chunk is a set of notices read and leased together: their jobs, and the ones leased.
type chunk struct {
	jobs, leased []*job
}

// prepare reads the chunk's campaigns, leases its notices and checks every leased notice's
// recipients in one read.
func (s *Sender) prepare(ctx context.Context, keys []ledger.Key) *chunk {
	c := &chunk{jobs: make([]*job, len(keys))}
	for i, k := range keys {
		c.jobs[i] = &job{k: k}
	}
	s.campaignsOf(ctx, c.jobs)
	s.each(c.jobs, func(j *job) { s.lease(ctx, j) })
	c.leased = slices.DeleteFunc(slices.Clone(c.jobs), func(j *job) bool { return j.n == nil })
	suppressed, err := s.suppressedOf(ctx, c.leased)
	if err != nil {
		for _, j := range c.leased {
			s.release(ctx, j)
			j.result = &Result{Key: j.k, Err: fmt.Errorf("send notice %s: %w", j.k, err)}
		}
		c.leased = nil
	}
	for _, j := range c.leased {
		j.suppressed = suppressed
	}
	return c
}

// drop gives back the leases of a prepared chunk that will not be sent (SES stopped sending):
// its notices were never handed to SES.
func (s *Sender) drop(ctx context.Context, c *chunk) {
	for _, j := range c.leased {
		s.release(ctx, j)
	}
}

// sendOne sends and records one leased notice. A stop (ErrSendingStopped) cancels ctx: notices
// leased but not yet sent are released, not left in doubt.
func (s *Sender) sendOne(ctx context.Context, stop context.CancelCauseFunc, j *job) {
	if ctx.Err() != nil { // SES stopped sending while this one waited: give it back
		s.release(ctx, j)
		return
	}
	o, err := s.deliver(ctx, j)
	j.result = &Result{Key: j.k, Outcome: o, Err: err, Until: j.until}
	if errors.Is(err, ErrSendingStopped) {
		stop(err)
	}
}

// results lists the outcome of every notice tried, in the order the chunks hold them.
func results(chunks []*chunk) []Result {
	var out []Result
	for _, c := range chunks {
		for _, j := range c.jobs {
			if j.result != nil {
				out = append(out, *j.result)
			}
		}
	}
	return out
}

// count adds each outcome to the metrics.
func (s *Sender) count(out []Result) {
	for _, r := range out {
		if m, ok := outcomeMetric[r.Outcome]; ok {
			s.cfg.Metrics.Add(r.Key.Campaign, m, 1)
		}
		if errors.Is(r.Err, ErrInDoubt) {
			s.cfg.Metrics.Add(r.Key.Campaign, metrics.NoticesInDoubt, 1)
		}
	}
}

// each runs fn on every job with at most Concurrency at once.
func (s *Sender) each(jobs []*job, fn func(*job)) {
	work := make(chan *job)
	var wg sync.WaitGroup
	for range min(s.cfg.Concurrency, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				fn(j)
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
}

// campaignsOf reads each campaign of the chunk once. A notice of a campaign that is not active
// is left claimed (the planner hands it over again when it is resumed the same day); so is one
// of a campaign whose send window is shut, deferred until it opens (the Lambda holds its
// hand-off back on the queue till then).
func (s *Sender) campaignsOf(ctx context.Context, jobs []*job) {
	recs := map[string]*campaign.Record{}
	errs := map[string]error{}
	for _, j := range jobs {
		id := j.k.Campaign
		if _, ok := recs[id]; !ok && errs[id] == nil {
			recs[id], errs[id] = s.campaigns.Get(ctx, id)
		}
		switch rec := recs[id]; {
		case errors.Is(errs[id], campaign.ErrNotFound):
			// No campaign, so no notice: a hand-off that can never be sent.
			s.cfg.Logger.Error("campaign not found: hand-off dropped", "campaign", id, "org", j.k.Org, "stage", j.k.Stage)
			j.result = &Result{Key: j.k, Outcome: NotFound}
		case errs[id] != nil:
			j.result = &Result{Key: j.k, Err: fmt.Errorf("send notice %s: %w", j.k, errs[id])}
		case rec.Status != campaign.Active:
			s.cfg.Logger.Info("campaign not active: notice left claimed", "campaign", id, "org", j.k.Org, "stage", j.k.Stage, "campaign_status", rec.Status)
			j.result = &Result{Key: j.k, Outcome: NotActive}
		case s.cfg.Identity != "" && rec.Campaign.CheckIdentity(s.cfg.Identity) != nil:
			// Applied before the stack's identity changed: IAM would refuse every send. It
			// waits, claimed, until the campaign is applied again with a From inside it.
			err := rec.Campaign.CheckIdentity(s.cfg.Identity)
			s.cfg.Logger.Error("campaign's sender is outside the sending identity: notice left claimed", "campaign", id, "org", j.k.Org, "stage", j.k.Stage, "error", err)
			j.result = &Result{Key: j.k, Err: fmt.Errorf("send notice %s: %w", j.k, err)}
		default:
			if open, next := rec.Campaign.Window(s.clock()); !open {
				s.cfg.Logger.Info("outside the campaign's send window: notice left claimed", "campaign", id, "org", j.k.Org, "stage", j.k.Stage, "until", next)
				j.result = &Result{Key: j.k, Outcome: Deferred, Until: next}
				continue
			}
			j.rec = rec
		}
	}
}

// lease takes the notice for this sender (the write returns it), if there is time left to send
// it. A notice it cannot lease is looked at once more, only to say why (rare: a duplicate
// hand-off, a notice never claimed).
func (s *Sender) lease(ctx context.Context, j *job) {
	if j.result != nil {
		return
	}
	if err := s.ready(ctx); err != nil {
		j.result = &Result{Key: j.k, Err: fmt.Errorf("send notice %s: %w", j.k, err)}
		return
	}
	n, err := s.ledger.BeginSend(ctx, j.k.Campaign, j.k.Org, j.k.Stage)
	if err == nil {
		j.n = n
		return
	}
	log := s.cfg.Logger.With("campaign", j.k.Campaign, "org", j.k.Org, "stage", j.k.Stage)
	if !errors.Is(err, ledger.ErrNotClaimed) {
		j.result = &Result{Key: j.k, Err: fmt.Errorf("send notice %s: %w", j.k, err)}
		return
	}
	cur, gerr := s.ledger.Get(ctx, j.k.Campaign, j.k.Org, j.k.Stage)
	switch {
	case errors.Is(gerr, ledger.ErrNotFound):
		// Nothing to send, now or on a retry: a hand-off for a notice that was never claimed.
		log.Error("notice not in the ledger: dropped")
		j.result = &Result{Key: j.k, Outcome: NotFound}
	case gerr != nil:
		j.result = &Result{Key: j.k, Err: fmt.Errorf("send notice %s: %w", j.k, gerr)}
	default:
		log.Info("notice already done, or another sender has it", "status", cur.Status, "in_doubt", cur.InDoubt())
		j.result = &Result{Key: j.k, Outcome: AlreadyDone}
	}
}

// suppressedOf checks the recipients of every leased notice of the chunk in one batched read.
func (s *Sender) suppressedOf(ctx context.Context, leased []*job) (map[string]bool, error) {
	if s.suppress == nil || len(leased) == 0 {
		return map[string]bool{}, nil
	}
	var addrs []string
	for _, j := range leased {
		addrs = append(addrs, j.n.Recipients...)
	}
	slices.Sort(addrs)
	return s.suppress.Suppressed(ctx, slices.Compact(addrs))
}

// release gives a lease back for a notice that was never handed to SES.
func (s *Sender) release(ctx context.Context, j *job) {
	if err := s.ledger.ReleaseSend(context.WithoutCancel(ctx), j.k.Campaign, j.k.Org, j.k.Stage); err != nil {
		s.cfg.Logger.Error("could not release the send lease: the notice stays in doubt", "campaign", j.k.Campaign, "org", j.k.Org, "stage", j.k.Stage, "error", err)
	}
}

// deliver sends one leased notice and records the outcome. Its length is the sequence of
// guards the at-most-once promise rests on once the lease is held (someone reachable, a
// message that renders, SES's answer, the mark), kept in one place so the order is visible.
func (s *Sender) deliver(ctx context.Context, j *job) (Outcome, error) {
	k, n, suppressed := j.k, j.n, j.suppressed
	log := s.cfg.Logger.With("campaign", k.Campaign, "org", k.Org, "stage", k.Stage)
	n.Recipients = slices.DeleteFunc(n.Recipients, func(a string) bool { return suppressed[a] })
	own := slices.DeleteFunc(slices.Clone(n.Recipients), n.IsMerged) // the others go in merged emails
	if len(own) == 0 && len(n.Recipients) > 0 {
		if err := s.ledger.MarkCarried(context.WithoutCancel(ctx), k); err != nil {
			return "", fmt.Errorf("send notice %s: %w", k, err)
		}
		log.Info("notice needs no email of its own: merged emails carry it to every recipient", "merged", len(n.Recipients))
		return Sent, nil
	}
	n.Recipients = own
	if len(n.Recipients) == 0 {
		if err := s.ledger.MarkSuppressed(context.WithoutCancel(ctx), k.Campaign, k.Org, k.Stage, "every recipient is suppressed"); err != nil {
			return "", fmt.Errorf("send notice %s: %w", k, err)
		}
		log.Warn("notice not sent: every recipient is suppressed")
		return Suppressed, nil
	}
	r, err := s.renderer(j.rec)
	if err != nil {
		s.release(ctx, j)
		return "", fmt.Errorf("send notice %s: %w", k, err)
	}
	e, err := r.Render(*n, s.clock())
	if err != nil {
		// A template that does not render will not render on a retry either.
		return s.fail(ctx, log, k, "render: "+err.Error())
	}
	in, err := s.Input(e)
	if err != nil {
		return s.fail(ctx, log, k, err.Error())
	}
	give, taken, err := s.takeDays(ctx, j.rec, n, n.Recipients)
	if errors.Is(err, ledger.ErrDayTaken) {
		// One of its addresses has had its email of the campaign for this day: the notice
		// waits, and the next day's planner merges that address into its email of that day.
		if err := s.ledger.MarkDayTaken(context.WithoutCancel(ctx), k, taken); err != nil {
			s.release(ctx, j)
			return "", fmt.Errorf("send notice %s: %w", k, err)
		}
		s.release(ctx, j)
		j.until = s.tomorrow(j.rec)
		log.Info("a recipient has had its email of the campaign for the day: the notice waits for the next day's merge", "until", j.until)
		return Deferred, nil
	}
	if err != nil {
		s.release(ctx, j)
		return "", fmt.Errorf("send notice %s: %w", k, err)
	}
	// This sender alone may send the notice, once: every outcome is recorded, and an error
	// with no answer from SES leaves it leased (in doubt), never sent again.
	id, err := s.send(ctx, in)
	switch {
	case isPermanent(err):
		give()
		return s.fail(ctx, log, k, "SES rejected the message: "+err.Error())
	case err != nil && notAccepted(err):
		// SES answered no (throttled, paused) or we never called it: give the lease back.
		give()
		s.release(ctx, j)
		return "", fmt.Errorf("send notice %s: %w", k, err)
	case err != nil:
		log.Error("SES call failed without an answer: the notice is in doubt and will not be resent", "error", err)
		return "", fmt.Errorf("send notice %s: %w: %w", k, ErrInDoubt, err)
	}
	return s.markSent(ctx, log, k, id, e.SHA256(), len(e.To), e.Template)
}

// markSent records the send. The window: SES has the message; until the mark lands a crash
// would leave it in doubt. It records with a context that outlives a cancelled run, so a
// Ctrl-C cannot open the window wider, and never retries the send.
func (s *Sender) markSent(ctx context.Context, log *slog.Logger, k ledger.Key, id, sha string, recipients int, template string) (Outcome, error) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.ledger.MarkSent(mctx, k.Campaign, k.Org, k.Stage, id, sha); err != nil {
		if n, gerr := s.ledger.Get(mctx, k.Campaign, k.Org, k.Stage); gerr == nil && n.MessageID == id {
			log.Info("notice sent; SES's events recorded it first", "message_id", id, "status", n.Status)
			return Sent, nil
		}
		// The email is out, and SES's Send event will settle the notice. Say which message.
		log.Error("notice sent but not recorded: in doubt until SES's Send event settles it; do not resend", "message_id", id, "error", err)
		s.cfg.Metrics.Add(k.Campaign, metrics.NoticesInDoubt, 1)
		return Sent, nil
	}
	log.Info("notice sent", "message_id", id, "recipients", recipients, "template", template)
	return Sent, nil
}
