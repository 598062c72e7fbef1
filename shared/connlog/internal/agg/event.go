package agg

import (
	"time"
)

// Event is one counted connection outcome, after hostname resolution: what Add folds into
// the finding of its key. String fields may point into a read buffer; the table copies what it
// keeps.
type Event struct {
	Time     time.Time
	Prec     int8   // fraction digits of the log's time, kept for output
	Account  string // normalised; "" = unattributed
	Host     string // the legacy hostname
	Direct   bool   // the client reached the legacy server by a bare IP
	Protocol string
	// ClientIP, UserAgent and DeviceID are kept in the finding's capped lists.
	ClientIP  string
	UserAgent string
	DeviceID  string
	Success   bool
}
