package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/text"
)

func TestTruncate(t *testing.T) {
	require.Equal(t, "hello", text.Truncate("hello", 5))
	require.Equal(t, "hel…", text.Truncate("hello", 4))
	require.Equal(t, "…", text.Truncate("hello", 1))
	require.Equal(t, "", text.Truncate("hello", 0))
	require.Equal(t, "日本…", text.Truncate("日本語テキスト", 3))
	require.Equal(t, "日本語", text.Truncate("日本語", 3))
}

func TestTruncateBytes(t *testing.T) {
	require.Equal(t, "hello", text.TruncateBytes("hello", 5))
	require.Equal(t, "h…", text.TruncateBytes("hello", 4)) // the marker is 3 bytes
	s := text.TruncateBytes("日本語", 7)                      // 9 bytes: keep 4 → back to 3, one rune
	require.Equal(t, "日…", s)
	require.True(t, utf8.ValidString(s))
	require.Equal(t, "", text.TruncateBytes("hello", 2))
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
		out := text.Truncate(s, limit)
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
			require.True(t, strings.HasSuffix(out, text.TruncationMarker))
			require.True(t, strings.HasPrefix(s, strings.TrimSuffix(out, text.TruncationMarker)))
		}

		outB := text.TruncateBytes(s, limit)
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
	require.Equal(t, "a b c d", text.StripCRLF("a\rb\nc\x00d"))
	require.Equal(t, "plain", text.StripCRLF("plain"))
	require.True(t, text.HasCRLF("x\ny"))
	require.False(t, text.HasCRLF("x y"))
	require.True(t, text.HasControl("x\ty"))
}

func TestAppendURL(t *testing.T) {
	got := text.AppendURL([]byte("see "), "https://x.example/a b|c]\n\u00a0é?q=<1>", "|]<>")
	require.Equal(t, "see https://x.example/a%20b%7Cc%5Dé?q=%3C1%3E", string(got))
}
