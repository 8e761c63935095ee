package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakes"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const hookURL = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdEFGH1234ijklMNOP5678"

var secret = notify.Secret(hookURL)

func validConfig() Config {
	return Config{Name: "SOC alerts", WebhookURL: secret, Channel: "#security-alerts"}
}

// mockSlack answers every POST to the webhook with status, body and
// header.
func mockSlack(status int, body string, header http.Header) *testkit.MockAPI {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, hookURL, status, body, header)
	return m
}

// newNotifier returns a Notifier on api that logs into the returned buffer.
func newNotifier(t *testing.T, c Config, api *testkit.MockAPI) (*Notifier, *notifytest.LogBuffer) {
	t.Helper()
	logger, logs := notifytest.NewLogger()
	n, err := New(c, notify.WithHTTPClient(api.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	return n, logs
}

// quoted is s as a JSON string, for expected bodies.
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// body decodes a recorded request body into a message.
func body(t *testing.T, r notifytest.RecordedRequest) message {
	t.Helper()
	var m struct {
		Text        string `json:"text"`
		Channel     string `json:"channel"`
		Attachments []struct {
			Color  string            `json:"color"`
			Blocks []json.RawMessage `json:"blocks"`
		} `json:"attachments"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &m))
	out := message{Text: m.Text, Channel: m.Channel}
	for _, a := range m.Attachments {
		at := attachment{Color: a.Color}
		for _, raw := range a.Blocks {
			var bl struct {
				Type     string            `json:"type"`
				Text     *textObject       `json:"text"`
				Fields   []textObject      `json:"fields"`
				Elements []json.RawMessage `json:"elements"`
			}
			require.NoError(t, json.Unmarshal(raw, &bl))
			b := block{Type: bl.Type, Text: bl.Text, Fields: bl.Fields}
			for _, el := range bl.Elements {
				var x map[string]any
				require.NoError(t, json.Unmarshal(el, &x))
				b.Elements = append(b.Elements, x)
			}
			at.Blocks = append(at.Blocks, b)
		}
		out.Attachments = append(out.Attachments, at)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	testkit.RunValidate(t, validateCases(), func(c Config) []notify.Secret { return testkit.Unmasked(secret, c.WebhookURL) })
}

func with(change func(*Config)) Config {
	c := validConfig()
	change(&c)
	return c
}

func validateCases() []testkit.ValidateCase[Config] {
	return []testkit.ValidateCase[Config]{
		{Name: "valid", Config: validConfig()},
		{Name: "valid without channel", Config: with(func(c *Config) { c.Channel = "" })},
		{Name: "valid channel with digits, - and _", Config: with(func(c *Config) { c.Channel = "#sec_ops-2" })},
		{Name: "valid channel of 80 characters", Config: with(func(c *Config) { c.Channel = "#" + strings.Repeat("a", 80) })},
		{Name: "valid channel in a script without case", Config: with(func(c *Config) { c.Channel = "#セキュリティ" })},
		{Name: "valid 23-character token", Config: with(func(c *Config) {
			c.WebhookURL = notify.Secret("https://hooks.slack.com/services/T1/B1/" + strings.Repeat("a", 23))
		})},
		{Name: "valid 25-character token", Config: with(func(c *Config) {
			c.WebhookURL = notify.Secret("https://hooks.slack.com/services/T1/B1/" + strings.Repeat("a", 25))
		})},
		{Name: "name missing", Config: with(func(c *Config) { c.Name = " " }), Fields: []string{"name"}},
		{Name: "name too long", Config: with(func(c *Config) { c.Name = strings.Repeat("n", 101) }), Fields: []string{"name"}, Schema: true},
		{Name: "name with a control character", Config: with(func(c *Config) { c.Name = "a\tb" }), Fields: []string{"name"}},
		{Name: "webhook missing", Config: with(func(c *Config) { c.WebhookURL = "" }), Fields: []string{"webhook_url"}, Schema: true},
		{Name: "webhook is the mask", Config: with(func(c *Config) { c.WebhookURL = notify.Redacted }), Fields: []string{"webhook_url"}},
		{Name: "webhook with a line break", Config: with(func(c *Config) { c.WebhookURL = secret + "\n" }), Fields: []string{"webhook_url"}},
		{Name: "webhook with a space", Config: with(func(c *Config) { c.WebhookURL = " " + secret }), Fields: []string{"webhook_url"}},
		{Name: "webhook over http", Config: with(func(c *Config) { c.WebhookURL = notify.Secret(strings.Replace(hookURL, "https", "http", 1)) }), Fields: []string{"webhook_url"}},
		{Name: "webhook on another host", Config: with(func(c *Config) {
			c.WebhookURL = notify.Secret(strings.Replace(hookURL, "hooks.slack.com", "hooks.example.com", 1))
		}), Fields: []string{"webhook_url"}},
		{Name: "webhook is a workflow", Config: with(func(c *Config) {
			c.WebhookURL = "https://hooks.slack.com/workflows/T0123ABCD/A0456/789/abcdEFGH1234ijklMNOP5678"
		}), Fields: []string{"webhook_url"}},
		{Name: "webhook token too short", Config: with(func(c *Config) {
			c.WebhookURL = notify.Secret("https://hooks.slack.com/services/T1/B1/" + strings.Repeat("a", 22))
		}), Fields: []string{"webhook_url"}},
		{Name: "webhook token too long", Config: with(func(c *Config) {
			c.WebhookURL = notify.Secret("https://hooks.slack.com/services/T1/B1/" + strings.Repeat("a", 26))
		}), Fields: []string{"webhook_url"}},
		{Name: "webhook workspace id in lower case", Config: with(func(c *Config) { c.WebhookURL = notify.Secret(strings.Replace(hookURL, "T0123ABCD", "T0123abcd", 1)) }), Fields: []string{"webhook_url"}},
		{Name: "webhook without the webhook id", Config: with(func(c *Config) { c.WebhookURL = "https://hooks.slack.com/services/T0123ABCD/abcdEFGH1234ijklMNOP5678" }), Fields: []string{"webhook_url"}},
		{Name: "webhook with a query", Config: with(func(c *Config) { c.WebhookURL = secret + "?x=1" }), Fields: []string{"webhook_url"}},
		{Name: "webhook not a URL", Config: with(func(c *Config) { c.WebhookURL = "abcdEFGH1234ijklMNOP5678" }), Fields: []string{"webhook_url"}},
		{Name: "channel without #", Config: with(func(c *Config) { c.Channel = "security" }), Fields: []string{"channel"}, Schema: true},
		{Name: "channel in upper case", Config: with(func(c *Config) { c.Channel = "#Security" }), Fields: []string{"channel"}, Schema: true},
		{Name: "channel with a space", Config: with(func(c *Config) { c.Channel = "#sec alerts" }), Fields: []string{"channel"}, Schema: true},
		{Name: "channel with a period", Config: with(func(c *Config) { c.Channel = "#sec.alerts" }), Fields: []string{"channel"}},
		{Name: "channel of 81 characters", Config: with(func(c *Config) { c.Channel = "#" + strings.Repeat("a", 81) }), Fields: []string{"channel"}, Schema: true},
		{Name: "channel only #", Config: with(func(c *Config) { c.Channel = "#" }), Fields: []string{"channel"}, Schema: true},
		{Name: "channel is a user", Config: with(func(c *Config) { c.Channel = "@alice" }), Fields: []string{"channel"}},
		{Name: "channel not UTF-8", Config: with(func(c *Config) { c.Channel = "#\xff" }), Fields: []string{"channel"}},
		{Name: "every field bad at once", Config: with(func(c *Config) { c.Name, c.WebhookURL, c.Channel = "", "https://example.com/services/x", "General" }), Fields: []string{"name", "webhook_url", "channel"}},
	}
}

// TestConfigValidateSays checks what the field errors say, which never
// repeats the webhook URL.
func TestConfigValidateSays(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		msg  string
	}{
		{"name missing", with(func(c *Config) { c.Name = " " }), "required"},
		{"webhook missing", with(func(c *Config) { c.WebhookURL = "" }), "required"},
		{"webhook is the mask", with(func(c *Config) { c.WebhookURL = notify.Redacted }), "mask"},
		{"webhook with a space", with(func(c *Config) { c.WebhookURL = " " + secret }), "spaces"},
		{"webhook over http", with(func(c *Config) { c.WebhookURL = notify.Secret(strings.Replace(hookURL, "https", "http", 1)) }), "https://"},
		{"webhook on another host", with(func(c *Config) {
			c.WebhookURL = notify.Secret(strings.Replace(hookURL, "hooks.slack.com", "hooks.example.com", 1))
		}), "hooks.slack.com"},
		{"webhook is a workflow", with(func(c *Config) {
			c.WebhookURL = "https://hooks.slack.com/workflows/T0123ABCD/A0456/789/abcdEFGH1234ijklMNOP5678"
		}), "Workflow Builder"},
		{"webhook token too short", with(func(c *Config) {
			c.WebhookURL = notify.Secret("https://hooks.slack.com/services/T1/B1/" + strings.Repeat("a", 22))
		}), "23-25 character token"},
		{"webhook with a query", with(func(c *Config) { c.WebhookURL = secret + "?x=1" }), "?query"},
		{"webhook not a URL", with(func(c *Config) { c.WebhookURL = "abcdEFGH1234ijklMNOP5678" }), "not a URL"},
		{"channel without #", with(func(c *Config) { c.Channel = "security" }), `did you mean "#security"`},
		{"channel in upper case", with(func(c *Config) { c.Channel = "#Security" }), `did you mean "#security"`},
		{"channel with a space", with(func(c *Config) { c.Channel = "#sec alerts" }), "no spaces"},
		{"channel of 81 characters", with(func(c *Config) { c.Channel = "#" + strings.Repeat("a", 81) }), "at most 80"},
		{"channel is a user", with(func(c *Config) { c.Channel = "@alice" }), "direct messages"},
	} {
		err := tc.c.Validate()
		require.ErrorContains(t, err, tc.msg, tc.name)
		notifytest.AssertNoSecret(t, err, secret)
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	_, err := New(Config{Name: "x", WebhookURL: "https://hooks.slack.com/services/nope"})
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("webhook_url"))
}

func TestSendFullEvent(t *testing.T) {
	api := mockSlack(http.StatusOK, "ok", nil)
	n, logs := newNotifier(t, validConfig(), api)

	rc, err := n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "ok"}, rc)

	require.Len(t, api.Requests(), 1)
	r := api.Requests()[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, hookURL, r.URL())
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, notify.DefaultUserAgent, r.Header.Get("User-Agent"))
	require.JSONEq(t, `{
		"text": "[CRITICAL] New script on checkout (shop.example.com)",
		"channel": "#security-alerts",
		"attachments": [{
			"color": "#B60205",
			"blocks": [
				{"type": "header", "text": {"type": "plain_text", "text": "[CRITICAL] New script on checkout"}},
				{"type": "section", "text": {"type": "mrkdwn",
					"text": `+quoted("A script from &lt;cdn.example.net&gt; &amp; *friends* appeared on /checkout: [a|b] {x} `y` \"z\" é.")+`}},
				{"type": "section", "fields": [
					{"type": "mrkdwn", "text": "*Risk*\nCRITICAL"},
					{"type": "mrkdwn", "text": "*Type*\nClient-side risk"},
					{"type": "mrkdwn", "text": "*Source*\nshop.example.com"},
					{"type": "mrkdwn", "text": "*Time*\n<!date^1767323045^{date_short_pretty} {time_secs}|2026-01-02T03:04:05Z>"},
					{"type": "mrkdwn", "text": "*Tags*\npci, checkout"},
					{"type": "mrkdwn", "text": "*Event ID*\nevt-123"}
				]},
				{"type": "section", "fields": [
					{"type": "mrkdwn", "text": "*page*\n/checkout"},
					{"type": "mrkdwn", "text": "*script*\nhttps://cdn.example.net/a.js"}
				]},
				{"type": "actions", "elements": [{"type": "button",
					"text": {"type": "plain_text", "text": "Open in Code Defender"},
					"url": "https://console.codedefender.example/alerts/evt-123?tab=1&x=2"}]}
			]
		}]
	}`, string(r.Body))
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

func TestSendMinimalEvent(t *testing.T) {
	api := mockSlack(http.StatusOK, "ok", nil)
	c := validConfig()
	c.Channel = ""
	n, _ := newNotifier(t, c, api)

	_, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.NoError(t, err)
	require.Len(t, api.Requests(), 1)
	require.JSONEq(t, `{
		"text": "[LOW] Minimal",
		"attachments": [{
			"color": "#0E8A16",
			"blocks": [
				{"type": "header", "text": {"type": "plain_text", "text": "[LOW] Minimal"}},
				{"type": "section", "fields": [
					{"type": "mrkdwn", "text": "*Risk*\nLOW"},
					{"type": "mrkdwn", "text": "*Type*\nIncident"},
					{"type": "mrkdwn", "text": "*Time*\n<!date^1767323045^{date_short_pretty} {time_secs}|2026-01-02T03:04:05Z>"},
					{"type": "mrkdwn", "text": "*Event ID*\nevt-1"}
				]}
			]
		}]
	}`, string(api.Requests()[0].Body))
}

func TestSendEscapesUntrustedText(t *testing.T) {
	api := mockSlack(http.StatusOK, "ok", nil)
	n, _ := newNotifier(t, validConfig(), api)
	e := testkit.MinimalEvent()
	e.Title = "<!channel> & <https://evil.example|click>"
	e.Description = "*bold* _it_ <@U123> &amp;"
	e.Source = "<!here>"
	e.Tags = []string{"<!everyone>"}
	e.Details = map[string]string{"<k>": "<v>&"}

	_, err := n.Send(context.Background(), e)
	require.NoError(t, err)
	m := body(t, api.Requests()[0])
	require.Equal(t, "[LOW] &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; (&lt;!here&gt;)", m.Text)
	bl := m.Attachments[0].Blocks
	require.Equal(t, "[LOW] &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;", bl[0].Text.Text)
	// Mrkdwn formatting characters are left alone: only &, < and > are escaped.
	require.Equal(t, "*bold* _it_ &lt;@U123&gt; &amp;amp;", bl[1].Text.Text)
	require.Equal(t, "*Source*\n&lt;!here&gt;", bl[2].Fields[2].Text)
	require.Equal(t, "*Tags*\n&lt;!everyone&gt;", bl[2].Fields[4].Text)
	require.Equal(t, "*&lt;k&gt;*\n&lt;v&gt;&amp;", bl[3].Fields[0].Text)
}

func TestSendLimits(t *testing.T) {
	send := func(t *testing.T, e notify.Event) message {
		t.Helper()
		api := mockSlack(http.StatusOK, "ok", nil)
		n, _ := newNotifier(t, validConfig(), api)
		_, err := n.Send(context.Background(), e)
		require.NoError(t, err)
		require.Len(t, api.Requests(), 1)
		return body(t, api.Requests()[0])
	}
	runes := utf8.RuneCountInString

	t.Run("header 150", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Title = strings.Repeat("é", 200)
		m := send(t, e)
		h := m.Attachments[0].Blocks[0].Text.Text
		require.Equal(t, "[LOW] "+strings.Repeat("é", 150-len("[LOW] ")-1)+"…", h)
		require.Equal(t, 150, runes(h))
		// The fallback text has room for the whole title.
		require.Equal(t, "[LOW] "+e.Title, m.Text)
	})
	t.Run("text 40,000", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Title = strings.Repeat("t", 50000)
		m := send(t, e)
		require.Equal(t, 40000, runes(m.Text))
		require.True(t, strings.HasSuffix(m.Text, "t…"))
	})
	t.Run("section 3,000, entities not split", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Description = strings.Repeat("a", 2995) + "&&&&&&"
		m := send(t, e)
		d := m.Attachments[0].Blocks[1].Text.Text
		// 2995 + "&amp;" would be 3000 with no room for the marker.
		require.Equal(t, strings.Repeat("a", 2995)+"…", d)
	})
	t.Run("field 2,000", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Details = map[string]string{"k": strings.Repeat("v", 2500)}
		m := send(t, e)
		f := m.Attachments[0].Blocks[2].Fields[0].Text
		require.Equal(t, 2000, runes(f))
		require.Equal(t, "*k*\n"+strings.Repeat("v", 2000-4-1)+"…", f)
	})
	t.Run("10 fields per section", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Details = map[string]string{}
		for i := range 25 {
			e.Details[fmt.Sprintf("d%02d", i)] = "x"
		}
		m := send(t, e)
		bl := m.Attachments[0].Blocks
		require.Len(t, bl, 2+3)
		require.Len(t, bl[2].Fields, 10)
		require.Len(t, bl[3].Fields, 10)
		require.Len(t, bl[4].Fields, 5)
		require.Equal(t, "*d00*\nx", bl[2].Fields[0].Text)
		require.Equal(t, "*d24*\nx", bl[4].Fields[4].Text)
	})
	t.Run("50 blocks", func(t *testing.T) {
		e := testkit.FullEvent() // header, description, summary and button: 4 blocks
		e.Details = map[string]string{}
		for i := range 600 {
			e.Details[fmt.Sprintf("d%03d", i)] = "x"
		}
		m := send(t, e)
		bl := m.Attachments[0].Blocks
		require.Len(t, bl, 50)
		// 45 sections of 10 details, the note, then the button.
		require.Equal(t, "section", bl[3].Type)
		require.Equal(t, "section", bl[47].Type)
		require.Len(t, bl[47].Fields, 10)
		require.Equal(t, "context", bl[48].Type)
		require.Equal(t, map[string]any{"type": "mrkdwn",
			"text": "150 more details not shown: Slack's message size limits"}, bl[48].Elements[0])
		require.Equal(t, "actions", bl[49].Type)
	})
	t.Run("block text budget", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.Details = map[string]string{}
		for i := range 10 {
			e.Details[fmt.Sprintf("d%d", i)] = strings.Repeat("v", 1900)
		}
		m := send(t, e)
		bl := m.Attachments[0].Blocks
		total := 0
		for _, b := range bl {
			total += blockChars(b)
			for _, el := range b.Elements {
				total += runes(el.(map[string]any)["text"].(string))
			}
		}
		require.LessOrEqual(t, total, maxBlockTextRunes)
		require.Equal(t, "context", bl[len(bl)-1].Type)
		// Six of the 1,905-rune fields fit in 12,000 with the summary.
		require.Len(t, bl[2].Fields, 6)
		require.Equal(t, "4 more details not shown: Slack's message size limits",
			bl[len(bl)-1].Elements[0].(map[string]any)["text"])
	})
	t.Run("button url over 3,000 is left out", func(t *testing.T) {
		e := testkit.MinimalEvent()
		e.URL = "https://console.example/" + strings.Repeat("p", 3000)
		m := send(t, e)
		for _, b := range m.Attachments[0].Blocks {
			require.NotEqual(t, "actions", b.Type)
		}
	})
}

func TestFit(t *testing.T) {
	require.Equal(t, "a &amp; b", fit("a & b", 9))
	require.Equal(t, "a &amp;…", fit("a & b", 8))
	require.Equal(t, "a …", fit("a & b", 7))
	require.Equal(t, "&amp;…", fit("&&&", 6))
	require.Equal(t, "…", fit("&&&", 5))
	require.Equal(t, "", fit("abc", 0))
	require.Equal(t, "日本…", fit("日本語です", 3))
}

func TestTestPostsMarkedMessage(t *testing.T) {
	api := mockSlack(http.StatusOK, "ok", nil)
	n, _ := newNotifier(t, validConfig(), api)
	n.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 999, time.UTC) }

	require.NoError(t, n.Test(context.Background()))
	require.Len(t, api.Requests(), 1)
	r := api.Requests()[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, hookURL, r.URL())
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.JSONEq(t, `{
		"text": "[TEST] Code Defender connection test",
		"channel": "#security-alerts",
		"attachments": [{
			"color": "#1D76DB",
			"blocks": [
				{"type": "header", "text": {"type": "plain_text", "text": "[TEST] Code Defender connection test"}},
				{"type": "section", "text": {"type": "mrkdwn",
					"text": "This is a test message from the Code Defender integration \"SOC alerts\". It shows that alerts reach this channel; no action is needed."}},
				{"type": "section", "fields": [
					{"type": "mrkdwn", "text": "*Risk*\nINFO"},
					{"type": "mrkdwn", "text": "*Type*\nTest"},
					{"type": "mrkdwn", "text": "*Time*\n<!date^1767323045^{date_short_pretty} {time_secs}|2026-01-02T03:04:05Z>"},
					{"type": "mrkdwn", "text": "*Event ID*\nconnection-test"}
				]}
			]
		}]
	}`, string(r.Body))
}

func TestSendRefusesInvalidEvent(t *testing.T) {
	api := mockSlack(http.StatusOK, "ok", nil)
	n, _ := newNotifier(t, validConfig(), api)
	e := testkit.FullEvent()
	e.ID, e.Title = "", ""
	_, err := n.Send(context.Background(), e)
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("id"))
	require.True(t, ve.Has("title"))
	require.Empty(t, api.Requests())
}

// TestErrors classifies recorded Slack answers and checks that each error
// says what to fix and never holds the webhook URL.
func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		kind       error
		retryable  bool
		retryAfter time.Duration
		contains   []string
	}{
		{name: "429 with Retry-After", status: 429, body: "rate_limited", header: http.Header{"Retry-After": {"7"}},
			kind: notify.ErrRateLimited, retryable: true, retryAfter: 7 * time.Second, contains: []string{"status 429"}},
		{name: "400 invalid_payload", status: 400, body: "invalid_payload",
			kind: notify.ErrRejected, contains: []string{"status 400", "invalid_payload", "report this"}},
		{name: "401", status: 401, body: "",
			kind: notify.ErrUnauthorized, contains: []string{"status 401", "Unauthorized"}},
		{name: "403 action_prohibited", status: 403, body: "action_prohibited",
			kind: notify.ErrForbidden, contains: []string{"action_prohibited", "admin has restricted posting"}},
		{name: "403 invalid_token", status: 403, body: "invalid_token",
			kind: notify.ErrForbidden, contains: []string{"revoked", "create a new one"}},
		{name: "404 channel_not_found", status: 404, body: "channel_not_found",
			kind: notify.ErrNotFound, contains: []string{"channel_not_found", "check channel"}},
		{name: "404 no_service", status: 404, body: "no_service",
			kind: notify.ErrNotFound, contains: []string{"no longer exists", "create a new webhook URL"}},
		{name: "410 channel_is_archived", status: 410, body: "channel_is_archived",
			kind: notify.ErrNotFound, contains: []string{"archived"}},
		{name: "500 rollup_error", status: 500, body: "rollup_error",
			kind: notify.ErrUnavailable, retryable: true, contains: []string{"status 500", "internal error"}},
		{name: "503 HTML page", status: 503, body: "<html><title>Service Unavailable</title></html>",
			kind: notify.ErrUnavailable, retryable: true, contains: []string{"HTML page: Service Unavailable"}},
		{name: "answer that echoes the URL", status: 400, body: "bad hook " + hookURL,
			kind: notify.ErrRejected, contains: []string{"bad hook [REDACTED]"}},
		{name: "302 redirect", status: 302, header: http.Header{"Location": {"https://elsewhere.example/x"}},
			kind: notify.ErrRejected, contains: []string{"redirect to elsewhere.example not followed"}},
		{name: "204 is not Slack's answer", status: 204,
			kind: notify.ErrRejected, contains: []string{"status 204: Slack answers 200 ok; is the URL Slack's own?"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := mockSlack(tc.status, tc.body, tc.header)
			n, logs := newNotifier(t, validConfig(), api)
			for _, op := range []string{"send", "test"} {
				var err error
				if op == "send" {
					_, err = n.Send(context.Background(), testkit.FullEvent())
				} else {
					err = n.Test(context.Background())
				}
				require.Error(t, err)
				var e *notify.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, op, e.Op)
				require.ErrorIs(t, err, tc.kind)
				require.Equal(t, tc.retryable, notify.IsRetryable(err))
				require.Equal(t, tc.retryAfter, notify.RetryAfterOf(err))
				for _, c := range tc.contains {
					require.Contains(t, err.Error(), c)
				}
				notifytest.AssertNoSecret(t, err, secret)
			}
			notifytest.AssertNoSecret(t, logs.String(), secret)
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	t.Run("connection refused is retryable", func(t *testing.T) {
		api := testkit.NewMockAPI()
		api.RegisterResponder(http.MethodPost, hookURL, httpmock.NewErrorResponder(
			fmt.Errorf("dial tcp: connection refused while posting to %s", hookURL)))
		n, logs := newNotifier(t, validConfig(), api)
		_, err := n.Send(context.Background(), testkit.FullEvent())
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.True(t, notify.IsRetryable(err))
		notifytest.AssertNoSecret(t, err, secret)
		notifytest.AssertNoSecret(t, logs.String(), secret)
	})
}

// loopbackSlack serves h over TLS on 127.0.0.1 and returns a client that
// sends every host there, so requests to hooks.slack.com go through the
// real net/http stack.
func loopbackSlack(t *testing.T, h http.HandlerFunc) *http.Client {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return &http.Client{Transport: tr}
}

func TestLoopback(t *testing.T) {
	t.Run("a real round trip", func(t *testing.T) {
		var got []byte
		c := loopbackSlack(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/services/T0123ABCD/B0456EFGH/abcdEFGH1234ijklMNOP5678" || r.Host != "hooks.slack.com" {
				http.Error(w, "no_service", http.StatusNotFound)
				return
			}
			got, _ = io.ReadAll(r.Body)
			_, _ = io.WriteString(w, "ok")
		})
		n, err := New(validConfig(), notify.WithHTTPClient(c))
		require.NoError(t, err)
		rc, err := n.Send(context.Background(), testkit.MinimalEvent())
		require.NoError(t, err)
		require.Equal(t, notify.Receipt{ID: "ok"}, rc)
		require.Contains(t, string(got), `"text":"[LOW] Minimal"`)
	})
	t.Run("a cancelled context is not retryable", func(t *testing.T) {
		c := loopbackSlack(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
		n, err := New(validConfig(), notify.WithHTTPClient(c))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = n.Send(ctx, testkit.MinimalEvent())
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, notify.IsRetryable(err))
		notifytest.AssertNoSecret(t, err, secret)
	})
	t.Run("a timeout is retryable", func(t *testing.T) {
		release := make(chan struct{})
		c := loopbackSlack(t, func(w http.ResponseWriter, r *http.Request) {
			// Reading the body lets the server see the client hang up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
				// Returning would answer 200, which the client, racing its
				// deadline, could read as a success: drop the connection.
				panic(http.ErrAbortHandler)
			case <-release:
			}
		})
		t.Cleanup(func() { close(release) }) // runs before the server closes
		logger, logs := notifytest.NewLogger()
		n, err := New(validConfig(), notify.WithHTTPClient(c), notify.WithTimeout(50*time.Millisecond),
			notify.WithLogger(logger))
		require.NoError(t, err)
		_, err = n.Send(context.Background(), testkit.MinimalEvent())
		require.ErrorIs(t, err, notify.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, notify.IsRetryable(err))
		require.Contains(t, err.Error(), "timed out")
		notifytest.AssertNoSecret(t, err, secret)
		notifytest.AssertNoSecret(t, logs.String(), secret)
	})
}

func TestFromJSONAndPrinting(t *testing.T) {
	raw := fmt.Sprintf(`{"name":"SOC","webhook_url":%q,"channel":"#soc"}`, hookURL)
	n, err := FromJSON(json.RawMessage(raw))
	require.NoError(t, err)
	require.Equal(t, `slack("SOC")`, fmt.Sprint(n))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, n), secret)
		notifytest.AssertNoSecret(t, fmt.Sprintf(verb, validConfig()), secret)
	}
	out, err := json.Marshal(validConfig())
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"SOC alerts","webhook_url":"[REDACTED]","channel":"#security-alerts"}`, string(out))

	_, err = FromJSON(json.RawMessage(`{"name":"SOC","webhook_url":"x","colour":"red"}`))
	var ve *notify.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("colour"))

	// A masked config sent back fails instead of replacing the credential.
	_, err = FromJSON(out)
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.Has("webhook_url"))
}

