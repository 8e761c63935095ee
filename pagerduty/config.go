package pagerduty

import (
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for PagerDuty.
const Type = "pagerduty"

// The Events API v2 URLs that Config.WebhookURL may name: PagerDuty's own,
// and its EU service region's (PagerDuty developer docs, Events API v2).
const (
	EventsURL   = "https://events.pagerduty.com/v2/enqueue"
	EventsURLEU = "https://events.eu.pagerduty.com/v2/enqueue"
)

// The console's documentation gives the Events API v2 URL as ".../v2/enque";
// a config stored with it is accepted as it is and sends to the enqueue
// URL of the same region.
const (
	consoleEventsURL   = "https://events.pagerduty.com/v2/enque"
	consoleEventsURLEU = "https://events.eu.pagerduty.com/v2/enque"
)

// routingKeyLength is the length of an Events API v2 integration (routing)
// key; PagerDuty answers "Length of 'routing_key' is incorrect (should be
// 32 characters)" otherwise.
const routingKeyLength = 32

// restKeyLength is the length of a REST API key, the key most often pasted
// by mistake.
const restKeyLength = 20

// Config is a PagerDuty Events API v2 integration as the console stores it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// WebhookURL is the Events API v2 endpoint: EventsURL, or EventsURLEU for
	// an account in PagerDuty's EU service region. The console's documented
	// form, the same URL ending in "/v2/enque", is accepted as stored and
	// sends to "/v2/enqueue".
	WebhookURL string `json:"webhook_url"`
	// APIKey is the 32-character Integration Key of an Events API v2
	// integration on a PagerDuty service (the routing key).
	APIKey notify.Secret `json:"api_key"`
}

// Validate checks every field offline and reports all bad ones at once.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	checkEventsURL(&errs, c.WebhookURL)
	if errs.CheckSecret("api_key", c.APIKey, true) {
		checkRoutingKey(&errs, c.APIKey.Reveal())
	}
	return errs.Err()
}

// eventsEndpoint returns the URL that events are posted to for a stored
// webhook_url: the console's ".../v2/enque" is read as ".../v2/enqueue" of
// the same region. It is "" for anything else.
func eventsEndpoint(webhookURL string) string {
	switch webhookURL {
	case EventsURL, consoleEventsURL:
		return EventsURL
	case EventsURLEU, consoleEventsURLEU:
		return EventsURLEU
	}
	return ""
}

// checkEventsURL accepts only the Events API v2 URLs (with the console's
// spelling of each) and, for a near miss, says which one was meant.
func checkEventsURL(errs *validate.Errors, raw string) {
	const field = "webhook_url"
	if eventsEndpoint(raw) != "" {
		return
	}
	if strings.TrimSpace(raw) == "" {
		errs.Add(field, "is required: "+EventsURL+" (or "+EventsURLEU+" for the EU region)")
		return
	}
	if s := suggestEventsURL(raw); s != "" {
		errs.Addf(field, "did you mean %s?", s)
		return
	}
	errs.Add(field, "must be PagerDuty's Events API v2 URL, "+EventsURL+" (or "+EventsURLEU+" for the EU region)")
}

// suggestEventsURL returns the Events API v2 URL that raw was meant to be,
// or "" when it is not close to one: another scheme or letter case, a
// trailing slash or query, another spelling of "/v2/enqueue", the
// change-events or retired v1 endpoint, or a bare host.
func suggestEventsURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	var base string
	switch strings.ToLower(u.Host) {
	case "events.pagerduty.com":
		base = "https://events.pagerduty.com"
	case "events.eu.pagerduty.com":
		base = "https://events.eu.pagerduty.com"
	default:
		return ""
	}
	p := strings.ToLower(strings.TrimRight(u.Path, "/"))
	switch {
	case p == "" || p == "/v2" || strings.HasPrefix(p, "/v2/enq") || p == "/v2/change/enqueue" ||
		strings.HasPrefix(p, "/generic/"):
		return base + "/v2/enqueue"
	}
	return ""
}

// checkRoutingKey checks the key's length and characters, saying what a
// wrong key most likely is, without repeating it.
func checkRoutingKey(errs *validate.Errors, key string) {
	const field = "api_key"
	const where = "the Integration Key of an Events API v2 integration (the service's Integrations tab)"
	switch n := utf8.RuneCountInString(key); {
	case strings.TrimSpace(key) != key:
		errs.Add(field, "has spaces before or after it: paste the key alone")
	case n == restKeyLength:
		errs.Add(field, "has 20 characters, like a REST API key; use "+where+", which has 32")
	case n != routingKeyLength:
		errs.Addf(field, "must be %s: 32 letters and digits (it has %d characters)", where, n)
	case strings.IndexFunc(key, func(r rune) bool { return !isAlnum(r) }) >= 0:
		errs.Add(field, "may hold only letters and digits: use "+where)
	}
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}
