package answers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// Purpose is what a link is for.
type Purpose string

// The three answers a notice offers.
const (
	Fixed    Purpose = "fixed"     // "We have changed these settings"
	NotOurs  Purpose = "not-ours"  // "These accounts are not ours"
	MoreTime Purpose = "more-time" // "We need more time"
)

// Purposes are every purpose, in the order a notice shows them.
var Purposes = []Purpose{Fixed, NotOurs, MoreTime}

// Valid reports whether p is one of Purposes.
func (p Purpose) Valid() bool { return p == Fixed || p == NotOurs || p == MoreTime }

// Link is what a link's token carries: which notice, and whether it is a test send's (whose
// answers are shown but not recorded). No personal data: ids only.
type Link struct {
	Campaign string `json:"c"`
	Org      string `json:"o"`
	Stage    string `json:"s"`
	Test     bool   `json:"t,omitempty"`
}

// statusPurpose signs the links of organisations' status pages: a status link is not an
// answer, and no answer link opens a status page.
const statusPurpose = "status-page"

// StatusURL is the address of the status page of link l's organisation (the notice it came
// with names the campaign and the organisation), valid until expires.
func (ls Links) StatusURL(l Link, expires time.Time) string {
	b, _ := json.Marshal(l)
	return strings.TrimRight(ls.Base, "/") + "/status/" + url.PathEscape(ls.Keys.Sign(statusPurpose, b, expires))
}

// ReadStatus checks a status page's token and returns its link: ErrInvalid or ErrExpired
// (wrapped) when it is not good.
func (ls Links) ReadStatus(token string, now time.Time) (Link, error) {
	return ls.read(statusPurpose, token, now)
}

// read verifies a token made for purpose and reads the link it carries (a notice's ids).
func (ls Links) read(purpose, token string, now time.Time) (Link, error) {
	b, _, err := ls.Keys.Verify(purpose, token, now)
	switch {
	case errors.Is(err, signing.ErrExpired):
		return Link{}, ErrExpired
	case err != nil:
		return Link{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var l Link
	if err := json.Unmarshal(b, &l); err != nil || l.Campaign == "" || l.Org == "" || l.Stage == "" {
		return Link{}, fmt.Errorf("%w: no notice in it", ErrInvalid)
	}
	return l, nil
}

// RateKey is what the answer pages' rate limit counts requests on for a verified link and
// purpose: the notice and the answer, so every spelling of its token shares one count.
func (l Link) RateKey(p Purpose) string {
	return strings.Join([]string{string(p), l.Campaign, l.Org, l.Stage, strconv.FormatBool(l.Test)}, "\x00")
}

// ErrInvalid and ErrExpired are what a bad link is: not one of ours (tampered with, cut short,
// made for another purpose, signed by a key no longer on the ring), or one of ours past its
// campaign's retention.
var (
	ErrInvalid = errors.New("this link is not valid")
	ErrExpired = errors.New("this link has expired")
)

// Links makes and reads the links of notices.
type Links struct {
	// Keys sign and verify; Base is the public address of the answer pages (the API's, e.g.
	// https://abc.execute-api.eu-west-2.amazonaws.com).
	Keys *signing.Keyring
	Base string
}

// purposeOf is the signing purpose of a link: a token made for one answer never works for
// another.
func purposeOf(p Purpose) string { return "answer-link:" + string(p) }

// Token is the signed token of link l for purpose p, valid until expires (the campaign's
// retention: the records it leads to are kept that long).
func (ls Links) Token(p Purpose, l Link, expires time.Time) string {
	b, _ := json.Marshal(l)
	return ls.Keys.Sign(purposeOf(p), b, expires)
}

// URL is the address of link l's page for purpose p.
func (ls Links) URL(p Purpose, l Link, expires time.Time) string {
	return strings.TrimRight(ls.Base, "/") + "/answer/" + string(p) + "/" + url.PathEscape(ls.Token(p, l, expires))
}

// Read checks a token for purpose p and returns its link: ErrInvalid or ErrExpired (wrapped)
// when it is not good.
func (ls Links) Read(p Purpose, token string, now time.Time) (Link, error) {
	if !p.Valid() {
		return Link{}, fmt.Errorf("%w: no such answer %q", ErrInvalid, p)
	}
	return ls.read(purposeOf(p), token, now)
}

// For is the links of campaign c's notices, valid until its retention ends (test sends' links
// show their pages but record nothing).
func (ls Links) For(c *campaign.Campaign, test bool) func(ledger.Notice) notice.Links {
	exp := c.RetainUntil()
	return func(n ledger.Notice) notice.Links {
		l := Link{Campaign: n.Campaign, Org: n.Org, Stage: n.Stage, Test: test}
		return notice.Links{Fixed: ls.URL(Fixed, l, exp), NotOurs: ls.URL(NotOurs, l, exp), MoreTime: ls.URL(MoreTime, l, exp), Status: ls.StatusURL(l, exp)}
	}
}

// LocalBase is the answer pages' address on the local stack (sunset serve --local's), unless
// SUNSET_PUBLIC_URL says otherwise.
const LocalBase = "http://127.0.0.1:8080"
