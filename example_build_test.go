package integrations_test

import (
	"fmt"

	integrations "github.com/codedefender/integrations"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// Build turns one integration as the console stores it into a Notifier of
// its type, checked: an unknown field, or every bad field at once, is a
// *notify.ValidationError naming each by its JSON path, and nothing is sent
// anywhere.
func ExampleBuild() {
	n, err := integrations.Build([]byte(`{"type": "pagerduty", "config": {"name": "On-call",
		"webhook_url": "https://events.pagerduty.com/v2/enqueue",
		"api_key": "R0utingKeyExample0123456789abcde"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	named := n.(notify.Named)
	fmt.Println(named.Type(), named.Name(), n.Validate())

	_, err = integrations.Build([]byte(`{"type": "slack", "config": {"name": "SOC Slack",
		"webhook_url": "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx",
		"colour": "red"}}`))
	fmt.Println(notifytest.FieldsOf(err))
	_, err = integrations.Build([]byte(`{"type": "slack", "config": {"name": "",
		"webhook_url": "http://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"}}`))
	fmt.Println(notifytest.FieldsOf(err))
	// Output:
	// pagerduty On-call <nil>
	// [config.colour]
	// [config.name config.webhook_url]
}

// BuildAll builds the console's whole list at once. Every bad entry is
// reported together, by index, and no Notifier comes back unless all are
// valid; names are unique, since they key the results of a fan-out.
func ExampleBuildAll() {
	all, err := integrations.BuildAll([]byte(`[
		{"type": "slack", "config": {"name": "SOC Slack",
			"webhook_url": "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"}},
		{"type": "pagerduty", "config": {"name": "On-call",
			"webhook_url": "https://events.pagerduty.com/v2/enqueue",
			"api_key": "R0utingKeyExample0123456789abcde"}}
	]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	targets := map[string]notify.Notifier{}
	for _, n := range all {
		fmt.Println(n.Type, n.Name)
		targets[n.Name] = n.Notifier // what notify.Fanout takes
	}

	_, err = integrations.BuildAll([]byte(`[
		{"type": "slack", "config": {"name": "SOC Slack",
			"webhook_url": "https://hooks.slack.com/services/T0001ABCD/B0002EFGH/abcdefghijklmnopqrstuvwx"}},
		{"type": "fax", "config": {}},
		{"type": "pagerduty", "config": {"name": "SOC Slack",
			"webhook_url": "https://events.pagerduty.com/v2/enqueue",
			"api_key": "R0utingKeyExample0123456789abcde"}}
	]`))
	fmt.Println(len(targets), notifytest.FieldsOf(err))
	// Output:
	// slack SOC Slack
	// pagerduty On-call
	// 2 [[1].type [2].config.name]
}
