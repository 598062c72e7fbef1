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

// sessionTTL is how long a console sign-in lasts: a working day.
const sessionTTL = 8 * time.Hour

// sessions keeps a signed-in person in a cookie: their identity, signed, for sessionTTL.
// HttpOnly and SameSite=Lax; in AWS also Secure and __Host- (no other host or path can set
// or read it). The local console runs on plain http, so its cookie cannot be Secure.
type sessions struct {
	keys   *signing.Keyring
	secure bool
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
	exp := s.clock().Add(sessionTTL)
	// Max-Age, not Expires: the browser's clock decides nothing (a replay's console runs on a
	// clock of its own); the token inside carries its expiry, checked on every request.
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: s.keys.Sign(purposeSession, b, exp), Path: "/",
		MaxAge: int(sessionTTL.Seconds()), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// clear ends the session.
func (s sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// get is the identity of the request's session cookie, and the cookie's value (what its CSRF
// token is bound to); false when there is none, or it does not verify, or it has expired.
func (s sessions) get(r *http.Request) (Identity, string, bool) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return Identity{}, "", false
	}
	b, _, err := s.keys.Verify(purposeSession, c.Value, s.clock())
	if err != nil {
		return Identity{}, "", false
	}
	var id Identity
	if json.Unmarshal(b, &id) != nil || id.Subject == "" {
		return Identity{}, "", false
	}
	return id, c.Value, true
}

// csrf is the token every console form carries, bound to what identifies the session: a form
// made for one session is refused in another, and a page on another site cannot know it.
func (s sessions) csrf(binding string) string { return s.keys.MAC(purposeCSRF, []byte(binding)) }

func (s sessions) csrfOK(binding, token string) bool {
	return token != "" && s.keys.EqualMAC(purposeCSRF, []byte(binding), token)
}
