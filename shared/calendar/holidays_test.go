package calendar

import (
	"testing"
	"time"
)

// The data covers every year from the first to the last for each division, with the holidays
// every year has; no holiday falls on a weekend (substitute days are weekdays).
func TestBankHolidayData(t *testing.T) {
	if FirstHolidayYear() != 2018 || LastHolidayYear() < 2027 {
		t.Fatalf("data covers %d..%d, want 2018..2027 at least", FirstHolidayYear(), LastHolidayYear())
	}
	for _, div := range Divisions {
		if !KnownDivision(div) {
			t.Fatalf("no data for %s", div)
		}
		perYear := map[int]int{}
		for d := range holidays[div] {
			perYear[d.Year]++
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
				t.Errorf("%s %s (%s) is on a %s", div, d, holidays[div][d], wd)
			}
		}
		for y := FirstHolidayYear(); y <= LastHolidayYear(); y++ {
			if perYear[y] < 8 {
				t.Errorf("%s %d has %d holidays, want at least 8", div, y, perYear[y])
			}
		}
	}
	for _, tc := range []struct {
		div, date, want string
	}{
		{"england-and-wales", "2021-04-02", "Good Friday"},
		{"england-and-wales", "2021-08-30", "Summer bank holiday"},
		{"scotland", "2021-08-02", "Summer bank holiday"},
		{"scotland", "2021-08-30", ""},
		{"scotland", "2021-04-05", ""}, // no Easter Monday in Scotland
		{"northern-ireland", "2021-07-12", "Battle of the Boyne (Orangemen’s Day)"},
		{"england-and-wales", "2022-09-19", "Bank Holiday for the State Funeral of Queen Elizabeth II"},
		{"england-and-wales", "2021-09-07", ""},
	} {
		d, _ := Parse(tc.date)
		if got := Holiday(tc.div, d); got != tc.want {
			t.Errorf("Holiday(%s, %s) = %q, want %q", tc.div, tc.date, got, tc.want)
		}
	}
}
