package jira

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/render"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Jira counts lengths in UTF-16 code units (Java strings), so a rune outside
// the Basic Multilingual Plane (most emoji) counts twice. Every limit below
// is in those units, and every cut falls on a rune boundary.
const (
	// maxSummaryUnits: summary is 255, but Jira's error texts disagree on
	// "less than 255" and "at most 255", so 254
	// (https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/).
	maxSummaryUnits = 254
	// maxDescriptionUnits: description on Jira Cloud, 32,767 characters, the
	// limit Jira's 400 names for a longer one [not checked against a page of
	// Atlassian's documentation].
	maxDescriptionUnits = 32767
	// maxLabelUnits: one label [unverified upstream].
	maxLabelUnits = 255
	// maxLabels is a design cap: Jira documents no limit on the number of
	// labels, and an event's tags are not bounded.
	maxLabels = 100
)

// Caps inside the description, so that the event's own description keeps
// most of the room. They are design choices, not Jira limits.
const (
	maxInlineUnits     = 1000  // source, type and event id
	maxDetailKeyUnits  = 255   // a details table key
	maxDetailValUnits  = 2000  // a details table value
	maxTableUnits      = 16000 // the whole details table
	maxLinkUnits       = 2000  // the console link; a longer one is left out
	labelPrefix        = "cd-" // Event.ID label: cd-<id>
	markerUnits        = 1     // text.TruncationMarker "…" is one unit
	descriptionSpacing = "\n\n"
)

// utf16Len returns how long s is for Jira.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += runeUnits(r)
	}
	return n
}

// utf16LenBytes is utf16Len for markup being built.
func utf16LenBytes(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		n += runeUnits(r)
		b = b[size:]
	}
	return n
}

