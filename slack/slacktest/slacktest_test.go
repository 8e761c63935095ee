package slacktest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/codedefender/integrations/internal/fakekit"
	"github.com/codedefender/integrations/notify/notifytest"
	"github.com/codedefender/integrations/slack/slacktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const slackHook = "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"

func TestSlack(t *testing.T) {
	fake := slacktest.New()
	srv := notifytest.NewServer(t, fake)
	cases := []struct {
		name, url, contentType, body string
		status                       int
		answer                       string
	}{
		{"message", slackHook, "application/json", `{"text":"New script on shop.example.com"}`, 200, "ok"},
		{"form payload", slackHook, "application/x-www-form-urlencoded", `payload=%7B%22text%22%3A%22hi%22%7D`, 200, "ok"},
		{"long text is truncated by Slack, not refused", slackHook, "application/json",
			`{"text":"` + strings.Repeat("a", 40001) + `"}`, 200, "ok"},
		{"test probe: empty text", slackHook, "application/json", `{"text":""}`, 400, "no_text"},
		{"no text", slackHook, "application/json", `{"blocks":[]}`, 400, "no_text"},
		{"not JSON", slackHook, "application/json", `{"text":`, 400, "invalid_payload"},
		{"text not a string", slackHook, "application/json", `{"text":3}`, 400, "invalid_payload"},
		{"too many blocks", slackHook, "application/json",
			`{"text":"t","blocks":[` + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]}`, 400, "invalid_blocks"},
		{"header too long", slackHook, "application/json",
			`{"text":"t","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`, 400, "invalid_blocks"},
		{"section too long", slackHook, "application/json",
			`{"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("s", 3001) + `"}}]}`, 400, "invalid_blocks"},
		{"blocks at the limits", slackHook, "application/json",
			`{"text":"t","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 150) +
				`"}},{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("s", 3000) + `"}}]}`, 200, "ok"},
		{"not a hook", "https://hooks.slack.com/services/T1/B1/short", "application/json", `{"text":"t"}`, 404, "no_service"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := fakekit.Send(t, srv.Client(), http.MethodPost, c.url, map[string]string{"Content-Type": c.contentType}, c.body)
			require.Equal(t, c.status, a.Status)
			require.Equal(t, c.answer, a.Body)
		})
	}
	a := fakekit.Send(t, srv.Client(), http.MethodGet, slackHook, nil, "")
	require.Equal(t, http.StatusMethodNotAllowed, a.Status)
}
