// Command sendbench measures delivery for `make bench` (infra/bench/send.sh): rendering alone,
// render + SendEmail to an SES v2 emulator, and the full sender (ledger read, lease, send,
// MarkSent) on the local DynamoDB. It prints one markdown table.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

func main() {
	n := flag.Int("n", 10000, "notices to render and send")
	full := flag.Int("full", 1000, "notices to send through the full sender (ledger + SES)")
	conc := flag.Int("concurrency", 8, "sends in flight")
	rows := flag.Int("rows", 4, "account rows per notice")
	sesURL := flag.String("ses", "http://127.0.0.1:8015", "SES v2 emulator endpoint")
	campaignFile := flag.String("campaign", "infra/demo/data/campaign.yaml", "campaign file")
	dayN := flag.Int("day", 3000, "a campaign day of this many notices through the planner's and the sender's handlers (0: none)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the full sender's run to this file")
	flag.Var(&peers, "peer", "NAME=PID of a local service whose CPU each phase reports (repeatable: dynalite=123)")
	flag.Parse()
	profile = *cpuprofile
	if err := run(*n, *full, *conc, *rows, *sesURL, *campaignFile); err != nil {
		fmt.Fprintln(os.Stderr, "sendbench:", err)
		os.Exit(1)
	}
	cfg := aws.Config{Region: localstack.Region, Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, "")}
	if err := day(context.Background(), cfg, *sesURL, *campaignFile, *dayN); *dayN > 0 && err != nil {
		fmt.Fprintln(os.Stderr, "sendbench:", err)
		os.Exit(1)
	}
}

// run measures rendering alone, then render and send, then the full sender over the table, on
// n notices of rows accounts each, and prints the figures. It is long (about 140 lines) because
// it is the benchmark's script: the phases share the notices and the clients it builds.
func run(n, full, conc, rows int, sesURL, campaignFile string) error {
	ctx := context.Background()
	c, err := campaign.Load(campaignFile)
	if err != nil {
		return err
	}
	r, err := notice.New(c, "")
	if err != nil {
		return err
	}
	cfg := aws.Config{Region: localstack.Region, Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, "")}
	ses := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(sesURL) })
	now := time.Date(2021, 8, 17, 8, 0, 0, 0, time.UTC)
	mk := func(i int) ledger.Notice {
		nt := ledger.Notice{Campaign: c.ID, Org: fmt.Sprintf("B%05d", i), OrgName: fmt.Sprintf("Bench Trust %d", i), Stage: "reminder",
			Deadline: c.Shutdown, PlannedFor: calendar.Of(now), Status: ledger.Claimed,
			Recipients: []string{fmt.Sprintf("la%d@bench.example.nhs.net", i), fmt.Sprintf("pla%d@bench.example.nhs.net", i)}}
		for j := range rows {
			nt.Accounts = append(nt.Accounts, ledger.Account{Account: fmt.Sprintf("user%d.%d@nhs.net", i, j), Hostname: "imap.nhs.net",
				Protocol: "IMAP", LastSeen: now.Add(-time.Hour), Successes: 12, Failures: 1, ClientIPs: []string{"10.0.0.1"}})
		}
		return nt
	}
	var out [][4]string

	// 1. Rendering alone (subject, HTML, text, CSV), one goroutine.
	start := time.Now()
	for i := range n {
		if _, err := r.Render(mk(i), now); err != nil {
			return err
		}
	}
	d := time.Since(start)
	out = append(out, [4]string{"render only (1 goroutine)", fmt.Sprint(n), d.Round(time.Millisecond).String(), rate(n, d)})

	// 2. Render + SendEmail (the request the sender makes), conc in flight, no quota limit.
	s := sender.New(ses, nil, nil, nil, func() time.Time { return now }, sender.Options{})
	cpu0 := cpuNow()
	start = time.Now()
	if err := parallel(n, conc, func(i int) error {
		e, err := r.Render(mk(i), now)
		if err != nil {
			return err
		}
		in, err := s.Input(e)
		if err != nil {
			return err
		}
		_, err = ses.SendEmail(ctx, in)
		return err
	}); err != nil {
		return err
	}
	d = time.Since(start)
	out = append(out, [4]string{fmt.Sprintf("render + SendEmail (%d in flight)", conc), fmt.Sprint(n), d.Round(time.Millisecond).String(), rate(n, d)})
	cpuRows = append(cpuRows, cpuRow("render + SendEmail", n, cpu0, cpuNow()))

	// 3. The full sender on dynalite: Get notice + campaign, suppression check, lease, render,
	// send within the emulator's quota, MarkSent.
	if full > 0 {
		db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb")) })
		path, err := localstack.FindTemplate()
		if err != nil {
			return err
		}
		table := fmt.Sprintf("sendbench-%d", time.Now().UnixNano())
		spec, err := localstack.ReadTemplate(path, table)
		if err != nil {
			return err
		}
		if err := localstack.EnsureTable(ctx, db, spec); err != nil {
			return err
		}
		defer db.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		clock := func() time.Time { return now }
		l := ledger.New(db, table, clock)
		cs := campaign.NewStore(db, table, clock)
		if _, _, err := cs.Apply(ctx, c, "bench"); err != nil {
			return err
		}
		keys := make([]ledger.Key, full)
		if err := parallel(full, conc, func(i int) error {
			nt := mk(i)
			keys[i] = nt.Key()
			_, err := l.Claim(ctx, nt)
			return err
		}); err != nil {
			return err
		}
		quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		fs := sender.New(ses, l, cs, nil, clock, sender.Options{Concurrency: conc, Logger: quiet})
		q, err := fs.Rate(ctx)
		if err != nil {
			return err
		}
		stop, err := startProfile()
		if err != nil {
			return err
		}
		cpu0 := cpuNow()
		start = time.Now()
		res, err := fs.SendAll(ctx, keys)
		stop()
		cpuRows = append(cpuRows, cpuRow("full sender", full, cpu0, cpuNow()))
		if err != nil {
			return err
		}
		d = time.Since(start)
		sent := 0
		for _, x := range res {
			if x.Outcome == sender.Sent {
				sent++
			}
		}
		if sent != full {
			return fmt.Errorf("full sender sent %d of %d", sent, full)
		}
		out = append(out, [4]string{fmt.Sprintf("full sender: ledger + SES (%d in flight, quota %.0f/s)", conc, q), fmt.Sprint(full), d.Round(time.Millisecond).String(), rate(full, d)})
	}

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("| delivery (%d account rows per notice) | notices | time | notices/s |\n|---|---:|---:|---:|\n", rows)
	for _, row := range out {
		fmt.Printf("| %s | %s | %s | %s |\n", row[0], row[1], row[2], row[3])
	}
	if len(cpuRows) > 0 {
		fmt.Printf("\n| CPU ms a notice | sendbench (Go) |")
		for _, p := range peers {
			fmt.Printf(" %s |", p.name)
		}
		fmt.Printf("\n|---|---:|%s\n", strings.Repeat("---:|", len(peers)))
		for _, r := range cpuRows {
			fmt.Println(r)
		}
	}
	fmt.Printf("\npeak RSS %d MiB, heap in use at end %d MiB, total allocated %d MiB\n", ru.Maxrss/1024, ms.HeapInuse>>20, ms.TotalAlloc>>20)
	return nil
}

