package email

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Limits on what one message carries. SMTP sets none below the server's
// SIZE (commonly 10-35 MB); these keep an alert readable and far below it.
const (
	// maxSubjectTitleRunes keeps the subject on a screen: RFC 5322 §2.1.1
	// asks for lines of at most 78 characters, folded beyond.
	maxSubjectTitleRunes = 200
	maxDescriptionRunes  = 10000
	maxSourceRunes       = 500
	maxTags              = 50
	maxTagRunes          = 100
	maxDetails           = 100
	maxDetailKeyRunes    = 100
	maxDetailValueRunes  = 2000
)

// fallbackIDDomain names the Message-ID when the sender's domain is not a
// plain ASCII host name (an address literal, an internationalised domain).
// RFC 2606 reserves .invalid, so it can never collide with a real host.
const fallbackIDDomain = "codedefender.invalid"

// Headers that let a mail rule sort alerts without parsing the subject.
const (
	headerEventID = "X-CodeDefender-Event-ID"
	headerRisk    = "X-CodeDefender-Risk"
	headerType    = "X-CodeDefender-Event-Type"
	headerStatus  = "X-CodeDefender-Status"
)

// resolvedColor is the header colour of a resolved alert (GitHub's
// "success" green), whatever its risk.
const resolvedColor = "#1A7F37"

// replyPrefix keeps a resolved alert's subject in the open alert's thread:
// Gmail threads a message only under the same subject, "Re:" allowed, and
// when its References name a message of the thread
// (https://workspaceupdates.googleblog.com/2019/03/threading-changes-in-gmail-conversation-view.html).
const replyPrefix = "Re: "

// message renders e as a multipart/alternative go-mail message dated now,
// and returns it with its Message-ID (angle brackets included). A resolved
// event is a reply to the open event's mail: its own Message-ID, with
// In-Reply-To and References naming the open one, which is derived from
// the same event ID and sender, so no state is kept between the two.
func (n *Notifier) message(e notify.Event, now time.Time) (*gomail.Msg, string, error) {
	v := newView(e)
	var html bytes.Buffer
	if err := htmlBody.Execute(&html, v); err != nil {
		return nil, "", fmt.Errorf("HTML part: %w", err)
	}

	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	from := *n.from
	m.FromMailAddress(&from)
	for _, a := range n.to {
		to := *a
		m.AddToMailAddress(&to)
	}
	// go-mail RFC 2047-encodes a value that is not printable ASCII; the
	// subject reaches it on one line already, so it is one header.
	m.Subject(v.Subject)
	id := messageID(e.ID, n.from.Address)
	if e.Status.IsResolved() {
		open := "<" + id + ">"
		id = resolvedMessageID(e.ID, n.from.Address)
		m.SetGenHeader(gomail.HeaderInReplyTo, open)
		m.SetGenHeader(gomail.HeaderReferences, open)
	}
	m.SetMessageIDWithValue(id)
	m.SetDateWithValue(now)
	// Precedence: bulk and X-Auto-Response-Suppress keep out-of-office
	// replies away from the sender address.
	m.SetBulk()
	m.SetUserAgent(n.userAgent)
	m.SetGenHeader(headerEventID, e.ID)
	m.SetGenHeader(headerRisk, string(e.Risk))
	m.SetGenHeader(headerType, string(e.Type))
	m.SetGenHeader(headerStatus, e.Status.String())
	m.SetBodyString(gomail.TypeTextPlain, v.text())
	m.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return m, "<" + id + ">", nil
}

// subject is "[<RISK>] <title>" on one line: line breaks and other control
// characters go, runs of white space become one space, and the title is cut
// at maxSubjectTitleRunes.
func subject(e notify.Event) string {
	return "[" + e.Risk.Label() + "] " + text.Truncate(oneLine(e.Title), maxSubjectTitleRunes)
}

