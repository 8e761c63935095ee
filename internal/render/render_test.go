package render_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/render"
)

// star escapes '*' with a backslash and keeps everything else.
func star(dst []byte, _ string, _ int, r rune) []byte {
	if r == '*' {
		return append(dst, '\\', '*')
	}
	return utf8.AppendRune(dst, r)
}

func TestAppendEscaped(t *testing.T) {
	esc := func(s string, max int) string {
		return string(render.AppendEscaped([]byte("> "), s, max, star, utf8.RuneCount))
	}
	require.Equal(t, `> a\*b`, esc("a*b", 4), "fits exactly: no marker")
	require.Equal(t, `> a…`, esc("a*b", 3), "never half an escape")
	require.Equal(t, `> a\*…`, esc("a*bc", 4+1-1), "cut between runes, marker within max")
	require.Equal(t, `> `, esc("abc", 0), "no room at all")
}

func TestTableCountsWhatDoesNotFit(t *testing.T) {
	tbl := render.Table{Header: "|k|v|", RowStart: "\n|", Sep: "|", RowEnd: "|", KeyMax: 10, ValueMax: 10, Max: 64 + 20,
		Cell: func(dst []byte, s string, max int) []byte {
			return render.AppendEscaped(dst, s, max, star, utf8.RuneCount)
		}}
	details := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
	out := string(tbl.AppendTable(nil, details, utf8.RuneCount))
	require.True(t, strings.HasPrefix(out, "|k|v|\n|a|1|\n|b|2|"), out)
	require.True(t, strings.HasSuffix(out, "more details not shown|"), out)
	require.LessOrEqual(t, utf8.RuneCountInString(out), tbl.Max)
	require.Empty(t, tbl.AppendTable(nil, nil, utf8.RuneCount))
}

func TestDocumentBoundsTheWhole(t *testing.T) {
	d := render.Document{
		Escape:  func() render.Escaper { return star },
		Count:   utf8.RuneCount,
		Spacing: "\n\n",
		Max:     40,
		Table:   render.Table{Header: "T", RowStart: "\n", Sep: "=", RowEnd: "", KeyMax: 5, ValueMax: 5, Max: 1000, Cell: func(dst []byte, s string, _ int) []byte { return append(dst, s...) }},
	}
	out := d.Render(strings.Repeat("*", 100), []byte("meta"), map[string]string{"k": "v"})
	require.Equal(t, 40, utf8.RuneCountInString(out), out)
	require.True(t, strings.HasSuffix(out, "…\n\nmeta\n\nT\nk=v"), out)
	require.Equal(t, "meta", d.Render("  ", []byte("meta"), nil), "no description: the metadata alone")
}

func TestOneLine(t *testing.T) {
	require.Equal(t, "a b c d", render.OneLine("a\nb\tc\x00d"))
}
