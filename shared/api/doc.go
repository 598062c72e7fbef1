// Package api is the team's surface in a browser and for scripts: a JSON API under /api and a
// server-rendered console under /console, over the same shared/ packages the CLI calls. The API
// Lambda (functions/api, behind an API Gateway HTTP API) and `sunset serve --local` run the same
// http.Handler; lambda.go turns API Gateway's events into requests for it.
//
// Who may do what: a viewer reads everything; an operator also applies, pauses, resumes,
// cancels and extends campaigns and sends tests. /api trusts the claims of API Gateway's JWT
// authorizer (Microsoft Entra ID); the console signs people in against the same issuer itself
// (OpenID Connect, authorisation code with PKCE) and keeps who they are in a signed cookie,
// because a browser following links cannot send a bearer token. Every change is recorded with
// the signed-in person's name and subject.
package api
