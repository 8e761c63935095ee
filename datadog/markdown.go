package datadog

import (
	"fmt"
	"iter"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
// literally, within max runes: when it does not fit it is cut between two
// characters (never inside an escape) and ends with the truncation marker.
// Line breaks are kept as hard breaks when multiline is set and folded into
// spaces otherwise. A bare URL stays text, which the renderer may still
// link, showing its real address.
func escapeMarkdown(s string, max int, multiline bool) string {
	total := 0
	for tok := range markdownTokens(s, multiline) {
		total += utf8.RuneCountInString(tok)
	}
	budget := max
	if total > max {
		budget = max - utf8.RuneCountInString(notify.TruncationMarker)
	}
	var b strings.Builder
	n := 0
	for tok := range markdownTokens(s, multiline) {
		w := utf8.RuneCountInString(tok)
		if n+w > budget {
			break
		}
		b.WriteString(tok)
		n += w
	}
	if total > max && max > 0 {
		b.WriteString(notify.TruncationMarker)
	}
	return b.String()
}

// markdownTokens yields the markdown of each character of s in turn.
func markdownTokens(s string, multiline bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i, r := range s {
			var tok string
			switch {
			case multiline && r == '\r' && strings.HasPrefix(s[i:], "\r\n"):
				continue // the \n that follows breaks the line
			case multiline && (r == '\n' || r == '\r'):
				tok = "  \n" // two trailing spaces: a hard line break
			case unicode.IsControl(r):
				tok = " "
			case r < utf8.RuneSelf && strings.ContainsRune(markdownEscapable, r):
				tok = `\` + string(r)
			default:
				tok = string(r)
			}
			if !yield(tok) {
				return
			}
		}
	}
}

// linkDestination makes a URL safe inside [text](<url>): the characters
// that end the destination, and spaces, are percent-encoded; control
// characters are dropped. Event.Validate has already required http(s).
func linkDestination(u string) string {
	var b strings.Builder
	for _, r := range u {
		switch {
		case r == '<' || r == '>' || r == '\\' || r == ' ':
			fmt.Fprintf(&b, "%%%02X", r)
		case unicode.IsControl(r) || unicode.IsSpace(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// markdown renders the incident's timeline cell: the event's description,
// then a list of what the console knows about it, then its details as a
// table. The list and the table are bounded first; the description gets
// the rest of maxCellRunes.
func markdown(e notify.Event) string {
	var meta strings.Builder
	fmt.Fprintf(&meta, "- **Risk:** %s (%s)\n", e.Risk.Label(), e.Risk.DatadogSeverity())
	fmt.Fprintf(&meta, "- **Type:** %s\n", escapeMarkdown(string(e.Type), maxInlineRunes, false))
	if e.Source != "" {
		fmt.Fprintf(&meta, "- **Source:** %s\n", escapeMarkdown(e.Source, maxInlineRunes, false))
	}
	fmt.Fprintf(&meta, "- **Time:** %s\n", e.Time.UTC().Format(time.RFC3339))
	if link := linkDestination(e.URL); link != "" && utf8.RuneCountInString(link) <= maxLinkRunes {
		fmt.Fprintf(&meta, "- **Console:** [Open in Code Defender](<%s>)\n", link)
	}
	fmt.Fprintf(&meta, "- **Event ID:** %s", escapeMarkdown(e.ID, maxInlineRunes, false))
	if tags := cleanTags(e.Tags); len(tags) > 0 {
		fmt.Fprintf(&meta, "\n- **Tags:** %s", escapeMarkdown(strings.Join(tags, ", "), maxTagsRunes, false))
	}

	table := detailsTable(e.Details)
	fixed := utf8.RuneCountInString(meta.String())
	if table != "" {
		fixed += utf8.RuneCountInString(paragraphSpacing + table)
	}
	var out strings.Builder
	if d := strings.TrimSpace(e.Description); d != "" {
		room := maxCellRunes - fixed - utf8.RuneCountInString(paragraphSpacing)
		out.WriteString(escapeMarkdown(d, room, true))
		out.WriteString(paragraphSpacing)
	}
	out.WriteString(meta.String())
	if table != "" {
		out.WriteString(paragraphSpacing)
		out.WriteString(table)
	}
	return out.String()
}

// cleanTags trims the tags and drops empty and repeated ones.
func cleanTags(tags []string) []string {
	var out []string
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(oneLine(t))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// detailsTable renders details as a two-column table sorted by key, within
// maxTableRunes; rows that do not fit are counted in a last row.
func detailsTable(details map[string]string) string {
	if len(details) == 0 {
		return ""
	}
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const header = "| Detail | Value |\n| --- | --- |"
	var b strings.Builder
	b.WriteString(header)
	n := utf8.RuneCountInString(header)
	const reserve = 64 // room for the row that counts what was left out
	for i, k := range keys {
		row := "\n| " + escapeMarkdown(k, maxDetailKey, false) + " | " + escapeMarkdown(details[k], maxDetailValue, false) + " |"
		w := utf8.RuneCountInString(row)
		if n+w > maxTableRunes-reserve {
			fmt.Fprintf(&b, "\n| %s | %d more details not shown |", notify.TruncationMarker, len(keys)-i)
			break
		}
		b.WriteString(row)
		n += w
	}
	return b.String()
}
