// Package notice turns a ledger.Notice into the email an organisation receives: subject, HTML,
// plain text, the CSV of every affected account (always attached) and the complete MIME message
// (.eml) that `sunset preview` writes.
//
// Templates come in sets, one pair of files per stage (<stage>.html.tmpl defines "body";
// <stage>.txt.tmpl defines "subject" and "body") inside a layout (layout.html.tmpl,
// layout.txt.tmpl). Two sets are built in and embedded: hostname-retirement and byo-mx. A
// campaign's `templates` key names a built-in set or a folder of its own; a file missing from
// the folder is taken from the built-in set. A stage with no template of its own uses
// "retired" once the deadline has passed and "reminder" before it.
//
// Every value reaches HTML through html/template. Subjects and header values are cleaned of
// CR, LF and every other control character before they are used, so an organisation name
// cannot inject a header.
package notice
