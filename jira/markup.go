package jira

import (
	"fmt"
	"iter"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/codedefender/integrations/notify"
)

// Jira counts lengths in UTF-16 code units (Java strings), so a rune outside
// the Basic Multilingual Plane (most emoji) counts twice. Every limit below
// is in those units, and every cut falls on a rune boundary.
const (
	// maxSummaryUnits: summary is 255, but Jira's error texts disagree on
	// "less than 255" and "at most 255", so 254 (CONTRACTS.md §3).
	maxSummaryUnits = 254
	// maxDescriptionUnits: description on Jira Cloud (CONTRACTS.md §3).
	maxDescriptionUnits = 32767
	// maxLabelUnits: one label [unverified upstream] (CONTRACTS.md §3).
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
	markerUnits        = 1     // notify.TruncationMarker "…" is one unit
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
			return s[:i] + notify.TruncationMarker
		}
		n += runeUnits(r)
	}
	return s
}

// oneLine folds line breaks, tabs and other control characters into
// spaces, for fields that are a single line (the summary, table cells).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// summary is the summary: the risk label and the title, on one
// line, within Jira's limit. The summary is plain text in Jira (it is not
// rendered as wiki markup), so it is not escaped.
func summary(e notify.Event) string {
	return truncateUnits(oneLine("["+e.Risk.Label()+"] "+e.Title), maxSummaryUnits)
}

