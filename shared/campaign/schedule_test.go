package campaign

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func windowed(t *testing.T) *Campaign {
	t.Helper()
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A stage due on a day notices do not go on moves: to the working day before it while the
// deadline is ahead, to the working day after it from the deadline on; a campaign without a
// window or bank holidays sends on the day its offset says.
func TestStageDate(t *testing.T) {
	c := windowed(t)
	before := func(n int) Stage { return Stage{Name: "s", DaysBefore: &n} }
	after := func(n int) Stage { return Stage{Name: "s", DaysAfter: &n} }
	for _, tc := range []struct {
		name     string
		stage    Stage
		deadline string
		want     string
		why      string
	}{
		{"a Saturday before the deadline: the Friday", before(10), "2021-09-07", "2021-08-27", "Saturday"},
		{"Good Friday: the Thursday", before(5), "2021-04-07", "2021-04-01", "Good Friday (a bank holiday)"},
		{"Easter Monday before the deadline: back over the weekend and Good Friday", before(2), "2021-04-07", "2021-04-01", "Easter Monday (a bank holiday)"},
		{"a Sunday after the deadline: the Monday", after(5), "2021-09-07", "2021-09-13", "Sunday"},
		{"the summer bank holiday on the deadline: the Tuesday", after(0), "2021-08-30", "2021-08-31", "Summer bank holiday (a bank holiday)"},
		{"a working day stays", before(7), "2021-09-07", "2021-08-31", ""},
		{"the day after the clocks go forward (BST) is a Monday: it stays", before(9), "2021-04-07", "2021-03-29", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, shift := c.StageDate(tc.stage, day(tc.deadline))
			if got.String() != tc.want {
				t.Errorf("StageDate = %s, want %s", got, tc.want)
			}
			why := ""
			if shift != nil {
				why = shift.Reason
				if shift.From != tc.stage.DueOn(day(tc.deadline)) {
					t.Errorf("shifted from %s, want the due date %s", shift.From, tc.stage.DueOn(day(tc.deadline)))
				}
			}
			if why != tc.why {
				t.Errorf("why %q, want %q", why, tc.why)
			}
		})
	}
	plain := *c
	plain.SendWindow, plain.SkipBankHolidays = nil, ""
	if d, shift := plain.StageDate(before(10), day("2021-09-07")); d.String() != "2021-08-28" || shift != nil {
		t.Errorf("without the keys a Saturday stage moved to %s (%v)", d, shift)
	}
}

// The window is open on working days between its hours, in the campaign's time zone (BST in
// summer, GMT in winter), and says when it next opens.
func TestWindow(t *testing.T) {
	c := windowed(t)
	london, _ := time.LoadLocation("Europe/London")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, london)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		at   string
		open bool
		next string
	}{
		{"2021-08-17 08:00", false, "2021-08-17 09:00"}, // the daily run: waits an hour
		{"2021-08-17 09:00", true, ""},
		{"2021-08-17 15:59", true, ""},
		{"2021-08-17 16:00", false, "2021-08-18 09:00"},
		{"2021-08-27 17:00", false, "2021-08-31 09:00"}, // Friday evening before the summer bank holiday
		{"2021-03-28 12:00", false, "2021-03-29 09:00"}, // the Sunday the clocks go forward
		{"2021-03-29 08:30", false, "2021-03-29 09:00"}, // 07:30 UTC: not yet 09:00 in BST
		{"2021-03-29 09:30", true, ""},
	} {
		open, next := c.Window(at(tc.at))
		if open != tc.open {
			t.Errorf("%s: open %v, want %v", tc.at, open, tc.open)
		}
		if !tc.open && !next.Equal(at(tc.next)) {
			t.Errorf("%s: next opens %s, want %s", tc.at, next.In(london), tc.next)
		}
	}
}

// The new keys are checked like the rest: each mistake at its key.
func TestCalendarKeysValidated(t *testing.T) {
	base, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to, says string
	}{
		{"a day that is not one", "days: [mon..fri]", "days: [mon..fry]", "send_window.days"},
		{"hours the wrong way round", `from: "09:00", to: "16:00"`, `from: "16:00", to: "09:00"`, "send_window.to"},
		{"a time that is not one", `from: "09:00"`, `from: "9am"`, "send_window.from"},
		{"an unknown division", "skip_bank_holidays: england-and-wales", "skip_bank_holidays: wales", "skip_bank_holidays"},
		{"dates past the holiday data", "shutdown: 2021-09-07", "shutdown: 2027-12-20", "past 2027, the last year of the bank-holiday data"},
		{"escalation after no stage", "after_stage: reminder, add", "after_stage: nudge, add", "escalation[0].after_stage"},
		{"escalation adding nobody we know", "add: [pla]", "add: [ceo]", "escalation[0].add[0]"},
		{"escalation notifying someone else", "notify: helpdesk", "notify: director", "escalation[1].notify"},
		{"a brownout of a hostname not retired", "hostnames: [imap.nhs.net, pop.nhs.net]", "hostnames: [imap.nhs.net, owa.nhs.net]", "brownouts[0].hostnames[1]"},
		{"brownout hours that are not hours", `hours: "09:00-12:00"`, `hours: "morning"`, "brownouts[0].hours"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(string(base), tc.from, tc.to, 1)
			if text == string(base) {
				t.Fatalf("%q is not in the file", tc.from)
			}
			_, err := Parse([]byte(text), "full.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Parse: %v, want a mistake at %s", err, tc.says)
			}
		})
	}
}

// The window's readers take any text: a clear error or a value, never a panic; and whatever
// window reads, a stage before the deadline never moves past it, one after never before its day.
func FuzzSendWindow(f *testing.F) {
	f.Add("mon..fri", "09:00", "16:00", "09:00-12:00", 7, 3)
	f.Add("sat..mon", "00:00", "23:59", "23:00-01:00", 0, 0)
	f.Add("fri..fri,sun", "24:00", "9", "-", -5, 400)
	f.Fuzz(func(t *testing.T, days, from, to, hrs string, before, after int) {
		weekdays(strings.Split(days, ","))
		hours(hrs)
		c := &Campaign{Timezone: "Europe/London", SkipBankHolidays: "england-and-wales",
			SendWindow: &SendWindow{Days: strings.Split(days, ","), From: from, To: to}}
		deadline := day("2021-09-07")
		b, a := before%400, after%400
		if b < 0 {
			b = -b
		}
		if a < 0 {
			a = -a
		}
		if on, _ := c.StageDate(Stage{Name: "b", DaysBefore: &b}, deadline); on.After(deadline) && b > 0 {
			t.Errorf("a stage %d days before moved past the deadline to %s", b, on)
		}
		due := deadline.AddDays(a)
		if on, _ := c.StageDate(Stage{Name: "a", DaysAfter: &a}, deadline); on.Before(due) {
			t.Errorf("a stage %d days after moved before its day to %s", a, on)
		}
		c.Window(time.Date(2021, 3, 28, 0, 30, 0, 0, time.UTC))
	})
}

// The planner asks for every stage's date of every organisation it decides: 30,000
// organisations of five stages are 150,000 calls a run.
func BenchmarkStageDate(b *testing.B) {
	c := &Campaign{Timezone: "Europe/London", SkipBankHolidays: "england-and-wales",
		SendWindow: &SendWindow{Days: []string{"mon..fri"}, From: "09:00", To: "16:00"}}
	n := 42
	s := Stage{Name: "advance", DaysBefore: &n}
	deadline := day("2021-09-07")
	for i := 0; b.Loop(); i++ {
		c.StageDate(s, deadline.AddDays(i%365))
	}
}
