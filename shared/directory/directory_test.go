package directory_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

var clock = func() time.Time { return time.Date(2021, 8, 2, 9, 0, 0, 0, time.UTC) }

// The organisations file: BOM, upper-case and unknown columns, quoted names with commas,
// and a bad row of each kind.
const orgsCSV = "\uFEFFODS_Code,Name,Region,LA_Emails,PLA_Email,Subdomain\n" +
	"rx1,\"Leeds Teaching Hospitals, NHS Trust\",north,la1@rx1.nhs.net;la2@rx1.nhs.net,pla@rx1.nhs.net,RX1.nhs.net\n" +
	"Y123,\"Surgery \"\"The Green\"\", Leeds\",north,la@y123.nhs.net,,\n" +
	",No Code,north,a@b.nhs.net,,\n" +
	"RX2,Bad LA,north,not-an-email,,\n" +
	"RX1,Duplicate,north,x@rx1.nhs.net,,\n" +
	"RX3,Steals RX1's domain,north,,p@rx3.nhs.net,rx1.nhs.net\n" +
	"RX4,No LA,south,,pla@rx4.nhs.net,\n"

const accountsCSV = "Email,ODS_CODE,Type,extra\n" +
	"Chris.Wood@nhs.net,RX1,user,x\n" +
	"scanner.ward3@nhs.net,Y123,application,\n" +
	"shared.box@nhs.net,rx1,shared,\n" +
	"no-ods@nhs.net,,user,\n" +
	"not an email,RX1,,\n" +
	"ghost@nhs.net,ZZZ9,,\n" +
	"jo.bloggs@nhs.net,RX1,,\n" +
	"jo.bloggs@rx4.nhs.net,RX4,,\n" +
	"odd@nhs.net,RX1,robot,\n"

