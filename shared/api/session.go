package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// Purposes of the tokens and MACs the console makes (signing.Keyring): a token of one purpose
// never verifies as another.
const (
	purposeSession = "console-session"
	purposeSignIn  = "console-signin"
	purposeCSRF    = "console-csrf"
)

// How long a console sign-in lasts. In AWS a session is short and checked again with the
// issuer: a page opened in its last recheckBefore goes back through the issuer's sign-in (with
// Entra ID's own session that takes a redirect, no typing), which reads the roles afresh; so
// signing out, or a role removed in Entra ID, takes effect within sessionTTL (a copied cookie
// too), and a form posted after it asks to sign in again. The local console's sign-in is a form
// with nothing to check against: a working day.
const (
	sessionTTL      = 15 * time.Minute
	recheckBefore   = 5 * time.Minute
	localSessionTTL = 8 * time.Hour
)

// sessions keeps a signed-in person in a cookie: their identity, signed, for its ttl.
// HttpOnly and SameSite=Lax; in AWS also Secure and __Host- (no other host or path can set
// or read it). The local console runs on plain http, so its cookie cannot be Secure.
type sessions struct {
	keys   *signing.Keyring
	secure bool
	ttl    time.Duration
	clock  func() time.Time
}

func (s sessions) cookieName() string {
	if s.secure {
		return "__Host-sunset_session"
	}
	return "sunset_session"
}

// set signs id into the session cookie.
func (s sessions) set(w http.ResponseWriter, id Identity) {
	b, _ := json.Marshal(id)
	exp := s.clock().Add(s.ttl)
	// Max-Age, not Expires: the browser's clock decides nothing (a replay's console runs on a
	// clock of its own); the token inside carries its expiry, checked on every request.
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: s.keys.Sign(purposeSession, b, exp), Path: "/",
		MaxAge: int(s.ttl.Seconds()), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// clear ends the session.
func (s sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// get is the identity of the request's session cookie, the cookie's value (what its CSRF
// token is bound to) and when it expires; false when there is none, or it does not verify, or
// it has expired.
func (s sessions) get(r *http.Request) (Identity, string, time.Time, bool) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return Identity{}, "", time.Time{}, false
	}
	b, exp, err := s.keys.Verify(purposeSession, c.Value, s.clock())
	if err != nil {
		return Identity{}, "", time.Time{}, false
	}
	var id Identity
	if json.Unmarshal(b, &id) != nil || id.Subject == "" {
		return Identity{}, "", time.Time{}, false
	}
	return id, c.Value, exp, true
}

// due reports whether a session that expires at exp should be checked with the issuer again
// before a page is shown (in AWS; the local console has no issuer).
func (s sessions) due(exp time.Time) bool {
	return s.secure && exp.Sub(s.clock()) < recheckBefore
}

// csrf is the token every console form carries, bound to what identifies the session: a form
// made for one session is refused in another, and a page on another site cannot know it.
func (s sessions) csrf(binding string) string { return s.keys.MAC(purposeCSRF, []byte(binding)) }

func (s sessions) csrfOK(binding, token string) bool {
	return token != "" && s.keys.EqualMAC(purposeCSRF, []byte(binding), token)
}
