package planner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// This file is "one email per person a day": once the walk has claimed the day's notices, an
// address in the audience of several of them gets one merged email (ledger.Mail) that carries
// each, instead of one email a notice. The ledger's rules (shared/ledger/mail.go) keep each
// (notice, address) to exactly one email whatever the order of runs, senders and crashes.

// handOffs keeps of each notice to hand over what the hand-over needs (not its rows), so a
// run's memory does not grow with the day's accounts.
func handOffs(ns []ledger.Notice) []ledger.Notice {
	out := make([]ledger.Notice, len(ns))
	for i, n := range ns {
		out[i] = ledger.Notice{Campaign: n.Campaign, Org: n.Org, OrgName: n.OrgName, Stage: n.Stage, PlannedFor: n.PlannedFor,
			Status: n.Status, Recipients: n.Recipients, Merged: n.Merged, DayTaken: n.DayTaken}
	}
	return out
}

// handOver merges the day's notices by address, then hands over the notices and the mails:
// those made now, and those an earlier run made for these notices (a run that stopped before
// its hand-over leaves them claimed).
func (p *Planner) handOver(ctx context.Context, st *state, at calendar.Date, ns []ledger.Notice, d Dispatcher, res *Result, keep bool) error {
	var mails []ledger.MailKey
	if p.Mails != nil {
		var err error
		if mails, err = p.merge(ctx, st, at, ns); err != nil {
			return err
		}
	}
	for start := 0; start < len(ns); start += dispatchChunk {
		part := ns[start:min(start+dispatchChunk, len(ns))]
		if err := d.Dispatch(ctx, part); err != nil {
			return fmt.Errorf("dispatch %d notices of %s: %w", len(part), st.c.ID, err)
		}
		res.Dispatched += len(part)
	}
	if len(mails) > 0 {
		if err := d.DispatchMails(ctx, mails); err != nil {
			return fmt.Errorf("dispatch %d merged emails of %s: %w", len(mails), st.c.ID, err)
		}
		res.Mails += len(mails)
		if keep {
			res.MailKeys = append(res.MailKeys, mails...)
		}
	}
	return nil
}

// dispatchChunk is how many notices one Dispatch call hands over.
const dispatchChunk = 250

// merge lists, for each address in two or more of the notices' audiences (less the addresses
// already merged on them), those notices in the address's mail of at, then marks the address
// merged on each. An address a notice's sender found had had its email for the notice's day
// (ledger.MarkDayTaken), or whose mail of at already carries another of the notices (a run
// that stopped half way through merging it), gets a mail of at even for one notice. Before it lists anything,
// it takes the address's day for the mail (ledger.TakeDay): a notice's own email that took it
// first keeps the address, and no other email of the campaign goes to it for at. It returns
// every mail the notices are merged into, sorted. The helpdesk's digest is never merged (it goes
// to the team).
func (p *Planner) merge(ctx context.Context, st *state, at calendar.Date, ns []ledger.Notice) ([]ledger.MailKey, error) {
	byAddr := map[string][]ledger.Key{}
	forced := map[string]bool{}
	mails := map[ledger.MailKey]bool{}
	for _, n := range ns {
		if n.Org == ledger.HelpdeskOrg {
			continue
		}
		for _, e := range n.Merged {
			day, _ := calendar.Parse(e[strings.LastIndex(e, "|")+1:])
			a := ledger.MergedAddress(e)
			mails[ledger.MailKeyOf(n.Campaign, day, a)] = true
			if day == at {
				forced[a] = true // a run that stopped half way through this mail: the rest join it
			}
		}
		seen := map[string]bool{}
		for _, a := range n.Recipients {
			a = strings.ToLower(strings.TrimSpace(a))
			if a == "" || seen[a] || n.IsMerged(a) {
				continue
			}
			seen[a] = true
			byAddr[a] = append(byAddr[a], n.Key())
			if slices.Contains(n.DayTaken, a) {
				forced[a] = true
			}
		}
	}
	addrs := make([]string, 0, len(byAddr))
	for a, keys := range byAddr {
		if len(keys) > 1 || forced[a] {
			addrs = append(addrs, a)
		}
	}
	slices.Sort(addrs)
	made := make([]bool, len(addrs))
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, readers)
	for i, a := range addrs { // addresses are independent: their writes overlap, readers at a time
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			made[i], errs[i] = p.mergeAddress(ctx, st, at, a, byAddr[a])
		}()
	}
	wg.Wait()
	for i, a := range addrs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if made[i] {
			mails[ledger.MailKeyOf(st.c.ID, at, a)] = true
		}
	}
	out := make([]ledger.MailKey, 0, len(mails))
	for k := range mails {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b ledger.MailKey) int { return strings.Compare(a.ID(), b.ID()) })
	return out, nil
}

// mergeAddress makes address a's mail of at carrying notices, in the order the rules need: the
// day, the mail's list, then each notice's mark. It returns false when the day or the mail was
// already another email's (each notice keeps the address, or waits for the next day's merge).
func (p *Planner) mergeAddress(ctx context.Context, st *state, at calendar.Date, a string, notices []ledger.Key) (bool, error) {
	k := ledger.MailKeyOf(st.c.ID, at, a)
	err := p.Mails.TakeDay(ctx, st.c.ID, a, at, "mail:"+k.ID(), st.c.RetainUntil())
	if errors.Is(err, ledger.ErrDayTaken) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ok, err := p.Mails.MergeInto(ctx, k, a, notices, st.c.RetainUntil())
	if err != nil || !ok {
		return false, err
	}
	for _, n := range notices {
		if _, err := p.Mails.MarkMerged(ctx, n, a, at); err != nil {
			return false, err
		}
	}
	return true, nil
}
