package signing

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var (
	// ErrMalformed: not a token of ours (cut short, not base64, a wrong version).
	ErrMalformed = errors.New("malformed token")
	// ErrBadSignature: no key of the ring signed it for this purpose: tampered with, made for
	// another purpose, or signed by a key that is no longer on the ring.
	ErrBadSignature = errors.New("token signature does not verify")
	// ErrExpired: a genuine token past its expiry.
	ErrExpired = errors.New("token expired")
)

// MinKeyBytes is the shortest key accepted: 256 bits, the size of HMAC-SHA256's output.
const MinKeyBytes = 32

// Keyring signs with its first key and verifies with any of them.
type Keyring struct {
	keys [][]byte
}

// NewKeyring makes a keyring; keys[0] signs. Every key must be at least MinKeyBytes long.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("signing keyring: no key")
	}
	for i, k := range keys {
		if len(k) < MinKeyBytes {
			return nil, fmt.Errorf("signing keyring: key %d is %d bytes, want at least %d", i+1, len(k), MinKeyBytes)
		}
	}
	return &Keyring{keys: keys}, nil
}

// ParseKeyring reads keys written as base64 (standard or URL alphabet), separated by white
// space or commas, the signing key first: the form of the SSM parameter and the local file.
func ParseKeyring(text string) (*Keyring, error) {
	var keys [][]byte
	for i, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		k, err := decodeKey(f)
		if err != nil {
			return nil, fmt.Errorf("signing keyring: key %d is not base64", i+1)
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			return k, nil
		}
	}
	return nil, ErrMalformed
}

// NewKey is a fresh random key, base64.
func NewKey() string {
	k := make([]byte, MinKeyBytes)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.StdEncoding.EncodeToString(k)
}

// LocalKeyring reads the keyring kept in path, writing a new one-key ring there (mode 0600)
// when there is none: the local stack's keys, which outlive a restart so links stay valid.
func LocalKeyring(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		b = []byte(NewKey() + "\n")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return ParseKeyring(string(b))
}

const version = 1

// A token is base64url(body) "." base64url(mac): body is the version, the signing key's id,
// the expiry (Unix seconds) and the payload; mac is HMAC-SHA256 under that key of the purpose,
// a zero byte and body. The purpose is not in the token, so a token made for one purpose never
// verifies for another.

// Sign makes a token for purpose carrying payload, valid until expires.
func (k *Keyring) Sign(purpose string, payload []byte, expires time.Time) string {
	body := make([]byte, 0, 1+4+8+len(payload))
	body = append(body, version)
	body = append(body, keyID(k.keys[0])...)
	body = binary.BigEndian.AppendUint64(body, uint64(expires.Unix()))
	body = append(body, payload...)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac(k.keys[0], purpose, body))
}

// Verify checks a token made for purpose and returns its payload and expiry. A token that
// verifies but has expired returns ErrExpired with its payload, so a caller can say what it was.
func (k *Keyring) Verify(purpose, token string, now time.Time) (payload []byte, expires time.Time, err error) {
	b64body, b64mac, ok := strings.Cut(token, ".")
	if !ok || len(token) > 4096 {
		return nil, time.Time{}, ErrMalformed
	}
	body, err1 := decode(b64body)
	sig, err2 := decode(b64mac)
	if err1 != nil || err2 != nil || len(body) < 13 || body[0] != version || len(sig) != sha256.Size {
		return nil, time.Time{}, ErrMalformed
	}
	id := body[1:5]
	verified := false
	for _, key := range k.keys {
		if bytes.Equal(keyID(key), id) && hmac.Equal(sig, mac(key, purpose, body)) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, time.Time{}, ErrBadSignature
	}
	expires = time.Unix(int64(binary.BigEndian.Uint64(body[5:13])), 0)
	payload = body[13:]
	if !now.Before(expires) {
		return payload, expires, ErrExpired
	}
	return payload, expires, nil
}

// MAC is a keyed hash of data for purpose under the signing key: for values checked by
// recomputing them (a form's CSRF token from its session) rather than by carrying a payload.
// Check with Equal.
func (k *Keyring) MAC(purpose string, data []byte) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.keys[0], purpose, data))
}

// EqualMAC reports whether m is MAC(purpose, data) under any key of the ring, in constant time.
func (k *Keyring) EqualMAC(purpose string, data []byte, m string) bool {
	got, err := decode(m)
	if err != nil {
		return false
	}
	ok := false
	for _, key := range k.keys {
		ok = hmac.Equal(got, mac(key, purpose, data)) || ok
	}
	return ok
}

// decode reads base64url without padding, refusing every spelling but the one Sign writes: Go's
// decoder skips CR and LF and, unless strict, ignores the unused bits of the last character, so
// one token would otherwise have many spellings (each, for instance, its own rate count).
func decode(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawURLEncoding.EncodedLen(len(b)) != len(s) {
		return nil, ErrMalformed
	}
	return b, nil
}

func mac(key []byte, purpose string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

// keyID names a key in a token without revealing it: the first 4 bytes of its SHA-256.
func keyID(key []byte) []byte {
	sum := sha256.Sum256(key)
	return sum[:4]
}
