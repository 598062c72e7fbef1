package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/findings"
)

const ingestLog = `#Software: Microsoft Internet Information Services 10.0
#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status
2021-08-02 01:00:00 10.30.0.1 GET /owa/ - 443 jo.bloggs@nhs.net 198.51.100.7 Mozilla/5.0 mail.nhs.net 200
2021-08-02 01:00:01 10.30.0.1 GET /owa/ - 443 jo.bloggs@nhs.net 198.51.100.7 Mozilla/5.0 outlook.office365.com 200
2021-08-03 01:00:01 10.30.0.1 GET /owa/ - 443 jo.bloggs@nhs.net 198.51.100.7 Mozilla/5.0 mail.nhs.net 401
`

func campaignFile(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "shared", "campaign", "testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "campaign.yaml", string(raw))
}

func TestIngestCommand(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, nil)
	db, table := cli.useLocalStack()
	camp := campaignFile(t)
	log := writeTemp(t, "u_ex210802.log", ingestLog)

	out, errOut, code := cli.run("ingest", "--campaign", camp, "--local", log)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "campaign legacy-hostnames-2021: format=iis lines=5 events=2 findings=2 ") ||
		!strings.Contains(out, "batch=1 ") || !strings.Contains(out, "campaign legacy-hostnames-2021: merged 1 files: 2 findings written") {
		t.Errorf("output: %s", out)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet got %q", errOut)
	}
	// The same bytes under another name: skipped.
	again := writeTemp(t, "copy.log", ingestLog)
	out, _, code = cli.run("ingest", "--campaign", camp, again)
	if code != 0 || !strings.Contains(out, "already ingested") {
		t.Errorf("second ingest: exit %d, %s", code, out)
	}
	from, _ := calendar.Parse("2021-08-01")
	to, _ := calendar.Parse("2021-08-03")
	v, err := findings.NewReader(db, table, cli.stage).View(context.Background(), "legacy-hostnames-2021")
	if err != nil {
		t.Fatal(err)
	}
	if v.Pending != 0 {
		t.Errorf("%d files left unmerged; sunset ingest merges what it committed", v.Pending)
	}
	got, err := v.Window(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Successes != 1 || got[1].Failures != 1 {
		t.Errorf("stored %+v; want one success on 08-02 and one failure on 08-03", got)
	}

	// By the id of an applied campaign.
	c, err := campaign.Load(camp)
	if err != nil {
		t.Fatal(err)
	}
	c.ID = "applied-one"
	if _, _, err := campaign.NewStore(db, table, time.Now).Apply(context.Background(), c, "test"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = cli.run("ingest", "--campaign", "applied-one", log)
	if code != 0 || !strings.Contains(out, "campaign applied-one: format=iis") {
		t.Errorf("by id: exit %d, %s %s", code, out, errOut)
	}
}

func TestIngestUsage(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, nil)
	cli.useLocalStack()
	log := writeTemp(t, "a.log", ingestLog)
	for name, tc := range map[string]struct {
		args []string
		code int
	}{
		"no campaign":      {[]string{"ingest", log}, 2},
		"no logs":          {[]string{"ingest", "--campaign", "x"}, 2},
		"missing log":      {[]string{"ingest", "--campaign", "x", "/nonexistent.log"}, 2},
		"unknown campaign": {[]string{"ingest", "--campaign", "no-such-campaign", log}, 2},
		"bad campaign file": {[]string{"ingest", "--campaign",
			writeTemp(t, "bad.yaml", "id: x\nbogus_key: 1\n"), log}, 2},
		"help": {[]string{"ingest", "--help"}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if _, errOut, code := cli.run(tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d (%s)", code, tc.code, errOut)
			}
		})
	}
}
