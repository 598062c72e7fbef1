// Package bootstrap is imported, for its side effects, by every Lambda's main: what a binary
// needs on provided.al2023 that the build host has and the runtime may not. Today that is the
// time zone database (time/tzdata): the runtime may have no /usr/share/zoneinfo, and campaigns
// keep their calendars in Europe/London. infra's tests check every bootstrap carries it and
// that each is a static binary (built with CGO_ENABLED=0, as `make sam-build` runs sam build).
package bootstrap

import _ "time/tzdata" // the zoneinfo the runtime may lack
