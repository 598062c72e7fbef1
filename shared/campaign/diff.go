package campaign

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// diffField is one campaign-file key as "what changed" reads it: value is the field's value, or
// nil where the stored campaign leaves it out (an empty optional key).
type diffField struct {
	field string // the Campaign field, for the test that no field is forgotten
	key   string // the key in the file and in the change lines
	value func(c *Campaign) any
}

// diffFields is every field Diff compares. A new Campaign field must be added here or to
// notDiffed, or TestEveryCampaignFieldIsDiffed fails: a key left out of both would change
// campaigns without a line in their history.
var diffFields = []diffField{
	{"ID", "id", func(c *Campaign) any { return c.ID }},
	{"Title", "title", func(c *Campaign) any { return c.Title }},
	{"Timezone", "timezone", func(c *Campaign) any { return c.Timezone }},
	{"Shutdown", "shutdown", func(c *Campaign) any { return c.Shutdown }},
	{"Hostnames", "hostnames", func(c *Campaign) any { return c.Hostnames }},
	{"Endpoints", "endpoints", func(c *Campaign) any { return omitEmpty(c.Endpoints) }},
	{"IgnoreAccounts", "ignore_accounts", func(c *Campaign) any { return omitEmpty(c.IgnoreAccounts) }},
	{"Mapping", "mapping", func(c *Campaign) any { return omitEmpty(c.Mapping) }},
	{"Formats", "formats", func(c *Campaign) any {
		if len(c.Formats) == 0 {
			return nil
		}
		return c.Formats
	}},
	{"AudienceSource", "audience_source", func(c *Campaign) any { return c.AudienceSource }},
	{"Roster", "roster", func(c *Campaign) any { return omitEmpty(c.Roster) }},
	{"MaxExtensionDays", "max_extension_days", func(c *Campaign) any { return c.MaxExtensionDays }},
	{"ActivityWindowDays", "activity_window_days", func(c *Campaign) any { return c.ActivityWindowDays }},
	{"Stages", "stages", func(c *Campaign) any { return c.Stages }},
	{"Audience", "audience", func(c *Campaign) any { return c.Audience }},
	{"Sender", "sender", func(c *Campaign) any { return c.Sender }},
	{"Helpdesk", "helpdesk", func(c *Campaign) any { return c.Helpdesk }},
	{"RetentionDays", "retention_days", func(c *Campaign) any { return c.RetentionDays }},
	{"Templates", "templates", func(c *Campaign) any { return omitEmpty(c.Templates) }},
	{"SendWindow", "send_window", func(c *Campaign) any { return c.SendWindow }},
	{"SkipBankHolidays", "skip_bank_holidays", func(c *Campaign) any { return omitEmpty(c.SkipBankHolidays) }},
	{"Escalation", "escalation", func(c *Campaign) any { return c.Escalation }},
	{"Brownouts", "brownouts", func(c *Campaign) any { return c.Brownouts }},
	{"Guides", "guides", func(c *Campaign) any { return omitEmpty(c.Guides) }},
	{"RosterUntil", "roster_until", func(c *Campaign) any {
		if c.RosterUntil.IsZero() {
			return nil
		}
		return c.RosterUntil
	}},
}

// notDiffed are the Campaign fields Diff leaves out, and why.
var notDiffed = map[string]string{
	"file":   "the name the file was parsed from, not part of the campaign",
	"lines":  "line numbers of the file, for messages",
	"roster": "the roster's entries: Apply describes their changes itself (rosterDiff)",
}

// omitEmpty is v, or nil when v is empty (as the stored campaign's JSON leaves it out).
func omitEmpty[T ~string | ~[]string | ~map[string]string](v T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// Diff describes the differences between two campaigns as readable lines, one per changed key,
// in key order: "shutdown: "2021-09-07" → "2021-09-14"", "+ stages[5].name: "survey"". Values
// are shown as JSON.
func Diff(old, cur *Campaign) []string {
	fa, fb := map[string]string{}, map[string]string{}
	for _, f := range diffFields {
		flattenValue(f.key, f.value(old), fa)
		flattenValue(f.key, f.value(cur), fb)
	}
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		va, inA := fa[k]
		vb, inB := fb[k]
		switch {
		case inA && inB && va != vb:
			out = append(out, fmt.Sprintf("%s: %s → %s", k, va, vb))
		case inA && !inB:
			out = append(out, fmt.Sprintf("- %s: %s", k, va))
		case !inA && inB:
			out = append(out, fmt.Sprintf("+ %s: %s", k, vb))
		}
	}
	return out
}

// flattenValue adds v's leaves to out, keyed by their path under key, each as JSON.
func flattenValue(key string, v any, out map[string]string) {
	if v == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		out[key] = fmt.Sprintf("%v", v)
		return
	}
	var tree any
	_ = json.Unmarshal(b, &tree) // what Marshal wrote always reads back
	flatten(key, tree, out)
}

func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, e, out)
		}
	case []any:
		for i, e := range t {
			flatten(prefix+"["+strconv.Itoa(i)+"]", e, out)
		}
	case nil:
	default:
		b, _ := json.Marshal(t)
		out[prefix] = string(b)
	}
}
