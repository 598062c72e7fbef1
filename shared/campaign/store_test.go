package campaign

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func newStore(t *testing.T) (*Store, *fakeClock) {
	db, table := localstacktest.DynamoDB(t)
	clk := &fakeClock{t: time.Date(2021, 7, 1, 9, 0, 0, 0, time.UTC)}
	return NewStore(db, table, clk.Now), clk
}

func TestStoreApplyAndHistory(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before apply: %v", err)
	}
	v, changes, err := s.Apply(ctx, c, "alice")
	if err != nil || v != 1 || !cmp.Equal(changes, []string{"created"}) {
		t.Fatalf("first apply = %d %v %v", v, changes, err)
	}
	// Unchanged: no new version.
	if v, changes, err := s.Apply(ctx, c, "alice"); err != nil || v != 1 || changes != nil {
		t.Fatalf("unchanged apply = %d %v %v", v, changes, err)
	}
	clk.t = clk.t.Add(time.Hour)
	c2, _ := Load("testdata/full.yaml")
	c2.Shutdown = c2.Shutdown.AddDays(7)
	c2.Stages = c2.Stages[:4]
	v, changes, err = s.Apply(ctx, c2, "bob")
	if err != nil || v != 2 {
		t.Fatalf("second apply = %d %v %v", v, changes, err)
	}
	want := []string{"shutdown: \"2021-09-07\" → \"2021-09-14\"", "- stages[4].days_after: 0", "- stages[4].name: \"retired\""}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	r, err := s.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 2 || r.Status != Active || r.UpdatedBy != "bob" || !r.UpdatedAt.Equal(clk.t) || r.Campaign.Shutdown != c2.Shutdown || len(r.Campaign.Stages) != 4 {
		t.Errorf("record = %+v", r)
	}
	h, err := s.History(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].By != "alice" || h[1].By != "bob" || h[1].Version != 2 || !cmp.Equal(h[1].Changes, want) || h[0].Campaign.Shutdown != c.Shutdown {
		t.Errorf("history = %+v", h)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Campaign.ID != c.ID {
		t.Errorf("List = %v %v", list, err)
	}
}

func TestStoreConcurrentApply(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	c, _ := Load("testdata/full.yaml")
	if _, _, err := s.Apply(ctx, c, "a"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ci, _ := Load("testdata/full.yaml")
			ci.ActivityWindowDays = 31 + i
			_, _, errs[i] = s.Apply(ctx, ci, "racer")
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrConflict):
			t.Errorf("unexpected error %v", err)
		}
	}
	h, _ := s.History(ctx, c.ID)
	r, _ := s.Get(ctx, c.ID)
	// Every winner got its own version; the META item names the last one.
	if wins < 1 || len(h) != 1+wins || r.Version != len(h) {
		t.Errorf("wins %d, history %d, version %d", wins, len(h), r.Version)
	}
}

func TestStoreStatus(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	c, _ := Load("testdata/full.yaml")
	if _, _, err := s.Apply(ctx, c, "a"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		status  Status
		refused bool
		want    Status
	}{
		{Paused, false, Paused},
		{Paused, false, Paused},
		{Active, false, Active},
		{Cancelled, false, Cancelled},
		{Active, true, Cancelled},
		{Paused, true, Cancelled},
		{Cancelled, false, Cancelled},
	}
	for i, st := range steps {
		err := s.SetStatus(ctx, c.ID, st.status, "ops")
		if st.refused != errors.Is(err, ErrRefused) || (!st.refused && err != nil) {
			t.Errorf("step %d %s: err %v", i, st.status, err)
		}
		r, _ := s.Get(ctx, c.ID)
		if r.Status != st.want {
			t.Errorf("step %d: status %s, want %s", i, r.Status, st.want)
		}
	}
	if _, _, err := s.Apply(ctx, c, "a"); !errors.Is(err, ErrRefused) {
		t.Errorf("apply of cancelled campaign: %v", err)
	}
	if live, err := s.Live(ctx); err != nil || len(live) != 0 {
		t.Errorf("Live = %v %v", live, err)
	}
	if err := s.SetStatus(ctx, "nope", Paused, "ops"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown campaign: %v", err)
	}
}