func runeUnits(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// truncateUnits cuts s to at most max UTF-16 units, marker included, on a
// rune boundary.
func truncateUnits(s string, max int) string {
	if utf16Len(s) <= max {
		return s
	}
	if max < markerUnits {
		return ""
	}
	n := 0
	for i, r := range s {
		if n+runeUnits(r) > max-markerUnits {
			return s[:i] + text.TruncationMarker
		}
		n += runeUnits(r)
	}
	return s
}

// summary is the summary: the risk label and the title, on one
// line, within Jira's limit. The summary is plain text in Jira (it is not
// rendered as wiki markup), so it is not escaped.
func summary(e notify.Event) string {
	return truncateUnits(render.OneLine("["+e.Risk.Label()+"] "+e.Title), maxSummaryUnits)
}

// labels returns the labels: the Event.ID label first (so no cap
// ever drops it), then the event's tags with white space replaced by '-'
// (Jira refuses a label with a space) and moved out of the dedup namespace
// (tagLabel), each within the label limit, without duplicates or empties.
func labels(e notify.Event) []string {
	out := make([]string, 1, 1+min(len(e.Tags), maxLabels-1))
	out[0] = eventLabel(e.ID)
	seen := map[string]bool{out[0]: true}
	for _, t := range e.Tags {
		if len(out) == maxLabels {
			break
		}
		l := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || unicode.IsControl(r) {
				return '-'
			}
			return r
		}, strings.TrimSpace(t))
		l = truncateUnits(tagLabel(l), maxLabelUnits)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

// tagPrefix moves a tag out of the dedup namespace: a tag spelled like a
// dedup label ("cd-<another event's id>", in any case, since JQL compares
// labels without case) is kept as "tag-cd-…", so no event's tags can make
// another event's alert find this issue and never be filed.
const tagPrefix = "tag-"

// tagLabel returns the label of a tag, outside the dedup namespace.
func tagLabel(l string) string {
	if len(l) >= len(labelPrefix) && strings.EqualFold(l[:len(labelPrefix)], labelPrefix) {
		return tagPrefix + l
	}
	return l
}

// eventLabel is the label that ties an issue to its event: Event.ID holds
// only ASCII letters, digits, '-', '_' and ':' (Event.Validate), at most
// 200 of them, so the label needs no escaping and fits Jira's limit.
func eventLabel(id string) string { return labelPrefix + id }

// jqlString quotes s as a JQL string literal (see writeJQLString).
func jqlString(s string) string {
	var b strings.Builder
	writeJQLString(&b, s)
	return b.String()
}

// writeJQLString writes s as a JQL string literal: inside double quotes, a
// backslash escapes '"' and '\', and line breaks are written as escapes,
// so no value can end the literal and add a clause.
func writeJQLString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if unicode.IsControl(r) {
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// duplicateJQL finds the open issue of an event in the project. The
// project id is digits only (Config.Validate), so it goes in bare, which
// JQL reads as an id; the label is quoted.
func duplicateJQL(projectID, eventID string) string {
	const (
		head = "project = "
		mid  = " AND labels = "
		tail = ` AND statusCategory != "Done"`
	)
	var b strings.Builder
	// The label needs no escaping (eventLabel), so this is its exact size.
	b.Grow(len(head) + len(projectID) + len(mid) + len(`""`) + len(labelPrefix) + len(eventID) + len(tail))
	b.WriteString(head)
	b.WriteString(projectID)
	b.WriteString(mid)
	writeJQLString(&b, eventLabel(eventID))
	b.WriteString(tail)
	return b.String()
}

// wikiEscapable are the characters the Atlassian wiki renderer reads as
// markup and also accepts a backslash escape for (its
// BackslashEscapeRendererComponent): emphasis, lists, tables, links,
// images, macros, mentions, emoticons.
const wikiEscapable = `-#*_+?^~|%{}[]()!@`

// appendWikiRune appends the markup that shows r literally. A backslash is
// written as an HTML entity: "\\" is a forced line break in wiki markup,
// and a backslash before an escapable character would swallow it.
func appendWikiRune(dst []byte, r rune) []byte {
	switch {
	case r == '\\':
		return append(dst, "&#92;"...)
	case r < utf8.RuneSelf && strings.ContainsRune(wikiEscapable, r):
		return append(dst, '\\', byte(r))
	case unicode.IsControl(r):
		return append(dst, ' ')
	default:
		return utf8.AppendRune(dst, r)
	}
}

// blockMarkers start a heading or a quote when they open a line; their
// first letter is written as an entity so the line stays text.
var blockMarkers = []string{"h1.", "h2.", "h3.", "h4.", "h5.", "h6.", "bq."}

// escapeWiki returns untrusted text as wiki markup that shows it literally,
// within max UTF-16 units (see appendWiki).
func escapeWiki(s string, max int, multiline bool) string {
	return string(appendWiki(nil, s, max, multiline))
}

// appendWiki appends untrusted text to dst as wiki markup that shows it
// literally, within max UTF-16 units: when it does not fit, it is cut
// between two characters (never inside an escape) and ends with the
// truncation marker. Line breaks are kept when multiline is set and folded
// into spaces otherwise. Bare URLs stay as text, which Jira may still turn
// into links that show their real address; no link text, image, macro or
// mention can be injected.
func appendWiki(dst []byte, s string, max int, multiline bool) []byte {
	return render.AppendEscaped(dst, s, max, wikiEscaper(multiline), utf16LenBytes)
}

// wikiEscaper escapes one text rune by rune: it knows where a line starts,
// so that a heading or quote marker there stays text.
func wikiEscaper(multiline bool) render.Escaper {
	lineStart := multiline
	return func(dst []byte, s string, i int, r rune) []byte {
		if r == '\r' && multiline {
			if strings.HasPrefix(s[i:], "\r\n") {
				return dst // the \n that follows breaks the line
			}
			r = '\n'
		}
		switch {
		case r == '\n' && multiline:
			lineStart = true
			return append(dst, '\n')
		case lineStart && startsBlock(s[i:]):
			lineStart = false
			dst = append(dst, "&#"...)
			dst = strconv.AppendInt(dst, int64(r), 10)
			return append(dst, ';')
		default:
			// White space (and control characters, shown as spaces)
			// leaves a marker after it at the start of the line.
			if !unicode.IsSpace(r) && !unicode.IsControl(r) {
				lineStart = false
			}
			return appendWikiRune(dst, r)
		}
	}
}

// startsBlock reports whether s opens with a heading or quote marker.
func startsBlock(s string) bool {
	for _, m := range blockMarkers {
		if strings.HasPrefix(s, m) {
			return true
		}
	}
	return false
}

// linkTarget makes a URL safe inside [text|url] (see appendLinkTarget).
func linkTarget(u string) string {
	return string(appendLinkTarget(nil, u))
}

// appendLinkTarget appends a URL made safe inside [text|url]: the
// characters that end or split a link, and spaces, are percent-encoded.
// Event.Validate has already required http(s).
func appendLinkTarget(dst []byte, u string) []byte {
	return text.AppendURL(dst, u, `[]|{}!\"<>`)
}

// wikiDocument lays out an issue's description in wiki markup, within
// Jira's limit.
var wikiDocument = render.Document{
	Escape:  func() render.Escaper { return wikiEscaper(true) },
	Count:   utf16LenBytes,
	Spacing: descriptionSpacing,
	Max:     maxDescriptionUnits,
	Table: render.Table{
		Header: "||Detail||Value||", RowStart: "\n|", Sep: "|", RowEnd: "|",
		Cell: appendCell, KeyMax: maxDetailKeyUnits, ValueMax: maxDetailValUnits, Max: maxTableUnits,
	},
}

// description renders the description in wiki markup: the event's
// own description, then what the console knows about it (risk, type,
// source, time, console link, event id), then its details as a table. The
// metadata and the table are bounded first; the event's description gets
// the rest of Jira's limit, so the whole stays within maxDescriptionUnits.
func description(e notify.Event) string {
	return wikiDocument.Render(e.Description, appendMetadata(nil, e), e.Details)
}

// appendMetadata appends what the console knows about the event, one
// "*Label:* value" line each, the last line without a line break.
func appendMetadata(b []byte, e notify.Event) []byte {
	return wikiFacts.Append(b, e, e.Risk.Label())
}

// wikiFacts is the list of what the console knows, in wiki markup.
var wikiFacts = render.Facts{
	ItemStart: "*", ItemEnd: ":* ",
	Value:     func(b []byte, s string) []byte { return appendWiki(b, s, maxInlineUnits, false) },
	LinkStart: "[Open in Code Defender|", LinkEnd: "]",
	LinkTarget: appendLinkTarget, LinkMax: maxLinkUnits, Count: utf16LenBytes,
}

// appendCell appends one table cell: escaped, on one line, and never empty
// (an empty cell would merge with its neighbour).
func appendCell(b []byte, s string, max int) []byte {
	start := len(b)
	b = appendWiki(b, render.OneLine(s), max, false)
	if len(bytes.TrimSpace(b[start:])) == 0 {
		b = append(b[:start], ' ')
	}
	return b
}
