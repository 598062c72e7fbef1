// Package campaign is the campaign: the file the mail-service team writes (hostnames and their
// replacements, endpoints, stages, audience, sender), its validation, and its life in the table
// (versions, pause, resume, cancel, extensions).
//
// Files, by what they hold:
//   - campaign.go: the Campaign type (every key of the file) and what is derived from it
//     (time zone, today, scanner rules, last deadline, retention);
//   - parse.go: reading a file (Load, Parse), checking its shape against the type, and the
//     ValidationError every mistake is reported as;
//   - validate.go: defaults and the rules a parsed campaign must meet, and the further checks
//     made when it is applied (Validate);
//   - roster.go: the roster CSV of a per-organisation-deadline campaign;
//   - store.go: the campaign in the table (Store: get, list, history, status, roster reads);
//   - apply.go: applying a campaign, as a new version, conflict-safe;
//   - diff.go: what changed between two versions, field by field from an explicit list;
//   - extend.go: per-organisation extensions and their cap.
package campaign
