package calendar

import (
	"encoding/json"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func d(s string) Date {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  any
		want any
	}{
		{"42 days before shutdown", d("2021-09-07").AddDays(-42).String(), "2021-07-27"},
		{"across BST end", d("2021-10-30").AddDays(2).String(), "2021-11-01"},
		{"leap day", d("2024-02-28").AddDays(1).String(), "2024-02-29"},
		{"6 months after migration", d("2021-03-31").AddMonths(6).String(), "2021-10-01"},
		{"days until across BST start", d("2021-03-27").DaysUntil(d("2021-03-29")), 2},
		{"days until backwards", d("2021-09-07").DaysUntil(d("2021-09-01")), -6},
		{"british", d("2021-09-07").British(), "07 September 2021"},
		{"british long", d("2021-09-07").BritishLong(), "Tuesday 07 September 2021"},
		{"compare", d("2021-09-07").Compare(d("2021-10-01")), -1},
		{"zero string", Date{}.String(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// "Today" is the date in the campaign's zone: 23:30 UTC on 31 March is already 1 April in BST.
func TestIn(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2021, 3, 31, 23, 30, 0, 0, time.UTC)
	if got := In(at, london).String(); got != "2021-04-01" {
		t.Fatalf("In = %s, want 2021-04-01", got)
	}
	if got := In(at, time.UTC).String(); got != "2021-03-31" {
		t.Fatalf("In UTC = %s, want 2021-03-31", got)
	}
}

func TestEncodings(t *testing.T) {
	var y struct {
		Shutdown Date `yaml:"shutdown"`
		Quoted   Date `yaml:"quoted"`
	}
	if err := yaml.Unmarshal([]byte("shutdown: 2021-09-07\nquoted: \"2021-10-01\"\n"), &y); err != nil {
		t.Fatal(err)
	}
	if y.Shutdown != d("2021-09-07") || y.Quoted != d("2021-10-01") {
		t.Fatalf("yaml decoded %+v", y)
	}
	b, err := json.Marshal(struct{ D Date }{d("2021-09-07")})
	if err != nil || string(b) != `{"D":"2021-09-07"}` {
		t.Fatalf("json = %s, %v", b, err)
	}
	var back struct{ D Date }
	if err := json.Unmarshal(b, &back); err != nil || back.D != d("2021-09-07") {
		t.Fatalf("json back = %+v, %v", back, err)
	}
	if _, err := Parse("07/09/2021"); err == nil {
		t.Fatal("Parse accepted a non-ISO date")
	}
}
