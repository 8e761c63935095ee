package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
