package campaign

import (
	"context"
	"time"
)

// Details is a campaign as `sunset campaign show --json` and the API show it: its record, its
// extensions and every version (who, when, what changed).
type Details struct {
	*Record
	Extensions map[string]Extension `json:"extensions"`
	History    []Change             `json:"history"`
	// Events are the changes that are not versions: pauses, resumes, cancels, extensions.
	Events []Event `json:"events"`
}

// Change is one version of the history, without the campaign it applied.
type Change struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Changes []string  `json:"changes"`
}

// Details reads campaign id with its extensions and history. ErrNotFound when it was never
// applied.
func (s *Store) Details(ctx context.Context, id string) (*Details, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	exts, err := s.Extensions(ctx, id)
	if err != nil {
		return nil, err
	}
	hist, err := s.History(ctx, id)
	if err != nil {
		return nil, err
	}
	events, err := s.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &Details{Record: r, Extensions: exts, History: []Change{}, Events: append([]Event{}, events...)}
	for _, h := range hist {
		d.History = append(d.History, Change{h.Version, h.At, h.By, h.Changes})
	}
	return d, nil
}
