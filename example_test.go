package integrations_test

import (
	"encoding/json"
	"fmt"

	integrations "github.com/codedefender/integrations"
)

// A console draws the Slack form from its schema: one input per property,
// labelled with its title, and a password input for each write-only secret.
func ExampleSchema() {
	b, err := integrations.Schema("slack")
	if err != nil {
		panic(err)
	}
	var s struct {
		Title      string   `json:"title"`
		Required   []string `json:"required"`
		Properties map[string]struct {
			Title     string `json:"title"`
			Format    string `json:"format"`
			WriteOnly bool   `json:"writeOnly"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		panic(err)
	}
	fmt.Println(s.Title, s.Required)
	for _, key := range []string{"name", "webhook_url", "channel"} {
		p := s.Properties[key]
		fmt.Printf("%s: %q format=%q writeOnly=%v\n", key, p.Title, p.Format, p.WriteOnly)
	}
	// Output:
	// Slack [name webhook_url]
	// name: "Name" format="" writeOnly=false
	// webhook_url: "Webhook URL" format="password" writeOnly=true
	// channel: "Channel" format="" writeOnly=false
}

// Schemas gives every form's schema at once, keyed by integration type.
func ExampleSchemas() {
	for _, typ := range integrations.Types() {
		var s struct {
			Title string `json:"title"`
		}
		if err := json.Unmarshal(integrations.Schemas()[typ], &s); err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s\n", typ, s.Title)
	}
	// Output:
	// datadog: Datadog Incidents
	// email: Email
	// gcs: GCS bucket
	// jira: Jira
	// opsgenie: Opsgenie
	// pagerduty: PagerDuty
	// s3: S3 bucket
	// slack: Slack
	// splunk: Splunk
	// webhook: Webhook
}
