package campaign

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const minimal = `id: c1
shutdown: 2030-09-07
hostnames: [{name: imap.nhs.net, replacement: {host: outlook.office365.com}}]
stages: [{name: advance, days_before: 42}]
sender: {from: "noreply@example.nhs.net"}
`

// A file over its limit is refused before it is parsed, with an error that says so.
func TestFilesOverTheirLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, []byte(minimal+"# "+strings.Repeat("x", MaxCampaignFile)+"\n"), 0o644)
	_, err := Load(big)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "over 256 KiB") {
		t.Errorf("Load of a %d-byte campaign file = %v, want a ValidationError naming the limit", MaxCampaignFile+len(minimal), err)
	}
	if _, err := Parse([]byte(minimal+strings.Repeat("#", MaxCampaignFile)), "p.yaml"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Parse of too much = %v", err)
	}

	roster := filepath.Join(dir, "r.csv")
	os.WriteFile(roster, []byte("ods_code,deadline\nRX1,2030-09-07,"+strings.Repeat("d", MaxRosterRow)+"\n"), 0o644)
	rc := filepath.Join(dir, "roster.yaml")
	os.WriteFile(rc, []byte(strings.Replace(minimal, "shutdown: 2030-09-07\n", "audience_source: roster\nroster: r.csv\n", 1)), 0o644)
	if _, err := Load(rc); err == nil || !strings.Contains(err.Error(), "longer than 4 KiB") {
		t.Errorf("Load with a roster row over the limit = %v", err)
	}
	f, _ := os.Create(roster)
	f.Truncate(MaxRosterFile + 1)
	f.Close()
	if _, err := Load(rc); err == nil || !strings.Contains(err.Error(), "over 16384 KiB") {
		t.Errorf("Load with a roster over the limit = %v", err)
	}
}

// A templates folder must stay inside the campaign file's folder, unless the option says
// otherwise.
func TestTemplatesFolderStaysInside(t *testing.T) {
	for _, tc := range []struct {
		templates string
		ok        bool
	}{
		{"hostname-retirement", true}, {"byo-mx", true}, {"ours", true}, {"ours/nhs", true},
		{"../../../../etc", false}, {"/etc", false}, {"ours/../../x", false}, {"..", false},
	} {
		_, err := Parse([]byte(minimal+"templates: "+tc.templates+"\n"), "c.yaml")
		if (err == nil) != tc.ok {
			t.Errorf("templates %q: err %v, want ok=%v", tc.templates, err, tc.ok)
		}
		if !tc.ok {
			if _, err := ParseWith([]byte(minimal+"templates: "+tc.templates+"\n"), "c.yaml", Options{TemplatesAnywhere: true}); err != nil {
				t.Errorf("templates %q with TemplatesAnywhere: %v", tc.templates, err)
			}
		}
	}
}

// What a campaign stores fits DynamoDB's items: a file under MaxCampaignFile whose campaign
// would store more than MaxStoredCampaign is refused at validate, saying so; a version records
// at most MaxRecordedChanges changes, the last saying how many more.
func TestStoredCampaignIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal + "endpoints:\n")
	for i := 0; b.Len() < MaxCampaignFile-64; i++ {
		fmt.Fprintf(&b, "  \"10.%d.%d.%d\": imap.nhs.net\n", i>>16&255, i>>8&255, i&255)
	}
	_, err := Parse([]byte(b.String()), "many.yaml")
	if err == nil || !strings.Contains(err.Error(), "as stored, over the 160 KiB") {
		t.Errorf("a campaign of %d bytes of endpoints: %v, want refused for what it would store", b.Len(), err)
	}
	var changes []string
	for i := range 5000 {
		changes = append(changes, fmt.Sprintf("endpoints[%d]: %s", i, strings.Repeat("é", 400)))
	}
	got := boundedChanges(changes)
	if len(got) != MaxRecordedChanges+1 || got[MaxRecordedChanges] != "… and 4800 more changes" || len(got[0]) > maxChangeBytes+len("…") {
		t.Errorf("bounded changes: %d, last %q, first %d bytes", len(got), got[len(got)-1], len(got[0]))
	}
}

// aliasBomb is a "billion laughs" campaign file of about size bytes: each level a list of
// aliases of the level before, the last one the value of a key the parser knows.
func aliasBomb(size int) string {
	var b strings.Builder
	b.WriteString(minimal)
	b.WriteString("x0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n")
	i := 1
	for ; b.Len() < size; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [", i, i)
		for j := range 60 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	fmt.Fprintf(&b, "ignore_accounts: *a%d\n", i-1)
	return b.String()
}

// Anchors and aliases are refused before anything follows them: a 25 KB file of nested aliases
// (exponential once expanded) is turned away at once, with a few MB, naming the line.
func TestAliasesRefusedAtOnce(t *testing.T) {
	for _, tc := range []struct{ name, file string }{
		{"bomb", aliasBomb(25 << 10)},
		{"one anchor", strings.Replace(minimal, "sender: {", "sender: &s {", 1)},
		{"an alias", strings.Replace(minimal, "sender: {", "sender: &s {", 1) + "x: *s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Parse([]byte(tc.file), "bomb.yaml")
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), "aliases") {
				t.Fatalf("Parse = %v, want a ValidationError about aliases", err)
			}
			if took > time.Second {
				t.Errorf("refusing took %v, want under a second", took)
			}
			if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 16 {
				t.Errorf("refusing allocated %d MB, want a few", mb)
			}
		})
	}
}
