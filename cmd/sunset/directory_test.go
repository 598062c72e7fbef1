package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDirectoryImportCommand(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, nil)
	cli.useLocalStack()
	orgs := writeTemp(t, "orgs.csv", "\uFEFFods_code,name,la_emails,pla_email,subdomain\nRX1,\"Leeds, Trust\",a@rx1.nhs.net;b@rx1.nhs.net,p@rx1.nhs.net,rx1.nhs.net\n,No code,,,\n")
	accts := writeTemp(t, "accounts.csv", "email,ods_code\njo@nhs.net,RX1\nbad,RX1\nx@nhs.net,NOPE\n")

	out, errOut, code := cli.run("directory", "import", "--orgs", orgs, "--accounts", accts, "--local")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"imported 1 organisations (1 sub-domains), 1 accounts",
		"3 bad rows skipped",
		"orgs.csv:3: missing ods_code",
		"accounts.csv:3: invalid email",
		"accounts.csv:4: unknown organisation NOPE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	o2 := writeTemp(t, "o2.csv", "ods_code,name,la_emails,pla_email\nRX2,Other,,\n")
	_, errOut, code = cli.run("directory", "import", "--orgs", o2, "--prune")
	if code != 1 || !strings.Contains(errOut, "it would mark 1 of 2 organisations (50%) gone") || !strings.Contains(errOut, "--prune-anyway") {
		t.Errorf("prune of half the directory: exit %d, %s; want refused, saying how many", code, errOut)
	}
	out, _, code = cli.run("directory", "import", "--orgs", o2, "--prune", "--prune-anyway")
	if code != 0 || !strings.Contains(out, "pruned (marked gone) 1 organisations, 0 accounts") {
		t.Errorf("prune: exit %d, output %s", code, out)
	}
}

func TestDirectoryImportUsage(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, nil)
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
			if _, _, code := cli.run(tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
		})
	}
	cli.useLocalStack()
	bad := writeTemp(t, "orgs.csv", "ods,name\nRX1,x\n")
	if _, errOut, code := cli.run("directory", "import", "--orgs", bad); code != 2 || !strings.Contains(errOut, "missing column(s) ods_code, la_emails, pla_email") {
		t.Errorf("bad header: exit %d, stderr %s", code, errOut)
	}
}
