// Package campaigntest is an in-memory campaign store for tests of the packages that read
// campaigns (the planner, the report), like httptest for net/http. Tests of the store itself use
// the local DynamoDB.
package campaigntest

import (
	"context"
	"fmt"
	"sync"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
)

// Store holds campaigns, their extensions and rosters in memory. Its methods have the
// signatures of campaign.Store's and are safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	records map[string]*campaign.Record
	exts    map[string]map[string]campaign.Extension
	rosters map[string][]campaign.RosterEntry
}

// New is a store holding recs, by campaign id.
func New(recs ...*campaign.Record) *Store {
	s := &Store{records: map[string]*campaign.Record{}, exts: map[string]map[string]campaign.Extension{},
		rosters: map[string][]campaign.RosterEntry{}}
	for _, r := range recs {
		s.records[r.Campaign.ID] = r
	}
	return s
}

// Get is the record of campaign id, or an error wrapping campaign.ErrNotFound.
func (s *Store) Get(_ context.Context, id string) (*campaign.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.records[id]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("get campaign %s: %w", id, campaign.ErrNotFound)
}

// Extensions are the extensions of campaign id, by ODS code.
func (s *Store) Extensions(_ context.Context, id string) (map[string]campaign.Extension, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]campaign.Extension{}
	for k, v := range s.exts[id] {
		out[k] = v
	}
	return out, nil
}

// Roster is the roster of campaign id.
func (s *Store) Roster(_ context.Context, id string) ([]campaign.RosterEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]campaign.RosterEntry(nil), s.rosters[id]...), nil
}

// AddExtension records e for campaign id (it replaces an earlier one for e.ODS, as Extend does).
func (s *Store) AddExtension(id string, e campaign.Extension) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exts[id] == nil {
		s.exts[id] = map[string]campaign.Extension{}
	}
	s.exts[id][e.ODS] = e
}

// SetRoster replaces the roster of campaign id.
func (s *Store) SetRoster(id string, entries []campaign.RosterEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rosters[id] = entries
}
