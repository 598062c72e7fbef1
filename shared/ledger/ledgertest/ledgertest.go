// Package ledgertest is an in-memory notice ledger for tests of the packages that plan and
// report notices, like httptest for net/http. It keeps the real ledger's two guards; tests of
// the ledger itself, and of anything that depends on conditional writes under concurrency, use
// the local DynamoDB.
package ledgertest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// Ledger holds notices in memory: at most one per (campaign, organisation, stage) and one claim
// per (campaign, organisation, day), as ledger.Ledger guarantees. Its methods have the
// signatures of ledger.Ledger's and are safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	order   []string // keys in the order the notices arrived: List keeps it
	notices map[string]ledger.Notice
	days    map[string]bool
	stats   map[string]ledger.Stats
	// Err, when set, is returned by every method instead of doing anything.
	Err error
}

// New is a ledger holding notices (as they are: their status is not changed).
func New(notices ...ledger.Notice) *Ledger {
	l := &Ledger{notices: map[string]ledger.Notice{}, days: map[string]bool{}}
	for _, n := range notices {
		l.put(n)
	}
	return l
}

func key(campaign, org, stage string) string {
	return campaign + "/" + strings.ToUpper(org) + "/" + stage
}

func (l *Ledger) put(n ledger.Notice) {
	k := key(n.Campaign, n.Org, n.Stage)
	if _, ok := l.notices[k]; !ok {
		l.order = append(l.order, k)
	}
	l.notices[k] = n
}

// List is every notice of campaign, in the order they arrived.
func (l *Ledger) List(_ context.Context, campaign string) ([]ledger.Notice, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return nil, l.Err
	}
	var out []ledger.Notice
	for _, k := range l.order {
		if n := l.notices[k]; n.Campaign == campaign {
			out = append(out, n)
		}
	}
	return out, nil
}

// Histories is a cursor over campaign's notices, organisation by organisation.
func (l *Ledger) Histories(campaign string) *ledger.Cursor {
	all, err := l.List(context.Background(), campaign)
	if err != nil {
		return ledger.FailingCursor(err)
	}
	return ledger.NewCursor(all)
}

// Claim claims n unless its stage was ever claimed or marked, or its organisation has a claim on
// n.PlannedFor already.
func (l *Ledger) Claim(_ context.Context, n ledger.Notice) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return false, l.Err
	}
	dk := key(n.Campaign, n.Org, n.PlannedFor.String())
	if _, ok := l.notices[key(n.Campaign, n.Org, n.Stage)]; ok || l.days[dk] {
		return false, nil
	}
	l.days[dk] = true
	n.Status = ledger.Claimed
	l.put(n)
	return true, nil
}

// MarkSuperseded records n's stage as superseded unless it has an entry already.
func (l *Ledger) MarkSuperseded(_ context.Context, n ledger.Notice) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return false, l.Err
	}
	if _, ok := l.notices[key(n.Campaign, n.Org, n.Stage)]; ok {
		return false, nil
	}
	n.Status = ledger.Superseded
	l.put(n)
	return true, nil
}

// Get is the notice of one stage for one organisation, or an error wrapping ledger.ErrNotFound.
func (l *Ledger) Get(_ context.Context, campaign, org, stage string) (*ledger.Notice, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return nil, l.Err
	}
	n, ok := l.notices[key(campaign, org, stage)]
	if !ok {
		return nil, fmt.Errorf("get notice %s/%s/%s: %w", campaign, org, stage, ledger.ErrNotFound)
	}
	return &n, nil
}

// Stats are the delivery counts SetStats gave campaign (zero otherwise).
func (l *Ledger) Stats(_ context.Context, campaign string) (ledger.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return ledger.Stats{}, l.Err
	}
	return l.stats[campaign], nil
}

// SetStats sets a campaign's delivery counts.
func (l *Ledger) SetStats(campaign string, st ledger.Stats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stats == nil {
		l.stats = map[string]ledger.Stats{}
	}
	l.stats[campaign] = st
}

// Len is how many notices the ledger holds.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.notices)
}

// Set stores n as it is, replacing the notice of its key: a test's way to put a notice in a
// state only a sender makes (leased, in doubt).
func (l *Ledger) Set(n ledger.Notice) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.put(n)
}

// Mails is a campaign's merged emails: none here (making them rests on conditional writes
// across items; tests of merged emails use the local DynamoDB).
func (l *Ledger) Mails(context.Context, string) ([]ledger.Mail, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return nil, l.Err
}
