package signing

import (
	"bytes"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, MinKeyBytes) }

func TestTokens(t *testing.T) {
	now := time.Date(2021, 8, 17, 9, 0, 0, 0, time.UTC)
	old, _ := NewKeyring(key(1))
	rotated, _ := NewKeyring(key(2), key(1)) // new key signs, the old one still verifies
	dropped, _ := NewKeyring(key(2))
	tok := old.Sign("link:fixed", []byte(`{"c":"legacy","o":"A1"}`), now.Add(time.Hour))
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for _, tc := range []struct {
		name    string
		ring    *Keyring
		purpose string
		token   string
		at      time.Time
		want    error
	}{
		{"round trip", old, "link:fixed", tok, now, nil},
		{"rotated key verifies the old key's token", rotated, "link:fixed", tok, now, nil},
		{"a key taken off the ring", dropped, "link:fixed", tok, now, ErrBadSignature},
		{"wrong purpose", old, "link:not-ours", tok, now, ErrBadSignature},
		{"expired", old, "link:fixed", tok, now.Add(time.Hour), ErrExpired},
		{"tampered payload byte", old, "link:fixed", flip(tok, 20), now, ErrBadSignature},
		{"tampered signature byte", old, "link:fixed", flip(tok, len(tok)-3), now, ErrBadSignature},
		{"cut short", old, "link:fixed", tok[:10], now, ErrMalformed},
		{"no dot", old, "link:fixed", strings.ReplaceAll(tok, ".", ""), now, ErrMalformed},
		{"not base64", old, "link:fixed", "%%%." + strings.Repeat("a", 43), now, ErrMalformed},
		{"empty", old, "link:fixed", "", now, ErrMalformed},
		{"huge", old, "link:fixed", strings.Repeat("a", 5000) + ".b", now, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := tc.ring.Verify(tc.purpose, tc.token, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if tc.want == nil && string(p) != `{"c":"legacy","o":"A1"}` {
				t.Errorf("payload %q", p)
			}
		})
	}
	if n := rotated.Sign("x", nil, now.Add(time.Minute)); func() error { _, _, err := old.Verify("x", n, now); return err }() == nil {
		t.Error("a token of the new key verified on a ring without it")
	}
}

// respellings are other spellings of a token that Go's base64 decoder reads as the same bytes:
// CR or LF anywhere, and the unused low bits of each part's last character set.
func respellings(tok string) []string {
	body, sig, _ := strings.Cut(tok, ".")
	out := []string{tok[:5] + "\r\n" + tok[5:], tok[:len(body)+3] + "\n" + tok[len(body)+3:], tok + "\r"}
	for _, part := range []struct{ pre, s, post string }{{"", body, "." + sig}, {body + ".", sig, ""}} {
		if len(part.s)%4 == 0 {
			continue // no unused bits
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, part.s[len(part.s)-1])
		for _, alt := range []int{last | 1, last | 3, last | 15} {
			if alt != last && alt < 64 {
				out = append(out, part.pre+part.s[:len(part.s)-1]+string(alphabet[alt])+part.post)
			}
		}
	}
	return out
}

// A token has one spelling: the others a lenient decoder would read as the same bytes are
// malformed, for tokens and MACs alike.
func TestOneSpelling(t *testing.T) {
	now := time.Date(2021, 8, 17, 9, 0, 0, 0, time.UTC)
	k, _ := NewKeyring(key(1))
	for _, payload := range []string{"", "a", "ab", `{"c":"legacy","o":"A1","s":"advance"}`} {
		tok := k.Sign("p", []byte(payload), now.Add(time.Hour))
		spellings := respellings(tok)
		if len(spellings) < 4 {
			t.Fatalf("only %d respellings of %q", len(spellings), tok)
		}
		for _, s := range spellings {
			if _, _, err := k.Verify("p", s, now); !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify(%q) = %v, want ErrMalformed", s, err)
			}
		}
	}
	m := k.MAC("csrf", []byte("session"))
	for _, s := range []string{m[:10] + "\n" + m[10:], m[:len(m)-1] + "B"} {
		if s != m && k.EqualMAC("csrf", []byte("session"), s) {
			t.Errorf("EqualMAC took %q for %q", s, m)
		}
	}
}

func TestMAC(t *testing.T) {
	old, _ := NewKeyring(key(1))
	rotated, _ := NewKeyring(key(2), key(1))
	m := old.MAC("csrf", []byte("session-1"))
	if !rotated.EqualMAC("csrf", []byte("session-1"), m) {
		t.Error("MAC of the previous key not accepted")
	}
	for _, tc := range []struct{ purpose, data, mac string }{
		{"csrf", "session-2", m}, {"other", "session-1", m}, {"csrf", "session-1", "not-base64!"}, {"csrf", "session-1", ""},
	} {
		if rotated.EqualMAC(tc.purpose, []byte(tc.data), tc.mac) {
			t.Errorf("EqualMAC(%q, %q, %q) = true", tc.purpose, tc.data, tc.mac)
		}
	}
}

func TestParseKeyring(t *testing.T) {
	a, b := base64.StdEncoding.EncodeToString(key(1)), base64.RawURLEncoding.EncodeToString(key(2))
	r, err := ParseKeyring(" " + a + ",\n" + b + "\n")
	if err != nil || len(r.keys) != 2 || !bytes.Equal(r.keys[0], key(1)) {
		t.Fatalf("ParseKeyring: %v %v", r, err)
	}
	for _, bad := range []string{"", "  ", "not base64 at all!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := ParseKeyring(bad); err == nil {
			t.Errorf("ParseKeyring(%q) accepted", bad)
		}
	}
}

func TestLocalKeyringIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "signing-keys")
	a, err := LocalKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LocalKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, _, err := b.Verify("p", a.Sign("p", nil, now.Add(time.Minute)), now); err != nil {
		t.Errorf("a token of the first start does not verify after a restart: %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	r, _ := NewKeyring(key(2), key(1))
	now := time.Now()
	tok := r.Sign("link:fixed", []byte(`{"c":"legacy-hostnames-2021","o":"RXA","s":"reminder"}`), now.Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Verify("link:fixed", tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