func TestReceiptIsSlacksAnswer(t *testing.T) {
	api := mockSlack(http.StatusOK, "ok\n", nil)
	n, _ := newNotifier(t, validConfig(), api)
	rc, err := n.Send(context.Background(), testkit.MinimalEvent())
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "ok"}, rc)
}

// TestAgainstFake runs the notifier against notifytest's loopback Slack,
// which checks Block Kit's limits the way Slack does.
func TestAgainstFake(t *testing.T) {
	srv := fakes.NewServer(t)
	logger, logs := notifytest.NewLogger()
	n, err := New(validConfig(), notify.WithHTTPClient(srv.Client()), notify.WithLogger(logger))
	require.NoError(t, err)
	ctx := context.Background()

	require.NoError(t, n.Test(ctx))
	e := testkit.FullEvent()
	e.Title = strings.Repeat("t", 500)
	e.Description = strings.Repeat("d", 5000)
	e.Details = map[string]string{}
	for i := range 300 {
		e.Details[fmt.Sprintf("d%03d", i)] = strings.Repeat("v", 100)
	}
	rc, err := n.Send(ctx, e)
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "ok"}, rc)
	// The fake holds its Block Kit limits against the resolution too.
	_, err = n.Send(ctx, testkit.Resolved(e))
	require.NoError(t, err)
	reqs := srv.RequestsTo(notifytest.Slack)
	require.Len(t, reqs, 3)
	require.Equal(t, hookURL, reqs[1].URL())
	require.Equal(t, http.StatusOK, reqs[2].Status)
	require.Contains(t, string(reqs[2].Body), "[RESOLVED]")

	srv.RevokeCredentials(secret)
	_, err = n.Send(ctx, e)
	require.ErrorIs(t, err, notify.ErrForbidden)
	require.Contains(t, err.Error(), "invalid_token")
	require.Contains(t, err.Error(), "revoked")
	notifytest.AssertNoSecret(t, err, secret)
	notifytest.AssertNoSecret(t, logs.String(), secret)
}

