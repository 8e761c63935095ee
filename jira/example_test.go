package jira_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/codedefender/integrations/jira"
	"github.com/codedefender/integrations/jira/jiratest"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// This example files an alert. The HTTP client is a mock of the Jira site,
// so the example runs offline; in production leave WithHTTPClient out.
func ExampleNotifier_Send() {
	site := httpmock.NewMockTransport()
	// No open issue carries the event's label yet...
	site.RegisterResponder(http.MethodPost, "https://acme.atlassian.net/rest/api/3/search/jql",
		httpmock.NewStringResponder(200, `{"issues":[],"isLast":true}`))
	// ...so Send files one.
	site.RegisterResponder(http.MethodPost, "https://acme.atlassian.net/rest/api/2/issue",
		httpmock.NewStringResponder(201, `{"id":"10100","key":"SEC-24"}`))

	n, err := jira.New(jira.Config{
		Name:             "Security board",
		URL:              "https://acme.atlassian.net/rest/api/2/issue/",
		ProjectID:        "10000",
		APIToken:         "ATATT3xFfGF0-example-token",
		ReporterEmail:    "secops@acme.example",
		PriorityFromRisk: true,
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
		Source: "shop.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.ID, r.URL)
	// Output: SEC-24 https://acme.atlassian.net/browse/SEC-24
}

// A retried Send finds the issue the first attempt filed, by the event's
// label, and files nothing.
func ExampleNotifier_Send_retry() {
	site := httpmock.NewMockTransport()
	site.RegisterResponder(http.MethodPost, "https://acme.atlassian.net/rest/api/3/search/jql",
		httpmock.NewStringResponder(200, `{"issues":[{"id":"10100","key":"SEC-24"}],"isLast":true}`))

	n, err := jira.New(jira.Config{
		Name:          "Security board",
		URL:           "https://acme.atlassian.net/rest/api/2/issue/",
		ProjectID:     "10000",
		APIToken:      "ATATT3xFfGF0-example-token",
		ReporterEmail: "secops@acme.example",
	}, notify.WithHTTPClient(&http.Client{Transport: site}))
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := n.Send(context.Background(), notify.Event{
		ID: "evt-1", Type: notify.EventIncident, Title: "New script on checkout",
		Risk: notify.RiskHigh, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	fmt.Println(r.ID, err, site.GetCallCountInfo()["POST https://acme.atlassian.net/rest/api/2/issue"])
	// Output: SEC-24 <nil> 0
}

// Validate reports every bad field at once, and says what the right form is.
func ExampleConfig_Validate() {
	err := jira.Config{
		Name:          "Security board",
		URL:           "https://acme.atlassian.net/rest/api/3/issue",
		ProjectID:     "SEC",
		APIToken:      "ATATT3xFfGF0-example-token",
		ReporterEmail: "secops@acme.example",
	}.Validate()
	var ve *notify.ValidationError
	if !errors.As(err, &ve) {
		fmt.Println(err)
		return
	}
	for _, f := range ve.Fields {
		fmt.Printf("%s: %s\n", f.Field, f.Message)
	}
	// Output:
	// url: must be the v2 address https://acme.atlassian.net/rest/api/2/issue/: v3 wants descriptions in the Atlassian Document Format, and this integration writes wiki markup, which only v2 accepts
	// project_id: must be the project's numeric id (digits only), not its key or name
}

// FromJSON builds a Notifier from the JSON the console stores.
func ExampleFromJSON() {
	n, err := jira.FromJSON(json.RawMessage(`{
		"name": "Security board",
		"url": "https://acme.atlassian.net/rest/api/2/issue/",
		"project_id": "10000",
		"api_token": "ATATT3xFfGF0-example-token",
		"reporter_email": "secops@acme.example",
		"issue_type": "Bug"
	}`))
	fmt.Println(n, err)
	// Output: jira("Security board") <nil>
}

// TestReport says what Test proved, step by step. The site here is
// notifytest's loopback fake of Jira, whose Incident issue type lacks the
// Labels field on its create screen.
func ExampleNotifier_TestReport() {
	issues := jiratest.New()
	srv, err := notifytest.StartServer(issues)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	n, err := jira.New(jira.Config{
		Name:          "Security board",
		URL:           "https://acme.atlassian.net/rest/api/2/issue/",
		ProjectID:     "10000",
		APIToken:      "ATATT3xFfGF0-example-token",
		ReporterEmail: "secops@acme.example",
		IssueType:     "Incident",
	}, notify.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range n.TestReport(context.Background()).Checks {
		fmt.Printf("%s: %s\n", c.Name, c.Status)
	}
	// Output:
	// token belongs to reporter_email: passed
	// project visible: passed
	// issue type exists: passed
	// Labels on the create screen: failed
	// Priority on the create screen: skipped
	// no unfilled required fields: passed
}

// A resolved event comments on the event's open issue and moves it to a
// Done status of the project's workflow, here the loopback fake's.
func ExampleNotifier_Send_resolved() {
	issues := jiratest.New()
	srv, err := notifytest.StartServer(issues)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	n, err := jira.New(jira.Config{
		Name:          "Security board",
		URL:           "https://acme.atlassian.net/rest/api/2/issue/",
		ProjectID:     "10000",
		APIToken:      "ATATT3xFfGF0-example-token",
		ReporterEmail: "secops@acme.example",
	}, notify.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	e := notify.Event{ID: "evt-1", Type: notify.EventIncident, Title: "New script on checkout",
		Risk: notify.RiskHigh, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	opened, _ := n.Send(context.Background(), e)
	e.Status = notify.StatusResolved
	closed, err := n.Send(context.Background(), e)
	fmt.Println(opened.ID, closed.ID, err, issues.Issues()[0].Status)
	// Output: SEC-1 SEC-1 <nil> Done
}