// labels returns the labels: the Event.ID label first (so no cap
// ever drops it), then the event's tags with white space replaced by '-'
// (Jira refuses a label with a space), each within the label limit, without
// duplicates or empties.
func labels(e notify.Event) []string {
	out := []string{eventLabel(e.ID)}
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
		l = truncateUnits(l, maxLabelUnits)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

// eventLabel is the label that ties an issue to its event: Event.ID holds
// only ASCII letters, digits, '-', '_' and ':' (Event.Validate), at most
// 200 of them, so the label needs no escaping and fits Jira's limit.
func eventLabel(id string) string { return labelPrefix + id }

// jqlString quotes s as a JQL string literal: inside double quotes, a
// backslash escapes '"' and '\', and line breaks are written as escapes, so
// no value can end the literal and add a clause.
func jqlString(s string) string {
	var b strings.Builder
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
	return b.String()
}

// duplicateJQL finds the open issue of an event in the project. The
// project id is digits only (Config.Validate), so it goes in bare, which
// JQL reads as an id; the label is quoted.
func duplicateJQL(projectID, eventID string) string {
	return "project = " + projectID + " AND labels = " + jqlString(eventLabel(eventID)) +
		` AND statusCategory != "Done"`
}

// wikiEscapable are the characters the Atlassian wiki renderer reads as
// markup and also accepts a backslash escape for (its
// BackslashEscapeRendererComponent): emphasis, lists, tables, links,
// images, macros, mentions, emoticons.
const wikiEscapable = `-#*_+?^~|%{}[]()!@`

// escapeToken returns the markup that shows r literally. A backslash is
// written as an HTML entity: "\\" is a forced line break in wiki markup,
// and a backslash before an escapable character would swallow it.
func escapeToken(r rune) string {
	switch {
	case r == '\\':
		return "&#92;"
	case r < 0x80 && strings.ContainsRune(wikiEscapable, r):
		return `\` + string(r)
	case unicode.IsControl(r):
		return " "
	default:
		return string(r)
	}
}

// blockMarkers start a heading or a quote when they open a line; their
// first letter is written as an entity so the line stays text.
var blockMarkers = []string{"h1.", "h2.", "h3.", "h4.", "h5.", "h6.", "bq."}

// escapeWiki returns untrusted text as wiki markup that shows it literally,
// within max UTF-16 units: when it does not fit, it is cut between two
// characters (never inside an escape) and ends with the truncation marker.
// Line breaks are kept when multiline is set and folded into spaces
// otherwise. Bare URLs stay as text, which Jira may still turn into links
// that show their real address; no link text, image, macro or mention can
// be injected.
func escapeWiki(s string, max int, multiline bool) string {
	total := 0
	for tok := range wikiTokens(s, multiline) {
		total += utf16Len(tok)
	}
	budget := max
	if total > max {
		budget = max - markerUnits
	}
	var b strings.Builder
	n := 0
	for tok := range wikiTokens(s, multiline) {
		if n+utf16Len(tok) > budget {
			break
		}
		b.WriteString(tok)
		n += utf16Len(tok)
	}
	if total > max && max >= markerUnits {
		b.WriteString(notify.TruncationMarker)
	}
	return b.String()
}

// wikiTokens yields the markup of each character of s in turn.
func wikiTokens(s string, multiline bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		lineStart := multiline
		for i, r := range s {
			if r == '\r' && multiline {
				if strings.HasPrefix(s[i:], "\r\n") {
					continue // the \n that follows breaks the line
				}
				r = '\n'
			}
			var tok string
			switch {
			case r == '\n' && multiline:
				tok, lineStart = "\n", true
			case lineStart && startsBlock(s[i:]):
				tok, lineStart = fmt.Sprintf("&#%d;", r), false
			default:
				tok = escapeToken(r)
				// White space (and control characters, shown as spaces)
				// leaves a marker after it at the start of the line.
				if tok != " " && !unicode.IsSpace(r) {
					lineStart = false
				}
			}
			if !yield(tok) {
				return
			}
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

// linkTarget makes a URL safe inside [text|url]: the characters that end
// or split a link, and spaces, are percent-encoded. Event.Validate has
// already required http(s).
func linkTarget(u string) string {
	var b strings.Builder
	for _, r := range u {
		switch {
		case r == '[' || r == ']' || r == '|' || r == '{' || r == '}' || r == '!' || r == '\\' || r == ' ' || r == '"' || r == '<' || r == '>':
			fmt.Fprintf(&b, "%%%02X", r)
		case unicode.IsControl(r) || unicode.IsSpace(r):
			// Dropped: a URL never holds them, and they would break the line.
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// description renders the description in wiki markup: the event's
// own description, then what the console knows about it (risk, type,
// source, time, console link, event id), then its details as a table. The
// metadata and the table are bounded first; the event's description gets
// the rest of Jira's limit, so the whole stays within maxDescriptionUnits.
func description(e notify.Event) string {
	var meta strings.Builder
	fmt.Fprintf(&meta, "*Risk:* %s\n", e.Risk.Label())
	fmt.Fprintf(&meta, "*Type:* %s\n", escapeWiki(string(e.Type), maxInlineUnits, false))
	if e.Source != "" {
		fmt.Fprintf(&meta, "*Source:* %s\n", escapeWiki(e.Source, maxInlineUnits, false))
	}
	fmt.Fprintf(&meta, "*Time:* %s\n", e.Time.UTC().Format(time.RFC3339))
	if link := linkTarget(e.URL); link != "" && utf16Len(link) <= maxLinkUnits {
		fmt.Fprintf(&meta, "*Console:* [Open in Code Defender|%s]\n", link)
	}
	fmt.Fprintf(&meta, "*Event ID:* %s", escapeWiki(e.ID, maxInlineUnits, false))

	table := detailsTable(e.Details)

	fixed := utf16Len(meta.String())
	if table != "" {
		fixed += utf16Len(descriptionSpacing) + utf16Len(table)
	}
	var out strings.Builder
	if strings.TrimSpace(e.Description) != "" {
		room := maxDescriptionUnits - fixed - utf16Len(descriptionSpacing)
		out.WriteString(escapeWiki(strings.TrimSpace(e.Description), room, true))
		out.WriteString(descriptionSpacing)
	}
	out.WriteString(meta.String())
	if table != "" {
		out.WriteString(descriptionSpacing)
		out.WriteString(table)
	}
	return out.String()
}

// detailsTable renders details as a two-column table sorted by key, within
// maxTableUnits; rows that do not fit are counted in a last row.
func detailsTable(details map[string]string) string {
	if len(details) == 0 {
		return ""
	}
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const header = "||Detail||Value||"
	var b strings.Builder
	b.WriteString(header)
	n := utf16Len(header)
	// Room for the last row that counts what was left out.
	const reserve = 64
	for i, k := range keys {
		row := "\n|" + cell(k, maxDetailKeyUnits) + "|" + cell(details[k], maxDetailValUnits) + "|"
		if n+utf16Len(row) > maxTableUnits-reserve {
			fmt.Fprintf(&b, "\n|%s|%d more details not shown|", notify.TruncationMarker, len(keys)-i)
			break
		}
		b.WriteString(row)
		n += utf16Len(row)
	}
	return b.String()
}

// cell renders one table cell: escaped, on one line, and never empty (an
// empty cell would merge with its neighbour).
func cell(s string, max int) string {
	v := escapeWiki(oneLine(s), max, false)
	if strings.TrimSpace(v) == "" {
		return " "
	}
	return v
}
