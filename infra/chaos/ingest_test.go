package chaos

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nhsmail-sunset/sunset/infra/campaignday"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// logBucket holds a run's log files; the chaos run and the reference each stage in a bucket of
// their own.
const logBucket = "logs"

// iisHeader is an IIS W3C log's header with the fields the scanner reads.
const iisHeader = "#Software: Microsoft Internet Information Services 10.0\n" +
	"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status\n"

// logFile is one front-end server's log of an hour of day: each account of the n whose number
// falls in the file's quarter connects twice (a success and, every third, a failure), from
// addresses and devices that change with the file. Every account is in a quarter of the files.
func logFile(day calendar.Date, f, n int) []byte {
	var b bytes.Buffer
	b.WriteString(iisHeader)
	for j := range n {
		if (j*31+f*17)%4 != 0 {
			continue
		}
		status := 200
		for k := range 2 {
			if k == 1 && j%3 == 0 {
				status = 401
			}
			fmt.Fprintf(&b, "%s %02d:%02d:%02d 10.0.0.%d GET /Microsoft-Server-ActiveSync - 443 %s 198.51.%d.%d Apple-iPhone13C2/%d.%d eas.nhs.net %d\n",
				day, f%24, j%60, k, f%8, campaignday.Account(j), f%250, j%250, 1800+f, k, status)
		}
	}
	return b.Bytes()
}

// dayOfLogs puts files log files of yesterday in the log bucket (every third gzipped) and
// returns their S3 notifications, as the bucket would send them.
func dayOfLogs(ctx context.Context, s3c *s3.Client, day calendar.Date, files, n int) ([]string, error) {
	if err := localstack.EnsureBucket(ctx, s3c, logBucket); err != nil {
		return nil, err
	}
	var out []string
	for f := range files {
		body, key := logFile(day, f, n), fmt.Sprintf("logs/fe%02d/u_ex%s_%02d.log", f%8, day, f)
		if f%3 == 0 {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(body)
			zw.Close()
			body, key = z.Bytes(), key+".gz"
		}
		put, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(logBucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			return nil, err
		}
		var ev events.S3Event
		ev.Records = append(ev.Records, events.S3EventRecord{EventName: "ObjectCreated:Put", S3: events.S3Entity{
			Bucket: events.S3Bucket{Name: logBucket}, Object: events.S3Object{Key: key, ETag: aws.ToString(put.ETag)}}})
		raw, _ := json.Marshal(ev)
		out = append(out, string(raw))
	}
	return out, nil
}

// hourFiles is how many files arrive between two merges.
const hourFiles = 12

// maxReceives is the ingest queue's maxReceiveCount (template.yaml): a message that fails that
// often goes to the dead-letter queue.
const maxReceives = 5

// ingestConcurrency is the ingest function's MaximumConcurrency, one message an invocation.
const ingestConcurrency = 4

