package campaign

import (
	"fmt"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
)

// The working calendar of a campaign with a send window or bank holidays: which days notices go
// on, where a stage due on another day moves to, and when, within a day, they may leave. A
// campaign with neither key sends every day at any hour, as before those keys existed.

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekdays reads a window's days: names (mon) and ranges (mon..fri, wrapping past sun), as a
// set indexed by time.Weekday (no allocation: the planner asks for every stage of every
// organisation).
func weekdays(days []string) (set [7]bool, n int, err error) {
	index := func(s string) (int, bool) {
		s = strings.TrimSpace(s)
		for i, name := range dayNames {
			if strings.EqualFold(name, s) {
				return i, true
			}
		}
		return 0, false
	}
	for _, d := range days {
		from, to, isRange := strings.Cut(d, "..")
		a, ok1 := index(from)
		b, ok2 := a, true
		if isRange {
			b, ok2 = index(to)
		}
		if !ok1 || !ok2 {
			return set, 0, fmt.Errorf("%q: want mon, tue, wed, thu, fri, sat, sun or a range such as mon..fri", d)
		}
		for i := a; ; i = (i + 1) % 7 {
			if !set[i] {
				set[i] = true
				n++
			}
			if i == b {
				break
			}
		}
	}
	return set, n, nil
}

// clock reads "HH:MM" as minutes after midnight.
func clock(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q: want HH:MM (24-hour)", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// hours reads "HH:MM-HH:MM" (a brownout's hours).
func hours(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM", s)
	}
	if from, err = clock(a); err == nil {
		to, err = clock(b)
	}
	if err == nil && to <= from {
		err = fmt.Errorf("%q: the end is not after the start", s)
	}
	return from, to, err
}

// WorkingDay reports whether notices may go on d, and if not why ("Saturday", "Good Friday").
func (c *Campaign) WorkingDay(d calendar.Date) (bool, string) {
	if c.SendWindow != nil {
		if days, _, err := weekdays(c.SendWindow.Days); err == nil && !days[d.Weekday()] {
			return false, d.Weekday().String()
		}
	}
	if c.SkipBankHolidays != "" {
		if h := calendar.Holiday(c.SkipBankHolidays, d); h != "" {
			return false, h + " (a bank holiday)"
		}
	}
	return true, ""
}

// Shift is why a stage goes on another day than its offset says.
type Shift struct {
	From   calendar.Date `json:"from"`
	Reason string        `json:"reason"`
}

// StageDate is the day stage s goes for an organisation with deadline: its due date, or, when
// that is not a working day, the working day before it for a stage before the deadline (never
// later than the deadline) and the working day after it for a stage on or after the deadline.
// The shift (nil when none) says from which day and why.
func (c *Campaign) StageDate(s Stage, deadline calendar.Date) (calendar.Date, *Shift) {
	due := s.DueOn(deadline)
	ok, why := c.WorkingDay(due)
	if ok {
		return due, nil
	}
	step := 1
	if s.Offset() < 0 {
		step = -1
	}
	d := due
	for range 31 { // a month without a working day is a window no one would write
		d = d.AddDays(step)
		if ok, _ := c.WorkingDay(d); ok {
			return d, &Shift{From: due, Reason: why}
		}
	}
	return due, nil
}

// Window reports whether notices may leave at instant t, and if not when they next may.
func (c *Campaign) Window(t time.Time) (open bool, next time.Time) {
	if c.SendWindow == nil {
		return true, t
	}
	from, err1 := clock(c.SendWindow.From)
	to, err2 := clock(c.SendWindow.To)
	if err1 != nil || err2 != nil {
		return true, t
	}
	loc := c.Location()
	lt := t.In(loc)
	now := lt.Hour()*60 + lt.Minute()
	today := calendar.In(t, loc)
	if ok, _ := c.WorkingDay(today); ok && now >= from && now < to {
		return true, t
	}
	d := today
	if now >= from { // today's window has passed (or today is not a working day): the next day's
		d = d.AddDays(1)
	}
	for range 31 {
		if ok, _ := c.WorkingDay(d); ok {
			return false, d.Start(loc).Add(time.Duration(from) * time.Minute)
		}
		d = d.AddDays(1)
	}
	return true, t
}

// Window is the brownout's start and end as instants in loc; false when its hours do not read.
func (b Brownout) Window(loc *time.Location) (from, to time.Time, ok bool) {
	f, t, err := hours(b.Hours)
	if err != nil {
		return from, to, false
	}
	start := b.Date.Start(loc)
	return start.Add(time.Duration(f) * time.Minute), start.Add(time.Duration(t) * time.Minute), true
}
