package testkit_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/sender"
	"github.com/codedefender/integrations/internal/settings"
	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/slack"
)

func TestMockAPIRecordsWhatItAnswers(t *testing.T) {
	m := testkit.NewMockAPI()
	m.On(http.MethodPost, "https://api.example.com/v1/x", http.StatusAccepted, `{"id":"1"}`, http.Header{"X-Request-Id": {"r1"}})
	s := sender.New("test", settings.Apply(notify.WithHTTPClient(m.Client())))
	resp, err := s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodPost,
		URL: "https://api.example.com/v1/x?a=b", JSON: map[string]int{"n": 1}})
	require.NoError(t, err)
	require.Equal(t, "r1", resp.Header.Get("X-Request-Id"))
	reqs := m.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, http.MethodPost, reqs[0].Method)
	require.Equal(t, "api.example.com", reqs[0].Host)
	require.Equal(t, "/v1/x", reqs[0].Path)
	require.Equal(t, "b", reqs[0].Query.Get("a"))
	require.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	require.JSONEq(t, `{"n":1}`, string(reqs[0].Body))
	require.Equal(t, http.StatusAccepted, reqs[0].Status)
	require.Equal(t, 1, m.Calls(http.MethodPost, "https://api.example.com/v1/x"))

	_, err = s.Do(context.Background(), sender.Request{Op: "send", Method: http.MethodGet, URL: "https://api.example.com/other"})
	require.Error(t, err, "an unregistered endpoint fails")
}

func TestRunValidate(t *testing.T) {
	testkit.RunValidate(t, []testkit.ValidateCase[nameOnly]{
		{Name: "valid", Config: nameOnly{"Prod"}},
		{Name: "no name", Config: nameOnly{""}, Fields: []string{"name"}},
	}, nil)
}

type nameOnly struct{ Name string }

func (c nameOnly) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	return errs.Err()
}

func TestFixturesAreValid(t *testing.T) {
	for _, e := range []notify.Event{testkit.FullEvent(), testkit.MinimalEvent(), testkit.Resolved(testkit.FullEvent())} {
		require.NoError(t, e.Validate())
	}
	require.True(t, testkit.Resolved(testkit.MinimalEvent()).Status.IsResolved())
}

func TestRunValidateChecksTheSchema(t *testing.T) {
	const url = "https://hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx"
	testkit.RunValidate(t, []testkit.ValidateCase[slack.Config]{
		{Name: "valid", Config: slack.Config{Name: "SOC", WebhookURL: url}},
		{Name: "no URL", Config: slack.Config{Name: "SOC"}, Fields: []string{"webhook_url"}, Schema: true},
		{Name: "upper-case channel", Config: slack.Config{Name: "SOC", WebhookURL: url, Channel: "#SOC"}, Fields: []string{"channel"}, Schema: true},
	}, func(c slack.Config) []notify.Secret { return []notify.Secret{c.WebhookURL} })
}
