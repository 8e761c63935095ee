// Package scrub removes secrets from text that may reach an error, a log
// line or a receipt: every server-supplied string goes through it.
package scrub

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Scrubber removes secrets from text that may reach an error or a log line.
// The zero value scrubs nothing. It never prints a secret: under every fmt
// verb it shows only how many forms it holds.
type Scrubber struct {
	// held returns the forms to scrub. It is a func, not a slice, because
	// fmt's reflection prints the fields of a struct it cannot call
	// methods on (an unexported field holding a Scrubber), and prints a
	// func only as an address.
	held func() []string
}

// needles returns the forms to scrub.
func (s *Scrubber) needles() []string {
	if s == nil || s.held == nil {
		return nil
	}
	return s.held()
}

// minScrubLength keeps very short values (which would mangle ordinary text)
// out of the scrub list; every real credential is longer.
const minScrubLength = 4

// minURLTokenLength is the shortest path segment or query value of a secret
// URL that is scrubbed on its own: long enough to be a token, not a word.
const minURLTokenLength = 8

// New returns a Scrubber for the given secrets. It also scrubs each
// secret's encoded forms, since a credential can come back inside a URL, a
// header or a hex dump.
func New(secrets ...notify.Secret) *Scrubber {
	s := &Scrubber{}
	s.Add(secrets...)
	return s
}

// Add adds more secrets to the scrub list.
func (s *Scrubber) Add(secrets ...notify.Secret) {
	for _, sec := range secrets {
		v := sec.Reveal()
		if len(v) < minScrubLength {
			continue
		}
		s.add(v)
		for _, alt := range encodings(v) {
			s.add(alt)
		}
		if u, err := url.Parse(v); err == nil && u.Host != "" {
			// A URL that is a credential carries it in its path (Slack's
			// last segment) or query; each may come back on its own.
			if len(u.Path) >= minScrubLength {
				s.add(u.Path)
			}
			if i := strings.LastIndexByte(u.Path, '/'); i >= 0 && len(u.Path)-i-1 >= minURLTokenLength {
				s.add(u.Path[i+1:])
			}
			for _, vs := range u.Query() {
				for _, q := range vs {
					if len(q) >= minURLTokenLength {
						s.add(q)
					}
				}
			}
		}
	}
}

// encodings lists the forms a credential takes on the wire: URL escaping in
// either hex case (servers echo both), base64 with and without padding in
// both alphabets (Basic and SMTP AUTH, JWT-style tokens), and hex in either
// case (debug dumps).
func encodings(v string) []string {
	b := []byte(v)
	query, path := url.QueryEscape(v), url.PathEscape(v)
	hx := hex.EncodeToString(b)
	return []string{
		query, lowerEscapes(query), path, lowerEscapes(path),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hx, strings.ToUpper(hx),
	}
}

// lowerEscapes turns every %XX escape of s into %xx.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerHex(b[i+1]), lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// add appends n unless it is already listed or too short to be scrubbed
// out of ordinary text.
func (s *Scrubber) add(n string) {
	if len(n) < minScrubLength {
		return
	}
	list := s.needles()
	for _, have := range list {
		if have == n {
			return
		}
	}
	list = append(list[:len(list):len(list)], n)
	s.held = func() []string { return list }
}

// Scrub returns text with every secret replaced by [REDACTED], also where a
// secret is split by white space or control characters (a newline, a NUL, a
// run of spaces) that a later folding or a log viewer would remove or
// collapse, putting the secret back together.
func (s *Scrubber) Scrub(text string) string {
	needles := s.needles()
	if len(needles) == 0 {
		return text
	}
	for _, n := range needles {
		if strings.Contains(text, n) {
			text = strings.ReplaceAll(text, n, notify.Redacted)
		}
	}
	if strings.IndexFunc(text, isGap) < 0 {
		return text
	}
	for _, n := range needles {
		text = replaceGapped(text, n)
	}
	return text
}

// isGap reports whether r is a character a split secret may hide behind:
// white space or a control character.
func isGap(r rune) bool {
	return r == ' ' || r < 0x20 || r == 0x7f
}

// replaceGapped replaces every occurrence of needle in text where runs of
// gap characters may sit between the needle's bytes (and a gap in the
// needle may be any run of gaps in the text).
func replaceGapped(text, needle string) string {
	var out strings.Builder
	written := 0
	for i := 0; i < len(text); {
		j := strings.IndexByte(text[i:], needle[0])
		if j < 0 {
			break
		}
		start := i + j
		if end, ok := matchGapped(text, start, needle); ok {
			out.WriteString(text[written:start])
			out.WriteString(notify.Redacted)
			written, i = end, end
			continue
		}
		i = start + 1
	}
	if written == 0 {
		return text
	}
	out.WriteString(text[written:])
	return out.String()
}

// matchGapped matches needle at text[start:], skipping gap runs between its
// bytes, and returns where the match ends.
func matchGapped(text string, start int, needle string) (int, bool) {
	t := start
	for k := 0; k < len(needle); {
		if isGap(rune(needle[k])) {
			// A gap in the secret matches any run of gaps in the text.
			for k < len(needle) && isGap(rune(needle[k])) {
				k++
			}
			if t >= len(text) || !isGap(rune(text[t])) {
				return 0, false
			}
			for t < len(text) && isGap(rune(text[t])) {
				t++
			}
			continue
		}
		if k > 0 {
			for t < len(text) && isGap(rune(text[t])) {
				t++
			}
		}
		if t >= len(text) || text[t] != needle[k] {
			return 0, false
		}
		t++
		k++
	}
	return t, true
}

// Format prints the Scrubber without its secrets, under every verb.
func (s Scrubber) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "scrub.Scrubber{%d forms %s}", len(s.needles()), notify.Redacted)
}

// String describes the Scrubber without its secrets.
func (s Scrubber) String() string { return fmt.Sprint(s) }

// GoString describes the Scrubber without its secrets.
func (s Scrubber) GoString() string { return fmt.Sprint(s) }

// maxMessageRunes bounds the destination's own message in an error.
const maxMessageRunes = 512

// Clean scrubs secrets from s, folds its white space and control
// characters, and truncates it, so it fits in an error message. It scrubs
// both before and after folding, so that folding cannot rebuild a secret.
func (s *Scrubber) Clean(msg string) string {
	msg = s.Scrub(msg)
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool {
		return isGap(r) || r == '\t' || r == '\r' || r == '\n'
	}), " ")
	return text.Truncate(s.Scrub(msg), maxMessageRunes)
}
