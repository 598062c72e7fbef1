// Package campaign is the campaign: the file the mail-service team writes (hostnames and their
// replacements, endpoints, stages, audience, sender), its validation, and its life in the table
// (versions, pause, resume, cancel, extensions).
package campaign
