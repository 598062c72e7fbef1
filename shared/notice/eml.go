package notice

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Header names that carry the notice's identity in the message (besides SES's email tags).
const (
	HeaderCampaign = "X-Sunset-Campaign"
	HeaderOrg      = "X-Sunset-Org"
	HeaderStage    = "X-Sunset-Stage"
	// HeaderMail names a merged email (ledger.MailKey.ID); its X-Sunset-Org is then empty.
	HeaderMail = "X-Sunset-Mail"
)

// EML is the complete MIME message: multipart/mixed of multipart/alternative (text, HTML) and
// the CSV attachment. It is exactly what `sunset preview` writes and what a mail client shows.
// It writes the message top to bottom, headers then parts, in one function so that the order
// on the wire is the order on the page.
func (e *Email) EML() ([]byte, error) {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	from, err := address(e.From)
	if err != nil {
		return nil, fmt.Errorf("build message: from: %w", err)
	}
	hdr("From", from)
	var to []string
	for _, a := range e.To {
		s, err := address(a)
		if err != nil {
			return nil, fmt.Errorf("build message: to: %w", err)
		}
		to = append(to, s)
	}
	hdr("To", strings.Join(to, ", "))
	if e.ReplyTo != "" {
		s, err := address(e.ReplyTo)
		if err != nil {
			return nil, fmt.Errorf("build message: reply-to: %w", err)
		}
		hdr("Reply-To", s)
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", Clean(e.Subject)))
	hdr("Date", e.Date.Format(time.RFC1123Z))
	hdr("MIME-Version", "1.0")
	hdr(HeaderCampaign, headerValue(e.Campaign))
	if e.Org != "" {
		hdr(HeaderOrg, headerValue(e.Org))
	}
	hdr(HeaderStage, headerValue(e.Stage))
	if e.Mail != "" {
		hdr(HeaderMail, headerValue(e.Mail))
	}

	// Boundaries are derived from the content so the same notice always renders the same bytes.
	sum := sha256.Sum256([]byte(e.SHA256()))
	outer := "mixed-" + hex.EncodeToString(sum[:12])
	inner := "alt-" + hex.EncodeToString(sum[12:24])
	hdr("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": outer}))
	b.WriteString("\r\n")

	mixed := multipart.NewWriter(&b)
	if err := mixed.SetBoundary(outer); err != nil {
		return nil, err
	}
	altHdr := textproto.MIMEHeader{}
	altHdr.Set("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": inner}))
	altPart, err := mixed.CreatePart(altHdr)
	if err != nil {
		return nil, err
	}
	alt := multipart.NewWriter(altPart)
	if err := alt.SetBoundary(inner); err != nil {
		return nil, err
	}
	for _, body := range []struct{ typ, content string }{
		{"text/plain; charset=utf-8", e.Text},
		{"text/html; charset=utf-8", e.HTML},
	} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", body.typ)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		w, err := alt.CreatePart(h)
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(strings.ReplaceAll(body.content, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", mime.FormatMediaType("text/csv", map[string]string{"charset": "utf-8", "name": e.CSVName}))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": e.CSVName}))
	h.Set("Content-Transfer-Encoding", "base64")
	w, err := mixed.CreatePart(h)
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(e.CSV)
	for len(enc) > 76 {
		fmt.Fprintf(w, "%s\r\n", enc[:76])
		enc = enc[76:]
	}
	fmt.Fprintf(w, "%s\r\n", enc)
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// address formats one address for a header. The display name (if any) is encoded by net/mail,
// which never lets CR or LF through.
func address(s string) (string, error) {
	a, err := mail.ParseAddress(Clean(s))
	if err != nil {
		return "", fmt.Errorf("address %q: %w", Clean(s), err)
	}
	return a.String(), nil
}

// headerValue is a value fit for an unstructured header: one clean line, encoded if not ASCII.
func headerValue(s string) string { return mime.QEncoding.Encode("utf-8", Clean(s)) }

// FormatAddress formats one address ("Name <a@b>" or "a@b") for a header or an SES address
// field: control characters removed, a non-ASCII display name encoded.
func FormatAddress(s string) (string, error) { return address(s) }