func importBoth(t *testing.T, d *directory.Directory, orgs, accounts string, prune bool) *directory.Result {
	t.Helper()
	in := directory.ImportInput{OrgsName: "orgs.csv", AccountsName: "accounts.csv", Prune: prune}
	if orgs != "" {
		in.Orgs = strings.NewReader(orgs)
	}
	if accounts != "" {
		in.Accounts = strings.NewReader(accounts)
	}
	res, err := d.Import(context.Background(), in)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

func TestImportReportsBadRowsAndImportsTheRest(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	res := importBoth(t, d, orgsCSV, accountsCSV, false)

	if res.Orgs != 3 || res.Subdomains != 1 || res.Accounts != 5 {
		t.Errorf("imported %d orgs, %d subdomains, %d accounts; want 3, 1, 5", res.Orgs, res.Subdomains, res.Accounts)
	}
	want := []directory.BadRow{
		{File: "orgs.csv", Line: 4, Code: directory.CodeMissingODS, Reason: "missing ods_code"},
		{File: "orgs.csv", Line: 5, Code: directory.CodeInvalidEmail, Reason: "RX2: invalid email in la_emails (address 1)"},
		{File: "orgs.csv", Line: 6, Code: directory.CodeDuplicateODS, Reason: "ods_code RX1 repeated (first on line 2)"},
		{File: "orgs.csv", Line: 7, Code: directory.CodeSubdomainTaken, Reason: "RX3: its subdomain already belongs to RX1"},
		{File: "accounts.csv", Line: 5, Code: directory.CodeMissingODS, Reason: "missing ods_code"},
		{File: "accounts.csv", Line: 6, Code: directory.CodeInvalidEmail, Reason: "invalid email"},
		{File: "accounts.csv", Line: 7, Code: directory.CodeUnknownOrg, Reason: "unknown organisation ZZZ9"},
		{File: "accounts.csv", Line: 10, Code: directory.CodeInvalidType, Reason: "unknown type (user, shared or application)"},
	}
	if diff := cmp.Diff(want, res.Bad); diff != "" {
		t.Errorf("bad rows (-want +got):\n%s", diff)
	}
	if res.BadRows != len(want) {
		t.Errorf("BadRows = %d, want %d", res.BadRows, len(want))
	}

	orgs, err := d.Orgs(context.Background(), []string{"rx1", "Y123", "RX2", "RX4"})
	if err != nil {
		t.Fatal(err)
	}
	wantOrgs := map[string]directory.Org{
		"RX1":  {ODS: "RX1", Name: "Leeds Teaching Hospitals, NHS Trust", LAEmails: []string{"la1@rx1.nhs.net", "la2@rx1.nhs.net"}, PLAEmail: "pla@rx1.nhs.net", Subdomain: "rx1.nhs.net"},
		"Y123": {ODS: "Y123", Name: `Surgery "The Green", Leeds`, LAEmails: []string{"la@y123.nhs.net"}},
		"RX4":  {ODS: "RX4", Name: "No LA", LAEmails: []string{}, PLAEmail: "pla@rx4.nhs.net"},
	}
	if diff := cmp.Diff(wantOrgs, orgs); diff != "" {
		t.Errorf("Orgs (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	importBoth(t, d, orgsCSV, accountsCSV, false)
	got, err := d.Resolve(context.Background(), []string{
		"chris.wood@nhs.net",      // directory account
		"scanner.ward3@nhs.net",   // directory account of another org
		"someone@rx1.nhs.net",     // not in the directory: the org whose subdomain it is
		"chris.wood",              // alias-only, exactly one account has the local part
		"jo.bloggs",               // alias-only, two accounts have it: unassigned
		"stranger@nhs.net",        // unknown: unassigned
		"ghost@nhs.net",           // its row was bad: unassigned
		"someone@unknown.nhs.net", // no org has the subdomain
		"scanner.ward3",           // alias of an application account
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"chris.wood@nhs.net":    "RX1",
		"scanner.ward3@nhs.net": "Y123",
		"someone@rx1.nhs.net":   "RX1",
		"chris.wood":            "RX1",
		"scanner.ward3":         "Y123",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve (-want +got):\n%s", diff)
	}
}

func TestPruneMarksMissingGoneAndResolutionIgnoresThem(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	ctx := context.Background()
	importBoth(t, d, orgsCSV, accountsCSV, false)

	// Y123 and its account leave; chris.wood moves to RX4; shared.box@nhs.net's row is now bad
	// (unknown type), so it is kept as it was rather than pruned.
	orgs2 := "ods_code,name,la_emails,pla_email,subdomain\n" +
		"RX1,Leeds,la1@rx1.nhs.net,,rx1.nhs.net\n" +
		"RX4,No LA,,pla@rx4.nhs.net,\n"
	accts2 := "email,ods_code,type\n" +
		"chris.wood@nhs.net,RX4,user\n" +
		"shared.box@nhs.net,RX1,mystery\n"
	// A third of a small directory: confirmed.
	res, err := d.Import(ctx, directory.ImportInput{Orgs: strings.NewReader(orgs2), Accounts: strings.NewReader(accts2), OrgsName: "orgs.csv", AccountsName: "accounts.csv", Prune: true, PruneAnyway: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.PrunedOrgs != 1 || res.PrunedAccounts != 3 {
		// Y123; scanner.ward3, jo.bloggs@nhs.net, jo.bloggs@rx4.nhs.net
		t.Errorf("pruned %d orgs, %d accounts; want 1, 3", res.PrunedOrgs, res.PrunedAccounts)
	}
	orgs, err := d.Orgs(ctx, []string{"Y123", "RX1"})
	if err != nil {
		t.Fatal(err)
	}
	if !orgs["Y123"].Gone || orgs["RX1"].Gone {
		t.Errorf("gone: Y123 %v RX1 %v; want true, false", orgs["Y123"].Gone, orgs["RX1"].Gone)
	}
	got, err := d.Resolve(ctx, []string{"chris.wood@nhs.net", "scanner.ward3@nhs.net", "shared.box@nhs.net", "jo.bloggs", "someone@rx1.nhs.net"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"chris.wood@nhs.net":  "RX4",
		"shared.box@nhs.net":  "RX1",
		"someone@rx1.nhs.net": "RX1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve after prune (-want +got):\n%s", diff)
	}

	// Re-importing a pruned organisation brings it back.
	importBoth(t, d, "ods_code,name,la_emails,pla_email\nY123,Back,,\n", "", false)
	orgs, err = d.Orgs(ctx, []string{"Y123"})
	if err != nil {
		t.Fatal(err)
	}
	if orgs["Y123"].Gone {
		t.Error("Y123 still gone after re-import")
	}
}

// Accounts only: the organisation must already be in the directory and live.
func TestImportAccountsAgainstStoredOrgs(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	importBoth(t, d, orgsCSV, "", false)
	res := importBoth(t, d, "", "email,ods_code\na@nhs.net,RX1\nb@nhs.net,NOPE\n", false)
	if res.Accounts != 1 || res.BadRows != 1 || res.Bad[0].Line != 3 {
		t.Errorf("accounts %d, bad %v; want 1 account and line 3 bad", res.Accounts, res.Bad)
	}
}

// Many batches, an account repeated across batches for another organisation: the first row
// wins and the repeat is reported as a conflict.
func TestImportManyBatchesFirstRowWins(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	var b strings.Builder
	b.WriteString("email,ods_code\n")
	for i := range 130 {
		fmt.Fprintf(&b, "user%d@nhs.net,RX1\n", i)
	}
	b.WriteString("user7@nhs.net,RX4\n")
	res := importBoth(t, d, orgsCSV, b.String(), false)
	if res.Accounts != 130 || res.Codes[directory.CodeConflict] != 1 || res.Bad[len(res.Bad)-1].Line != 132 {
		t.Errorf("accounts = %d, bad %v; want 130 and a conflict on line 132", res.Accounts, res.Bad)
	}
	got, err := d.Resolve(context.Background(), []string{"user7@nhs.net", "user129@nhs.net"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"user7@nhs.net": "RX1", "user129@nhs.net": "RX1"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestImportRejectsMissingColumns(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	for name, in := range map[string]directory.ImportInput{
		"orgs without pla_email": {Orgs: strings.NewReader("ods_code,name,la_emails\nRX1,a,b@c.nhs.net\n")},
		"accounts without email": {Accounts: strings.NewReader("mail,ods_code\na@b.nhs.net,RX1\n")},
		"empty file":             {Orgs: strings.NewReader("")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := d.Import(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), "bad CSV header") {
				t.Fatalf("err = %v, want a bad header error", err)
			}
		})
	}
}

// An account listed for two organisations is a conflict: the first row wins, the second is
// reported with both rows and both organisations, never silently kept.
func TestAccountInTwoOrganisations(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	orgs := "ods_code,name,la_emails,pla_email\nRX1,One,la@rx1.nhs.net,\nRX2,Two,la@rx2.nhs.net,\n"
	res := importBoth(t, d, orgs, "email,ods_code\nshared.box@nhs.net,RX1\nother@nhs.net,RX2\nSHARED.BOX@nhs.net,RX2\n", false)
	want := []directory.BadRow{{File: "accounts.csv", Line: 4, Code: directory.CodeConflict,
		Reason: "the account is also listed on line 2, for RX1; the first row wins, this one (RX2) is skipped"}}
	if diff := cmp.Diff(want, res.Bad); diff != "" {
		t.Errorf("bad rows (-want +got):\n%s", diff)
	}
	if got, _ := d.Resolve(context.Background(), []string{"shared.box@nhs.net"}); got["shared.box@nhs.net"] != "RX1" {
		t.Errorf("owner %v, want RX1 (the first row)", got)
	}
}

// No reason quotes a value of the row but an ODS code: the addresses in the rows below never
// appear in a reason.
func TestBadRowReasonsCarryNoValues(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	orgs := "ods_code,name,la_emails,pla_email,subdomain\nRX1,One,secret.la@x,bad pla@x,-bad-domain-\nnot@an.ods,Two,,,\n"
	accounts := "email,ods_code,type\nprivate person@nhs.net,RX1,\nkept.private@nhs.net,RX1,r0b0t-type\nquiet.one@nhs.net,,\nx.y@nhs.net,ZZ@ZZ,\n"
	res := importBoth(t, d, orgs, accounts, false)
	if len(res.Bad) < 5 {
		t.Fatalf("only %d bad rows: %+v", len(res.Bad), res.Bad)
	}
	for _, b := range res.Bad {
		for _, v := range []string{"secret.la", "bad pla", "bad-domain", "not@an", "private", "r0b0t", "quiet.one", "ZZ@ZZ", "x.y"} {
			if strings.Contains(b.Reason, v) {
				t.Errorf("reason %q quotes %q", b.Reason, v)
			}
		}
	}
}

// A row past MaxRow is refused before it is read into memory: the file is rejected (not
// retried), what came before it is kept, nothing is pruned.
func TestRowOverTheLimit(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	orgs := "ods_code,name,la_emails,pla_email\nRX1,One,la@rx1.nhs.net,\nRX2,\"" + strings.Repeat("x", directory.MaxRow) + "\",,\n"
	res, err := d.Import(context.Background(), directory.ImportInput{Orgs: strings.NewReader(orgs), OrgsName: "orgs.csv", Prune: true})
	if !errors.Is(err, directory.ErrBadFile) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want ErrBadFile naming line 3", err)
	}
	if res.Orgs != 1 || res.PrunedOrgs != 0 {
		t.Errorf("result %+v: want the first organisation kept and nothing pruned", res)
	}
}

// Addresses are checked as addresses at import: a control, bidi or invisible character, a
// quoted or bracketed form, or an over-long part makes the row a reported bad row (never quoted),
// so no organisation's notices fail at SES for its directory entry.
func TestAddressesValidatedAtImport(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	bad := []string{"la\x01x@rx.nhs.net", "la\x1b[2J@rx.nhs.net", "la\u202E@rx.nhs.net", "la\u200B@rx.nhs.net", "la\x7f@rx.nhs.net",
		"\"quoted\"@rx.nhs.net", "<la@rx.nhs.net>", ".dot@rx.nhs.net", "do..t@rx.nhs.net", strings.Repeat("l", 65) + "@rx.nhs.net",
		"la@rx\u202E.nhs.net", "la@rx.nhs.net\r\nBcc: x@evil.example"}
	var orgs strings.Builder
	w := csv.NewWriter(&orgs)
	w.Write([]string{"ods_code", "name", "la_emails", "pla_email"})
	for i, a := range bad {
		w.Write([]string{fmt.Sprintf("RB%d", i), "Bad", a, ""})
		w.Write([]string{fmt.Sprintf("RP%d", i), "Bad PLA", "", a})
	}
	w.Write([]string{"RG1", "Good", "o'brien+sunset@rx.nhs.net;First.Last@rx.nhs.net", "pla_1@rx.nhs.net"})
	w.Flush()
	res := importBoth(t, d, orgs.String(), "", false)
	if res.Orgs != 1 || res.BadRows != 2*len(bad) {
		t.Fatalf("imported %d organisations with %d bad rows, want 1 and %d: %+v", res.Orgs, res.BadRows, 2*len(bad), res.Bad)
	}
	for _, b := range res.Bad {
		if b.Code != directory.CodeInvalidEmail {
			t.Errorf("line %d: %s, want %s", b.Line, b.Code, directory.CodeInvalidEmail)
		}
	}
}

// A prune that would mark more than the share a file may remove (a header-only or cut-short
// export) imports the rows, marks nothing gone and says how many it would have; confirmed, it
// prunes; a day's ordinary changes (under the share) prune without asking.
func TestPruneRefusedOverItsShare(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	orgsOf := func(from, to int) string {
		var b strings.Builder
		b.WriteString("ods_code,name,la_emails,pla_email\n")
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "R%03d,Org %d,la@r%03d.nhs.net,\n", i, i, i)
		}
		return b.String()
	}
	importBoth(t, d, orgsOf(0, 40), "", false)
	gone := func() int {
		t.Helper()
		codes := make([]string, 40)
		for i := range codes {
			codes[i] = fmt.Sprintf("R%03d", i)
		}
		orgs, err := d.Orgs(ctx, codes)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range orgs {
			if o.Gone {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name, file string
		would      int
	}{
		{"header only", orgsOf(0, 0), 40},
		{"cut short", orgsOf(0, 25), 15},
	} {
		res, err := d.Import(ctx, directory.ImportInput{Orgs: strings.NewReader(tc.file), OrgsName: "orgs.csv", Prune: true})
		if !errors.Is(err, directory.ErrPruneRefused) || res.WouldPruneOrgs != tc.would || res.PrunedOrgs != 0 ||
			!strings.Contains(err.Error(), fmt.Sprintf("%d of 40 organisations", tc.would)) || !strings.Contains(err.Error(), "--prune-anyway") {
			t.Errorf("%s: %+v, %v; want refused, saying %d of 40", tc.name, res, err, tc.would)
		}
		if n := gone(); n != 0 {
			t.Fatalf("%s: %d organisations marked gone by a refused prune", tc.name, n)
		}
	}
	// Three of forty leave: 7.5%, under the share.
	if res, err := d.Import(ctx, directory.ImportInput{Orgs: strings.NewReader(orgsOf(3, 40)), OrgsName: "orgs.csv", Prune: true}); err != nil || res.PrunedOrgs != 3 {
		t.Fatalf("an ordinary day's prune: %+v, %v", res, err)
	}
	// A real purge, confirmed.
	if res, err := d.Import(ctx, directory.ImportInput{Orgs: strings.NewReader(orgsOf(3, 10)), OrgsName: "orgs.csv", Prune: true, PruneAnyway: true}); err != nil || res.PrunedOrgs != 30 {
		t.Fatalf("a confirmed prune: %+v, %v", res, err)
	}
	if n := gone(); n != 33 {
		t.Errorf("%d gone, want 33", n)
	}
}
