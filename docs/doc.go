// Package docs holds the reference pages. It has no code: its test runs every command the
// pages (and the README) show in a shell block and checks every command, flag, make target,
// campaign key, skip reason and variable they name against the code, so the pages cannot drift.
package docs
