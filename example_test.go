package integrations_test

import (
	"bytes"
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
	schemas := integrations.Schemas()
	for _, typ := range integrations.Types() {
		var s struct {
			Title string `json:"title"`
		}
		if err := json.Unmarshal(schemas[typ], &s); err != nil {
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

// A console shows the masked form of what it stored, and stores what Merge
// makes of the form it gets back: the secret the user did not retype is the
// stored one, the name is the edited one.
func ExampleMerge() {
	stored := []byte(`{"type":"opsgenie","config":{"name":"SOC","url":"https://api.opsgenie.com/v2/alerts",
		"api_key":"eb243592-faa2-4ba2-a551-1afdf565c889"}}`)

	shown, err := integrations.Mask(stored)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(shown))

	edited := bytes.Replace(shown, []byte(`"name":"SOC"`), []byte(`"name":"SOC on-call"`), 1)
	toStore, err := integrations.Merge(stored, edited)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(toStore))

	// A secret the console shows masked but nothing stored holds is an
	// error that names the field.
	_, err = integrations.Merge(
		[]byte(`{"type":"opsgenie","config":{"name":"SOC","url":"https://api.opsgenie.com/v2/alerts"}}`), edited)
	fmt.Println(err)
	// Output:
	// {"type":"opsgenie","config":{"name":"SOC","url":"https://api.opsgenie.com/v2/alerts","api_key":"[REDACTED]"}}
	// {"type":"opsgenie","config":{"name":"SOC on-call","url":"https://api.opsgenie.com/v2/alerts","api_key":"eb243592-faa2-4ba2-a551-1afdf565c889"}}
	// invalid: config.api_key: holds the [REDACTED] mask, but no value is stored for it: enter the secret
}

// Mask gives the form a console shows: every secret masked, every other
// field as stored.
func ExampleMask() {
	shown, err := integrations.Mask([]byte(`{"type":"webhook","config":{"name":"SIEM",
		"url":"https://siem.example.com/hooks/codedefender",
		"headers":[{"name":"Authorization","value":"Bearer siem-token"}]}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(shown))
	// Output:
	// {"type":"webhook","config":{"name":"SIEM","url":"https://siem.example.com/hooks/codedefender","headers":[{"name":"Authorization","value":"[REDACTED]"}]}}
}
