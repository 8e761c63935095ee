// Package sample holds the events the example programs send when they are
// not given one: a realistic alert, and a test event for checking a live
// integration.
package sample

import (
	"time"

	"github.com/codedefender/integrations/notify"
)

// idLayout dates an event ID to the second, so that two runs a second apart
// raise two alerts while a retry within one run keeps its ID (the dedup key).
const idLayout = "20060102T150405Z"

// Alert returns a client-side risk alert raised at now, the kind of event
// Code Defender sends most: a script that appeared on a checkout page.
func Alert(now time.Time) notify.Event {
	now = now.UTC().Truncate(time.Second)
	return notify.Event{
		ID:          "sample-alert-" + now.Format(idLayout),
		Type:        notify.EventClientSideRisk,
		Title:       "New third-party script on /checkout",
		Description: "A script from cdn.unknown-analytics.example started loading on the checkout page and reads the card number field.",
		Risk:        notify.RiskHigh,
		Time:        now,
		URL:         "https://console.codedefender.example/alerts/sample",
		Source:      "shop.example.com",
		Tags:        []string{"pci-dss-6.4.3", "new-script"},
		Details: map[string]string{
			"script": "https://cdn.unknown-analytics.example/a.js",
			"page":   "https://shop.example.com/checkout",
		},
	}
}

// Test returns an event of type test raised at now. Destinations mark it
// as a test where they can (a Slack "Test" label, a Datadog test incident),
// and the webhook sends it whatever its events list says.
func Test(now time.Time) notify.Event {
	now = now.UTC().Truncate(time.Second)
	return notify.Event{
		ID:          "sample-test-" + now.Format(idLayout),
		Type:        notify.EventTest,
		Title:       "[TEST] Code Defender alert pipeline check",
		Description: "A test alert sent by cdnotify to check this integration. No action is needed.",
		Risk:        notify.RiskInfo,
		Time:        now,
		Source:      "cdnotify",
	}
}
