package campaign

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "over 1024 KiB") {
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
