package datadog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/codedefender/integrations/datadog"
	"github.com/codedefender/integrations/notify"
)

// This example opens an incident. The HTTP client is a mock of Datadog's
// EU site, so the example runs offline; in production leave WithHTTPClient
// out. The site has no incident for the event yet, so Send opens one.
func ExampleNotifier_Send() {
	site := httpmock.NewMockTransport()
	site.RegisterResponder(http.MethodGet, "https://api.datadoghq.eu/api/v2/incidents/search",
		httpmock.NewStringResponder(200, `{"data":{"type":"incidents_search_results","attributes":{"incidents":[],"total":0}}}`))
	site.RegisterResponder(http.MethodPost, "https://api.datadoghq.eu/api/v2/incidents",
		httpmock.NewStringResponder(201, `{"data":{"type":"incidents","id":"00000000-0000-0000-1234-000000000000","attributes":{"public_id":42}}}`))

	n, err := datadog.New(datadog.Config{
		Name:           "Datadog EU",
		URL:            "https://api.datadoghq.eu/api/v2/incidents",
		ApplicationKey: "fedcba9876543210fedcba9876543210fedcba98",
		APIKey:         "0123456789abcdef0123456789abcdef",
	}, notify.WithHTTPClient(&http.Client{Transport: site}))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := n.Send(context.Background(), notify.Event{
		ID:     "evt-1",
		Type:   notify.EventClientSideRisk,
		Title:  "New script on checkout",
		Risk:   notify.RiskHigh, // opens a SEV-2 incident
		Time:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Source: "shop.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.ID, r.URL)
	// Output: 42 https://app.datadoghq.eu/incidents/42
}

// Test checks both keys and opens nothing. When Datadog refuses them, the
// error says which key is wrong.
func ExampleNotifier_Test() {
	site := httpmock.NewMockTransport()
	site.RegisterResponder(http.MethodGet, "https://api.us5.datadoghq.com/api/v2/validate_keys",
		httpmock.NewStringResponder(403, `{"errors":["Forbidden"]}`))
	site.RegisterResponder(http.MethodGet, "https://api.us5.datadoghq.com/api/v1/validate",
		httpmock.NewStringResponder(200, `{"valid":true}`))

	n, err := datadog.New(datadog.Config{
		Name:           "Datadog US5",
		URL:            "https://api.us5.datadoghq.com/api/v2/incidents",
		ApplicationKey: "fedcba9876543210fedcba9876543210fedcba98",
		APIKey:         "0123456789abcdef0123456789abcdef",
	}, notify.WithHTTPClient(&http.Client{Transport: site}))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = n.Test(context.Background())
	fmt.Println(errors.Is(err, notify.ErrUnauthorized))
	fmt.Println(err)
	// Output:
	// true
	// datadog: test: GET /api/v2/validate_keys: status 403: application_key is not valid on us5.datadoghq.com (it is revoked, mistyped, or from another site or organisation: copy it again from Organization settings → Application keys)
}

// Validate catches the web address pasted instead of the API's.
func ExampleConfig_Validate() {
	err := datadog.Config{
		Name:           "Datadog US1",
		URL:            "https://app.datadoghq.com/api/v2/incidents",
		ApplicationKey: "fedcba9876543210fedcba9876543210fedcba98",
		APIKey:         "0123456789abcdef0123456789abcdef",
	}.Validate()
	fmt.Println(err)
	// Output: invalid: url: is the web address of datadoghq.com, not its API host; did you mean https://api.datadoghq.com/api/v2/incidents?
}

// FromJSON builds a Notifier from the JSON the console stores.
func ExampleFromJSON() {
	n, err := datadog.FromJSON(json.RawMessage(`{
		"name": "Datadog EU",
		"url": "https://api.datadoghq.eu/api/v2/incidents",
		"application_key": "fedcba9876543210fedcba9876543210fedcba98",
		"api_key": "0123456789abcdef0123456789abcdef"
	}`))
	fmt.Println(n, err)
	// Output: datadog("Datadog EU") <nil>
}

// TestReport says what Test proved, step by step; what the keys cannot
// prove without opening an incident is a warning a console can show.
func ExampleNotifier_TestReport() {
	site := httpmock.NewMockTransport()
	site.RegisterResponder(http.MethodGet, "https://api.datadoghq.eu/api/v2/validate_keys",
		httpmock.NewStringResponder(200, `{"status":"ok"}`))
	site.RegisterResponder(http.MethodGet, "https://api.datadoghq.eu/api/v2/incidents/search",
		httpmock.NewStringResponder(200, `{"data":{"type":"incidents_search_results","attributes":{"incidents":[],"total":0}}}`))

	n, err := datadog.New(datadog.Config{
		Name:           "Datadog EU",
		URL:            "https://api.datadoghq.eu/api/v2/incidents",
		ApplicationKey: "fedcba9876543210fedcba9876543210fedcba98",
		APIKey:         "0123456789abcdef0123456789abcdef",
	}, notify.WithHTTPClient(&http.Client{Transport: site}))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := n.TestReport(context.Background())
	for _, c := range r.Checks {
		fmt.Printf("%s: %s\n", c.Name, c.Status)
	}
	fmt.Println(r.Err())
	// Output:
	// keys valid: passed
	// incidents readable: passed
	// incident_write permission: warning
	// <nil>
}

// A resolved event sets the incident its open event opened to resolved.
func ExampleNotifier_Send_resolved() {
	const incident = `{"type":"incidents","id":"00000000-0000-0000-1234-000000000000",` +
		`"attributes":{"public_id":42,"fields":{"state":{"type":"dropdown","value":"active"}}}}`
	site := httpmock.NewMockTransport()
	site.RegisterResponder(http.MethodGet, "https://api.datadoghq.eu/api/v2/incidents/search",
		httpmock.NewStringResponder(200, `{"data":{"attributes":{"incidents":[{"data":`+incident+`}],"total":1}}}`))
	site.RegisterResponder(http.MethodPatch, "https://api.datadoghq.eu/api/v2/incidents/00000000-0000-0000-1234-000000000000",
		httpmock.NewStringResponder(200, `{"data":`+incident+`}`))

	n, err := datadog.New(datadog.Config{
		Name:           "Datadog EU",
		URL:            "https://api.datadoghq.eu/api/v2/incidents",
		ApplicationKey: "fedcba9876543210fedcba9876543210fedcba98",
		APIKey:         "0123456789abcdef0123456789abcdef",
	}, notify.WithHTTPClient(&http.Client{Transport: site}))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := n.Send(context.Background(), notify.Event{
		ID:     "evt-1",
		Type:   notify.EventClientSideRisk,
		Title:  "New script on checkout",
		Risk:   notify.RiskHigh,
		Time:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Status: notify.StatusResolved,
	})
	fmt.Println(r.ID, err)
	// Output: 42 <nil>
}