// deliverIngest hands each message to an ingest invocation (four at once, some in a process
// that is killed) and returns those that failed, with the reason the function logged (or that
// its process died).
func deliverIngest(ctx context.Context, iv *invoker, msgs []string) map[int]string {
	failed := map[int]string{}
	var mu sync.Mutex
	sem := make(chan struct{}, ingestConcurrency)
	var wg sync.WaitGroup
	for i, m := range msgs {
		kill, delay := iv.draw()
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ev, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "0", Body: m}}})
			var log bytes.Buffer
			out, err := iv.invoke(ctx, "ingest", ev, kill, delay, &logWriter{b: &log})
			reason := ""
			switch {
			case err != nil:
				reason = err.Error()
			case len(out.Response.BatchItemFailures) > 0:
				reason = failures(log.Bytes())["0"]
				if reason == "" {
					reason = "failed without a logged reason"
				}
			}
			if reason != "" {
				mu.Lock()
				failed[i] = reason
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// logWriter serialises a handler's log lines (its goroutines log at once).
type logWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// ingestReport is what the day of logs did.
type ingestReport struct {
	files, deliveries, dupDeliveries, retried, deadLettered, merges, mergesFailed int
	reasons                                                                       []string // of the dead letters
}

// ingestDay is a run's day of logs: the files announced to the ingest function (duplicated at
// dupMessage), failed messages retried up to maxReceives and then dead-lettered with their
// reason, the hourly merge running as files arrive, all under faults and kills; then, faults off, the
// dead letters redriven and a merge an hour on. It checks that every file is done (and the one
// unreadable notification dead-lettered with its reason), that no
// merge lease is left held, and that the day's findings equal those of the same files ingested
// without faults into a reference table. It is long because it is the scenario in order.
func ingestDay(t *testing.T, ctx context.Context, rng *rand.Rand, w wiring, iv *invoker, s3c *s3.Client, proxies []*Proxy, id string, day calendar.Date, files, n int) ingestReport {
	rep := ingestReport{files: files}
	msgs, err := dayOfLogs(ctx, s3c, day, files, n)
	if err != nil {
		t.Fatal(err)
	}
	// And a notification no retry can mend (its key is not a valid escape): it must end in
	// the dead-letter queue with its reason, and stay there.
	var bad events.S3Event
	bad.Records = append(bad.Records, events.S3EventRecord{EventName: "ObjectCreated:Put", S3: events.S3Entity{
		Bucket: events.S3Bucket{Name: logBucket}, Object: events.S3Object{Key: "logs/fe00/u_ex%zz.log", ETag: `"0"`}}})
	raw, _ := json.Marshal(bad)
	poison := len(msgs)
	msgs = append(msgs, string(raw))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	receives := make([]int, len(msgs))
	deadReason := map[int]string{}
	logged := map[int][]string{} // the reason of each failed receive
	var pending, dead []int
	for i := range msgs {
		pending = append(pending, i)
	}
	var late []int // second deliveries that come a round later, after the first was done
	for round := 0; len(pending)+len(late) > 0 && round < 20; round++ {
		batch := late
		late = nil
		for _, i := range pending {
			batch = append(batch, i)
			if rng.Float64() < dupMessage { // SQS delivers at least once, now or later
				rep.dupDeliveries++
				if rng.Float64() < 0.5 {
					batch = append(batch, i)
				} else {
					late = append(late, i)
				}
			}
		}
		rng.Shuffle(len(batch), func(a, b int) { batch[a], batch[b] = batch[b], batch[a] })
		bodies := make([]string, len(batch))
		for k, i := range batch {
			bodies[k] = msgs[i]
		}
		rep.deliveries += len(batch)
		// The files arrive an "hour" (hourFiles) at a time, and the hourly merge runs while
		// the next hour's are being ingested: it seals the batch files are committing to.
		failed := map[int]string{}
		for start := 0; start < len(bodies); start += hourFiles {
			kill, delay := iv.draw()
			merged := make(chan error, 1)
			go func() {
				_, err := iv.invoke(ctx, "merge", nil, kill, delay, io.Discard)
				merged <- err
			}()
			for k, reason := range deliverIngest(ctx, iv, bodies[start:min(start+hourFiles, len(bodies))]) {
				failed[start+k] = reason
			}
			rep.merges++
			if <-merged != nil {
				rep.mergesFailed++ // failed or killed: the next merge takes over
			}
			checkLease(t, w, id, false)
		}
		pending = pending[:0]
		again := map[int]bool{}
		for k, reason := range failed {
			i := batch[k]
			if again[i] {
				continue
			}
			again[i] = true
			receives[i]++
			logged[i] = append(logged[i], reason)
			if receives[i] >= maxReceives {
				dead = append(dead, i)
				deadReason[i] = reason
				continue
			}
			rep.retried++
			pending = append(pending, i)
		}
	}
	rep.deadLettered = len(dead)
	for _, i := range dead {
		if deadReason[i] == "" {
			t.Errorf("%s: dead-lettered without a reason", msgs[i])
		}
		rep.reasons = append(rep.reasons, deadReason[i])
	}
	if rs := logged[poison]; len(rs) < maxReceives || !slices.ContainsFunc(rs, func(r string) bool { return strings.Contains(r, "invalid URL escape") }) {
		t.Errorf("the unreadable notification: failed with %q, want %d receives and its reason (invalid URL escape)", rs, maxReceives)
	}

	// Faults off: a person redrives the dead letters once they have read the reasons, the
	// queue drains, and the next hour's merge (its lease-holders long gone) merges the rest.
	for _, p := range proxies {
		p.Off()
	}
	var bodies []string
	for _, i := range append(pending, dead...) {
		if i != poison {
			bodies = append(bodies, msgs[i])
		}
	}
	settle := &invoker{w: w, rng: rand.New(rand.NewPCG(0, 0))}
	if failed := deliverIngest(ctx, settle, bodies); len(failed) > 0 {
		t.Fatalf("%d files failed without faults: %v", len(failed), failed)
	}
	later := func() time.Time { return time.Now().Add(findings.DefaultLease + time.Second) }
	if err := w.ingest(quiet, "settle", later).Merge(ctx); err != nil {
		t.Fatalf("the merge without faults: %v", err)
	}
	checkLease(t, w, id, true)

	// Every file done, once.
	reader := findings.NewReader(w.dynamo(), w.Table, nil)
	for _, m := range msgs[:poison] {
		var ev events.S3Event
		json.Unmarshal([]byte(m), &ev)
		r := ev.Records[0].S3
		o, _ := ingest.ObjectFromEvent(r.Bucket.Name, r.Object.Key, r.Object.VersionID, r.Object.ETag)
		f, err := reader.File(ctx, o.ID(), id)
		if err != nil || f == nil || f.State != findings.StateDone {
			t.Errorf("%s: %+v (%v), want done", o.ID(), f, err)
		}
	}

	// The same files without faults, into a table of their own: the same findings.
	refTable := w.Table + "-ref"
	direct := dynamodb.NewFromConfig(localstacktest.Config(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb")) })
	drop, err := campaignday.Table(ctx, direct, refTable)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	if _, err := campaignday.SeedUnitsWithoutFindings(ctx, direct, refTable, campaignFile, id, n, time.Now()); err != nil {
		t.Fatal(err)
	}
	ref := wiring{DB: localstack.Endpoint("dynamodb"), S3: w.S3, Table: refTable, Bucket: "reference"}
	if err := localstack.EnsureBucket(ctx, s3c, ref.Bucket); err != nil {
		t.Fatal(err)
	}
	if failed := deliverIngest(ctx, &invoker{w: ref, rng: rand.New(rand.NewPCG(0, 0))}, msgs[:poison]); len(failed) > 0 {
		t.Fatalf("the reference ingest failed: %v", failed)
	}
	if err := ref.ingest(quiet, "reference", time.Now).Merge(ctx); err != nil {
		t.Fatal(err)
	}
	got, want := dayFindings(t, w, id, day), dayFindings(t, ref, id, day)
	if len(want) != n {
		t.Fatalf("the reference found %d key-days, want one for each of the %d accounts", len(want), n)
	}
	if len(got) != len(want) {
		t.Errorf("%d findings after faults, %d without", len(got), len(want))
	}
	for k, a := range want {
		if got[k] != a {
			t.Errorf("%s: %+v after faults, %+v without", k, got[k], a)
		}
	}
	return rep
}

// total is what must not differ between a run with faults and one without: the counts, the
// files and the first and last times of a key-day.
type total struct {
	S, F, Files int64
	First, Last string
}

func dayFindings(t *testing.T, w wiring, id string, day calendar.Date) map[string]total {
	t.Helper()
	v, err := w.ingest(slog.New(slog.NewTextHandler(io.Discard, nil)), "read", time.Now).Ingester.View(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := v.Window(context.Background(), day, day)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]total{}
	for _, a := range acts {
		out[store.Key(a.Account, a.Hostname, a.Protocol, a.ClientIP, a.ODS)] = total{a.Successes, a.Failures, int64(a.Sources),
			a.FirstSeen.UTC().Format(time.RFC3339Nano), a.LastSeen.UTC().Format(time.RFC3339Nano)}
	}
	return out
}

// checkLease fails the run if the campaign's merge lease is held past its time (a merger may
// hold it for findings.DefaultLease from its last renewal), or, when released is set, held at all.
func checkLease(t *testing.T, w wiring, id string, released bool) {
	t.Helper()
	out, err := w.dynamo().GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(w.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": store.S(store.Key("MERGE", id)), "SK": store.S("STATE")}})
	if err != nil {
		return // the proxy's fault; the next check reads it
	}
	until, held := out.Item["lease_until"]
	if !held {
		return
	}
	if released {
		t.Errorf("the merge lease is still held by %s after the last merge", store.Str(out.Item["lease_by"]))
		return
	}
	n, _ := until.(*types.AttributeValueMemberN)
	if n == nil {
		t.Errorf("the merge lease's time is %v", until)
		return
	}
	ms, _ := strconv.ParseInt(n.Value, 10, 64)
	if time.UnixMilli(ms).After(time.Now().Add(findings.DefaultLease + time.Second)) {
		t.Errorf("the merge lease runs to %s, past its time", time.UnixMilli(ms))
	}
}