// oneLine folds every run of white space (line breaks included) into one
// space and drops other control characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// messageID derives the Message-ID (without angle brackets) from the event's
// ID, so a resent alert has the same one. Event IDs are letters, digits, '-',
// '_' and ':'; ':' is not allowed in a msg-id (RFC 5322 §3.6.4) and '+' never
// appears in an event ID, so ':' becomes '+' without two IDs colliding.
func messageID(eventID, fromAddress string) string {
	local := "cd-" + strings.ReplaceAll(eventID, ":", "+")
	domain := strings.ToLower(fromAddress[strings.LastIndexByte(fromAddress, '@')+1:])
	if !isDNSName(domain) {
		domain = fallbackIDDomain
	}
	return local + "@" + strings.TrimSuffix(domain, ".")
}

// resolvedMessageID is the Message-ID of the mail that resolves the alert:
// the open mail's with ".resolved" after the local part. Event IDs hold no
// '.', so it cannot be another event's open Message-ID, and it is as
// deterministic: a resent resolution carries the same one.
func resolvedMessageID(eventID, fromAddress string) string {
	local, domain, _ := strings.Cut(messageID(eventID, fromAddress), "@")
	return local + ".resolved@" + domain
}

// view is what both parts show, already cut to the limits.
type view struct {
	Resolved    bool
	Subject     string
	Label       string // the risk, or RESOLVED
	Risk        string
	HeaderStyle template.CSS // from the fixed risk table, never from the event
	Title       string
	Description string
	Type        string
	Source      string
	Time        string
	ID          string
	URL         string
	Tags        []string
	Details     []detail
	MoreDetails int
	MoreTags    int
}

type detail struct{ Key, Value string }

// resolvedSentence opens a resolved alert's mail.
const resolvedSentence = "This alert has been resolved in Code Defender."

// ResolvedSentence is resolvedSentence, for the HTML template.
func (view) ResolvedSentence() string { return resolvedSentence }

func newView(e notify.Event) view {
	color := e.Risk.Color()
	v := view{
		Resolved:    e.Status.IsResolved(),
		Subject:     subject(e),
		Label:       e.Risk.Label(),
		Risk:        e.Risk.Label(),
		Title:       oneLine(e.Title),
		Description: text.Truncate(e.Description, maxDescriptionRunes),
		Type:        typeName(e.Type),
		Source:      text.Truncate(oneLine(e.Source), maxSourceRunes),
		Time:        e.Time.UTC().Format("2006-01-02 15:04:05 UTC"),
		ID:          e.ID,
		URL:         e.URL,
	}
	if v.Resolved {
		v.Subject = replyPrefix + v.Subject
		v.Label, color = "RESOLVED", resolvedColor
	}
	v.HeaderStyle = template.CSS("background-color:" + color + ";color:" + textColorOn(color))
	for i, t := range e.Tags {
		if i == maxTags {
			v.MoreTags = len(e.Tags) - maxTags
			break
		}
		v.Tags = append(v.Tags, text.Truncate(oneLine(t), maxTagRunes))
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == maxDetails {
			v.MoreDetails = len(keys) - maxDetails
			break
		}
		v.Details = append(v.Details, detail{
			Key:   text.Truncate(oneLine(k), maxDetailKeyRunes),
			Value: text.Truncate(e.Details[k], maxDetailValueRunes),
		})
	}
	return v
}

func typeName(t notify.EventType) string {
	switch t {
	case notify.EventIncident:
		return "Incident"
	case notify.EventPCIScopeChange:
		return "PCI scope change"
	case notify.EventClientSideRisk:
		return "Client-side risk"
	case notify.EventTest:
		return "Test"
	}
	return string(t)
}

// textColorOn picks black or white text for a #RRGGBB background by its
// luminance (ITU-R BT.601 weights), so the yellow of "medium" stays legible.
func textColorOn(bg string) string {
	rgb, err := strconv.ParseUint(strings.TrimPrefix(bg, "#"), 16, 32)
	if err != nil || len(bg) != 7 {
		return "#FFFFFF"
	}
	r, g, b := rgb>>16&0xff, rgb>>8&0xff, rgb&0xff
	if 299*r+587*g+114*b > 150_000 {
		return "#1F2328"
	}
	return "#FFFFFF"
}

