package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OIDC signs people in to the console against an OpenID Connect issuer (Microsoft Entra ID):
// the authorisation code flow with PKCE, a nonce and a state, the code exchanged by this
// function with its client secret. The ID token comes straight from the issuer's token endpoint
// over TLS, which OpenID Connect Core (3.1.3.7) accepts in place of checking its signature; its
// issuer, audience, expiry and nonce are checked. API requests do not come this way: API
// Gateway's JWT authorizer validates their tokens (signature included) before the function
// runs.
type OIDC struct {
	// Issuer is the issuer URL (https://login.microsoftonline.com/<tenant>/v2.0 for Entra ID).
	Issuer string
	// ClientID is the console's application (client) id: the audience of its ID tokens.
	ClientID string
	// ClientSecret returns the application's client secret (read from SSM in AWS).
	ClientSecret func(ctx context.Context) (string, error)
	// RolesClaim names the claim holding the roles.
	RolesClaim string
	// HTTP makes the discovery and token requests (default: a client with a 10 s timeout).
	HTTP *http.Client

	mu   sync.Mutex
	disc *discovery
}

type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

func (o *OIDC) client() *http.Client {
	if o.HTTP != nil {
		return o.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// endpoints reads the issuer's discovery document once per process.
func (o *OIDC) endpoints(ctx context.Context) (*discovery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.disc != nil {
		return o.disc, nil
	}
	u := strings.TrimRight(o.Issuer, "/") + "/.well-known/openid-configuration"
	var d discovery
	if err := o.getJSON(ctx, u, &d); err != nil {
		return nil, fmt.Errorf("read the issuer's OpenID configuration %s: %w", u, err)
	}
	for _, e := range []string{d.AuthorizationEndpoint, d.TokenEndpoint} {
		if err := secureURL(e); err != nil {
			return nil, err
		}
	}
	o.disc = &d
	return o.disc, nil
}

func (o *OIDC) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := o.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
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

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// start makes a sign-in and the URL to send the browser to.
func (o *OIDC) start(ctx context.Context, redirectURI, next string) (signIn, string, error) {
	d, err := o.endpoints(ctx)
	if err != nil {
		return signIn{}, "", err
	}
	si := signIn{State: randomString(), Nonce: randomString(), Verifier: randomString(), Next: next}
	challenge := sha256.Sum256([]byte(si.Verifier))
	q := url.Values{
		"client_id": {o.ClientID}, "response_type": {"code"}, "redirect_uri": {redirectURI}, "response_mode": {"query"},
		"scope": {"openid profile email"}, "state": {si.State}, "nonce": {si.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])}, "code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(d.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return si, d.AuthorizationEndpoint + sep + q.Encode(), nil
}

// errSignIn is a sign-in that did not succeed for a reason the person can be told.
var errSignIn = errors.New("sign-in failed")

// finish exchanges the code of a returning browser for its ID token and reads who it is.
func (o *OIDC) finish(ctx context.Context, si signIn, code, redirectURI string, now time.Time) (Identity, error) {
	d, err := o.endpoints(ctx)
	if err != nil {
		return Identity{}, err
	}
	secret, err := o.ClientSecret(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("read the console's client secret: %w", err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {o.ClientID}, "client_secret": {secret}, "code_verifier": {si.Verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Identity{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := o.client().Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("exchange the sign-in code: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.IDToken == "" {
		return Identity{}, fmt.Errorf("%w: the issuer refused the code (%s %s)", errSignIn, resp.Status, tok.Error)
	}
	claims, err := o.check(tok.IDToken, si.Nonce, d.Issuer, now)
	if err != nil {
		return Identity{}, err
	}
	id, ok := IdentityFromClaims(claims, o.RolesClaim)
	if !ok {
		return Identity{}, fmt.Errorf("%w: the ID token has no subject", errSignIn)
	}
	return id, nil
}

// check reads an ID token's claims and checks its issuer, audience, expiry and nonce. The
// claims come back as API Gateway passes them: strings, arrays as JSON.
func (o *OIDC) check(idToken, nonce, issuer string, now time.Time) (map[string]string, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: the ID token is not a JWT", errSignIn)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: the ID token is not a JWT", errSignIn)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: the ID token's claims are not JSON", errSignIn)
	}
	exp, _ := c["exp"].(float64)
	switch {
	case c["iss"] != strings.TrimRight(cmpOr(issuer, o.Issuer), "/") && c["iss"] != o.Issuer:
		return nil, fmt.Errorf("%w: the ID token's issuer is %v, not %s", errSignIn, c["iss"], o.Issuer)
	case !audienceHas(c["aud"], o.ClientID):
		return nil, fmt.Errorf("%w: the ID token is not for this application", errSignIn)
	case exp == 0 || now.After(time.Unix(int64(exp), 0).Add(2*time.Minute)):
		return nil, fmt.Errorf("%w: the ID token has expired", errSignIn)
	case c["nonce"] != nonce:
		return nil, fmt.Errorf("%w: the ID token's nonce does not match this sign-in", errSignIn)
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

func audienceHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		for _, x := range a {
			if x == id {
				return true
			}
		}
	}
	return false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
