// Package signing makes and checks Sunset's own tokens: short opaque strings, each an
// HMAC-SHA256 over a purpose, an expiry and a small payload, under a keyring whose first key
// signs and whose every key verifies (so a key can be rotated without breaking the tokens in
// flight). The console's session and sign-in cookies and its forms' CSRF tokens use it; so do
// the links in every notice. The keys come from one SSM SecureString parameter in AWS and from
// a file under infra/local/.run/ on the local stack.
package signing
