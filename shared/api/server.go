package api

import (
	"crypto/subtle"
	"github.com/nhsmail-sunset/sunset/shared/untrusted"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/signing"
	"github.com/nhsmail-sunset/sunset/shared/store"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Options is what a Server is built from.
type Options struct {
	// DB and Table are the Sunset table.
	DB    store.Table
	Table string
	// SES sends the operators' test sends (and nothing else), through ConfigurationSet.
	SES              sender.SES
	ConfigurationSet string
	Clock            func() time.Time
	// Keys sign the console's cookies and form tokens.
	Keys *signing.Keyring
	// RolesClaim names the token claim that holds the roles (default "roles").
	RolesClaim string
	// OIDC signs people in to the console (AWS). Local is the local console's sign-in instead.
	OIDC  *OIDC
	Local *Local
	// Logger gets one line per failed request (the detail; the response has a request id).
	Logger *slog.Logger
	// PublicURL is this API's public address, which notices' answer links lead to (the
	// sender's SUNSET_PUBLIC_URL): the console renders emails as sent with the same links.
	// Empty: the address each request came to.
	PublicURL string
	// SenderIdentity is the SES identity the stack sends as (a domain, or one address): a
	// campaign file whose sender.from is outside it is refused at validate and apply, and a
	// test send of a campaign outside it is refused. Empty: not checked.
	SenderIdentity string
	// Resend sends a failed notice again, on record (the console's "Send it again"): in AWS,
	// QueueResend. Nil: on the local console it is released and sent in-process; elsewhere the
	// console does not offer it (sunset reconcile --failed --resend does).
	Resend func(ctx context.Context, n ledger.Notice, by, reason string) error
	// EdgeSecret, when set, is the value CloudFront adds to every request it passes on
	// (header X-Sunset-Edge; the template's EdgeWebAclArn option): a request without it went
	// round the edge's per-source rate limits, straight to API Gateway, and is refused.
	EdgeSecret string
	// TestRecipients are where test sends may go besides each campaign's own addresses
	// (sender.TestRecipients; SUNSET_TEST_RECIPIENTS).
	TestRecipients []string
	// Stage holds the findings committed but not merged yet, which every page reads too (nil:
	// none are, as in tests that ingest nothing).
	Stage findings.Stage
}

// Local is the local console's sign-in (sunset serve --local): a form where you say who you
// are and which role you have. Default, when set, is who a request without a session is.
type Local struct {
	Default *Identity
}

// Server is the API and the console.
type Server struct {
	opt         Options
	campaigns   *campaign.Store
	planner     *planner.Planner
	findings    *findings.Reader
	ledger      *ledger.Ledger
	progress    *progress.Store
	answers     *answers.Store
	suppression *suppression.List
	sessions    sessions
	pages       map[string]*template.Template
	mux         *http.ServeMux
	crossOrigin *http.CrossOriginProtection
}

// New builds the server. Exactly one of opt.OIDC and opt.Local says how the console signs
// people in.
func New(opt Options) (*Server, error) {
	if (opt.OIDC == nil) == (opt.Local == nil) {
		return nil, errors.New("api: set exactly one of OIDC (AWS) and Local (sunset serve --local)")
	}
	if opt.Keys == nil {
		return nil, errors.New("api: no signing keys")
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.RolesClaim == "" {
		opt.RolesClaim = "roles"
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opt:         opt,
		campaigns:   campaign.NewStore(opt.DB, opt.Table, opt.Clock),
		planner:     planner.New(opt.DB, opt.Table, opt.Stage, opt.Clock),
		findings:    findings.NewReader(opt.DB, opt.Table, opt.Stage),
		ledger:      ledger.New(opt.DB, opt.Table, opt.Clock),
		progress:    progress.NewStore(opt.DB, opt.Table),
		answers:     answers.NewStore(opt.DB, opt.Table, opt.Clock),
		suppression: suppression.New(opt.DB, opt.Table, opt.Clock),
		sessions:    sessions{keys: opt.Keys, secure: opt.Local == nil, ttl: sessionTTL, clock: opt.Clock},
		pages:       pages,
		mux:         http.NewServeMux(),
		crossOrigin: http.NewCrossOriginProtection(),
	}
	if opt.Local != nil {
		s.sessions.ttl = localSessionTTL
	}
	s.routes()
	return s, nil
}

// EdgeHeader is the header CloudFront adds with the edge secret (Options.EdgeSecret).
const EdgeHeader = "X-Sunset-Edge"

// escaped is a response whose body goes through untrusted.Writer: names, accounts, user agents
// and notes from outside reach no page, JSON, CSV or chart with a control, bidi or invisible
// character as itself (in JSON the escape is the same value).
type escaped struct {
	http.ResponseWriter
	body *untrusted.Writer
}

func (e escaped) Write(p []byte) (int, error) { return e.body.Write(p) }

// ServeHTTP answers one request. Every response says not to be cached or framed, and its body
// is escaped (escaped).
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := escaped{ResponseWriter: rw, body: untrusted.NewWriter(rw)}
	defer w.body.Flush()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
	if s.opt.EdgeSecret != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get(EdgeHeader)), []byte(s.opt.EdgeSecret)) != 1 {
		http.Error(w, "Use this service's public address (its CloudFront distribution), not the API's own.", http.StatusForbidden)
		return
	}
	if s.opt.Local != nil {
		if status, msg := s.localRefusal(r); status != 0 {
			http.Error(w, msg, status)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// links are the answer links of notices, as the sender makes them: to PublicURL, or to the
// address this request came to.
func (s *Server) links(r *http.Request) answers.Links {
	return answers.Links{Keys: s.opt.Keys, Base: cmpOr(s.opt.PublicURL, s.baseURL(r))}
}

// sender is a sender for one request's test send, with that request's links.
func (s *Server) sender(r *http.Request) *sender.Sender {
	links := s.links(r)
	return sender.New(s.opt.SES, s.ledger, s.campaigns, s.suppression, s.opt.Clock, sender.Options{
		ConfigurationSet: s.opt.ConfigurationSet, Identity: s.opt.SenderIdentity, Logger: s.opt.Logger, Links: &links, TestRecipients: s.opt.TestRecipients})
}

// claimsKey is where the Lambda adapter puts the JWT authorizer's claims.
type claimsKey struct{}

// WithClaims is ctx carrying the claims API Gateway's JWT authorizer validated.
func WithClaims(ctx context.Context, claims map[string]string) context.Context {
	return context.WithValue(ctx, claimsKey{}, claims)
}

// apiIdentity is who an /api request is: the authorizer's claims, or on the local console the
// local default identity. /api never reads the console's cookie, so a page on another site
// cannot make a browser call it.
func (s *Server) apiIdentity(r *http.Request) (Identity, bool) {
	if claims, ok := r.Context().Value(claimsKey{}).(map[string]string); ok {
		return IdentityFromClaims(claims, s.opt.RolesClaim)
	}
	if s.opt.Local != nil && s.opt.Local.Default != nil && !crossSite(r) {
		return *s.opt.Local.Default, true
	}
	return Identity{}, false
}

// pageIdentity is who a console request is, and what its forms' CSRF token is bound to;
// recheck is true for a session due to be checked with the issuer again.
func (s *Server) pageIdentity(r *http.Request) (id Identity, binding string, recheck, ok bool) {
	if id, cookie, exp, ok := s.sessions.get(r); ok {
		return id, cookie, s.sessions.due(exp), true
	}
	if s.opt.Local != nil && s.opt.Local.Default != nil && !crossSite(r) {
		b, _ := json.Marshal(s.opt.Local.Default)
		return *s.opt.Local.Default, "local:" + string(b), false, true
	}
	return Identity{}, "", false, false
}

// apiFunc answers an /api request for a known identity; it returns the value to send as JSON
// (nil: it wrote the response itself) or an error.
type apiFunc func(w http.ResponseWriter, r *http.Request, id Identity) (any, error)

// api wraps an /api handler: 401 without an identity, 403 without the role, the result as JSON,
// errors as JSON with a status that says whose mistake it was.
func (s *Server) api(role Role, fn apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.apiIdentity(r)
		if !ok {
			s.jsonError(w, r, &httpError{status: http.StatusUnauthorized, msg: "sign-in required: send a bearer token from the issuer"})
			return
		}
		if !id.Can(role) {
			s.jsonError(w, r, &httpError{status: http.StatusForbidden, msg: "your roles do not allow this: it needs the " + string(role) + " role"})
			return
		}
		v, err := fn(w, r, id)
		if err != nil {
			s.jsonError(w, r, err)
			return
		}
		if v != nil {
			writeJSON(w, http.StatusOK, v)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// httpError is an error with the status and message a caller may see.
type httpError struct {
	status   int
	msg      string
	problems []Problem
	err      error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.err }

// Problem is one mistake in a campaign file: where it is and what is wrong.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"`
}

// classify turns an error of the shared packages into what the caller is told: a campaign
// file's mistakes (400, each with its file, line and key), an unknown campaign or notice (404),
// a refused change (409), a race (409); anything else is ours (500, no detail but a request id).
func classify(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var ve *campaign.ValidationError
	switch {
	case errors.As(err, &ve):
		return &httpError{status: http.StatusBadRequest, msg: "the campaign file has mistakes", problems: problems(err), err: err}
	case errors.Is(err, campaign.ErrNotFound), errors.Is(err, ledger.ErrNotFound):
		return &httpError{status: http.StatusNotFound, msg: userMessage(err), err: err}
	case errors.Is(err, planner.ErrNothingToRender):
		return &httpError{status: http.StatusNotFound, msg: userMessage(err), err: err}
	case errors.Is(err, campaign.ErrRefused), errors.Is(err, campaign.ErrConflict):
		return &httpError{status: http.StatusConflict, msg: userMessage(err), err: err}
	}
	return &httpError{status: http.StatusInternalServerError, msg: "something went wrong on our side", err: err}
}

// userMessage is an error of the shared packages as a sentence for the caller.
func userMessage(err error) string {
	s := err.Error()
	return strings.ToUpper(s[:1]) + s[1:]
}

// problems lists every *campaign.ValidationError in err (errors.Join or one).
func problems(err error) []Problem {
	var out []Problem
	var walk func(error)
	walk = func(e error) {
		if ve, ok := e.(*campaign.ValidationError); ok {
			out = append(out, Problem{File: ve.File, Line: ve.Line, Key: ve.Key, Message: ve.Message, Text: ve.Error()})
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if u := errors.Unwrap(e); u != nil {
			walk(u)
		}
	}
	walk(err)
	return out
}

func requestID(r *http.Request) string {
	if v := r.Header.Get("X-Request-Id"); v != "" {
		return v
	}
	return "local"
}

// jsonError answers with {"error", "problems", "request_id"}; a failure of ours is logged with
// its detail and told as a request id.
func (s *Server) jsonError(w http.ResponseWriter, r *http.Request, err error) {
	he := classify(err)
	if he.status >= 500 {
		s.opt.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", requestID(r), "error", err)
	}
	body := map[string]any{"error": he.msg, "request_id": requestID(r)}
	if len(he.problems) > 0 {
		body["problems"] = he.problems
	}
	writeJSON(w, he.status, body)
}

// signInURL is where a browser without a session goes, to come back to next.
func signInURL(next string) string { return "/auth/signin?next=" + url.QueryEscape(next) }

// localPath keeps next to a path of the console, so a sign-in cannot send anyone elsewhere.
func localPath(next string) string {
	if strings.HasPrefix(next, "/console/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/console/"
}

// baseURL is the scheme and host the browser used: the OIDC redirect comes back to it. Behind
// the edge (EdgeSecret, checked in ServeHTTP) it is the distribution's, which CloudFront passes
// as X-Forwarded-Host; elsewhere that header is nobody's word and is ignored.
func (s *Server) baseURL(r *http.Request) string {
	if h := r.Header.Get("X-Forwarded-Host"); s.opt.EdgeSecret != "" && h != "" && !strings.ContainsAny(h, "/\\@ ") {
		return "https://" + h
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s", scheme, r.Host)
}
