package notice

import (
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/untrusted"
)

// This file renders a merged email (ledger.Mail): one email to one address covering the notices
// of several organisations due the same day, each in a section of its own that is that notice's
// email as it would have been sent alone (its accounts, deadline, what to change and its own
// answer and status links), after an opening that says how many organisations it covers.

// maxSubjectNames is how many organisations a merged email's subject names; it counts the rest.
const maxSubjectNames = 3

// RenderMerged renders the mail of address carrying notices (in the order given) as sent at now;
// a mail left with one notice (the others went otherwise) is that notice's own email.
// Its CSV is every notice's rows with the organisation's ODS code and name first.
func (r *Renderer) RenderMerged(k ledger.MailKey, address string, notices []ledger.Notice, now time.Time) (*Email, error) {
	if len(notices) == 0 {
		return nil, fmt.Errorf("render mail %s: no notices", k)
	}
	if len(notices) == 1 { // one organisation: its own email, to this address, named as the mail
		n := notices[0]
		n.Recipients = []string{address}
		e, err := r.Render(n, now)
		if err != nil {
			return nil, fmt.Errorf("render mail %s: %w", k, err)
		}
		e.Mail, e.Orgs = k.ID(), notices
		return e, nil
	}
	parts := make([]*Email, len(notices))
	for i, n := range notices {
		n.Recipients = []string{address}
		e, err := r.Render(n, now)
		if err != nil {
			return nil, fmt.Errorf("render mail %s: %w", k, err)
		}
		parts[i] = e
	}
	csvName := fmt.Sprintf("%s-%s-%d-organisations.csv", csvSafe(k.Campaign), k.Day, len(notices))
	for _, p := range parts { // each section names the one attachment the mail has
		p.Text = strings.ReplaceAll(p.Text, p.CSVName, csvName)
		p.HTML = strings.ReplaceAll(p.HTML, p.CSVName, csvName)
	}
	var names []string
	for _, n := range notices {
		names = append(names, orgLabel(n))
	}
	title := Clean(r.c.Title)
	count := strconv.Itoa(len(notices)) + " organisations"
	shown := names
	if len(shown) > maxSubjectNames {
		shown = append(append([]string{}, shown[:maxSubjectNames]...), fmt.Sprintf("%d more", len(names)-maxSubjectNames))
	}
	subject := fmt.Sprintf("%s: action needed at %s you look after (%s)", title, count, englishList(shown))
	intro := fmt.Sprintf("This email covers %s you look after: %s. We send you one email a day, so each organisation has a section of its own below: its accounts, its deadline, what to change, and its own links to answer.", count, englishList(names))

	var text strings.Builder
	text.WriteString(intro + "\n")
	for i, p := range parts {
		fmt.Fprintf(&text, "\n======== %d of %d: %s ========\n\n%s", i+1, len(parts), names[i], p.Text)
	}

	var html strings.Builder
	fmt.Fprintf(&html, `<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s: %s</title>
</head>
<body style="font-family: Arial, Helvetica, sans-serif; font-size: 16px; line-height: 1.5; color: #212b32; max-width: 60em; margin: 0 auto; padding: 1em; overflow-wrap: break-word;">
<h1 style="font-size: 1.5em;">%s: %s you look after</h1>
<p>%s</p>
<ul>
`, esc(title), esc(count), esc(title), esc(count), esc(intro))
	for i := range notices {
		fmt.Fprintf(&html, "<li><a href=\"#org-%d\">%s</a></li>\n", i+1, esc(names[i]))
	}
	html.WriteString("</ul>\n")
	for i, p := range parts {
		fmt.Fprintf(&html, "<section id=\"org-%d\" aria-labelledby=\"org-%d-title\" style=\"border-top: 4px solid #005eb8; margin-top: 2em;\">\n<h2 id=\"org-%d-title\">%d of %d: %s</h2>\n%s</section>\n",
			i+1, i+1, i+1, i+1, len(parts), esc(names[i]), demote(bodyOf(p.HTML)))
	}
	html.WriteString("</body>\n</html>\n")

	csvBytes, err := mergedCSV(notices, r.loc)
	if err != nil {
		return nil, fmt.Errorf("render CSV of mail %s: %w", k, err)
	}
	return &Email{
		From: parts[0].From, ReplyTo: parts[0].ReplyTo, To: parts[0].To,
		Subject: Clean(subject), HTML: untrusted.Escape(html.String()), Text: untrusted.Escape(tidyText(text.String())),
		CSVName: csvName,
		CSV:     []byte(untrusted.Escape(string(csvBytes))), Date: now, Campaign: k.Campaign, Stage: MergedStage, Mail: k.ID(),
		Template: parts[0].Template, Orgs: notices,
	}, nil
}

// MergedStage is the Stage of a merged email (its tags and headers name the mail, not a notice).
const MergedStage = "merged"

func orgLabel(n ledger.Notice) string {
	name := Clean(n.OrgName)
	if name == "" {
		return Clean(n.Org)
	}
	return name + " (" + Clean(n.Org) + ")"
}

func esc(s string) string { return htmltemplate.HTMLEscapeString(s) }

// bodyOf is what is inside a rendered email's <body>.
func bodyOf(html string) string {
	start := strings.Index(html, "<body")
	if start < 0 {
		return html
	}
	open := strings.Index(html[start:], ">")
	end := strings.LastIndex(html, "</body>")
	if open < 0 || end < start+open {
		return html[start:]
	}
	return html[start+open+1 : end]
}

// demote moves a section's headings two levels down (h1 → h3, h2 → h4, ...; h6 at most), under
// the section's own h2.
func demote(s string) string {
	var pairs []string
	for lvl := 1; lvl <= 5; lvl++ {
		to := min(lvl+2, 6)
		pairs = append(pairs, fmt.Sprintf("<h%d", lvl), fmt.Sprintf("<h%d", to), fmt.Sprintf("</h%d>", lvl), fmt.Sprintf("</h%d>", to))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// csvSafe keeps a file name to letters, digits, '-' and '_'.
func csvSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// mergedCSV is a merged email's attachment: each notice's rows (CSV's columns) after the
// organisation's ODS code and name.
func mergedCSV(notices []ledger.Notice, loc *time.Location) ([]byte, error) {
	header := append([]string{"ods_code", "organisation"}, CSVHeader...)
	return cleanCSV(header, func(row func(...string) error) error {
		for _, n := range notices {
			for _, rec := range accountRows(n.Accounts, loc) {
				if err := row(append([]string{n.Org, n.OrgName}, rec...)...); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
