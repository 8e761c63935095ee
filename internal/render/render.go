// Package render is the skeleton of the descriptions jira (wiki markup) and
// datadog (markdown) write: untrusted text escaped rune by rune within a
// length limit, a two-column details table within its own limit, and a
// document whose metadata and table are bounded first so that the event's
// description gets the rest. A markup language brings only its escaper and
// its length counter (Jira counts UTF-16 units, Datadog runes).
package render

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// OneLine folds line breaks, tabs and other control characters into
// spaces, for one-line values (a title, a summary, a table cell).
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// Escaper appends the markup that shows r, the rune of s at byte i,
// literally; it may append nothing, to drop the rune. An Escaper may keep
// state between runes (where a line starts), so each text gets a fresh one.
type Escaper func(dst []byte, s string, i int, r rune) []byte

// Counter returns the length of markup in the destination's units.
type Counter func(b []byte) int

// AppendEscaped appends s escaped by esc, within max units as count measures
// them: when it does not fit it is cut between two runes (never inside an
// escape) and ends with text.TruncationMarker. It escapes in one pass,
// stopping as soon as the text is known not to fit.
func AppendEscaped(dst []byte, s string, max int, esc Escaper, count Counter) []byte {
	markerUnits := count([]byte(text.TruncationMarker))
	units := 0
	keep := len(dst) // where the markup ends if it must be cut
	for i, r := range s {
		tok := len(dst)
		dst = esc(dst, s, i, r)
		units += count(dst[tok:])
		if units <= max-markerUnits {
			keep = len(dst)
		}
		if units > max {
			dst = dst[:keep]
			if max >= markerUnits {
				dst = append(dst, text.TruncationMarker...)
			}
			return dst
		}
	}
	return dst
}

// Table is how a markup language writes a two-column details table.
type Table struct {
	// Header is the table's first line (and, in markdown, its rule).
	Header string
	// RowStart, Sep and RowEnd surround and split a row's two cells; a
	// row starts on a new line.
	RowStart, Sep, RowEnd string
	// Cell appends one escaped cell within max units.
	Cell func(dst []byte, s string, max int) []byte
	// KeyMax and ValueMax bound a key and a value cell, Max the whole
	// table; rows that do not fit are counted in a last row.
	KeyMax, ValueMax, Max int
}

// reserve is the room kept for the row that counts what was left out.
const reserve = 64

// AppendTable appends details as a two-column table sorted by key, within
// t.Max units; the rows that do not fit are counted in a last row.
func (t Table) AppendTable(b []byte, details map[string]string, count Counter) []byte {
	if len(details) == 0 {
		return b
	}
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, t.Header...)
	n := count([]byte(t.Header))
	for i, k := range keys {
		row := len(b)
		b = append(b, t.RowStart...)
		b = t.Cell(b, k, t.KeyMax)
		b = append(b, t.Sep...)
		b = t.Cell(b, details[k], t.ValueMax)
		b = append(b, t.RowEnd...)
		w := count(b[row:])
		if n+w > t.Max-reserve {
			b = append(b[:row], t.RowStart+text.TruncationMarker+t.Sep...)
			b = strconv.AppendInt(b, int64(len(keys)-i), 10)
			return append(b, " more details not shown"+t.RowEnd...)
		}
		n += w
	}
	return b
}

// Document is how a markup language lays out a description.
type Document struct {
	// Escape returns a fresh Escaper for multi-line text (the event's
	// description).
	Escape func() Escaper
	Count  Counter
	// Spacing separates the description, the metadata and the table.
	Spacing string
	Table   Table
	// Max bounds the whole document.
	Max int
}

// Render returns the document: the event's description escaped, then meta
// (the destination's metadata, already rendered), then the details table.
// The metadata and the table are bounded first; the description gets the
// rest of d.Max, so the whole stays within it.
func (d Document) Render(description string, meta []byte, details map[string]string) string {
	tail := meta
	if len(details) > 0 {
		tail = append(tail, d.Spacing...)
		tail = d.Table.AppendTable(tail, details, d.Count)
	}
	desc := strings.TrimSpace(description)
	if desc == "" {
		return string(tail)
	}
	room := d.Max - d.Count(tail) - d.Count([]byte(d.Spacing))
	escaped := AppendEscaped(nil, desc, room, d.Escape(), d.Count)
	return string(escaped) + d.Spacing + string(tail)
}

// Facts is how a markup language lists what the console knows about an
// event, one item a line: risk, type, source, time, the console link and
// the event ID.
type Facts struct {
	// ItemStart and ItemEnd surround an item's label: "- **" and ":** "
	// in markdown give "- **Risk:** ".
	ItemStart, ItemEnd string
	// Value appends an inline value, escaped and bounded.
	Value func(b []byte, s string) []byte
	// LinkStart and LinkEnd surround the console link's target, which
	// LinkTarget appends made safe; a link that LinkTarget leaves empty,
	// or longer than LinkMax (by Count), is left out.
	LinkStart, LinkEnd string
	LinkTarget         func(b []byte, url string) []byte
	LinkMax            int
	Count              Counter
}

// Append appends the facts about e, risk being how the risk reads, and
// the last item without a line break.
func (f Facts) Append(b []byte, e notify.Event, risk string) []byte {
	b = f.item(b, "Risk")
	b = append(b, risk...)
	b = f.item(append(b, '\n'), "Type")
	b = f.Value(b, string(e.Type))
	if e.Source != "" {
		b = f.Value(f.item(append(b, '\n'), "Source"), e.Source)
	}
	b = f.item(append(b, '\n'), "Time")
	b = e.Time.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '\n')
	item := len(b)
	b = append(f.item(b, "Console"), f.LinkStart...)
	link := len(b)
	b = f.LinkTarget(b, e.URL)
	if len(b) == link || f.Count(b[link:]) > f.LinkMax {
		b = b[:item]
	} else {
		b = append(append(b, f.LinkEnd...), '\n')
	}
	return f.Value(f.item(b, "Event ID"), e.ID)
}

func (f Facts) item(b []byte, label string) []byte {
	return append(append(append(b, f.ItemStart...), label...), f.ItemEnd...)
}
