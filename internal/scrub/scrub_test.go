package scrub_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/scrub"
	"github.com/codedefender/integrations/notify"
)

func TestScrubberBasic(t *testing.T) {
	s := scrub.New("tok-abc", "ab", "https://hooks.slack.com/services/T1/B2/abcdefghijklmnop?key=qwertyuiop123")
	out := s.Scrub("a tok-abc b tok%2Dabc /services/T1/B2/abcdefghijklmnop abcdefghijklmnop qwertyuiop123 ab")
	require.NotContains(t, out, "tok-abc")
	require.NotContains(t, out, "abcdefghijklmnop")
	require.NotContains(t, out, "qwertyuiop123")
	require.Equal(t, "basic [REDACTED]", s.Scrub("basic "+base64.StdEncoding.EncodeToString([]byte("tok-abc"))))
	require.Contains(t, out, " ab", "values too short to be credentials are not scrubbed out of ordinary text")
	var nilScrubber *scrub.Scrubber
	require.Equal(t, "x", nilScrubber.Scrub("x"))
}

func TestScrubberEncodings(t *testing.T) {
	const secret = "s3cr3t/t0ken+~?=&é"
	s := scrub.New(secret)
	b := []byte(secret)
	forms := map[string]string{
		"raw":              secret,
		"query escape":     url.QueryEscape(secret),
		"lower query":      strings.ToLower(url.QueryEscape(secret)),
		"path escape":      url.PathEscape(secret),
		"lower path":       strings.ToLower(url.PathEscape(secret)),
		"base64":           base64.StdEncoding.EncodeToString(b),
		"base64 unpadded":  base64.RawStdEncoding.EncodeToString(b),
		"base64url":        base64.URLEncoding.EncodeToString(b),
		"base64url raw":    base64.RawURLEncoding.EncodeToString(b),
		"hex":              hex.EncodeToString(b),
		"hex upper":        strings.ToUpper(hex.EncodeToString(b)),
		"split by newline": "s3cr3t/t0\nken+~?=&é",
		"split by NUL":     "s3cr3t\x00/t0ken+~?=&é",
		"split by spaces":  "s3c  r3t/t0ken  +~?=&é",
		"split by CRLF":    "s3cr3t/t0ken+~\r\n?=&é",
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			for _, out := range []string{s.Scrub("x " + form + " y"), s.Clean("x " + form + " y")} {
				require.Contains(t, out, notify.Redacted)
				require.NotContains(t, out, form)
				require.NotContains(t, strip(out), strip(secret))
			}
		})
	}
}

func TestScrubberGapInSecret(t *testing.T) {
	// A password with a space comes back with its space doubled or turned
	// into a newline; folding would restore the original.
	s := scrub.New("correct horse battery")
	for _, in := range []string{"correct  horse battery", "correct\nhorse\tbattery", "correct \x00 horse battery"} {
		require.Equal(t, "pw [REDACTED] end", s.Clean("pw "+in+" end"), in)
	}
}

func TestScrubberKeepsOrdinaryText(t *testing.T) {
	s := scrub.New("tok-abcdef")
	require.Equal(t, "tok abc def is not it", s.Clean("tok abc def is not it"))
	require.Equal(t, "a\nb", s.Scrub("a\nb"))
}

func TestScrubberPrintsNoSecret(t *testing.T) {
	const secret = "hunter2-very-secret"
	s := scrub.New(secret)
	holder := struct {
		S  scrub.Scrubber
		P  *scrub.Scrubber
		in []*scrub.Scrubber
	}{*s, s, []*scrub.Scrubber{s}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%p"} {
		for _, v := range []any{s, *s, holder, []any{s}} {
			out := fmt.Sprintf(verb, v)
			for _, form := range append([]string{secret}, formsOf(secret)...) {
				require.NotContains(t, out, form, "%s of %T", verb, v)
			}
		}
	}
	require.Equal(t, "scrub.Scrubber{"+strconv.Itoa(len(formsOf(secret))+1)+" forms [REDACTED]}", s.String())
}

// formsOf lists the encodings a printout must not contain.
func formsOf(secret string) []string {
	b := []byte(secret)
	return []string{
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
	}
}

func strip(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// FuzzScrubber checks that no placement of gaps and no encoding lets a
// secret through Scrub or Clean.
func FuzzScrubber(f *testing.F) {
	f.Add("tok-abcdef", "before ", " after", uint8(0), uint64(0x0102))
	f.Add("P4ssw0rd", "", "", uint8(3), uint64(0xffff))
	f.Add("xoxb-1234-abcd", "xo", "cd", uint8(5), uint64(7))
	f.Fuzz(func(t *testing.T, secret, prefix, suffix string, enc uint8, gaps uint64) {
		if len(secret) < 4 || len(secret) > 64 || strings.Contains(notify.Redacted, secret) ||
			strings.ContainsFunc(secret, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
			}) {
			t.Skip("not a credential-shaped secret")
		}
		b := []byte(secret)
		forms := []string{secret, url.QueryEscape(secret), base64.StdEncoding.EncodeToString(b),
			base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b))}
		form := forms[int(enc)%len(forms)]
		var in strings.Builder
		for i := 0; i < len(form); i++ {
			in.WriteByte(form[i])
			if i < len(form)-1 && gaps&(1<<(uint(i)%64)) != 0 {
				in.WriteString([]string{"\n", "\x00", "  ", "\r\n", "\t"}[i%5])
			}
		}
		text := prefix + in.String() + suffix
		s := scrub.New(notify.Secret(secret))
		for _, out := range []string{s.Scrub(text), s.Clean(text)} {
			if strings.Contains(strip(prefix), strip(form)) || strings.Contains(strip(suffix), strip(form)) {
				continue // the fuzzer's own text holds the secret elsewhere; still scrubbed, but overlaps are not this property
			}
			require.NotContains(t, strip(out), strip(form), "input %q", text)
		}
	})
}
