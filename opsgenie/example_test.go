package opsgenie_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/opsgenie"
)

// The key and team are made up. The examples answer Opsgenie's part with a
// mock through notify.WithHTTPClient so that they run offline; in
// production, leave that option out.
const (
	apiKey = "eb243592-faa2-4ba2-a551-1afdf565c889"
	teamID = "4513b7ea-3b91-438f-b7e4-e3e54af9147c"
)

// Create an alert for the team; the receipt is Opsgenie's request id.
func Example() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, opsgenie.AlertsURL, httpmock.NewStringResponder(http.StatusAccepted,
		`{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}`))

	n, err := opsgenie.New(opsgenie.Config{Name: "SOC pager", URL: opsgenie.AlertsURL, TeamID: teamID, APIKey: apiKey},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	rc, err := n.Send(context.Background(), notify.Event{
		ID:    "evt-123",
		Type:  notify.EventPCIScopeChange,
		Title: "Payment page gained a script",
		Risk:  notify.RiskCritical,
		Time:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	fmt.Println(rc.ID, err)
	// Output: 43a29c5c-3dbf-4fa4-9c26-f4f71023e120 <nil>
}

// A resolved event closes the alert that its open event created, by alias.
func ExampleNotifier_Send_resolved() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodPost, opsgenie.AlertsURL+"/evt-123/close?identifierType=alias",
		httpmock.NewStringResponder(http.StatusAccepted,
			`{"result":"Request will be processed","took":0.01,"requestId":"5d3b1f0e-0c9a-4bde-9f55-7e0c1a2b3c4d"}`))

	n, err := opsgenie.New(opsgenie.Config{Name: "SOC pager", URL: opsgenie.AlertsURL, APIKey: apiKey},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	rc, err := n.Send(context.Background(), notify.Event{
		ID:     "evt-123",
		Type:   notify.EventPCIScopeChange,
		Title:  "Payment page gained a script",
		Risk:   notify.RiskCritical,
		Time:   time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC),
		Status: notify.StatusResolved,
	})
	fmt.Println(rc.ID, err)
	// Output: 5d3b1f0e-0c9a-4bde-9f55-7e0c1a2b3c4d <nil>
}

// TestReport proves the key without raising an alert, and says what it
// could not check with the key it has: a warning, not a failure.
func ExampleNotifier_TestReport() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodGet, opsgenie.AlertsURL+"?limit=1",
		httpmock.NewStringResponder(http.StatusOK, `{"data":[],"took":0.01,"requestId":"r-1"}`))
	mt.RegisterResponder(http.MethodGet, "https://api.opsgenie.com/v2/teams/"+teamID+"?identifierType=id",
		httpmock.NewStringResponder(http.StatusForbidden, `{"message":"You are not authorized for this operation"}`))

	n, err := opsgenie.New(opsgenie.Config{Name: "SOC pager", URL: opsgenie.AlertsURL, TeamID: teamID, APIKey: apiKey},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	report := n.TestReport(context.Background())
	for _, c := range report.Checks {
		fmt.Printf("%s: %s\n", c.Name, c.Status)
	}
	fmt.Println("Test:", report.Err())
	// Output:
	// API key accepted: passed
	// team visible: warning
	// key may create alerts: warning
	// Test: <nil>
}

// A key refused by Opsgenie gets an error that names the region to check.
func ExampleNotifier_Test_keyRefused() {
	mt := httpmock.NewMockTransport()
	mt.RegisterResponder(http.MethodGet, opsgenie.AlertsURL+"?limit=1",
		httpmock.NewStringResponder(http.StatusUnauthorized, `{"message":"Could not authenticate","took":0.0}`))

	n, err := opsgenie.New(opsgenie.Config{Name: "SOC pager", URL: opsgenie.AlertsURL, APIKey: apiKey},
		notify.WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = n.Test(context.Background())
	fmt.Println(err)
	fmt.Println(errors.Is(err, notify.ErrUnauthorized))
	// Output:
	// opsgenie: test: GET /v2/alerts: status 401: Could not authenticate (Opsgenie refused the API key: check the key, and that the URL's region matches the account (EU accounts use https://api.eu.opsgenie.com/v2/alerts, others https://api.opsgenie.com/v2/alerts))
	// true
}
