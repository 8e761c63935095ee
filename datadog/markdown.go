package datadog

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/render"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Datadog documents no length limit for an incident (https://docs.datadoghq.com/api/latest/incidents/), so
// these are design caps, in runes: long enough for any real alert, short
// enough that one alert cannot send a megabyte.
const (
	maxTitleRunes    = 255   // the incident title
	maxCellRunes     = 16000 // the markdown timeline cell
	maxInlineRunes   = 1000  // source and other one-line values
	maxTagsRunes     = 2000  // the tags line
	maxDetailKey     = 255   // a details table key
	maxDetailValue   = 2000  // a details table value
	maxTableRunes    = 8000  // the whole details table
	maxLinkRunes     = 2000  // the console link; a longer one is left out
	paragraphSpacing = "\n\n"
)

// markdownEscapable are the ASCII punctuation characters that can start
// markup in CommonMark or GitHub-flavoured markdown (emphasis, code, links,
// images, HTML, headings, lists, tables, strike-through, setext rules,
// entities) plus '@', which starts a mention. CommonMark lets any ASCII
// punctuation be backslash-escaped, and renders the escape as the
// character itself.
const markdownEscapable = "\\`*_{}[]()<>#+-.!|~@&="

// escapeMarkdown returns untrusted text as markdown that shows it
// literally, within max runes (see appendMarkdown).
func escapeMarkdown(s string, max int, multiline bool) string {
	return string(appendMarkdown(nil, s, max, multiline))
}

// appendMarkdown appends untrusted text to dst as markdown that shows it
// literally, within max runes: when it does not fit it is cut between two
// characters (never inside an escape) and ends with the truncation marker.
// Line breaks are kept as hard breaks when multiline is set and folded
// into spaces otherwise. A bare URL stays text, which the renderer may
// still link, showing its real address.
func appendMarkdown(dst []byte, s string, max int, multiline bool) []byte {
	return render.AppendEscaped(dst, s, max, markdownEscaper(multiline), utf8.RuneCount)
}

// markdownEscaper escapes one text rune by rune.
func markdownEscaper(multiline bool) render.Escaper {
	return func(dst []byte, s string, i int, r rune) []byte {
		switch {
		case multiline && r == '\r' && strings.HasPrefix(s[i:], "\r\n"):
			return dst // the \n that follows breaks the line
		case multiline && (r == '\n' || r == '\r'):
			return append(dst, "  \n"...) // two trailing spaces: a hard line break
		case unicode.IsControl(r):
			return append(dst, ' ')
		case r < utf8.RuneSelf && strings.ContainsRune(markdownEscapable, r):
			return append(dst, '\\', byte(r))
		default:
			return utf8.AppendRune(dst, r)
		}
	}
}

// markdownCell appends one table cell: escaped, on one line.
func markdownCell(dst []byte, s string, max int) []byte { return appendMarkdown(dst, s, max, false) }

// linkDestination makes a URL safe inside [text](<url>) (see
// appendLinkDestination).
func linkDestination(u string) string {
	return string(appendLinkDestination(nil, u))
}

// appendLinkDestination appends a URL made safe inside [text](<url>): the
// characters that end the destination, and spaces, are percent-encoded;
// control characters are dropped. Event.Validate has already required
// http(s).
func appendLinkDestination(dst []byte, u string) []byte {
	return text.AppendURL(dst, u, `<>\`)
}

// markdownDocument lays out an incident's timeline cell.
var markdownDocument = render.Document{
	Escape:  func() render.Escaper { return markdownEscaper(true) },
	Count:   utf8.RuneCount,
	Spacing: paragraphSpacing,
	Max:     maxCellRunes,
	Table: render.Table{
		Header: "| Detail | Value |\n| --- | --- |", RowStart: "\n| ", Sep: " | ", RowEnd: " |",
		Cell: markdownCell, KeyMax: maxDetailKey, ValueMax: maxDetailValue, Max: maxTableRunes,
	},
}

// markdown renders the incident's timeline cell: the event's description,
// then a list of what the console knows about it, then its details as a
// table. The list and the table are bounded first; the description gets
// the rest of maxCellRunes.
func markdown(e notify.Event) string {
	return markdownDocument.Render(e.Description, appendMetadata(nil, e), e.Details)
}

// appendMetadata appends the list of what the console knows about the
// event, the last item without a line break.
func appendMetadata(b []byte, e notify.Event) []byte {
	b = markdownFacts.Append(b, e, e.Risk.Label()+" ("+e.Risk.DatadogSeverity()+")")
	if tags := joinTags(e.Tags); tags != "" {
		b = append(b, "\n- **Tags:** "...)
		b = appendMarkdown(b, tags, maxTagsRunes, false)
	}
	return b
}

// markdownFacts is the list of what the console knows, in markdown.
var markdownFacts = render.Facts{
	ItemStart: "- **", ItemEnd: ":** ",
	Value:     func(b []byte, s string) []byte { return appendMarkdown(b, s, maxInlineRunes, false) },
	LinkStart: "[Open in Code Defender](<", LinkEnd: ">)",
	LinkTarget: appendLinkDestination, LinkMax: maxLinkRunes, Count: utf8.RuneCount,
}

// joinTags trims the tags, drops empty and repeated ones, and joins the
// rest with ", ".
func joinTags(tags []string) string {
	size := 0
	for _, t := range tags {
		size += len(t) + len(", ")
	}
	var b strings.Builder
	b.Grow(size)
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(render.OneLine(t))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t)
	}
	return b.String()
}
