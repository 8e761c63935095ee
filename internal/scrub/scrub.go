// Package scrub removes secrets from text that may reach an error, a log
// line or a receipt: every server-supplied string goes through it.
package scrub

import (
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// Scrubber removes secrets from text that may reach an error or a log line.
// The zero value scrubs nothing.
type Scrubber struct {
	needles []string
}

// minScrubLength keeps very short values (which would mangle ordinary text)
// out of the scrub list; every real credential is longer.
const minScrubLength = 4

// minURLTokenLength is the shortest path segment or query value of a secret
// URL that is scrubbed on its own: long enough to be a token, not a word.
const minURLTokenLength = 8

// New returns a Scrubber for the given secrets. It also scrubs each
// secret's URL-escaped and path forms, since a credential can come back
// inside a URL.
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
		s.needles = append(s.needles, v)
		// A credential can come back escaped in a URL, or in base64 as in a
		// Basic or SMTP AUTH exchange.
		for _, alt := range []string{url.QueryEscape(v), url.PathEscape(v), base64.StdEncoding.EncodeToString([]byte(v))} {
			if alt != v {
				s.needles = append(s.needles, alt)
			}
		}
		if u, err := url.Parse(v); err == nil && u.Host != "" {
			// A URL that is a credential carries it in its path (Slack's
			// last segment) or query; each may come back on its own.
			if len(u.Path) >= minScrubLength {
				s.needles = append(s.needles, u.Path)
			}
			if i := strings.LastIndexByte(u.Path, '/'); i >= 0 && len(u.Path)-i-1 >= minURLTokenLength {
				s.needles = append(s.needles, u.Path[i+1:])
			}
			for _, vs := range u.Query() {
				for _, q := range vs {
					if len(q) >= minURLTokenLength {
						s.needles = append(s.needles, q)
					}
				}
			}
		}
	}
}

// Scrub returns text with every secret replaced by [REDACTED].
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	for _, n := range s.needles {
		if strings.Contains(text, n) {
			text = strings.ReplaceAll(text, n, notify.Redacted)
		}
	}
	return text
}

// maxMessageRunes bounds the destination's own message in an error.
const maxMessageRunes = 512

// Clean scrubs secrets from s, folds its white space and control
// characters, and truncates it, so it fits in an error message.
func (s *Scrubber) Clean(msg string) string {
	msg = s.Scrub(msg)
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r < 0x20 || r == 0x7f
	}), " ")
	return text.Truncate(msg, maxMessageRunes)
}