// text renders the plain-text part.
func (v view) text() string {
	var b strings.Builder
	b.WriteString(v.Subject)
	b.WriteString("\n\n")
	if v.Resolved {
		b.WriteString(resolvedSentence)
		b.WriteString("\n\n")
	}
	if v.Description != "" {
		b.WriteString(v.Description)
		b.WriteString("\n\n")
	}
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%-8s %s\n", k+":", val)
		}
	}
	if v.Resolved {
		row("Status", "Resolved")
	}
	row("Risk", v.Risk)
	row("Type", v.Type)
	row("Source", v.Source)
	row("Time", v.Time)
	row("Event", v.ID)
	if len(v.Tags) > 0 {
		tags := strings.Join(v.Tags, ", ")
		if v.MoreTags > 0 {
			tags += fmt.Sprintf(" (and %d more)", v.MoreTags)
		}
		row("Tags", tags)
	}
	if len(v.Details) > 0 {
		b.WriteString("\nDetails\n")
		for _, d := range v.Details {
			fmt.Fprintf(&b, "  %s: %s\n", d.Key, d.Value)
		}
		if v.MoreDetails > 0 {
			fmt.Fprintf(&b, "  (and %d more)\n", v.MoreDetails)
		}
	}
	if v.URL != "" {
		b.WriteString("\nOpen in Code Defender: ")
		b.WriteString(v.URL)
		b.WriteString("\n")
	}
	return b.String()
}

// htmlBody is the HTML part. html/template escapes every value for where it
// lands (text, attribute, URL), so no event string can add markup; inline
// styles because many mail clients drop <style>.
var htmlBody = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:16px;background-color:#F6F8FA;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1F2328">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;margin:0 auto;background-color:#FFFFFF;border:1px solid #D0D7DE;border-collapse:collapse">
<tr><td style="{{.HeaderStyle}};padding:12px 16px;font-size:13px;font-weight:bold;letter-spacing:1px">{{.Label}} · {{.Type}}</td></tr>
<tr><td style="padding:16px">
<h1 style="margin:0 0 12px 0;font-size:20px">{{.Title}}</h1>
{{- if .Resolved}}
<p style="margin:0 0 16px 0;font-weight:bold;color:#1A7F37">{{.ResolvedSentence}}</p>
{{- end}}
{{- if .Description}}
<p style="margin:0 0 16px 0;white-space:pre-wrap">{{.Description}}</p>
{{- end}}
<table role="presentation" cellpadding="4" cellspacing="0" style="border-collapse:collapse;font-size:14px">
{{- if .Resolved}}
<tr><td style="color:#59636E">Status</td><td>Resolved</td></tr>
{{- end}}
<tr><td style="color:#59636E">Risk</td><td>{{.Risk}}</td></tr>
{{- if .Source}}
<tr><td style="color:#59636E">Source</td><td>{{.Source}}</td></tr>
{{- end}}
<tr><td style="color:#59636E">Time</td><td>{{.Time}}</td></tr>
<tr><td style="color:#59636E">Event</td><td>{{.ID}}</td></tr>
{{- if .Tags}}
<tr><td style="color:#59636E">Tags</td><td>{{range $i, $t := .Tags}}{{if $i}}, {{end}}{{$t}}{{end}}{{if .MoreTags}} (and {{.MoreTags}} more){{end}}</td></tr>
{{- end}}
</table>
{{- if .Details}}
<h2 style="margin:16px 0 8px 0;font-size:16px">Details</h2>
<table cellpadding="6" cellspacing="0" style="border-collapse:collapse;font-size:14px;width:100%">
{{- range .Details}}
<tr><th align="left" style="border:1px solid #D0D7DE;background-color:#F6F8FA;vertical-align:top">{{.Key}}</th><td style="border:1px solid #D0D7DE;white-space:pre-wrap">{{.Value}}</td></tr>
{{- end}}
</table>
{{- if .MoreDetails}}
<p style="margin:8px 0 0 0;font-size:13px;color:#59636E">and {{.MoreDetails}} more</p>
{{- end}}
{{- end}}
{{- if .URL}}
<p style="margin:20px 0 0 0"><a href="{{.URL}}" style="display:inline-block;padding:10px 16px;background-color:#0969DA;color:#FFFFFF;text-decoration:none;border-radius:6px;font-weight:bold">Open in Code Defender</a></p>
{{- end}}
</td></tr>
</table>
</body>
</html>
`))