func TestStoreExtendFindings(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	c, _ := Load("testdata/full.yaml") // shutdown 2021-09-07, max 92 days
	if _, _, err := s.Apply(ctx, c, "a"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		until, reason string
		refused       string
	}{
		{"2021-12-08", "supplier upgrade", ""}, // exactly 92 days
		{"2021-12-09", "x", "more than max_extension_days (92) after the original deadline 07 September 2021; the latest allowed date is 08 December 2021"},
		{"2021-09-07", "x", "not after the original deadline"},
		{"2021-10-01", "", "a reason is required"},
	} {
		_, err := s.Extend(ctx, c.ID, "rx1", date(t, tc.until), tc.reason, "ops")
		if tc.refused == "" && err != nil || tc.refused != "" && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.refused)) {
			t.Errorf("extend to %s: %v", tc.until, err)
		}
	}
	ext, err := s.Extensions(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := ext["RX1"]; len(ext) != 1 || e.Until != date(t, "2021-12-08") || e.Original != c.Shutdown || e.Reason != "supplier upgrade" || e.By != "ops" {
		t.Errorf("extensions = %+v", ext)
	}
	// A campaign without max_extension_days refuses every extension.
	c0, _ := Load("testdata/full.yaml")
	c0.ID, c0.MaxExtensionDays = "no-ext", 0
	if _, _, err := s.Apply(ctx, c0, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Extend(ctx, "no-ext", "RX1", date(t, "2021-09-08"), "x", "ops"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "allows no extensions") {
		t.Errorf("extend with max 0: %v", err)
	}
}

func TestStoreRoster(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	c, err := Load("testdata/byo-mx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Apply(ctx, c, "a"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Roster(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.RosterEntries(), sortRoster(got), cmp.Transformer("sort", sortRoster)); diff != "" {
		t.Errorf("roster (-want +got):\n%s", diff)
	}
	// BYO-MX: 6 months after migration + at most 92 days, from the organisation's own date.
	if _, err := s.Extend(ctx, c.ID, "RX1", date(t, "2024-10-01"), "x", "ops"); err != nil {
		t.Errorf("extend RX1 to its limit: %v", err)
	}
	if _, err := s.Extend(ctx, c.ID, "RX1", date(t, "2024-10-02"), "x", "ops"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "latest allowed date is 01 October 2024") {
		t.Errorf("extend RX1 past its limit: %v", err)
	}
	if _, err := s.Extend(ctx, c.ID, "RX9", date(t, "2024-10-01"), "x", "ops"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "not on the campaign's roster") {
		t.Errorf("extend an organisation not on the roster: %v", err)
	}
	// Re-apply without RX3 and with a new date for Y0222: RX3 is done, not forgotten.
	entries := c.RosterEntries()[:2]
	entries[1].Deadline = date(t, "2024-10-15")
	if err := c.SetRoster(entries); err != nil {
		t.Fatal(err)
	}
	v, changes, err := s.Apply(ctx, c, "b")
	if err != nil || v != 2 {
		t.Fatalf("re-apply: %d %v", v, err)
	}
	if !strings.Contains(strings.Join(changes, "\n"), "roster: 0 added, 1 changed, 1 no longer listed (done)") {
		t.Errorf("changes = %q", changes)
	}
	got, _ = s.Roster(ctx, c.ID)
	got = sortRoster(got)
	if len(got) != 3 || !got[1].Done || got[1].ODS != "RX3" || got[2].Deadline != date(t, "2024-10-15") {
		t.Errorf("roster after re-apply = %+v", got)
	}
}

func sortRoster(in []RosterEntry) []RosterEntry {
	out := append([]RosterEntry(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].ODS < out[i].ODS {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// AutoPause pauses an active campaign with its reason; it never overrides a person's pause or
// cancel, and resuming clears the reason.
func TestStoreAutoPause(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AutoPause(ctx, c.ID, "sunset-feedback", "bounce rate 12%"); err != nil || ok {
		t.Fatalf("auto-pause of a campaign never applied = %v %v, want false", ok, err)
	}
	if _, _, err := s.Apply(ctx, c, "alice"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.AutoPause(ctx, c.ID, "sunset-feedback", "bounce rate 12%"); err != nil || !ok {
		t.Fatalf("auto-pause = %v %v, want true", ok, err)
	}
	r, err := s.Get(ctx, c.ID)
	if err != nil || r.Status != Paused || r.PauseReason != "bounce rate 12%" || r.UpdatedBy != "sunset-feedback" {
		t.Fatalf("after auto-pause: %+v %v", r, err)
	}
	if ok, err := s.AutoPause(ctx, c.ID, "sunset-feedback", "again"); err != nil || ok {
		t.Errorf("second auto-pause = %v %v, want false (already paused)", ok, err)
	}
	if err := s.SetStatus(ctx, c.ID, Active, "bob"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Get(ctx, c.ID); r.Status != Active || r.PauseReason != "" {
		t.Errorf("after resume: status %s reason %q, want active and no reason", r.Status, r.PauseReason)
	}
	if err := s.SetStatus(ctx, c.ID, Cancelled, "bob"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AutoPause(ctx, c.ID, "sunset-feedback", "x"); ok {
		t.Error("auto-pause changed a cancelled campaign")
	}
}
