package notify_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
)

func TestTruncate(t *testing.T) {
	require.Equal(t, "hello", notify.Truncate("hello", 5))
	require.Equal(t, "hel…", notify.Truncate("hello", 4))
	require.Equal(t, "…", notify.Truncate("hello", 1))
	require.Equal(t, "", notify.Truncate("hello", 0))
	require.Equal(t, "日本…", notify.Truncate("日本語テキスト", 3))
	require.Equal(t, "日本語", notify.Truncate("日本語", 3))
}

func TestTruncateBytes(t *testing.T) {
	require.Equal(t, "hello", notify.TruncateBytes("hello", 5))
	require.Equal(t, "h…", notify.TruncateBytes("hello", 4)) // the marker is 3 bytes
	s := notify.TruncateBytes("日本語", 7)                      // 9 bytes: keep 4 → back to 3, one rune
	require.Equal(t, "日…", s)
	require.True(t, utf8.ValidString(s))
	require.Equal(t, "", notify.TruncateBytes("hello", 2))
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "a", "hello world", "日本語テキスト", "\xff\xfe", "e\u0301\u0301", strings.Repeat("🙂", 40)} {
		f.Add(s, 3)
		f.Add(s, 1)
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit > 1<<16 || limit < -1 {
			return
		}
		out := notify.Truncate(s, limit)
		n := utf8.RuneCountInString(out)
		if limit <= 0 {
			require.Empty(t, out)
		} else {
			require.LessOrEqual(t, n, limit)
		}
		if utf8.ValidString(s) {
			require.True(t, utf8.ValidString(out), "never split a rune")
		}
		if utf8.RuneCountInString(s) <= limit {
			require.Equal(t, s, out)
		} else if limit > 0 {
			require.True(t, strings.HasSuffix(out, notify.TruncationMarker))
			require.True(t, strings.HasPrefix(s, strings.TrimSuffix(out, notify.TruncationMarker)))
		}

		outB := notify.TruncateBytes(s, limit)
		require.LessOrEqual(t, len(outB), len(s))
		if len(s) > limit && limit >= 0 {
			require.LessOrEqual(t, len(outB), limit)
		}
		if utf8.ValidString(s) {
			require.True(t, utf8.ValidString(outB), "never split a rune")
		}
	})
}

func TestStripCRLF(t *testing.T) {
	require.Equal(t, "a b c d", notify.StripCRLF("a\rb\nc\x00d"))
	require.Equal(t, "plain", notify.StripCRLF("plain"))
	require.True(t, notify.HasCRLF("x\ny"))
	require.False(t, notify.HasCRLF("x y"))
	require.True(t, notify.HasControl("x\ty"))
}

func TestScrubber(t *testing.T) {
	s := notify.NewScrubber("tok-abc", "ab", "https://hooks.slack.com/services/T1/B2/abcdefghijklmnop?key=qwertyuiop123")
	out := s.Scrub("a tok-abc b tok%2Dabc /services/T1/B2/abcdefghijklmnop abcdefghijklmnop qwertyuiop123 ab")
	require.NotContains(t, out, "tok-abc")
	require.NotContains(t, out, "abcdefghijklmnop")
	require.NotContains(t, out, "qwertyuiop123")
	require.Equal(t, "basic [REDACTED]", s.Scrub("basic "+base64.StdEncoding.EncodeToString([]byte("tok-abc"))))
	require.Contains(t, out, " ab", "values too short to be credentials are not scrubbed out of ordinary text")
	var nilScrubber *notify.Scrubber
	require.Equal(t, "x", nilScrubber.Scrub("x"))
}

func TestAppendURL(t *testing.T) {
	got := notify.AppendURL([]byte("see "), "https://x.example/a b|c]\n\u00a0é?q=<1>", "|]<>")
	require.Equal(t, "see https://x.example/a%20b%7Cc%5Dé?q=%3C1%3E", string(got))
}
