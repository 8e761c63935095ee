package pagerduty_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/jarcoal/httpmock"
	"golang.org/x/time/rate"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/pagerduty"
)

// routingKey is a made-up integration key. The examples answer PagerDuty's
// part with a mock through notify.WithHTTPClient so that they run offline;
// in production, leave that option out.
const routingKey = "0123456789abcdefABCDEF0123456789"

func mockPagerDuty() *httpmock.MockTransport {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, pagerduty.EventsURL, httpmock.NewStringResponder(http.StatusAccepted,
		`{"status":"success","message":"Event processed","dedup_key":"evt-123"}`))
	return mt
}

// Trigger an alert at PagerDuty's rate, then resolve it.
func Example() {
	n, err := pagerduty.New(pagerduty.Config{Name: "On-call", WebhookURL: pagerduty.EventsURL, APIKey: routingKey},
		notify.WithHTTPClient(&http.Client{Transport: mockPagerDuty()}))
	if err != nil {
		fmt.Println(err)
		return
	}
	sender := notify.RateLimit(n, rate.NewLimiter(pagerduty.RateLimit, pagerduty.Burst))

	rc, err := sender.Send(context.Background(), notify.Event{
		ID:     "evt-123",
		Type:   notify.EventIncident,
		Title:  "New script on checkout",
		Risk:   notify.RiskHigh,
		Time:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Source: "shop.example.com",
	})
	fmt.Println("triggered:", rc.ID, err)

	rc, err = n.Resolve(context.Background(), "evt-123")
	fmt.Println("resolved:", rc.ID, err)
	// Output:
	// triggered: evt-123 <nil>
	// resolved: evt-123 <nil>
}

// The console's ".../v2/enque" is accepted as stored; other near misses
// of the Events API URL get a "did you mean".
func ExampleConfig_Validate() {
	fmt.Println(pagerduty.Config{
		Name:       "On-call",
		WebhookURL: "https://events.pagerduty.com/v2/enque",
		APIKey:     routingKey,
	}.Validate())
	fmt.Println(pagerduty.Config{
		Name:       "On-call",
		WebhookURL: "http://events.pagerduty.com/v2/enqueue",
		APIKey:     "u+abcdefghij12345678",
	}.Validate())
	// Output:
	// <nil>
	// invalid: webhook_url: did you mean https://events.pagerduty.com/v2/enqueue?; api_key: has 20 characters, like a REST API key; use the Integration Key of an Events API v2 integration (the service's Integrations tab), which has 32
}

// Test resolves a random dedup key: nothing is opened and no one is paged.
func ExampleNotifier_Test() {
	n, err := pagerduty.New(pagerduty.Config{Name: "On-call", WebhookURL: pagerduty.EventsURL, APIKey: routingKey},
		notify.WithHTTPClient(&http.Client{Transport: mockPagerDuty()}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.Test(context.Background()))
	// Output: <nil>
}
