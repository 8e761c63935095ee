// Package text holds the string helpers every destination shares:
// truncation on rune boundaries with a marker, line-break and control
// character checks, and link escaping for markup languages.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TruncationMarker ends every string the library had to shorten.
const TruncationMarker = "…"

// Truncate returns s cut to at most max runes, marker included, on a rune
// boundary. A string that fits is returned as is; max <= 0 gives "".
func Truncate(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		return TruncationMarker
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + TruncationMarker
		}
		n++
	}
	return s
}

// TruncateBytes returns s cut to at most max bytes, marker included, without
// splitting a rune. A string that fits is returned as is.
func TruncateBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	keep := max - len(TruncationMarker)
	if keep < 0 {
		return ""
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + TruncationMarker
}

// StripCRLF replaces every CR and LF (and NUL) in s with a space, so a value
// can go into a header or a one-line field without starting a new one.
func StripCRLF(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// HasCRLF reports whether s holds a CR, LF or NUL.
func HasCRLF(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// HasControl reports whether s holds any control character.
func HasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) >= 0
}

// AppendURL appends u for use inside a markup language's link syntax: every
// rune in special, and every space, is percent-encoded (so it cannot end or
// split the link), and control and other white-space characters are dropped
// (a URL never holds them, and they would break the line). The caller has
// checked that u is an http(s) URL.
func AppendURL(dst []byte, u, special string) []byte {
	const hex = "0123456789ABCDEF"
	for _, r := range u {
		switch {
		case r == ' ' || (r < utf8.RuneSelf && strings.ContainsRune(special, r)):
			dst = append(dst, '%', hex[r>>4], hex[r&0xF])
		case unicode.IsControl(r) || unicode.IsSpace(r):
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}
