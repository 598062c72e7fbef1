package campaign

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/spreadsheet"
)

// RosterEntry is one organisation of a roster campaign with its own deadline, e.g. the expiry of
// a BYO-MX domain.
type RosterEntry struct {
	ODS      string        `json:"ods"`
	Deadline calendar.Date `json:"deadline"`
	Domain   string        `json:"domain,omitempty"`
	// Done marks an organisation that needs no more notices: set when a re-applied roster no
	// longer lists it.
	Done bool `json:"done,omitempty"`
}

var odsPattern = regexp.MustCompile(`^[A-Z0-9]{2,10}$`)

// NormODS is the canonical (upper-case) form of an ODS code, as used in keys.
func NormODS(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// ParseRoster reads a roster CSV: `ods_code,deadline[,domain]`, an optional header line, dates
// as YYYY-MM-DD. name is used in error messages. Every mistake is a *ValidationError with its line.
func ParseRoster(r io.Reader, name string) ([]RosterEntry, error) {
	cr := csv.NewReader(spreadsheet.Limit(r, MaxRosterRow))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	var (
		out  []RosterEntry
		errs []error
		seen = map[string]int{}
	)
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &ValidationError{File: name, Line: line, Key: "roster", Message: fmt.Sprintf(format, args...)})
	}
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			bad(line, "not CSV: %v", err)
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if first && strings.HasPrefix(strings.ToLower(strings.TrimSpace(rec[0])), "ods") {
			continue // header
		}
		if len(rec) < 2 || len(rec) > 3 {
			bad(line, "want ods_code,deadline[,domain], got %d fields", len(rec))
			continue
		}
		e := RosterEntry{ODS: NormODS(rec[0])}
		if !odsPattern.MatchString(e.ODS) {
			bad(line, "%q is not an ODS code", rec[0])
			continue
		}
		d, err := calendar.Parse(strings.TrimSpace(rec[1]))
		if err != nil || d.IsZero() {
			bad(line, "deadline %q of %s is not a date YYYY-MM-DD", rec[1], e.ODS)
			continue
		}
		e.Deadline = d
		if len(rec) == 3 {
			e.Domain = normHost(rec[2])
			if e.Domain != "" && !validHostname(e.Domain) {
				bad(line, "domain %q of %s is not a valid domain", rec[2], e.ODS)
				continue
			}
		}
		if prev, dup := seen[e.ODS]; dup {
			bad(line, "%s is listed twice (first on line %d): one deadline per organisation", e.ODS, prev)
			continue
		}
		seen[e.ODS] = line
		out = append(out, e)
	}
	if len(errs) == 0 && len(out) == 0 {
		bad(0, "no organisations")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// SetRoster attaches a roster to a roster campaign (Load does this from the file it names).
func (c *Campaign) SetRoster(entries []RosterEntry) error {
	if c.AudienceSource != SourceRoster {
		return &ValidationError{File: c.fileName(), Key: "roster", Message: "only for audience_source: roster"}
	}
	c.roster = entries
	c.RosterUntil = calendar.Date{}
	for _, e := range entries {
		if e.Deadline.After(c.RosterUntil) {
			c.RosterUntil = e.Deadline
		}
	}
	return nil
}

// RosterEntries is the roster attached by Load or SetRoster (nil for a stored campaign: use
// Store.Roster).
func (c *Campaign) RosterEntries() []RosterEntry { return c.roster }
