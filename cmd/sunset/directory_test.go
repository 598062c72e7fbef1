package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

// useTable points the ingest and directory commands at a fresh local table.
// useLocalStack points the CLI's DynamoDB and SES clients at the local stack for one test (a
// fresh table; the SES emulator), so no command under test can reach real AWS, whatever the
// environment holds.
func useLocalStack(t *testing.T, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, string) {
	t.Helper()
	db, table := localstacktest.DynamoDB(t, optFns...)
	ses := localstacktest.SES(t)
	oldData, oldSES := dataTable, sesClient
	dataTable = func(context.Context, *cliEnv, bool) (*dynamodb.Client, string, error) { return db, table, nil }
	sesClient = func(context.Context, *cliEnv, bool) (sender.SES, error) { return ses, nil }
	t.Cleanup(func() { dataTable, sesClient = oldData, oldSES })
	return db, table
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDirectoryImportCommand(t *testing.T) {
	useLocalStack(t)
	orgs := writeTemp(t, "orgs.csv", "\uFEFFods_code,name,la_emails,pla_email,subdomain\nRX1,\"Leeds, Trust\",a@rx1.nhs.net;b@rx1.nhs.net,p@rx1.nhs.net,rx1.nhs.net\n,No code,,,\n")
	accts := writeTemp(t, "accounts.csv", "email,ods_code\njo@nhs.net,RX1\nbad,RX1\nx@nhs.net,NOPE\n")

	out, errOut, code := runCLI(t, nil, "directory", "import", "--orgs", orgs, "--accounts", accts, "--local")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"imported 1 organisations (1 sub-domains), 1 accounts",
		"3 bad rows skipped",
		"orgs.csv:3: missing ods_code",
		`accounts.csv:3: invalid email "bad"`,
		"accounts.csv:4: x@nhs.net: unknown organisation NOPE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, _, code = runCLI(t, nil, "directory", "import", "--orgs", writeTemp(t, "o2.csv", "ods_code,name,la_emails,pla_email\nRX2,Other,,\n"), "--prune")
	if code != 0 || !strings.Contains(out, "pruned (marked gone) 1 organisations, 0 accounts") {
		t.Errorf("prune: exit %d, output %s", code, out)
	}
}

func TestDirectoryImportUsage(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		code int
	}{
		"no subcommand":  {[]string{"directory"}, 2},
		"no files":       {[]string{"directory", "import"}, 2},
		"missing file":   {[]string{"directory", "import", "--orgs", "/nonexistent.csv"}, 2},
		"unknown flag":   {[]string{"directory", "import", "--bogus"}, 2},
		"help":           {[]string{"directory", "import", "--help"}, 0},
		"stray argument": {[]string{"directory", "import", "--orgs", "x.csv", "extra"}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, code := runCLI(t, nil, tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
		})
	}
	useLocalStack(t)
	bad := writeTemp(t, "orgs.csv", "ods,name\nRX1,x\n")
	if _, errOut, code := runCLI(t, nil, "directory", "import", "--orgs", bad); code != 2 || !strings.Contains(errOut, "missing column(s) ods_code, la_emails, pla_email") {
		t.Errorf("bad header: exit %d, stderr %s", code, errOut)
	}
}