// TestSendResolved: a resolved event posts a message that says so, with
// the facts that identify the alert and without its description and
// details. An incoming webhook keeps no state, so every resolution posts.
func TestSendResolved(t *testing.T) {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, hookURL, http.StatusOK, "ok", nil)
	n, err := New(validConfig(), notify.WithHTTPClient(m.Client()))
	require.NoError(t, err)

	rc, err := n.Send(context.Background(), testkit.Resolved(testkit.FullEvent()))
	require.NoError(t, err)
	require.Equal(t, notify.Receipt{ID: "ok"}, rc)
	reqs := m.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, http.MethodPost, reqs[0].Method)
	require.Equal(t, hookURL, reqs[0].URL())
	require.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	testkit.JSONEq(t, `{
		"text": "[RESOLVED] New script on checkout (shop.example.com)",
		"channel": "#security-alerts",
		"attachments": [{"color": "#2EB67D", "blocks": [
			{"type": "header", "text": {"type": "plain_text", "text": "[RESOLVED] New script on checkout"}},
			{"type": "section", "text": {"type": "mrkdwn", "text": "This alert was resolved in Code Defender."}},
			{"type": "section", "fields": [
				{"type": "mrkdwn", "text": "*Risk*\nCRITICAL"},
				{"type": "mrkdwn", "text": "*Type*\nClient-side risk"},
				{"type": "mrkdwn", "text": "*Source*\nshop.example.com"},
				{"type": "mrkdwn", "text": "*Time*\n<!date^1767323045^{date_short_pretty} {time_secs}|2026-01-02T03:04:05Z>"},
				{"type": "mrkdwn", "text": "*Tags*\npci, checkout"},
				{"type": "mrkdwn", "text": "*Event ID*\nevt-123"}
			]},
			{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open in Code Defender"},
				"url": "https://console.codedefender.example/alerts/evt-123?tab=1&x=2"}]}
		]}]
	}`, reqs[0].Body)

	// Resolving again, or what was never opened, posts the same notice.
	_, err = n.Send(context.Background(), testkit.Resolved(testkit.MinimalEvent()))
	require.NoError(t, err)
	require.Contains(t, string(m.Requests()[1].Body), `"text":"[RESOLVED] Minimal"`)
}

