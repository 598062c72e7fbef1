package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nhsmail-sunset/sunset/infra/campaignday"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// rates are the faults of a run: a request in eight or so meets one.
var rates = Rates{Latency: 0.05, ResetBefore: 0.02, ResetAfter: 0.02, ServerError: 0.02, Throttle: 0.03, Timeout: 0.003}

// Delivery faults, besides the proxies': the send queue delivers a message twice or late (SQS
// is at least once), and each SES Send event comes late, twice or never.
const (
	dupMessage = 0.10
	lateEvent  = 0.30
	twiceEvent = 0.20
	lostEvent  = 0.10
)

// Process kills: a share of the invocations (sender, ingest, merge; CHAOS_KILL_PERCENT, default
// 8) runs in a process of its own, killed after a random delay up to maxKillDelay (one that
// ends sooner is not).
const maxKillDelay = 400 * time.Millisecond

var killRate = float64(envInt("CHAOS_KILL_PERCENT", 8)) / 100

// defaultFiles is the day of logs of a short run (CHAOS_FILES sets it).
const defaultFiles = 24

// campaignFile is the campaign a run's day is planned from.
var campaignFile = filepath.Join("..", "demo", "data", "campaign.yaml")

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestChaos runs a day of CHAOS_FILES log files (default 24; `make chaos` 300) through the
// ingest function's handler and the hourly merge, then the campaign day planned from them
// through the planner's, the sender's and feedback's handlers, with faults injected and
// processes killed, for CHAOS_SEEDS seeds (default 1) of CHAOS_NOTICES organisations (default
// 100; `make chaos` 3,000). It checks after each: every file done once, its findings those of
// a run without faults, no merge lease left held; every organisation emailed exactly once (the
// SES emulator's store, by the notice's tags), every notice sent, none left in doubt; every
// address one email of the day, the support units' merged, carrying each of their
// organisations once (checkMerged).
func TestChaos(t *testing.T) {
	seeds, n := envInt("CHAOS_SEEDS", 1), envInt("CHAOS_NOTICES", 100)
	first := uint64(envInt("CHAOS_SEED", 1))
	for s := range uint64(seeds) {
		seed := first + s
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			r := run(t, seed, n)
			t.Log(r)
		})
	}
}

// report is what one run did.
type report struct {
	seed                                 uint64
	notices, rounds                      int
	faults                               map[Fault]int
	requests                             int
	dupMessages, lateEvents, twice, lost int
	plannerRuns                          int // under faults, until one went through (all 12 rounds' if none did)
	inDoubt, mailsInDoubt                int
	settledByEvents, resent              int
	spawned, killed                      int
	ingest                               ingestReport
	took                                 time.Duration
}

func (r report) String() string {
	var fs []string
	for _, f := range Faults {
		fs = append(fs, fmt.Sprintf("%s %d", f, r.faults[f]))
	}
	in := r.ingest
	return fmt.Sprintf("seed %d: %s; %d requests, faults: %s; processes killed %d of %d started; "+
		"logs: %d files, %d deliveries (%d duplicates), %d retried, %d dead-lettered %v, %d merges (%d failed or killed); "+
		"campaign day: %d notices in %d rounds (%d planner runs under faults), duplicate messages %d; SES events late %d, twice %d, never %d; in doubt after the day %d notices and %d merged emails: settled by late events %d, released and sent by reconcile %d",
		r.seed, r.took.Round(time.Millisecond), r.requests, strings.Join(fs, ", "), r.killed, r.spawned,
		in.files, in.deliveries, in.dupDeliveries, in.retried, in.deadLettered, in.reasons, in.merges, in.mergesFailed,
		r.notices, r.rounds, r.plannerRuns, r.dupMessages, r.lateEvents, r.twice, r.lost, r.inDoubt, r.mailsInDoubt, r.settledByEvents, r.resent)
}

// deliver hands messages to the sender in SQS batches of 10, invocations at once as the
// template's reserved concurrency allows (some in a process that is killed), and returns those
// that come back (a batch whose invocation failed or died, and each failed item).
func deliver(ctx context.Context, iv *invoker, msgs []string) []string {
	var mu sync.Mutex
	var again []string
	sem := make(chan struct{}, invocations)
	var wg sync.WaitGroup
	for i := 0; i < len(msgs); i += 10 {
		batch := msgs[i:min(i+10, len(msgs))]
		kill, delay := iv.draw()
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var ev events.SQSEvent
			for j, b := range batch {
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: strconv.Itoa(j), Body: b})
			}
			raw, _ := json.Marshal(ev)
			out, err := iv.invoke(ctx, "sender", raw, kill, delay, io.Discard)
			resp := out.Response
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				again = append(again, batch...)
				return
			}
			for _, f := range resp.BatchItemFailures {
				j, _ := strconv.Atoi(f.ItemIdentifier)
				again = append(again, batch[j])
			}
		}()
	}
	wg.Wait()
	return again
}

