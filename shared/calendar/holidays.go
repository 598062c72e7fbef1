package calendar

import (
	_ "embed"
	"fmt"
	"strings"
	"time"
)

// The UK's bank holidays, for campaigns that send on working days only (skip_bank_holidays).
// The data is bank-holidays.txt, whose header cites its source.

//go:embed bank-holidays.txt
var holidayData string

// Divisions are the UK's three bank-holiday divisions, as the government names them.
var Divisions = []string{"england-and-wales", "scotland", "northern-ireland"}

// holidays maps division, then date, to the holiday's name; firstYear..LastHolidayYear are the
// years the data covers, for every division.
var holidays, firstYear, lastYear = parseHolidays(holidayData)

// LastHolidayYear is the last year the bank-holiday data covers: a campaign that skips bank
// holidays may not have a date after it.
func LastHolidayYear() int { return lastYear }

// FirstHolidayYear is the first year the bank-holiday data covers.
func FirstHolidayYear() int { return firstYear }

func parseHolidays(text string) (map[string]map[Date]string, int, int) {
	out := map[string]map[Date]string{}
	first, last := 0, 0
	for i, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		d, err := Parse(f[min(1, len(f)-1)])
		if len(f) != 3 || err != nil {
			panic(fmt.Sprintf("bank-holidays.txt:%d: want \"division YYYY-MM-DD name\", got %q", i+1, line))
		}
		if out[f[0]] == nil {
			out[f[0]] = map[Date]string{}
		}
		out[f[0]][d] = f[2]
		if first == 0 || d.Year < first {
			first = d.Year
		}
		last = max(last, d.Year)
	}
	return out, first, last
}

// Holiday is the name of the bank holiday on d in division ("" when d is not one).
func Holiday(division string, d Date) string { return holidays[division][d] }

// KnownDivision reports whether division is one the data has.
func KnownDivision(division string) bool { _, ok := holidays[division]; return ok }

// Weekday is d's day of the week.
func (d Date) Weekday() time.Weekday { return d.time().Weekday() }