func TestTestReport(t *testing.T) {
	cases := []struct {
		name    string
		channel string
		status  int
		body    string
		want    []notify.CheckStatus
	}{
		{name: "posted, channel a warning", channel: "#security-alerts", status: 200, body: "ok",
			want: []notify.CheckStatus{notify.CheckPassed, notify.CheckWarning}},
		{name: "posted, no channel", status: 200, body: "ok", want: []notify.CheckStatus{notify.CheckPassed}},
		{name: "revoked", channel: "#security-alerts", status: 403, body: "invalid_token",
			want: []notify.CheckStatus{notify.CheckFailed, notify.CheckSkipped}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := testkit.NewMockAPI()
			m.On(http.MethodPost, hookURL, tc.status, tc.body, nil)
			c := validConfig()
			c.Channel = tc.channel
			n, err := New(c, notify.WithHTTPClient(m.Client()))
			require.NoError(t, err)
			rep := n.TestReport(context.Background())
			var got []notify.CheckStatus
			for _, ch := range rep.Checks {
				got = append(got, ch.Status)
				require.NotEmpty(t, ch.Detail)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, "webhook posted the message", rep.Checks[0].Name)
			if len(rep.Checks) > 1 {
				require.Equal(t, "channel honoured", rep.Checks[1].Name)
			}
			if tc.want[0] == notify.CheckPassed {
				require.NoError(t, rep.Err())
				require.Contains(t, string(m.Requests()[0].Body), "[TEST]")
				return
			}
			require.ErrorIs(t, rep.Err(), notify.ErrForbidden)
			require.Contains(t, rep.Checks[0].Detail, "the webhook URL has been revoked")
			require.ErrorIs(t, n.Test(context.Background()), notify.ErrForbidden)
			notifytest.AssertNoSecret(t, rep.Err(), secret)
		})
	}
}

// TestClose: Close may be called twice, and afterwards nothing is sent.
func TestClose(t *testing.T) {
	api := mockSlack(http.StatusOK, "ok", nil)
	n, _ := newNotifier(t, validConfig(), api)
	_, err := n.Send(context.Background(), testkit.FullEvent())
	require.NoError(t, err)
	testkit.CloseContract(t, n, testkit.FullEvent(), func() int { return len(api.Requests()) }, secret)
}