// invocations is how many sender invocations run at once: the template's reserved concurrency.
const invocations = 2

// run is one seed: the day of logs (ingestDay), then the campaign day with faults, the settling
// a person would do (late events, reconcile), and the invariants. It is long (about 180 lines)
// because it is the scenario, in order; each phase is commented.
func run(t *testing.T, seed uint64, n int) report {
	ctx := context.Background()
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed, 7))
	rep := report{seed: seed, notices: n, faults: map[Fault]int{}}
	cfg := localstacktest.Config()
	direct := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb")) })
	table := fmt.Sprintf("chaos-%d-%s", seed, localstacktest.Unique())
	drop, err := campaignday.Table(ctx, direct, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	id := "chaos-" + strconv.FormatUint(seed, 10) + "-" + localstacktest.Unique()
	// The real clock: SES's events carry the emulator's times, which a lease must not follow.
	clock := time.Now
	if _, err := campaignday.SeedUnitsWithoutFindings(ctx, direct, table, campaignFile, id, n, clock()); err != nil {
		t.Fatal(err)
	}
	// An SES emulator and an S3 API of the run's own: the shared store stays small.
	sesEndpoint := localstacktest.SESEmulator(t, "{}")
	s3c, s3URL := localstacktest.S3(t)

	// The faulty path: every request of the handlers goes through a proxy.
	dbProxy, _ := NewProxy("dynamodb", localstack.Endpoint("dynamodb"), rates, seed)
	sesProxy, _ := NewProxy("ses", sesEndpoint, rates, seed+1<<32)
	s3Proxy, _ := NewProxy("s3", s3URL, rates, seed+2<<32)
	proxies := []*Proxy{dbProxy, sesProxy, s3Proxy}
	urls := make([]string, len(proxies))
	for i, p := range proxies {
		p.Hang = 1200 * time.Millisecond
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
	}
	w := wiring{DB: urls[0], SES: urls[1], S3: urls[2], Table: table, Bucket: "staging"}
	if err := localstack.EnsureBucket(ctx, s3c, w.Bucket); err != nil {
		t.Fatal(err)
	}
	iv := newInvoker(w, seed, killRate, maxKillDelay)

	// The day of logs, through ingest and the hourly merge.
	ir := ingestDay(t, ctx, rng, w, iv, s3c, proxies, id, calendar.Of(clock()).AddDays(-1), envInt("CHAOS_FILES", defaultFiles), n)
	rep.ingest = ir
	for _, p := range proxies {
		p.On()
	}

	db := w.dynamo()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	q := &campaignday.Queue{}
	cs := campaign.NewStore(db, table, clock)
	ph := &planner.Handler{Planner: planner.New(db, table, w.stage(), clock), Live: cs, Dispatcher: &planner.Queue{Client: q, URL: "chaos"}, Logger: quiet}
	led := ledger.New(db, table, clock)
	s := w.sender(quiet)
	fb := feedback.New(suppression.New(db, table, clock), led, feedback.Options{Logger: quiet, Clock: clock})

	// The day: the scheduled planner, the send queue (duplicates, late and failed messages come
	// back), the SES events of what was sent (late, twice or never), in rounds, as minutes pass.
	var pending []string // messages waiting on the queue
	var eventsDue []feedback.Event
	handled := map[string]bool{} // SES message ids whose events were drawn
	planned := false
	for round := 0; round < 12; round++ {
		rep.rounds++
		// A failed run is run again (the schedule's retries); a run that went through is not.
		if !planned {
			planned = ph.Handle(ctx, events.EventBridgeEvent{ID: fmt.Sprintf("run-%d", round)}) == nil
			rep.plannerRuns++
		}
		for _, b := range q.Take() {
			pending = append(pending, b)
			if rng.Float64() < dupMessage {
				pending = append(pending, b)
				rep.dupMessages++
			}
		}
		rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
		pending = deliver(ctx, iv, pending)
		// SES's events of what it accepted.
		var next []feedback.Event
		for _, e := range eventsDue {
			if err := fb.Process(ctx, e); err != nil {
				next = append(next, e) // the function fails; SNS and Lambda retry it
			}
		}
		for _, m := range sentOf(t, sesEndpoint, id) {
			if handled[m.MessageID] {
				continue
			}
			handled[m.MessageID] = true
			e := sendEvent(t, m)
			switch x := rng.Float64(); {
			case x < lostEvent:
				rep.lost++
			case x < lostEvent+twiceEvent:
				rep.twice++
				next = append(next, e, e)
			case x < lostEvent+twiceEvent+lateEvent:
				rep.lateEvents++
				next = append(next, e) // next round
			default:
				if err := fb.Process(ctx, e); err != nil {
					next = append(next, e)
				}
			}
		}
		eventsDue = next
		if planned && len(pending) == 0 && len(eventsDue) == 0 {
			break
		}
	}

	// Settling, faults off: the queue drains, the late events arrive, and a person runs
	// reconcile on what is still in doubt an hour on: a notice SES has (its event was lost) is
	// settled from SES's record; one SES never had is released and sent, once.
	for _, p := range proxies {
		p.Off()
	}
	if !planned { // the campaign day would have run without faults: the run proves nothing of it
		t.Errorf("seed %d: none of %d planner runs went through under faults", seed, rep.plannerRuns)
	}
	if !planned {
		if err := ph.Handle(ctx, events.EventBridgeEvent{ID: "run-settle"}); err != nil {
			t.Fatalf("seed %d: the planner without faults: %v", seed, err)
		}
		pending = append(pending, q.Take()...)
	}
	if left := deliver(ctx, &invoker{w: w, rng: rand.New(rand.NewPCG(0, 0))}, pending); len(left) > 0 {
		t.Fatalf("seed %d: %d deliveries without faults failed: %s", seed, len(left), describe(ctx, led, left))
	}
	for _, e := range eventsDue {
		if err := fb.Process(ctx, e); err != nil {
			t.Fatalf("seed %d: an event without faults failed: %v", seed, err)
		}
	}
	// "An hour later": every lease of the day is past reconcile's grace.
	doubt, err := led.InDoubt(ctx, id, clock().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rep.inDoubt = len(doubt)
	sent := sentOf(t, sesEndpoint, id)
	byOrg := map[string][]email{}
	for _, m := range sent {
		byOrg[m.org] = append(byOrg[m.org], m)
	}
	for _, d := range doubt {
		if ms := byOrg[d.Org]; len(ms) > 0 {
			if err := fb.Process(ctx, sendEvent(t, ms[0])); err != nil {
				t.Fatal(err)
			}
			rep.settledByEvents++
			continue
		}
		if err := led.ReleaseForResend(ctx, d, "chaos", "SES has no such email (reconcile)"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(ctx, ledger.Key{Campaign: d.Campaign, Org: d.Org, Stage: d.Stage}); err != nil {
			t.Fatalf("seed %d: resend of %s: %v", seed, d.Org, err)
		}
		rep.resent++
	}
	// The same for merged emails (sunset reconcile --mails).
	mdoubt, err := led.MailsInDoubt(ctx, id, clock().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rep.mailsInDoubt = len(mdoubt)
	byMail := map[string][]email{}
	for _, m := range sent {
		byMail[m.mail] = append(byMail[m.mail], m)
	}
	for _, m := range mdoubt {
		if ms := byMail[m.ID()]; m.InDoubt() && len(ms) > 0 {
			if err := fb.Process(ctx, sendEvent(t, ms[0])); err != nil {
				t.Fatal(err)
			}
			rep.settledByEvents++
			continue
		}
		if m.InDoubt() {
			if err := led.ReleaseMailForResend(ctx, m, "chaos", "SES has no such email (reconcile)"); err != nil {
				t.Fatal(err)
			}
		}
		if res, err := s.SendMails(ctx, []ledger.MailKey{m.MailKey}); err != nil || len(res) != 1 || res[0].Err != nil {
			t.Fatalf("seed %d: resend of %s: %+v %v", seed, m.MailKey, res, err)
		}
		rep.resent++
	}

	// The invariants.
	sent = sentOf(t, sesEndpoint, id)
	byOrg = map[string][]email{}
	for _, m := range sent {
		byOrg[m.org] = append(byOrg[m.org], m)
	}
	for i := range n {
		org := fmt.Sprintf("D%05d", i)
		if got := len(byOrg[org]); got != 1 {
			t.Errorf("seed %d: %s was emailed %d times, want once", seed, org, got)
		}
		nt, err := ledger.New(direct, table, clock).Get(ctx, id, org, "advance")
		if err != nil || nt.Status != ledger.Sent || nt.InDoubt() {
			t.Errorf("seed %d: %s's notice is %+v (%v), want sent", seed, org, nt, err)
		}
	}
	checkMerged(t, ctx, seed, ledger.New(direct, table, clock), id, n, sent)
	for _, p := range proxies {
		f, r := p.Counts()
		for k, v := range f {
			rep.faults[k] += v
		}
		rep.requests += r
	}
	rep.spawned, rep.killed = iv.spawned, iv.died
	rep.took = time.Since(start)
	return rep
}

// checkMerged checks one email a day per person: every address of the directory (each
// organisation's LA and PLA, each support unit) got exactly one email of the day; each unit's is
// the merged email that, as the ledger records, carried each of its organisations' notices, and
// says so; each of those notices records the mail.
func checkMerged(t *testing.T, ctx context.Context, seed uint64, l *ledger.Ledger, id string, n int, sent []email) {
	byAddr := map[string][]email{}
	for _, m := range sent {
		for _, a := range m.Destination.To {
			a = strings.Trim(a[strings.LastIndex(a, "<")+1:], "<> ")
			byAddr[strings.ToLower(a)] = append(byAddr[strings.ToLower(a)], m)
		}
	}
	units := map[string][]string{}
	for i := range n {
		org := campaignday.Org(i)
		for _, a := range []string{fmt.Sprintf("la%d@d%d.example.nhs.net", i, i), fmt.Sprintf("pla%d@d%d.example.nhs.net", i, i)} {
			if got := len(byAddr[a]); got != 1 {
				t.Errorf("seed %d: %s got %d emails, want 1", seed, a, got)
			}
		}
		if u := campaignday.Unit(i); u != "" {
			units[u] = append(units[u], org)
		}
	}
	for u, orgs := range units {
		got := byAddr[u]
		if len(got) != 1 || got[0].mail == "" {
			t.Errorf("seed %d: %s got %d emails, want its one merged email", seed, u, len(got))
			continue
		}
		k, err := ledger.ParseMailID(id, got[0].mail)
		if err != nil {
			t.Fatal(err)
		}
		m, err := l.GetMail(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var carried []string
		for _, nk := range m.Carried {
			carried = append(carried, nk.Org)
		}
		if m.Status != ledger.Sent || strings.Join(carried, " ") != strings.Join(orgs, " ") {
			t.Errorf("seed %d: %s's mail is %s carrying %v, want sent carrying %v", seed, u, m.Status, carried, orgs)
		}
		for _, org := range orgs {
			if !strings.Contains(got[0].Body.Text, "("+org+")") {
				t.Errorf("seed %d: %s's merged email has no section for %s", seed, u, org)
			}
			nt, err := l.Get(ctx, id, org, "advance")
			if err != nil || !nt.IsMerged(u) || len(nt.Mailed) != 1 {
				t.Errorf("seed %d: %s's notice does not record the mail to %s: %+v %v", seed, org, u, nt, err)
			}
		}
	}
}

// email is one email of the run's campaign in the SES emulator's store: the organisation of a
// notice's own, the mail of a merged one.
type email struct {
	localstacktest.Email
	org, mail string
}

// sentOf are the emails of campaign id in the store of the SES emulator at endpoint (test
// sends excluded).
func sentOf(t *testing.T, endpoint, id string) []email {
	var out []email
	for _, m := range localstacktest.SentEmailsAt(t, endpoint) {
		if m.Header("X-Sunset-Campaign") == id && m.Header("X-Sunset-Test") == "" {
			out = append(out, email{Email: m, org: m.Header("X-Sunset-Org"), mail: m.Header("X-Sunset-Mail")})
		}
	}
	return out
}

// sendEvent is SES's Send event of m, as the configuration set publishes it to feedback.
func sendEvent(t *testing.T, m email) feedback.Event {
	var sns events.SNSEvent
	var e feedback.Event
	if err := json.Unmarshal(m.SESEvent("Send"), &sns); err != nil || len(sns.Records) != 1 || json.Unmarshal([]byte(sns.Records[0].SNS.Message), &e) != nil {
		t.Fatalf("the Send event of %s: %v", m.MessageID, err)
	}
	return e
}

// describe says where each hand-off's notice or merged email stands, for a failure's message.
func describe(ctx context.Context, l *ledger.Ledger, bodies []string) string {
	var out []string
	for _, b := range bodies {
		var h struct {
			ledger.Key
			Mail string `json:"mail"`
		}
		json.Unmarshal([]byte(b), &h)
		if h.Mail != "" {
			k, _ := ledger.ParseMailID(h.Campaign, h.Mail)
			m, err := l.GetMail(ctx, k)
			out = append(out, fmt.Sprintf("mail %s: %+v %v", h.Mail, m, err))
			continue
		}
		n, err := l.Get(ctx, h.Campaign, h.Org, h.Stage)
		if n != nil {
			n.Accounts = nil
		}
		out = append(out, fmt.Sprintf("notice %s: %+v %v", h.Key, n, err))
	}
	return strings.Join(out, "; ")
}
