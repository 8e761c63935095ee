package slack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
)

// FuzzBuildMessage checks that no event, however long or strange its text,
// yields a message over Slack's limits or with an unescaped '<' from the
// event (the only '<' allowed is the date markup this package writes).
func FuzzBuildMessage(f *testing.F) {
	f.Add("New script", "desc", "shop.example.com", "pci", "k", "v", 3)
	f.Add("<!channel>", "&&&&", "<!here>", "<t>", "<k>", "<v>", 1)
	f.Add(strings.Repeat("é", 300), strings.Repeat("&", 4000), "", "", strings.Repeat("k", 300), strings.Repeat("v", 3000), 120)
	f.Add("\xff\xfe", "a\r\nb", "\x00", "\n", "", "", 0)
	f.Fuzz(func(t *testing.T, title, desc, source, tag, key, value string, n int) {
		n = min(max(n, 0), 600)
		e := notify.Event{ID: "evt-1", Type: notify.EventIncident, Title: title, Description: desc,
			Risk: notify.RiskHigh, Time: time.Unix(1767323045, 0), Source: source, Tags: []string{tag},
			URL: "https://console.example/a?b=1&c=<2>"}
		if n > 0 {
			e.Details = map[string]string{}
			for i := range n {
				e.Details[fmt.Sprintf("%s%d", key, i)] = value
			}
		}
		m := buildMessage(e, "#soc")
		runes := utf8.RuneCountInString

		if got := runes(m.Text); got > maxTextRunes {
			t.Fatalf("text has %d runes", got)
		}
		bl := m.Attachments[0].Blocks
		if len(bl) > maxBlocks {
			t.Fatalf("%d blocks", len(bl))
		}
		total := 0
		for _, b := range bl {
			total += blockChars(b)
			switch b.Type {
			case "header":
				if got := runes(b.Text.Text); got > maxHeaderRunes {
					t.Fatalf("header has %d runes", got)
				}
			case "section":
				if b.Text != nil && runes(b.Text.Text) > maxSectionRunes {
					t.Fatalf("section text has %d runes", runes(b.Text.Text))
				}
				if len(b.Fields) > maxFieldsPerSection {
					t.Fatalf("%d fields", len(b.Fields))
				}
				for _, f := range b.Fields {
					if runes(f.Text) > maxFieldRunes {
						t.Fatalf("field has %d runes", runes(f.Text))
					}
				}
			}
		}
		if total > maxBlockTextRunes {
			t.Fatalf("blocks hold %d runes of text", total)
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		// The date markup is the one '<' allowed: the event's text is
		// escaped and the button's URL percent-encoded.
		var decoded struct {
			Text        string `json:"text"`
			Attachments []struct {
				Blocks []json.RawMessage `json:"blocks"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(raw, &decoded); err != nil {
			t.Fatal(err)
		}
		all := decoded.Text
		for _, b := range decoded.Attachments[0].Blocks {
			var v any
			_ = json.Unmarshal(b, &v)
			all += fmt.Sprint(v)
		}
		if c := strings.Count(all, "<"); c != 1 || !strings.Contains(all, "<!date^") {
			t.Fatalf("%d '<' in the message, want only the date markup", c)
		}
	})
}

// FuzzBuildMessageMatchesReference proves that buildMessage, rewritten to
// allocate less per Send, gives the same message as the code before it
// (the ...Reference functions below, kept unchanged but for the names).
func FuzzBuildMessageMatchesReference(f *testing.F) {
	f.Add("New script", "desc", "shop.example.com", "pci", "k", "v", "https://console.example/a", 3, int64(1767323045), true)
	f.Add("<!channel>", "&&&&", "<!here>", "<t>", "<k>", "<v>", "https://console.example/a?b=1&c=<2>", 1, int64(0), false)
	f.Add(strings.Repeat("é", 300), strings.Repeat("&", 4000), "", "", strings.Repeat("k", 300), strings.Repeat("v", 3000), "", 120, int64(-1), false)
	f.Add("\xff\xfe", "a\r\nb", "\x00", "\n", "", "", "ftp://x", 0, int64(1e11), true)
	f.Add("t", " ", "s", "", "k\r\n", strings.Repeat("&<>", 700), "https://x.example/"+strings.Repeat("a", 3000), 600, int64(5), false)
	f.Fuzz(func(t *testing.T, title, desc, source, tag, key, value, link string, n int, sec int64, test bool) {
		n = min(max(n, 0), 600)
		e := notify.Event{ID: "evt-1", Type: notify.EventIncident, Title: title, Description: desc,
			Risk: notify.RiskHigh, Time: time.Unix(sec%(1<<35), 0), Source: source, URL: link}
		if tag != "" {
			e.Tags = []string{tag, "pci"}
		}
		if test {
			e.Type = notify.EventTest
		}
		if n > 0 {
			e.Details = map[string]string{}
			for i := range n {
				e.Details[fmt.Sprintf("%s%d", key, i)] = value
			}
		}
		want, got := buildMessageReference(e, "#soc"), buildMessage(e, "#soc")
		require.Equal(t, want, got)
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)
		gotJSON, err := json.Marshal(got)
		require.NoError(t, err)
		require.Equal(t, string(wantJSON), string(gotJSON))
	})
}

// The message code before the rewrite, unchanged but for the names.

// buildMessageReference maps an event onto a Slack message within Slack's limits.
func buildMessageReference(e notify.Event, channel string) message {
	b := &blocks{}
	b.add(block{Type: "header", Text: plain(fit(notify.StripCRLF(prefix(e)+" "+e.Title), maxHeaderRunes))})
	if strings.TrimSpace(e.Description) != "" {
		b.add(block{Type: "section", Text: mrkdwn(fit(e.Description, maxSectionRunes))})
	}
	b.add(block{Type: "section", Fields: summaryFieldsReference(e)})

	// The button is our own and always fits; reserve its block and one
	// for the note on details that do not fit.
	var actions *block
	if href, ok := buttonURL(e.URL); ok {
		actions = &block{Type: "actions", Elements: []any{button{
			Type: "button",
			Text: *plain(fit("Open in Code Defender", maxButtonTextRunes)),
			URL:  href,
		}}}
		b.reserve(*actions)
	}
	addDetailsReference(b, e.Details)
	if actions != nil {
		b.addReserved(*actions)
	}

	summary := prefix(e) + " " + e.Title
	if e.Source != "" {
		summary += " (" + e.Source + ")"
	}
	return message{
		Text:        fit(notify.StripCRLF(summary), maxTextRunes),
		Channel:     channel,
		Attachments: []attachment{{Color: e.Risk.Color(), Blocks: b.list}},
	}
}

// summaryFieldsReference is the section of fixed facts: at most 6 fields, well within
// the section's 10.
func summaryFieldsReference(e notify.Event) []text {
	fs := []text{
		*fieldReference("Risk", e.Risk.Label()),
		*fieldReference("Type", typeLabels[e.Type]),
	}
	if e.Source != "" {
		fs = append(fs, *fieldReference("Source", e.Source))
	}
	// Slack shows the time in each reader's own time zone; the text after
	// '|' is what clients that cannot do so show.
	fs = append(fs, text{Type: "mrkdwn", Text: fmt.Sprintf("*Time*\n<!date^%d^{date_short_pretty} {time_secs}|%s>",
		e.Time.Unix(), e.Time.UTC().Format(time.RFC3339))})
	if len(e.Tags) > 0 {
		fs = append(fs, *fieldReference("Tags", strings.Join(e.Tags, ", ")))
	}
	fs = append(fs, *fieldReference("Event ID", e.ID))
	return fs
}

// fieldReference is a mrkdwn field "*label*\nvalue" of at most maxFieldRunes, the
// label and value escaped.
func fieldReference(label, value string) *text {
	head := "*" + fit(notify.StripCRLF(label), maxDetailKeyRunes) + "*\n"
	return mrkdwn(head + fit(value, maxFieldRunes-utf8.RuneCountInString(head)))
}

// addDetailsReference adds the event's details, sorted by name, as sections of at
// most 10 fields, while the block count and the text budget allow, and ends
// with a note counting the details left out.
func addDetailsReference(b *blocks, details map[string]string) {
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	const noteReserve = 100 // runes kept for the closing note
	var fields []text
	chars, sections := b.chars, 0
	for i, k := range keys {
		f := *fieldReference(k, details[k])
		cost := utf8.RuneCountInString(f.Text)
		opens := len(fields)%maxFieldsPerSection == 0
		blocksAfter := b.count() + sections + 1 // + the note's block
		if opens {
			blocksAfter++
		}
		if chars+cost > maxBlockTextRunes-noteReserve || blocksAfter > maxBlocks {
			b.addSections(fields)
			left := len(keys) - i
			note := fmt.Sprintf("%d more detail%s not shown: Slack's message size limits", left, plural(left))
			b.add(block{Type: "context", Elements: []any{*mrkdwn(note)}})
			return
		}
		if opens {
			sections++
		}
		fields = append(fields, f)
		chars += cost
	}
	b.addSections(fields)
}
