package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// An event whose JSON is larger than the body cap is delivered cut down,
// not refused: an alert lost to a size limit is worse than a shortened
// one. fitEvent cuts the longest text fields first, each to the same
// length and ending in text.TruncationMarker, so that short fields (the
// source, most tags and details) survive whole; the ID, type, risk, time
// and status are never touched, and the title is cut only when nothing
// else is left to cut. A link cannot be cut without breaking it, so a URL
// longer than the cut is dropped.

// fitEvent returns e and its JSON when that is at most max bytes, or else a
// copy cut down to fit and its JSON.
func fitEvent(e notify.Event, max int) (notify.Event, []byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return e, nil, errors.New("cannot encode the event as JSON: " + err.Error())
	}
	if len(b) <= max {
		return e, b, nil
	}
	// The cut is computed from the encoded length of each field, so the
	// event is encoded only once more, cut. A second pass covers any
	// difference between that count and what encoding/json writes.
	excess := len(b) - max
	for range 3 {
		cut := cutEvent(e, excess)
		out, err := json.Marshal(cut)
		if err != nil {
			return e, nil, errors.New("cannot encode the event as JSON: " + err.Error())
		}
		if len(out) <= max {
			return cut, out, nil
		}
		excess += len(out) - max
	}
	return e, nil, fmt.Errorf("the event cannot be cut to %d KiB of JSON", max>>10)
}

// fitsUnmeasured reports whether e's JSON is certainly at most max bytes
// without encoding it: no byte of text takes more than six bytes of JSON
// (\u00XX), and the rest of an event is far shorter than the slack.
func fitsUnmeasured(e notify.Event, max int) bool {
	const slack = 1 << 10
	n := len(e.ID) + len(e.Title) + len(e.Description) + len(e.URL) + len(e.Source)
	for _, t := range e.Tags {
		n += len(t) + 1
	}
	for k, v := range e.Details {
		n += len(k) + len(v) + 2
	}
	return 6*n+slack <= max
}

// cutEvent returns a copy of e whose JSON is at least excess bytes
// shorter, cutting as little as it can.
func cutEvent(e notify.Event, excess int) notify.Event {
	e.Tags = slices.Clone(e.Tags)
	e.Details = maps.Clone(e.Details)
	keys := slices.Sorted(maps.Keys(e.Details))
	values := make([]string, len(keys))
	fields := []*string{&e.Description, &e.Source}
	for i := range e.Tags {
		fields = append(fields, &e.Tags[i])
	}
	for i, k := range keys {
		values[i] = e.Details[k]
		fields = append(fields, &values[i])
	}
	urlSaving := len(`,"url":`) + jsonStringLen(e.URL)
	saving := func(limit int) int {
		n := 0
		for _, f := range fields {
			n += cutSaving(*f, limit)
		}
		if len(e.URL) > limit {
			n += urlSaving
		}
		return n
	}
	longest := len(e.URL)
	for _, f := range fields {
		longest = max(longest, len(*f))
	}
	// saving falls as the limit rises: find the largest limit that still
	// saves enough.
	limit := largest(longest, func(l int) bool { return saving(l) >= excess })
	if limit < 0 {
		// Not enough even with every field emptied: cut the title too.
		excess -= saving(0)
		limit = 0
		if tl := largest(len(e.Title), func(l int) bool { return cutSaving(e.Title, l) >= excess }); tl >= 0 {
			e.Title = text.TruncateBytes(e.Title, tl)
		} else {
			// Only the number of tags and details is left: drop them.
			e.Title = text.TruncateBytes(e.Title, 1<<10)
			e.Tags, e.Details, fields = nil, nil, fields[:2]
		}
	}
	for _, f := range fields {
		*f = text.TruncateBytes(*f, limit)
	}
	for i, k := range keys {
		if e.Details != nil {
			e.Details[k] = values[i]
		}
	}
	if len(e.URL) > limit {
		e.URL = ""
	}
	return e
}

// largest returns the largest l in [0, hi] for which ok holds, ok being
// true up to some point and false after it, or -1 when ok(0) is false.
func largest(hi int, ok func(int) bool) int {
	if !ok(0) {
		return -1
	}
	lo := 0 // ok(lo) holds
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// cutSaving returns how many bytes of JSON text.TruncateBytes(s, limit)
// saves, without building the cut string.
func cutSaving(s string, limit int) int {
	if len(s) <= limit {
		return 0
	}
	keep := limit - len(text.TruncationMarker)
	if keep < 0 {
		return jsonStringLen(s) - jsonStringLen("")
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return jsonStringLen(s) - jsonStringLen(s[:keep]) - len(text.TruncationMarker)
}

// jsonStringLen returns the length of s encoded by encoding/json, quotes
// included: <, > and & and control characters as \u00XX (\n, \r, \t, \b
// and \f as two bytes), quote and backslash escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}
