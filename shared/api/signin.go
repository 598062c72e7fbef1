package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// signInTTL is how long a browser may take at the issuer's sign-in page.
const signInTTL = 10 * time.Minute

func (s *Server) signInCookie() string {
	if s.sessions.secure {
		return "__Host-sunset_signin"
	}
	return "sunset_signin"
}

// signIn starts a sign-in: on the local console a form (who you are, which role); in AWS a
// redirect to the issuer, remembering the state, nonce and PKCE verifier in a signed cookie.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	v := &view{Local: s.opt.Local != nil, Title: "Sign in"}
	if s.opt.Local != nil {
		// The form's token is bound to a fresh random cookie of this browser, so a page on
		// another site cannot sign the browser in as someone of its choosing (login CSRF).
		nonce := randomString()
		http.SetCookie(w, &http.Cookie{Name: s.signInCookie(), Value: nonce, Path: "/", MaxAge: int(signInTTL.Seconds()),
			HttpOnly: true, Secure: s.sessions.secure, SameSite: http.SameSiteStrictMode})
		v.CSRF = s.sessions.csrf("signin:" + nonce)
		v.Data = struct{ Next string }{next}
		if err := s.show(w, http.StatusOK, v, "signin"); err != nil {
			s.errorPage(w, r, v, err)
		}
		return
	}
	si, u, err := s.opt.OIDC.start(r.Context(), s.callbackURL(r), next)
	if err != nil {
		s.errorPage(w, r, v, err)
		return
	}
	b, _ := json.Marshal(si)
	exp := s.opt.Clock().Add(signInTTL)
	http.SetCookie(w, &http.Cookie{Name: s.signInCookie(), Value: s.opt.Keys.Sign(purposeSignIn, b, exp), Path: "/", MaxAge: int(signInTTL.Seconds()),
		HttpOnly: true, Secure: s.sessions.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, u, http.StatusFound)
}

// callbackURL is where the issuer sends a browser back: the public address when there is one
// (behind CloudFront the function sees API Gateway's own host), else the one the browser used.
func (s *Server) callbackURL(r *http.Request) string {
	return strings.TrimRight(cmpOr(s.opt.PublicURL, s.baseURL(r)), "/") + "/auth/callback"
}

// callback finishes a sign-in: the state must match the one this browser started with.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "Sign-in failed"}
	fail := func(msg string, err error) {
		if err != nil {
			s.opt.Logger.Warn("sign-in failed", "error", err)
		}
		s.errorPage(w, r, v, &httpError{status: http.StatusUnauthorized, msg: msg + " Start again from the console.", err: err})
	}
	if s.opt.OIDC == nil {
		fail("This console signs in locally.", nil)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		fail("The sign-in service said no ("+e+").", nil)
		return
	}
	c, err := r.Cookie(s.signInCookie())
	if err != nil {
		fail("This sign-in did not start here, or took too long.", nil)
		return
	}
	b, _, err := s.opt.Keys.Verify(purposeSignIn, c.Value, s.opt.Clock())
	var si signIn
	if err != nil || json.Unmarshal(b, &si) != nil || si.State == "" || q.Get("state") != si.State {
		fail("This sign-in did not start here, or took too long.", err)
		return
	}
	id, err := s.opt.OIDC.finish(r.Context(), si, q.Get("code"), s.callbackURL(r), s.opt.Clock())
	if err != nil {
		if errors.Is(err, errSignIn) {
			fail("The sign-in could not be checked.", err)
			return
		}
		s.errorPage(w, r, v, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.signInCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.sessions.secure, SameSite: http.SameSiteLaxMode})
	s.sessions.set(w, id)
	http.Redirect(w, r, localPath(si.Next), http.StatusSeeOther)
}

// localSignIn is the local console's sign-in form: say who you are and which role you have.
// There is no such thing in AWS.
func (s *Server) localSignIn(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "Sign in", Local: s.opt.Local != nil}
	if s.opt.Local == nil {
		s.errorPage(w, r, v, &httpError{status: http.StatusNotFound, msg: "There is no such page."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	c, err := r.Cookie(s.signInCookie())
	if err != nil || c.Value == "" || !s.sessions.csrfOK("signin:"+c.Value, r.PostFormValue("csrf")) {
		s.errorPage(w, r, v, &httpError{status: http.StatusForbidden, msg: "This sign-in form has expired or did not come from this console. Open the sign-in page again."})
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	role := Role(r.PostFormValue("role"))
	if name == "" || len(name) > 100 || (role != Viewer && role != Operator) {
		s.errorPage(w, r, v, &httpError{status: http.StatusBadRequest, msg: "Enter a name (up to 100 characters) and choose a role."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.signInCookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.sessions.secure, SameSite: http.SameSiteStrictMode})
	s.sessions.set(w, Identity{Subject: "local:" + name, Name: name, Roles: []Role{role}})
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// signOut ends the session (its form token checked, so another site cannot sign you out).
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "Signed out", Local: s.opt.Local != nil}
	_, binding, _, _ := s.pageIdentity(r)
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if !s.sessions.csrfOK(binding, r.PostFormValue("csrf")) {
		s.errorPage(w, r, v, &httpError{status: http.StatusForbidden, msg: "This form has expired. Reload the page and try again."})
		return
	}
	s.sessions.clear(w)
	if err := s.show(w, http.StatusOK, v, "signedout"); err != nil {
		s.errorPage(w, r, v, err)
	}
}

func readFull(r io.Reader, b []byte) (int, error) { return io.ReadFull(r, b) }

func isNotFound(err error) bool {
	return errors.Is(err, campaign.ErrNotFound) || errors.Is(err, ledger.ErrNotFound)
}
