package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jarcoal/httpmock"
	"golang.org/x/time/rate"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/slack"
)

// hook is a made-up incoming-webhook URL. The examples route it to a mock
// with notify.WithHTTPClient so that they run offline; in production, leave
// that option out and the library's guarded client posts to Slack.
const hook = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdEFGH1234ijklMNOP5678"

func event() notify.Event {
	return notify.Event{
		ID:     "evt-123",
		Type:   notify.EventClientSideRisk,
		Title:  "New script on checkout",
		Risk:   notify.RiskCritical,
		Time:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		URL:    "https://console.codedefender.example/alerts/evt-123",
		Source: "shop.example.com",
	}
}

// Send an alert at Slack's documented rate, retrying what can be retried.
func Example() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, hook, httpmock.NewStringResponder(http.StatusOK, "ok"))

	n, err := slack.New(slack.Config{Name: "SOC alerts", WebhookURL: hook, Channel: "#security-alerts"},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	// A Notifier never throttles itself: the caller applies Slack's rate.
	limited := notify.RateLimit(n, rate.NewLimiter(slack.RateLimit, slack.Burst))
	sender := notify.Retry(limited, notify.RetryPolicy{MaxAttempts: 3})

	rc, err := sender.Send(context.Background(), event())
	fmt.Println(n, rc.ID, err)
	// Output: slack("SOC alerts") ok <nil>
}

// Field errors name each bad field and say what the right form is; the
// webhook URL, a credential, is never repeated.
func ExampleConfig_Validate() {
	err := slack.Config{
		Name:       "SOC alerts",
		WebhookURL: "http://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdEFGH1234ijklMNOP5678",
		Channel:    "Security-Alerts",
	}.Validate()
	fmt.Println(err)
	// Output: invalid: webhook_url: must start with https:// and look like https://hooks.slack.com/services/T…/B…/… (T and B followed by capital letters and digits, then a 23-25 character token); channel: must be lower case: did you mean "#security-alerts"?
}

// Slack's own error string becomes a hint that says what to fix.
func ExampleNotifier_Send_channelNotFound() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, hook, httpmock.NewStringResponder(http.StatusNotFound, "channel_not_found"))

	n, err := slack.New(slack.Config{Name: "SOC alerts", WebhookURL: hook},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = n.Send(context.Background(), event())
	fmt.Println(err)
	fmt.Println("retryable:", notify.IsRetryable(err))
	// Output:
	// slack: send: status 404: channel_not_found (the channel does not exist or the webhook may not post to it: check channel, or create a new webhook URL)
	// retryable: false
}

// Test posts one message marked [TEST]: Slack has no silent check.
func ExampleNotifier_Test() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, hook, httpmock.NewStringResponder(http.StatusOK, "ok"))

	n, err := slack.New(slack.Config{Name: "SOC alerts", WebhookURL: hook},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.Test(context.Background()))
	// Output: <nil>
}