// peer is a local service process (dynalite, the SES emulator) whose CPU time the bench reads
// from /proc, so each phase can say where its CPU went.
type peer struct {
	name string
	pid  int
}

type peerList []peer

func (l *peerList) String() string { return fmt.Sprint(*l) }

func (l *peerList) Set(v string) error {
	name, pid, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil {
		return fmt.Errorf("want NAME=PID, got %q", v)
	}
	*l = append(*l, peer{name, n})
	return nil
}

var (
	peers   peerList
	cpuRows []string
)

// cpuNow is the CPU time used so far by this process and by each peer (user + system).
func cpuNow() []time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	out := []time.Duration{time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	for _, p := range peers {
		out = append(out, procCPU(p.pid))
	}
	return out
}

// procCPU reads a process's user + system time from /proc/PID/stat (fields 14 and 15, in clock
// ticks of 1/100 s on Linux); 0 when it cannot.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(u+st) * 10 * time.Millisecond
}

func cpuRow(phase string, n int, before, after []time.Duration) string {
	row := "| " + phase + " |"
	for i := range before {
		row += fmt.Sprintf(" %.2f |", float64(after[i]-before[i])/float64(time.Millisecond)/float64(n))
	}
	return row
}

// profile is where -cpuprofile writes the full sender's CPU profile ("" for none).
var profile string

func startProfile() (stop func(), err error) {
	if profile == "" {
		return func() {}, nil
	}
	f, err := os.Create(profile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func rate(n int, d time.Duration) string { return fmt.Sprintf("%.0f", float64(n)/d.Seconds()) }

func parallel(n, conc int, fn func(int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	jobs := make(chan int)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return first
}
