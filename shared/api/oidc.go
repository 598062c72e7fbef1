package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC signs people in to the console against an OpenID Connect issuer (Microsoft Entra ID)
// with github.com/coreos/go-oidc/v3 and golang.org/x/oauth2: discovery, the authorisation code
// flow with PKCE (S256), a state and a nonce, the code exchanged by this function with its
// client secret, and the ID token verified in full: its signature against the issuer's JWKS
// (only the algorithms the issuer advertises; never "none"), issuer, audience, expiry and
// nonce. API requests do not come this way: API Gateway's JWT authorizer validates their tokens
// before the function runs.
type OIDC struct {
	// Issuer is the issuer URL (https://login.microsoftonline.com/<tenant>/v2.0 for Entra ID).
	Issuer string
	// ClientID is the console's application (client) id: the audience of its ID tokens.
	ClientID string
	// ClientSecret returns the application's client secret (read from SSM in AWS).
	ClientSecret func(ctx context.Context) (string, error)
	// RolesClaim names the claim holding the roles.
	RolesClaim string
	// HTTP makes the discovery, JWKS and token requests (default: a client with a 10 s timeout).
	HTTP *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

func (o *OIDC) client() *http.Client {
	if o.HTTP != nil {
		return o.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// issuer reads the issuer's discovery document once per process (a failure is tried again
// on the next sign-in); its keys are fetched, and refetched on an unknown key id, by go-oidc.
func (o *OIDC) issuer(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	// The provider keeps the context's client for its JWKS requests, for the process's life.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), o.client())
	p, err := oidc.NewProvider(pctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("read the issuer's OpenID configuration: %w", err)
	}
	e := p.Endpoint()
	for _, u := range []string{e.AuthURL, e.TokenURL} {
		if err := secureURL(u); err != nil {
			return nil, err
		}
	}
	o.provider = p
	return p, nil
}

// config is the OAuth 2.0 client: the client secret is sent in the form (client_secret_post),
// as Entra ID takes it.
func (o *OIDC) config(p *oidc.Provider, redirectURI, secret string) *oauth2.Config {
	e := p.Endpoint()
	e.AuthStyle = oauth2.AuthStyleInParams
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: secret, Endpoint: e, RedirectURL: redirectURI,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
}

// secureURL refuses an endpoint that is not https, but for a loopback address (tests).
func secureURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("issuer endpoint %q is not a URL", s)
	}
	if u.Scheme == "https" {
		return nil
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && (u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil
	}
	return fmt.Errorf("issuer endpoint %q is not https", s)
}

// signIn is what the console keeps between sending a person to the issuer and their return.
type signIn struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
}

// randomString is 32 random bytes, base64url: oauth2's verifier generator, used for states,
// nonces and form bindings too.
func randomString() string { return oauth2.GenerateVerifier() }

// start makes a sign-in and the URL to send the browser to.
func (o *OIDC) start(ctx context.Context, redirectURI, next string) (signIn, string, error) {
	p, err := o.issuer(ctx)
	if err != nil {
		return signIn{}, "", err
	}
	si := signIn{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: next}
	u := o.config(p, redirectURI, "").AuthCodeURL(si.State, oauth2.S256ChallengeOption(si.Verifier), oidc.Nonce(si.Nonce),
		oauth2.SetAuthURLParam("response_mode", "query"))
	return si, u, nil
}

// errSignIn is a sign-in that did not succeed for a reason the person can be told.
var errSignIn = errors.New("sign-in failed")

// finish exchanges the code of a returning browser for its ID token, verifies it and reads who
// it is.
func (o *OIDC) finish(ctx context.Context, si signIn, code, redirectURI string, now time.Time) (Identity, error) {
	p, err := o.issuer(ctx)
	if err != nil {
		return Identity{}, err
	}
	secret, err := o.ClientSecret(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("read the console's client secret: %w", err)
	}
	tok, err := o.config(p, redirectURI, secret).Exchange(context.WithValue(ctx, oauth2.HTTPClient, o.client()), code, oauth2.VerifierOption(si.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: the issuer refused the code: %w", errSignIn, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, fmt.Errorf("%w: the issuer sent no ID token", errSignIn)
	}
	claims, err := o.verify(ctx, p, raw, si.Nonce, now)
	if err != nil {
		return Identity{}, err
	}
	id, ok := IdentityFromClaims(claims, o.RolesClaim)
	if !ok {
		return Identity{}, fmt.Errorf("%w: the ID token has no subject", errSignIn)
	}
	return id, nil
}

// verify checks an ID token (signature, issuer, audience, expiry with go-oidc; the nonce here)
// and returns its claims as API Gateway passes them: strings, arrays as JSON.
func (o *OIDC) verify(ctx context.Context, p *oidc.Provider, raw, nonce string, now time.Time) (map[string]string, error) {
	v := p.Verifier(&oidc.Config{ClientID: o.ClientID, Now: func() time.Time { return now }})
	t, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSignIn, err)
	}
	if t.Nonce != nonce {
		return nil, fmt.Errorf("%w: the ID token's nonce does not match this sign-in", errSignIn)
	}
	var c map[string]any
	if err := t.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: the ID token's claims: %w", errSignIn, err)
	}
	out := map[string]string{}
	for k, v := range c {
		switch v := v.(type) {
		case string:
			out[k] = v
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
