package datadog

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Datadog documents no length limit for an incident (CONTRACTS.md §4), so
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

// oneLine folds line breaks, tabs and other control characters into
// spaces, for one-line values (the title, table cells).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// escapeMarkdown returns untrusted text as markdown that shows it
// literally, within max runes (see appendMarkdown).
func escapeMarkdown(s string, max int, multiline bool) string {
	return string(appendMarkdown(make([]byte, 0, len(s)), s, max, multiline))
}

// appendMarkdown appends untrusted text to dst as markdown that shows it
// literally, within max runes: when it does not fit it is cut between two
// characters (never inside an escape) and ends with the truncation marker.
// Line breaks are kept as hard breaks when multiline is set and folded
// into spaces otherwise. A bare URL stays text, which the renderer may
// still link, showing its real address.
//
// It escapes in one pass, stopping as soon as the text is known not to
// fit: the markdown then ends after the last character that leaves room
// for the marker.
func appendMarkdown(dst []byte, s string, max int, multiline bool) []byte {
	markerRunes := utf8.RuneCountInString(text.TruncationMarker)
	runes := 0
	keep := len(dst) // where the markdown ends if it must be cut
	for i, r := range s {
		tok := len(dst)
		switch {
		case multiline && r == '\r' && strings.HasPrefix(s[i:], "\r\n"):
			continue // the \n that follows breaks the line
		case multiline && (r == '\n' || r == '\r'):
			dst = append(dst, "  \n"...) // two trailing spaces: a hard line break
		case unicode.IsControl(r):
			dst = append(dst, ' ')
		case r < utf8.RuneSelf && strings.ContainsRune(markdownEscapable, r):
			dst = append(dst, '\\', byte(r))
		default:
			dst = utf8.AppendRune(dst, r)
		}
		runes += utf8.RuneCount(dst[tok:])
		if runes <= max-markerRunes {
			keep = len(dst)
		}
		if runes > max {
			dst = dst[:keep]
			if max > 0 {
				dst = append(dst, text.TruncationMarker...)
			}
			return dst
		}
	}
	return dst
}

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

// markdown renders the incident's timeline cell: the event's description,
// then a list of what the console knows about it, then its details as a
// table. The list and the table are bounded first; the description gets
// the rest of maxCellRunes.
func markdown(e notify.Event) string {
	// The list and the table are rendered first, the escaped description
	// after them in the same buffer; the result puts the description first.
	tail := make([]byte, 0, markdownSizeHint(e))
	tail = appendMetadata(tail, e)
	if len(e.Details) > 0 {
		tail = append(tail, paragraphSpacing...)
		tail = appendDetailsTable(tail, e.Details)
	}
	d := strings.TrimSpace(e.Description)
	if d == "" {
		return string(tail)
	}
	room := maxCellRunes - utf8.RuneCount(tail) - utf8.RuneCountInString(paragraphSpacing)
	buf := appendMarkdown(tail, d, room, true)
	escaped := buf[len(tail):]
	var out strings.Builder
	out.Grow(len(escaped) + len(paragraphSpacing) + len(tail))
	out.Write(escaped)
	out.WriteString(paragraphSpacing)
	out.Write(tail)
	return out.String()
}

// markdownSizeHint guesses the cell's size in bytes so that its buffer
// seldom grows: the event's text, the fixed labels, and an eighth more for
// escapes, capped at what the longest cell can take.
func markdownSizeHint(e notify.Event) int {
	const labels = 256 // the list's labels, the time, the table's header
	n := labels + len(e.Description) + len(e.Type) + len(e.Source) + len(e.URL) + len(e.ID)
	for _, t := range e.Tags {
		n += len(t) + len(", ")
	}
	for k, v := range e.Details {
		n += len(k) + len(v) + len("\n|  |  |")
	}
	n += n / 8
	return min(n, utf8.UTFMax*maxCellRunes)
}

// appendMetadata appends the list of what the console knows about the
// event, the last item without a line break.
func appendMetadata(b []byte, e notify.Event) []byte {
	b = append(b, "- **Risk:** "...)
	b = append(b, e.Risk.Label()...)
	b = append(b, " ("...)
	b = append(b, e.Risk.DatadogSeverity()...)
	b = append(b, ")\n- **Type:** "...)
	b = appendMarkdown(b, string(e.Type), maxInlineRunes, false)
	if e.Source != "" {
		b = append(b, "\n- **Source:** "...)
		b = appendMarkdown(b, e.Source, maxInlineRunes, false)
	}
	b = append(b, "\n- **Time:** "...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '\n')
	// The console link is left out when it is empty or too long.
	item := len(b)
	b = append(b, "- **Console:** [Open in Code Defender](<"...)
	link := len(b)
	b = appendLinkDestination(b, e.URL)
	if len(b) == link || utf8.RuneCount(b[link:]) > maxLinkRunes {
		b = b[:item]
	} else {
		b = append(b, ">)\n"...)
	}
	b = append(b, "- **Event ID:** "...)
	b = appendMarkdown(b, e.ID, maxInlineRunes, false)
	if tags := joinTags(e.Tags); tags != "" {
		b = append(b, "\n- **Tags:** "...)
		b = appendMarkdown(b, tags, maxTagsRunes, false)
	}
	return b
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
		t = strings.TrimSpace(oneLine(t))
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

// appendDetailsTable appends details as a two-column table sorted by key,
// within maxTableRunes; rows that do not fit are counted in a last row.
func appendDetailsTable(b []byte, details map[string]string) []byte {
	if len(details) == 0 {
		return b
	}
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const header = "| Detail | Value |\n| --- | --- |"
	b = append(b, header...)
	n := utf8.RuneCountInString(header)
	const reserve = 64 // room for the row that counts what was left out
	for i, k := range keys {
		row := len(b)
		b = append(b, "\n| "...)
		b = appendMarkdown(b, k, maxDetailKey, false)
		b = append(b, " | "...)
		b = appendMarkdown(b, details[k], maxDetailValue, false)
		b = append(b, " |"...)
		w := utf8.RuneCount(b[row:])
		if n+w > maxTableRunes-reserve {
			b = append(b[:row], "\n| "+text.TruncationMarker+" | "...)
			b = strconv.AppendInt(b, int64(len(keys)-i), 10)
			return append(b, " more details not shown |"...)
		}
		n += w
	}
	return b
}
