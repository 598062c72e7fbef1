package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/signing"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// demoID is the demo campaign every test of this package runs on.
const demoID = "demo-legacy-hostnames-2021"

var demoData = filepath.Join("..", "..", "infra", "demo", "data")

// world is the demo's directory, campaign and first logs on a fresh table, with one daily run on
// 27 July 2021 (the advance notice claimed for three organisations), and a clock on the next
// day.
type world struct {
	db    store.Table
	table string
	clock func() time.Time
	keys  *signing.Keyring
	stage findings.Stage
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	localstacktest.SES(t)
	now := time.Date(2021, 7, 28, 9, 0, 0, 0, time.UTC)
	w := &world{db: db, table: table, clock: func() time.Time { return now }, stage: localstacktest.Stage(t)}
	var err error
	if w.keys, err = signing.NewKeyring([]byte(strings.Repeat("k", 32))); err != nil {
		t.Fatal(err)
	}
	orgs, _ := os.Open(filepath.Join(demoData, "orgs.csv"))
	accts, _ := os.Open(filepath.Join(demoData, "accounts.csv"))
	defer orgs.Close()
	defer accts.Close()
	dir := directory.New(db, table, w.clock)
	if _, err := dir.Import(ctx, directory.ImportInput{Orgs: orgs, Accounts: accts, OrgsName: "orgs.csv", AccountsName: "accounts.csv"}); err != nil {
		t.Fatal(err)
	}
	c, err := campaign.Load(filepath.Join(demoData, "campaign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.NewStore(db, table, w.clock).Apply(ctx, c, "demo"); err != nil {
		t.Fatal(err)
	}
	in := ingest.New(db, table, w.stage, dir, w.clock, "test")
	logs, _ := filepath.Glob(filepath.Join(demoData, "logs", "1", "*"))
	for _, p := range logs {
		src, err := ingest.FileSource(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.File(ctx, src, []ingest.Target{ingest.TargetOf(c)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := planner.New(db, table, w.stage, w.clock).Run(ctx, demoID, calendar.Date{Year: 2021, Month: 7, Day: 27}, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

// server is the API over the world: OIDC sign-in (as in AWS) unless local is set.
func (w *world) server(t *testing.T, oidc *OIDC, local *Local) *Server {
	t.Helper()
	s, err := New(Options{DB: w.db, Table: w.table, Stage: w.stage, SES: localstacktest.SES(t), Clock: w.clock, Keys: w.keys,
		OIDC: oidc, Local: local, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SenderIdentity: "example.nhs.net",
		TestRecipients: []string{testTo}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do sends one request to h and returns the response.
func do(h http.Handler, r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func bodyOf(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loopback is the origin the local console's test requests are addressed to (it answers only
// to a loopback name).
const loopback = "http://127.0.0.1:8080"
